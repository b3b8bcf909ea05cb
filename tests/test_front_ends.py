"""The command line and the ribbon show the same clear message for a user error: both catch
`toolkit.errors.UserError` and show its text, never a traceback or "Something went wrong"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolkit import cli, excel
from xlwings_engine import mock_caller

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# Each ribbon function with its arguments, and the command line doing the same job.
BUTTONS = [
    ("validate", (), ["check", "{book}"]),
    ("suggest_accounts", (), ["suggest-accounts", "{book}"]),
    ("generate_export", (), ["export", "{book}"]),
    ("generate_einvoices", (), ["export", "{book}", "--package", "peppol-bis3"]),
    ("export_again", ("20260402-090000-winbooks",), ["export", "{book}", "--again", "20260402-090000-winbooks"]),
    ("assign_customer_numbers", (), ["customers", "assign", "{book}"]),
    ("match_customers", (), ["customers", "match", "{book}"]),
    ("apply_customer_matches", (), ["customers", "apply", "{book}"]),
    ("open_export_folder", (), None),
]


@pytest.mark.parametrize("name, args, command", BUTTONS, ids=[b[0] for b in BUTTONS])
def test_a_damaged_workbook_gets_the_same_message_from_the_ribbon_and_the_command_line(name, args, command, tmp_path, capsys):
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    damaged = tmp_path / "damaged.xlsx"  # the copy the ribbon reads from, and the file the CLI gets
    damaged.write_bytes(b"PK\x03\x04 this is not a workbook")

    with mock_caller(book) as opened:
        message = getattr(excel, name)(*args, copy=str(damaged))
        assert opened.app.impl.alerts[-1].prompt == message
    # The ribbon names the workbook the user has open, not the copy VBA saved for Python to read.
    assert str(book.resolve()) in message and "damaged.xlsx" not in message
    assert "Something went wrong" not in message and "Traceback" not in message
    assert not (tmp_path / excel.LOG_NAME).exists()  # a user error is not a bug report

    if command:
        assert cli.main([part.format(book=damaged) for part in command]) == 2
        assert capsys.readouterr().err.strip() == f"ledger-export: {message}".replace(str(book.resolve()), str(damaged))


def test_an_export_again_of_an_unknown_id_is_the_same_message(tmp_path, capsys):
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    with mock_caller(book):
        message = excel.export_again("20990101-000000-winbooks", copy=str(book))
    assert message.startswith("No export 20990101-000000-winbooks in ")
    assert cli.main(["export", str(book), "--again", "20990101-000000-winbooks"]) == 2
    assert capsys.readouterr().err.strip() == f"ledger-export: {message}"


def test_output_cut_short_by_a_pipe_is_no_traceback():
    """`ledger-export check ... | head -1`: the reader goes away before the output is written."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "check", "samples/mistakes.xlsx"], cwd=SAMPLES.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads: every write fails with a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1 and err == "", err


def test_a_bad_source_date_epoch_is_a_message(monkeypatch, capsys):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "abc")
    assert cli.main(["export", str(SAMPLES / "demo.xlsx"), "--dry-run"]) == 2
    assert "SOURCE_DATE_EPOCH='abc' must be seconds since 1970-01-01 UTC" in capsys.readouterr().err


def test_the_command_as_a_process_says_everything_and_exits_with_its_code(tmp_path, capsys):
    """`ledger-export` ends its process without freeing the command's objects (toolkit.cli.script):
    what it printed is all there, the exit code is the command's, and an export's files, register
    line and workbook update are all written."""
    import subprocess
    import sys

    from toolkit.app.register import Register
    from toolkit.book.read import read_workbook

    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output waits in buffers, as usual
    mistakes = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", mistakes)
    code = cli.main(["check", str(mistakes)])
    said = capsys.readouterr().out
    done = subprocess.run([sys.executable, "-m", "toolkit", "check", str(mistakes)], cwd=SAMPLES.parent, env=env,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (code, said) and code == 1 and said.count("\n") > 10

    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    done = subprocess.run([sys.executable, "-m", "toolkit", "export", str(book), "--out", str(tmp_path / "out")],
                          cwd=SAMPLES.parent, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("Workbook updated: Exported in, Export log, customer numbers.")
    (entry,) = Register(tmp_path / "out").entries()  # the committed exports
    assert all((tmp_path / "out" / entry["id"] / f).is_file() for f in entry["files"])
    assert all(invoice.exported_in == entry["id"] for invoice in read_workbook(book).invoices if invoice.number in entry["documents"])


def test_an_export_that_writes_back_leaves_its_plan_to_the_process_end(tmp_path, capsys):
    """Given `keep` (the process ends after the command), the export hands it its plan and writes
    the workbook back with the plan still there (freeing it first cost ~0.5 s at 100,000 invoices)."""
    from toolkit.app.export import ExportPlan
    from toolkit.book.read import read_workbook

    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    kept: list = []
    assert cli.main(["export", str(book), "--out", str(tmp_path / "out")], keep=kept.append) == 0
    assert capsys.readouterr().out.rstrip().endswith("Workbook updated: Exported in, Export log, customer numbers.")
    (plan,) = kept
    assert isinstance(plan, ExportPlan) and plan.documents
    exported = {invoice.number: invoice.exported_in for invoice in read_workbook(book).invoices}
    assert all(exported[d.invoice.number] == plan.entry["id"] for d in plan.documents)


@pytest.mark.parametrize("option", ["--again", "--package", "--out", "--from", "--to"])
def test_an_option_given_empty_is_refused_not_taken_as_left_out(option, tmp_path, capsys):
    """`--again ""` (a script's empty variable) ran a new export; `--package ""`, `--out ""` and
    `--from ""` silently meant the Settings' package, the current folder, no first date."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    before = book.read_bytes()
    with pytest.raises(SystemExit) as stopped:
        cli.main(["export", str(book), option, " "])
    assert stopped.value.code == 2
    assert f"argument {option}: it is empty" in capsys.readouterr().err
    assert book.read_bytes() == before and not (tmp_path / "demo-exports").exists()


@pytest.mark.parametrize("option", [["--package", "datev"], ["--from", "2026-01-01"], ["--to", "2026-01-31"],
                                    ["--include-exported"], ["--zip"]])
def test_again_with_an_option_it_cannot_honour_is_refused_not_ignored(option, tmp_path, capsys, monkeypatch):
    """`--again ID --zip` re-created the export without a zip (and --package, --from, --to were
    dropped as silently), then exited 0."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book)]) == 0
    [export_id] = [p.name for p in (tmp_path / "demo-exports").iterdir() if p.is_dir()]
    capsys.readouterr()
    assert cli.main(["export", str(book), "--again", export_id, *option]) == 2
    err = capsys.readouterr().err
    assert f"--again re-creates export {export_id} as it was made" in err and option[0] in err and "nothing was written" in err
    assert [p.name for p in (tmp_path / "demo-exports").iterdir() if p.is_dir()] == [export_id]
