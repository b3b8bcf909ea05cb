"""The reader takes what Excel users type, and turns what it cannot read into findings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import openpyxl
import pytest

from toolkit import layout, sample
from toolkit.book import template
from toolkit.book.read import WorkbookError, read_workbook
from toolkit.values import (Invalid, parse_bool, parse_code, parse_date, parse_decimal, parse_int, parse_percent,
                            parse_text, parsed_in_bulk)


@pytest.mark.parametrize("raw, expected", [
    (12.1, D("12.1")), (21.0, D(21)), (3, D(3)), ("2,5", D("2.5")), ("1.234,56", D("1234.56")),
    ("1,234.56", D("1234.56")), (" 7\xa0", D(7)), ("€ 12,50", D("12.50")), ("(5,00)", D("-5.00")),
    ("21%", D(21)), ("", None), (None, None), ("1.000.000", D(1000000)),
])
def test_numbers_as_typed(raw, expected):
    assert parse_decimal(raw) == expected


def test_a_number_typed_as_text_keeps_every_digit():
    """A price typed as text is read as typed, however long: rounded to 100 digits, 10.004 followed
    by 150 nines became 10.005, which the booking rounds to 10.01 where the amount is 10.00."""
    text = "10.004" + "9" * 150
    assert parse_decimal(text) == D(text)
    assert parse_decimal(f"{text}0000") == D(text)  # trailing zeros still dropped, nothing else
    assert parse_decimal(text).quantize(D("0.01"), rounding="ROUND_HALF_UP") == D("10.00")


@pytest.mark.parametrize("raw", ["twee", "1,2,3a", "NaN", True])
def test_not_a_number(raw):
    with pytest.raises(Invalid):
        parse_decimal(raw)


@pytest.mark.parametrize("raw", ["1,5.3", "12,34.56", "1.23,4", "1.2.3", "1,23,4567", "-1.23.456,7", "1_000", "1,234,5.6"])
def test_a_thousands_separator_that_groups_no_thousands_is_no_number(raw):
    """A typo read as another amount: '1,5.3' was 15.3, '1.2.3' 123, '1_000' 1000 (Python's
    Decimal takes underscores); a thousands separator is followed by three digits."""
    with pytest.raises(Invalid) as caught:
        parse_decimal(raw)
    assert str(caught.value) == f"expected a number, found {raw!r}"
    assert parse_decimal("-1.234.567,89") == D("-1234567.89") and parse_decimal("12,345,678") == D(12345678)


@pytest.mark.parametrize("raw, expected", [
    (dt.date(2026, 1, 31), dt.date(2026, 1, 31)), (dt.datetime(2026, 1, 31, 10, 0), dt.date(2026, 1, 31)),
    (46053.0, dt.date(2026, 1, 31)), ("31/01/2026", dt.date(2026, 1, 31)), ("2026-01-31", dt.date(2026, 1, 31)),
    ("31.01.2026", dt.date(2026, 1, 31)), ("1-2-2026", dt.date(2026, 2, 1)), (" 2026/01/31 ", dt.date(2026, 1, 31)),
])
def test_dates_as_typed(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["31/02/2026", "yesterday", "2026-13-01", -5.0])
def test_not_a_date(raw):
    with pytest.raises(Invalid):
        parse_date(raw)


@pytest.mark.parametrize("raw, shown", [(1e308, "1e+308"), (99999999.0, "99999999"), (float("inf"), "inf"), (-1e20, "-1e+20")])
def test_a_number_far_from_any_date_is_shown_short(raw, shown):
    """1e308 in a date cell was quoted with its 309 digits."""
    with pytest.raises(Invalid) as caught:
        parse_date(raw)
    assert str(caught.value) == f"expected a date, found the number {shown}"


@pytest.mark.parametrize("raw, expected", [(0.1 + 0.2, "0.3"), (100 / 3, "33.3333333333333"), (21 * 1.0000000000000002, "21"),
                                           (2550.9600000000005, "2550.96"), (12.1, "12.1"), (-0.5, "-0.5"), (1e-05, "0.00001")])
def test_a_float_is_read_as_excel_shows_it(raw, expected):
    """Excel keeps 15 significant digits; a formula's binary noise past them (=0.1+0.2 is
    0.30000000000000004 in the file) made a total as issued miss its booking by nothing."""
    assert parse_decimal(raw) == D(expected)
    assert parsed_in_bulk(parse_decimal, {raw})[raw] == D(expected)


def test_bools_and_ints():
    assert [parse_bool(v) for v in ("Yes", "nee", "0", True, None)] == [True, False, False, True, None]
    assert parse_int("30") == 30 and parse_int(30.0) == 30
    with pytest.raises(Invalid):
        parse_int("2.5")


_AWKWARD = [0.0, -0.0, 3.0, -3.0, 12.1, 0.1, 0.3, 1 / 3, -854.19, 1e-7, 5e-324, 123456789012.5, 1e15 - 1, -(1e15 - 1),
            1e15, -1e15, 1e300, float("nan"), float("inf"), float("-inf"), 7, True, "", " ", "\xa0", "\t", " abc ",
            "a\xa0b", "x\ty ", "\u202f12\u2007", "2,5", "twee", None, D("10"), dt.date(2026, 1, 2)]


@pytest.mark.parametrize("parse", [parse_decimal, parse_percent, parse_text, parse_code])
def test_bulk_parsing_gives_what_parsing_one_by_one_gives(parse):
    """The reader's column fast path: same values, same types, same exponents (Decimal(3) for
    3.0, never Decimal('3.0')); what it leaves out, the reader parses one by one."""
    for values in ({v for v in _AWKWARD if type(v) is not bool}, {v for v in _AWKWARD if type(v) is str}):
        bulk = parsed_in_bulk(parse, set(values))
        assert bulk.keys() <= values
        for value, parsed in bulk.items():
            assert type(parsed) is type(parse(value)) and str(parsed) == str(parse(value)), value
    assert len(parsed_in_bulk(parse_decimal, {12.1, 3.0, -0.0, 1e300, float("nan")})) == 3  # -0.0 == 0.0


def _demo(tmp_path, change=None):
    settings, tables = sample.demo()
    if change:
        change(settings, tables)
    path = tmp_path / "demo.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    return path


def test_demo_reads_clean(tmp_path):
    wb = read_workbook(_demo(tmp_path))
    assert wb.findings == ()
    assert len(wb.invoices) == 64 and all(i.lines for i in wb.invoices)
    first = wb.invoices[0]
    assert first.where.cell("date") == "C2" and first.lines[0].where.sheet == "Invoice lines"


def test_messy_cells(tmp_path):
    """Text numbers with a decimal comma, text dates, trailing and non-breaking spaces, blank rows,
    reordered and hidden columns and an extra column all read as meant."""
    path = _demo(tmp_path)
    book = openpyxl.load_workbook(path)
    ws = book["Invoice lines"]
    ws["D2"] = "1,5"  # quantity as text with a comma
    ws["E2"] = " 1.455,99\xa0"
    ws["A2"] = ws["A2"].value + "  "
    ws.insert_rows(4, 2)  # blank rows in the middle
    ws.column_dimensions["C"].hidden = True
    inv = book["Invoices"]
    inv["C2"] = "05/01/2026"
    inv.move_range("A1:A200", cols=20)  # the number column moves to the far right
    inv["Z1"] = "My own notes"
    book.save(path)
    wb = read_workbook(path)
    assert wb.findings == ()
    line = wb.invoices[0].lines[0]
    assert (line.quantity, line.unit_price) == (D("1.5"), D("1455.99"))
    assert wb.invoices[0].date == dt.date(2026, 1, 5)
    assert wb.invoices[0].where.cell("number") == "U2"
    assert len(wb.lines) == 146


def _with(tmp_path, edit):
    path = _demo(tmp_path)
    book = openpyxl.load_workbook(path)
    edit(book)
    book.save(path)
    return read_workbook(path).findings


def test_excel_errors_are_findings(tmp_path):
    def edit(book):
        book["Invoice lines"]["E3"] = "#REF!"  # openpyxl stores this as an error cell
        book["Settings"]["B3"] = "#N/A"
    found = {(f.code, f.sheet, f.cell) for f in _with(tmp_path, edit)}
    assert ("cell.error", "Invoice lines", "E3") in found
    assert ("cell.error", "Settings", "B3") in found


def test_missing_and_renamed_sheets(tmp_path):
    def edit(book):
        book["Customers"].title = "Klanten"
        del book["VAT rules"]
    found = {(f.code, f.sheet) for f in _with(tmp_path, edit)}
    assert {("sheet.missing", "Customers"), ("sheet.missing", "VAT rules")} <= found


def test_sheet_name_case_and_spaces_tolerated(tmp_path):
    assert _with(tmp_path, lambda book: setattr(book["Customers"], "title", "customers ")) == ()


def test_missing_column_and_header(tmp_path):
    def edit(book):
        book["Invoice lines"]["D1"] = "Qty"
        ws = book["Ledger accounts"]
        for cell in ws[1]:
            cell.value = None
    found = {(f.code, f.sheet) for f in _with(tmp_path, edit)}
    assert ("sheet.column.missing", "Invoice lines") in found
    assert ("sheet.header.missing", "Ledger accounts") in found


def test_a_column_twice_is_an_error_naming_both_cells(tmp_path):
    """A second 'Quantity' column (typed corrections, say) was ignored without a word: the first won."""
    def edit(book):
        ws = book["Invoice lines"]
        ws["N1"], ws["N2"] = "quantity ", 99
    found = [f for f in _with(tmp_path, edit) if f.code == "sheet.column.duplicate"]
    assert [(f.sheet, f.cell) for f in found] == [("Invoice lines", "N1")]
    assert "'Quantity'" in found[0].message and "(D1, N1)" in found[0].message


def test_a_setting_on_two_rows_with_two_values_is_an_error(tmp_path):
    """The later 'Period to' row won, while the one the user saw said otherwise."""
    added = []

    def edit(book):
        book["Settings"].append(["Period to", dt.datetime(2026, 12, 31)])
        added.append(book["Settings"].max_row)
        book["Settings"].append(["Output folder", None])  # an empty second row is no ambiguity
    found = [f for f in _with(tmp_path, edit) if f.code.startswith("settings.")]
    assert [(f.code, f.cell) for f in found] == [("settings.duplicate", f"B{added[0]}")]
    assert "row 12 and again on row" in found[0].message


def test_payment_terms_outside_0_to_3650_days_are_a_finding_and_dropped(tmp_path):
    """1e9 days made the due date overflow (a traceback from check and export); -5 days put it
    before the invoice, without a word."""
    def edit(book):
        book["Customers"]["L2"], book["Customers"]["L3"], book["Customers"]["L4"] = 1e9, -5, 3650
    path = _demo(tmp_path)
    book = openpyxl.load_workbook(path)
    edit(book)
    book.save(path)
    wb = read_workbook(path)
    assert [(f.code, f.cell) for f in wb.findings] == [("cell.invalid.int", "L2"), ("cell.invalid.int", "L3")]
    assert "expected 0 to 3650 days, found 1000000000" in wb.findings[0].message
    assert [c.payment_terms for c in wb.customers[:3]] == [None, None, 3650]


def test_required_cell_and_invalid_choice(tmp_path):
    def edit(book):
        book["Invoices"]["E2"] = None
        book["Invoices"]["B3"] = "bill"
    found = {(f.code, f.cell) for f in _with(tmp_path, edit)}
    assert ("cell.required", "E2") in found
    assert ("cell.invalid.choice", "B3") in found


def test_settings_missing_value(tmp_path):
    def edit(book):
        ws = book["Settings"]
        for row in ws.iter_rows(min_row=2):
            if row[0].value == "Company name":
                row[1].value = None
    found = [f for f in _with(tmp_path, edit) if f.code == "settings.missing"]
    assert [(f.sheet, f.cell) for f in found] == [("Settings", "B2")]


def test_a_required_setting_without_its_row_says_to_add_the_row(tmp_path):
    """Its label overwritten, 'Company name' was reported 'required' with no cell to fill."""
    def edit(book):
        book["Settings"]["A2"] = "Firm"
    [found] = [f for f in _with(tmp_path, edit) if f.code == "settings.missing"]
    assert found.cell == "" and "Settings has no row 'Company name'" in found.message and "column A" in found.message


def test_not_a_workbook(tmp_path):
    bad = tmp_path / "notes.xlsx"
    bad.write_text("hello")
    with pytest.raises(WorkbookError, match="notes.xlsx"):
        read_workbook(bad)
    with pytest.raises(WorkbookError, match="no such file"):
        read_workbook(tmp_path / "absent.xlsx")


def test_empty_template_reads_clean(tmp_path):
    """`workbook new` output: every sheet and column found; the one thing asked is the company name."""
    from toolkit import cli

    path = tmp_path / "new.xlsx"
    assert cli.main(["workbook", "new", str(path)]) == 0
    wb = read_workbook(path)
    assert [(f.code, f.cell) for f in wb.findings] == [("settings.missing", "B2")]
    assert (wb.invoices, wb.lines, wb.customers) == ((), (), ())
    assert wb.settings.customer_number_start is None and wb.settings.package == "winbooks"  # empty: the package's default


def test_settings_model_follows_the_layout():
    import dataclasses

    from toolkit.model import Settings

    fields = [f.name for f in dataclasses.fields(Settings) if f.name not in ("extra", "where")]
    assert fields == [s.key for s in layout.SETTINGS]


@pytest.mark.parametrize("flag", [b'date1904="1"', b'date1904="true"'])
def test_a_workbook_counting_dates_from_1904_is_refused_with_what_to_do(tmp_path, flag, capsys):
    """calamine reads a 1904 workbook's dates a day late (and a serial typed as a number would be
    four years early): the file is refused, by the reader and so by every command."""
    import io
    import zipfile
    from pathlib import Path

    from toolkit import cli

    source = zipfile.ZipFile(Path(__file__).resolve().parents[1] / "samples" / "demo.xlsx")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/workbook.xml":
                assert b"<workbookPr />" in content
                content = content.replace(b"<workbookPr />", b"<workbookPr " + flag + b" />")
            target.writestr(info.filename, content)
    book = tmp_path / "mac.xlsx"
    book.write_bytes(out.getvalue())
    with pytest.raises(WorkbookError, match="uses the 1904 date system") as refused:
        read_workbook(book)
    assert "clear 'Use 1904 date system'" in str(refused.value)
    assert cli.main(["check", str(book)]) == 2
    assert capsys.readouterr().err.strip() == f"ledger-export: {refused.value}"
    assert cli.main(["export", str(book), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_a_workbook_holding_a_part_twice_is_refused_as_damaged(tmp_path):
    """Two copies of one sheet: the survey would check one and a reader might read the other."""
    import io
    import warnings
    import zipfile
    from pathlib import Path

    source = zipfile.ZipFile(Path(__file__).resolve().parents[1] / "samples" / "demo.xlsx")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate it is asked to write
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        target.writestr("xl/worksheets/sheet7.xml", source.read("xl/worksheets/sheet7.xml").replace(b"Web", b"Wob"))
    book = tmp_path / "twice.xlsx"
    book.write_bytes(out.getvalue())
    with pytest.raises(WorkbookError, match=r"is damaged: the part xl/worksheets/sheet7.xml .*holds it twice"):
        read_workbook(book)


@pytest.mark.parametrize("text, number", [("21,0 %", 21.0), ("21.00%", 21.0), ("2.50", 2.5), ("1.455,90", 1455.9),
                                          ("0,10", 0.1), (" 100,00 ", 100.0), ("-12.340", -12.34), ("(7,50)", -7.5)])
def test_a_number_typed_as_text_reads_as_the_same_number_in_a_number_cell(text, number):
    """'21,0 %' read as Decimal('21.0'): the VAT percent in Exact Globe, Peppol and the CSV journal
    files was 21.0 where the same rate in a number cell gave 21, and '10,00' a Peppol discount of 10.00."""
    assert str(parse_decimal(text)) == str(parse_decimal(number))
    assert str(parse_percent(text)) == str(parse_percent(number))


def test_a_text_date_with_a_time_reads_as_its_day_either_way_round():
    """'2026-01-31 10:00' read, '31/01/2026 10:00' (a pasted date and time) was an error."""
    assert parse_date("31/01/2026 10:00") == parse_date("2026-01-31 10:00") == dt.date(2026, 1, 31)
    assert parse_date("31.01.2026 10:00:59") == dt.date(2026, 1, 31)
    with pytest.raises(Invalid):
        parse_date("31/01/2026 soon")


def test_rates_and_discounts_typed_as_text_export_the_bytes_of_numbers(demo, tmp_path):
    from toolkit import cli

    typed = tmp_path / "typed" / "demo.xlsx"
    typed.parent.mkdir()
    book = openpyxl.load_workbook(demo)
    lines = book["Invoice lines"]
    assert (lines["F2"].value, lines["G2"].value, lines["G3"].value) == (10, 21, 21)
    lines["F2"], lines["G2"], lines["G3"] = "10,00", "21,0 %", "21.00%"
    book.save(typed)
    book = openpyxl.load_workbook(demo)
    book.save(demo)  # the same save, numbers as numbers
    for path in (demo, typed):
        assert cli.main(["export", str(path), "--package", "csv-journal", "--no-write-back"]) == 0
    [a], [b] = (list(p.parent.glob("demo-exports/*/journal-*.csv")) for p in (demo, typed))
    assert a.read_bytes() == b.read_bytes()
