"""What every command pays at start: the parser of all commands imports only what it needs."""

import subprocess
import sys


def test_the_command_line_starts_without_the_customer_matching_libraries():
    probe = ("import sys; from toolkit.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('numpy', 'rapidfuzz', 'pandas', 'openpyxl') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# A real Ctrl-C while the toolkit is imported: a finder that sends SIGINT to its own process
# when the command line's modules are looked for (before `main` and its handler exist).
_CTRL_C_ON_IMPORT = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal: a background job inherits SIGINT ignored
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "toolkit.cli":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["ledger-export", "packages"]
"""


def test_ctrl_c_while_the_toolkit_is_imported_is_one_line_and_exit_130():
    import pytest

    for start in ("import runpy; runpy.run_module('toolkit', run_name='__main__', alter_sys=True)",  # python -m toolkit
                  "from toolkit.__main__ import run; run()"):  # the ledger-export command (pyproject.toml)
        done = subprocess.run([sys.executable, "-c", _CTRL_C_ON_IMPORT + start], capture_output=True, text=True)
        assert (done.returncode, done.stdout, done.stderr) == (130, "", "ledger-export: interrupted; nothing was done.\n"), start


def test_the_command_is_the_entry_point_that_catches_ctrl_c_during_imports():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"] == {"ledger-export": "toolkit.__main__:run"}
