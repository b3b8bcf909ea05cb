"""The Check sheet as an accountant reads it: the catalogue's plain title per problem, grouped by
sheet, errors and warnings coloured; the Export log's date-time."""

import datetime as dt

import openpyxl

from toolkit import layout
from toolkit.book import template
from toolkit.book.edits import check_rows
from toolkit.model import Finding
from toolkit.values import parse_datetime


def test_rows_are_grouped_by_sheet_in_workbook_order_with_their_title():
    findings = [Finding("line.account.missing", "error", "Invoice lines", "I8", "m1"),
                Finding("customer.vat.invalid", "warning", "Customers", "D4", "m2"),
                Finding("line.invoice.unknown", "error", "Invoice lines", "A9", "m3"),
                Finding("settings.missing", "error", "Settings", "B2", "m4")]
    rows = check_rows(findings)
    assert [r.message for r in rows] == ["m4", "m2", "m1", "m3"]
    values = dict(zip(layout.CHECK.keys, rows[2].values()))
    assert values["title"] == "Ledger account missing" and values["code"] == "line.account.missing"
    assert layout.CHECK.column("code").width < len("line.account.missing")  # the id in a narrow column


def test_errors_and_warnings_are_coloured(tmp_path):
    ws = openpyxl.load_workbook(template.save_template(tmp_path / "t.xlsx"))[layout.CHECK.name]
    rules = {r.formula[0]: r.dxf.fill.fgColor.rgb for cf in ws.conditional_formatting for r in cf.rules}
    severity = layout.column_letter(layout.CHECK.keys.index("severity"))
    assert set(rules) == {f'${severity}2="error"', f'${severity}2="warning"'}
    assert rules[f'${severity}2="error"'] != rules[f'${severity}2="warning"']


def test_created_at_is_a_date_time():
    column = layout.EXPORT_LOG.column("created_at")
    assert column.type == "datetime" and template.NUMBER_FORMATS["datetime"] == "yyyy-mm-dd hh:mm"
    assert parse_datetime("2026-04-02 09:00:00") == dt.datetime(2026, 4, 2, 9, 0)  # as older workbooks hold it
    assert parse_datetime(dt.datetime(2026, 4, 2, 9, 0)) == dt.datetime(2026, 4, 2, 9, 0)
    assert layout.EXPORT_LOG.column("export_id").width >= len("20260402-090000-exact-globe-again")
