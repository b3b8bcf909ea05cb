"""The live applier (the open book, through xlwings) against the openpyxl-backed test engine:
the same edits land where the file applier puts them; text never becomes a formula."""

from __future__ import annotations

import datetime as dt

import openpyxl

from toolkit import layout
from toolkit.book import live, template
from toolkit.book.edits import HIGHLIGHT, Edits
from toolkit.model import Finding
from xlwings_engine import open_book

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "=1+1", "+1+2", "@SUM(A1)", "-3"]


def make(tmp_path, **sheets):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Customers": [["C1", "Alpha"]], **sheets})
    return path


def test_the_engine_takes_a_leading_equals_sign_for_a_formula(tmp_path):
    # What the live applier has to prevent (Excel does the same with a value set from VBA/COM).
    book = open_book(make(tmp_path))
    try:
        beside = f"{layout.column_letter(len(layout.CUSTOMERS.columns) + 1)}2"  # right of the table
        book.sheets["Customers"].range(beside).value = "=1+1"
        assert book.api["Customers"][beside].data_type == "f"
    finally:
        book.close()


def test_values_land_as_text_never_as_formulas(tmp_path):
    book = open_book(make(tmp_path))
    try:
        edits = Edits().append_rows("Customers", [[f"C{n}", text] for n, text in enumerate(HOSTILE, 2)])
        edits.set("Customers", 2, "street", "=A1")
        live.apply(book, edits)
        ws = book.api["Customers"]
        assert [ws.cell(r, 2).value for r in range(3, 3 + len(HOSTILE))] == HOSTILE
        assert all(ws.cell(r, 2).data_type == "s" for r in range(3, 3 + len(HOSTILE)))
        assert ws["E2"].value == "=A1" and ws["E2"].data_type == "s"
    finally:
        book.close()


def test_check_rows_links_and_highlights_move(tmp_path):
    path = make(tmp_path, Invoices=[["F1", "invoice", dt.date(2026, 1, 5), None, "C1"]])
    book = open_book(path)
    try:
        live.show_findings(book, [Finding("x.a", "error", "Invoices", "C2", "Bad date."),
                                  Finding("x.b", "warning", "Invoices", "", "Note.")])
        check = book.sheets[layout.CHECK.name]
        assert check.range("A2:F3").value == [["error", "x.a", "Invoices", "C2", "x.a", "Bad date."],
                                              ["warning", "x.b", "Invoices", None, "x.b", "Note."]]
        assert check.range("D2").hyperlink == "#'Invoices'!C2"
        assert book.sheets["Invoices"].range("C2").color == HIGHLIGHT
        live.show_findings(book, [Finding("x.c", "error", "Invoices", "A2", "Other.")])
        assert book.sheets["Invoices"].range("C2").color is None
        assert book.sheets["Invoices"].range("A2").color == HIGHLIGHT
        book.sheets["Invoices"].range("A2").color = (1, 2, 3)  # the user recoloured it: theirs now
        live.show_findings(book, [])
        assert book.sheets["Invoices"].range("A2").color == (1, 2, 3)
        assert check.range("A2").value is None
    finally:
        book.close()


def test_a_missing_output_sheet_is_created(tmp_path):
    path = make(tmp_path)
    wb = openpyxl.load_workbook(path)
    del wb[layout.EXPORT_LOG.name]
    wb.save(path)
    book = open_book(path)
    try:
        live.apply(book, Edits().append_rows(layout.EXPORT_LOG.name, [["EXP-1", "now", "winbooks"]]))
        sheet = book.sheets[layout.EXPORT_LOG.name]
        assert sheet.range("A1:C2").value == [["Export id", "Created at", "Package"], ["EXP-1", "now", "winbooks"]]
    finally:
        book.close()


def test_settings_by_label_variant(tmp_path):
    path = make(tmp_path)
    wb = openpyxl.load_workbook(path)
    for row in wb["Settings"].iter_rows(min_row=2):
        if row[0].value == "Customer number start":
            row[0].value = "customer number start:"
    wb.save(path)
    book = open_book(path)
    try:
        live.apply(book, Edits().set_setting("customer_number_start", 300000).set_setting("iban", "=X"))
        ws = book.api["Settings"]
        rows = {r[0].value: r[1] for r in ws.iter_rows(min_row=2) if r[0].value}
        assert rows["customer number start:"].value == 300000 and "Customer number start" not in rows
        assert rows["IBAN"].value == "=X" and rows["IBAN"].data_type == "s"
    finally:
        book.close()
