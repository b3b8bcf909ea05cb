"""Customer lists are read as a stream and capped: a list past the import limit is refused as soon
as the row past the limit is read (a 1,000,000-row import once ran 6 minutes at 7.6 GB)."""

from __future__ import annotations

import time
import tracemalloc

import openpyxl
import pytest

from toolkit import cli
from toolkit.customers import commands
from toolkit.customers.paste import read_table_file

from test_customer_commands import make_workbook


def _csv(path, rows: int, tail: bytes = b""):
    with path.open("wb") as handle:
        handle.write(b"Number;Name;VAT;Postal code;City\n")
        handle.writelines(b"%d;Klant %d BV;;9000;Gent\n" % (100000 + i, i) for i in range(rows))
        handle.write(tail)
    return path


def test_a_list_past_the_limit_is_refused_early_and_small(tmp_path, capsys):
    """300,000 rows against the default limit of 100,000: refused after reading 100,001 of them,
    in well under the memory the whole list would take, and nothing is written."""
    book = make_workbook(tmp_path)
    before = book.read_bytes()
    big = _csv(tmp_path / "big.csv", 300_000)
    tracemalloc.start()
    started = time.perf_counter()
    assert cli.main(["customers", "import", str(book), str(big), "--create-new"]) == 2
    took = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "more than 100,000 rows" in line and "LEDGER_EXPORT_MAX_IMPORT_ROWS" in line
    assert str(big) in line
    assert peak < 120_000_000, peak  # 100,001 short rows as lists of str; the whole file would be 3x
    assert took < 30
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
    bad.write_bytes(b"Number;Name\n1;A\n")
    assert cli.main(["customers", "import", str(book), str(bad)]) == 2
    assert "not an Excel workbook" in capsys.readouterr().err


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
