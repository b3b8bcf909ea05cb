"""Each package's own rules, enforced by the one validation stage before anything is written:
document numbers as the package keeps them, VAT codes per package."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from factory import SETTINGS, invoice, line, workbook
from toolkit import layout
from toolkit.app.export import ExportRequest, run_export, validate

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    path = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", path)
    return path


def edit(path: Path, sheet: str, changes: dict[tuple[int, str], object]) -> None:
    """Cells by (row, header) on a table sheet, or by (row, label) on Settings."""
    book = openpyxl.load_workbook(path)
    ws = book[sheet]
    for (row, name), value in changes.items():
        if sheet == layout.SETTINGS_SHEET:
            [row] = [r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == name]
            ws.cell(row, 2).value = value
        else:
            [col] = [c.column for c in ws[1] if c.value == name]
            ws.cell(row, col).value = value
    book.save(path)


# ---- WinBooks: document numbers keep their digits only, unique per journal -----------------------


def test_winbooks_numbers_with_the_same_digits_in_one_journal_are_an_error_naming_both_cells():
    docs = [invoice("2026-0001", row=2, lines=[line("2026-0001", row=2)]),
            invoice("CN2026-0001", row=3, doc_type="credit note", lines=[line("CN2026-0001", row=3)])]
    shared = workbook(docs, settings=replace(SETTINGS, invoice_journal="VF", credit_note_journal="VF"))
    _, _, findings = validate(shared, "winbooks")
    [collision] = [f for f in findings if f.code == "invoice.number.package_collision"]
    assert (collision.severity, collision.sheet, collision.cell) == ("error", "Invoices", "A3")
    digits = "".join(ch for ch in "CN2026-0001" if ch.isdigit())  # what WinBooks keeps: 20260001
    assert digits == "20260001" and digits in collision.message and "Invoices!A2" in collision.message
    # separate journals: WinBooks holds 20260001 once in VF and once in VFC
    apart = replace(shared, settings=replace(SETTINGS, invoice_journal="VF", credit_note_journal="VFC"))
    assert not [f for f in validate(apart, "winbooks")[2] if f.code.startswith("invoice.number.package")]
    # packages that keep the number as typed see two numbers
    assert not [f for f in validate(shared, "csv-journal")[2] if f.code.startswith("invoice.number.package")]
    # a number without digits is nothing to WinBooks
    none = workbook([invoice("CN-A", lines=[line("CN-A")])])
    assert [f.code for f in validate(none, "winbooks")[2] if f.code.startswith("invoice.number.package")] == [
        "invoice.number.package_empty"]


def _act_documents(folder: Path) -> list[tuple[str, str]]:
    """(DBKCODE, DOCNUMBER) of each document in ACT.txt: one customer line (DOCTYPE 1) each."""
    rows = csv.reader(io.StringIO((folder / "ACT.txt").read_text(encoding="cp1252")))
    return [(r[1], r[3]) for r in rows if r and r[0] == "1"]


def test_a_winbooks_export_never_holds_two_documents_under_one_number_in_a_journal(demo, tmp_path):
    # The demo's credit notes share the invoices' journal, one renumbered to collide with 2026-0001.
    edit(demo, layout.SETTINGS_SHEET, {(0, "Credit note journal"): "VF"})
    book = openpyxl.load_workbook(demo)
    ws = book[layout.INVOICES.name]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "CN2026-001")
    book.close()
    edit(demo, layout.INVOICES.name, {(row, "Invoice number"): "CN2026-0001"})
    lines = openpyxl.load_workbook(demo)[layout.INVOICE_LINES.name]
    line_rows = [r for r in range(2, lines.max_row + 1) if lines.cell(r, 1).value == "CN2026-001"]
    edit(demo, layout.INVOICE_LINES.name, {(r, "Invoice number"): "CN2026-0001" for r in line_rows})
    result = run_export(ExportRequest(demo, out_dir=tmp_path / "out"))
    assert result.status == "blocked" and result.folder is None
    assert [(f.code, f.cell) for f in result.findings if f.is_error] == [("invoice.number.package_collision", f"A{row}")]
    # back to its own number: exported, every (journal, number) once
    edit(demo, layout.INVOICES.name, {(row, "Invoice number"): "CN2026-001"})
    edit(demo, layout.INVOICE_LINES.name, {(r, "Invoice number"): "CN2026-001" for r in line_rows})
    result = run_export(ExportRequest(demo, out_dir=tmp_path / "out"))
    assert result.status == "written"
    documents = _act_documents(result.folder)
    assert len(documents) == 64 and len(set(documents)) == 64 and {j for j, _ in documents} == {"VF"}
