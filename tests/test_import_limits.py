"""Customer lists are read as a stream and capped: a list past the import limit is refused as soon
as the row past the limit is read (a 1,000,000-row import once ran 6 minutes at 7.6 GB)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from toolkit import cli
from toolkit.app import customers as commands
from toolkit.customers.paste import read_table_file

from test_customer_commands import make_workbook

ROOT = Path(__file__).resolve().parents[1]


def _csv(path, rows: int, tail: bytes = b""):
    with path.open("wb") as handle:
        handle.write(b"Number;Name;VAT;Postal code;City\n")
        handle.writelines(b"%d;Klant %d BV;;9000;Gent\n" % (100000 + i, i) for i in range(rows))
        handle.write(tail)
    return path


def test_a_list_past_the_limit_is_refused_early_and_small(tmp_path):
    """300,000 rows against the default limit of 100,000, with --create-new: refused after reading
    100,001 of them, in little memory (measured in a fresh process: the whole list as rows would
    be several times the bound), nothing written."""
    book = make_workbook(tmp_path)
    before = book.read_bytes()
    big = _csv(tmp_path / "big.csv", 300_000)
    # The peak is VmHWM, the process image's own: ru_maxrss would count the pytest process it was
    # forked from (Linux keeps it across exec), hundreds of MB late in a full run.
    script = ("import re, sys; from toolkit import cli; "
              f"code = cli.main(['customers', 'import', {str(book)!r}, {str(big)!r}, '--create-new']); "
              "peak = re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read())[1]; "
              "print(code, peak)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    code, peak_kb = done.stdout.split()
    assert code == "2", done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "more than 100,000 rows" in line and "LEDGER_EXPORT_MAX_IMPORT_ROWS" in line
    assert str(big) in line
    assert int(peak_kb) < 300_000, peak_kb  # KB: the whole list as rows would be several times this
    assert book.read_bytes() == before


def test_the_limit_is_configurable_and_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_EXPORT_MAX_IMPORT_ROWS", "51")  # the header and 50 customers
    assert len(read_table_file(_csv(tmp_path / "fits.csv", 50))) == 51
    with pytest.raises(Exception, match="more than 51 rows"):
        read_table_file(_csv(tmp_path / "over.csv", 51))


def test_an_xlsx_list_past_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_EXPORT_MAX_IMPORT_ROWS", "20")
    path = tmp_path / "list.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Number", "Name"])
    for i in range(30):
        book.active.append([100000 + i, f"Klant {i}"])
    book.save(path)
    with pytest.raises(Exception, match="more than 20 rows"):
        read_table_file(path)
    monkeypatch.setenv("LEDGER_EXPORT_MAX_IMPORT_ROWS", "31")
    assert len(read_table_file(path)) == 31


def test_a_bad_spreadsheet_list_is_a_message(tmp_path, capsys):
    book = make_workbook(tmp_path)
    bad = tmp_path / "list.xlsx"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    assert cli.main(["customers", "import", str(book), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger-export: ") and "list.xlsx" in err and "Traceback" not in err


def test_a_csv_list_named_xlsx_is_imported_as_the_csv_it_is(tmp_path, capsys):
    """It was refused as 'not an Excel workbook ... a customer list in CSV can be imported with
    `ledger-export customers import`', the very command that refused it."""
    book = make_workbook(tmp_path)
    renamed = tmp_path / "list.xlsx"
    renamed.write_bytes(b"Number;Name\n1;A\n")
    assert cli.main(["customers", "import", str(book), str(renamed), "--dry-run"]) == 0
    assert "Would import" in capsys.readouterr().out


def test_a_late_windows_1252_byte_rereads_the_list(tmp_path):
    """UTF-8 is tried first; a cp1252 byte deep in the file restarts the stream in cp1252."""
    path = _csv(tmp_path / "ansi.csv", 5_000, tail=b"999999;Caf\xe9 Noir;;1000;Bruxelles\n")
    rows = read_table_file(path)
    assert rows[-1][1] == "Café Noir" and len(rows) == 5_002


def test_the_paste_area_is_capped(tmp_path, monkeypatch):
    paste = [["Number", "Name"]] + [[str(100000 + i), f"Klant {i}"] for i in range(12)]
    book = make_workbook(tmp_path, paste=paste, paste_row=1)
    monkeypatch.setenv("LEDGER_EXPORT_MAX_IMPORT_ROWS", "10")
    with pytest.raises(commands.CustomerCommandError, match="more than 10 pasted rows"):
        commands.plan_match_paste(book)
    monkeypatch.setenv("LEDGER_EXPORT_MAX_IMPORT_ROWS", "13")
    edits, outcome = commands.plan_match_paste(book)
    assert "Matched 12" in outcome.message
