"""One way to recognise a header, a Settings label and a column: the reader and every writer agree.

A header typed `Exported in:` (or in other case, spacing, with a trailing `*`) is the "Exported in"
column for the reader, the file writer, the live writer, `workbook upgrade` and the Customer import
paste area: nobody adds a second column beside it.
"""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from toolkit import layout
from toolkit.book import address, template, upgrade
from toolkit.book.read import read_workbook
from toolkit.book.writeback import Edits, write_back

VARIANTS = ["Exported in:", "exported IN", "  Exported\u00a0 in *", "EXPORTED IN :", "Exported in\t"]
NOW = dt.datetime(2026, 2, 1, 9, 30)


def book_with_header(tmp_path, header: str, name="Company.xlsx"):
    path = tmp_path / name
    template.save_template(path, {"Invoices": [["F1", "invoice", dt.date(2026, 1, 5), None, "C1"],
                                               ["F2", "invoice", dt.date(2026, 1, 6), None, "C1"]],
                                  "Customers": [["C1", "Alpha"]]})
    wb = openpyxl.load_workbook(path)
    ws = wb["Invoices"]
    col = layout.INVOICES.keys.index("exported_in") + 1
    ws.cell(1, col).value = header
    ws.tables["Invoices"].tableColumns[col - 1].name = header
    wb.save(path)
    return path, col


def headers(path, sheet="Invoices"):
    return [c.value for c in openpyxl.load_workbook(path)[sheet][1] if c.value is not None]


@pytest.mark.parametrize("header", VARIANTS)
def test_the_fold(header):
    assert address.fold_header(header) == address.fold_header("Exported in") == "exported in"
    assert address.header_positions(["Invoice number", header], layout.INVOICES) == {"number": 0, "exported_in": 1}


def test_other_headers_are_not_taken_for_it():
    for other in ("Exported", "Exported in 2", "Exported-in", "Re-exported in"):
        assert "exported_in" not in address.header_positions([other], layout.INVOICES)


@pytest.mark.parametrize("header", VARIANTS)
def test_reader_and_file_writer_use_the_same_column(tmp_path, header):
    path, col = book_with_header(tmp_path, header)
    write_back(path, Edits().set("Invoices", 2, "exported_in", "EXP-1"), now=NOW)
    ws = openpyxl.load_workbook(path)["Invoices"]
    assert ws.cell(2, col).value == "EXP-1"
    assert len(headers(path)) == len(layout.INVOICES.columns)  # no second "Exported in"
    assert [i.exported_in for i in read_workbook(path).invoices] == ["EXP-1", ""]


def test_live_writer_uses_the_same_column(tmp_path):
    from toolkit.book import live
    from xlwings_engine import open_book

    path, col = book_with_header(tmp_path, "Exported in:")
    book = open_book(path)
    try:
        live.apply(book, Edits().set("Invoices", 3, "exported_in", "EXP-2"))
        ws = book.api["Invoices"]
        assert ws.cell(3, col).value == "EXP-2"
        assert [c.value for c in ws[1] if c.value is not None].count("Exported in:") == 1
        assert len([c.value for c in ws[1] if c.value is not None]) == len(layout.INVOICES.columns)
    finally:
        book.close()


def test_upgrade_carries_the_column_and_settings_labels(tmp_path):
    path, col = book_with_header(tmp_path, "EXPORTED IN :")
    wb = openpyxl.load_workbook(path)
    ws = wb["Invoices"]
    ws.cell(2, col).value = "EXP-7"
    settings = wb["Settings"]
    for row in settings.iter_rows(min_row=2):
        if row[0].value == "Company name":
            row[0].value, row[1].value = "company NAME:", "Renamed Ltd"
    wb.save(path)
    upgrade.upgrade(path, now=NOW)
    after = read_workbook(path)
    assert after.invoices[0].exported_in == "EXP-7"
    assert after.settings.company_name == "Renamed Ltd"
    assert "company NAME:" not in after.settings.extra


def test_settings_label_variants_are_the_same_row_for_reader_and_writer(tmp_path):
    path, _ = book_with_header(tmp_path, "Exported in")
    wb = openpyxl.load_workbook(path)
    ws = wb["Settings"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "Customer number start":
            row[0].value = "  customer number START *"
    wb.save(path)
    write_back(path, Edits().set_setting("customer_number_start", 200000), now=NOW)
    labels = [r[0] for r in openpyxl.load_workbook(path)["Settings"].iter_rows(values_only=True)]
    assert sum(1 for v in labels if v and address.same_name(v, "Customer number start")) == 1
    assert read_workbook(path).settings.customer_number_start == 200000


def test_paste_area_result_headers_with_marks_are_recognised(tmp_path):
    from toolkit.app import customers as commands

    path, _ = book_with_header(tmp_path, "Exported in")
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.CUSTOMER_IMPORT.name]
    rows = [["Number", "Name", "Postal code", "Match: customer id", "Action:", "note *"],
            ["C4711", "Alpha", "9000", "C1", "assign number", ""]]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            ws.cell(r, c).value = value
    wb.save(path)
    sheet = commands._read_import_sheet(path, "BE")
    assert sheet.results == {"match_customer_id": 3, "action": 4, "note": 5}
    assert sheet.values[2]["action"] == "assign number"
