"""The ribbon buttons' functions, run unchanged through the openpyxl-backed xlwings test engine:
same files and findings as the CLI, results written into the book."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from toolkit import excel, layout, read
from toolkit.checks import check_all
from toolkit.read import read_workbook
from xlwings_engine import mock_caller

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def book_path(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    path = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", path)
    return path


def check_rows(book):
    values = book.sheets[layout.CHECK.name].range("A2").expand().options(ndim=2).value
    return values if values and values[0][0] else []


def test_validate_writes_the_same_findings_as_the_cli_and_highlights(tmp_path):
    path = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    expected = check_all(read_workbook(path))
    with mock_caller(path) as book:
        excel.validate()
        rows = check_rows(book)
        assert [(r[0], r[1], r[2]) for r in rows] == [(f.severity, f.code, f.sheet) for f in expected]
        link = rows[0][3]
        assert link.startswith("=HYPERLINK(\"#'") and expected[0].cell in link
        line_sheet = book.sheets[layout.INVOICE_LINES.name]
        assert line_sheet.range("I8").color == excel.HIGHLIGHT  # line.account.missing
        alert = book.app.impl.alerts[-1]
        assert "14 error(s) and 1 warning(s)" in alert.prompt and "Check sheet" in alert.prompt
        # fixed and validated again: the Check sheet empties, the highlight goes
        line_sheet.range("I8").value = "700000"
        book.save()  # what VBA's SaveCopyAs gives Python: the book as it is now
        excel.validate()
        assert line_sheet.range("I8").color is None
        assert all(r[1] != "line.account.missing" for r in check_rows(book))


def test_generate_export_matches_the_cli_files_and_updates_the_book(book_path):
    with mock_caller(book_path) as book:
        message = excel.generate_export()
        assert "Exported 64 document(s)" in message
        folder = next(p for p in (book_path.parent / "demo-exports").iterdir() if p.is_dir())
        for name in ("ACT.txt", "CSF.txt"):
            assert (folder / name).read_bytes() == (SAMPLES / "golden" / "winbooks" / name).read_bytes()
        log = book.sheets[layout.EXPORT_LOG.name].range("A2").value
        assert log == folder.name
        exported = book.sheets[layout.INVOICES.name].range("K2:K65").value
        assert set(exported) == {folder.name}
        numbers = book.sheets[layout.CUSTOMERS.name].range("M2:N16").value
        assert ["100000", "generated"] in [[str(n), s] for n, s in numbers if s == "generated"]
        assert "Ledger export: Writing files…" in book.app.impl.status_bar_history
        book.save()
        assert "Nothing new to export" in excel.generate_export()
    assert all(i.exported_in for i in read_workbook(book_path).invoices)


def test_blocked_export_shows_its_errors(tmp_path):
    path = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    with mock_caller(path) as book:
        message = excel.generate_export()
        assert "nothing was written" in message and "see the Check sheet" in message
        assert any(r[1] == "line.account.missing" for r in check_rows(book))
    assert not (tmp_path / "mistakes-exports").exists()


def test_suggest_accounts_in_the_book(book_path):
    xl = openpyxl.load_workbook(book_path)
    xl[layout.INVOICE_LINES.name]["I2"] = None
    xl.save(book_path)
    with mock_caller(book_path) as book:
        excel.suggest_accounts()
        assert book.sheets[layout.INVOICE_LINES.name].range("I2:J2").value == ["700000", "suggested"]
        assert "1 empty account(s) filled" in book.app.impl.alerts[-1].prompt


def test_assign_customer_numbers(book_path):
    with mock_caller(book_path) as book:
        excel.assign_customer_numbers()
        rows = book.sheets[layout.CUSTOMERS.name].range("A2:N16").value
        generated = [r for r in rows if r[13] == "generated"]
        assert len(generated) == 7 and all(str(r[12]).startswith("1000") for r in generated)
        assert "7 customer(s) got a number" in book.app.impl.alerts[-1].prompt


def test_an_exception_is_a_message_and_a_log(book_path, monkeypatch):
    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(read, "read_workbook", broken)
    with mock_caller(book_path) as book:
        message = excel.validate()
    assert "Something went wrong: disk on fire" in message and "Traceback" not in message
    log = (book_path.parent / excel.LOG_NAME).read_text()
    assert "Traceback" in log and "disk on fire" in log


def test_user_errors_are_plain_messages(book_path):
    with mock_caller(book_path):
        message = excel.validate(copy=str(book_path.parent / "gone.xlsx"))
    assert "no such file" in message and not (book_path.parent / excel.LOG_NAME).exists()
