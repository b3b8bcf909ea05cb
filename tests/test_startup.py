"""What every command pays at start: the parser of all commands imports only what it needs."""

import subprocess
import sys


def test_the_command_line_starts_without_the_customer_matching_libraries():
    probe = ("import sys; from toolkit.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('numpy', 'rapidfuzz', 'pandas', 'openpyxl') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
