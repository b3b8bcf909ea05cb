"""The template: every sheet, table, dropdown and format of toolkit.layout, reproducibly."""

import datetime as dt
from decimal import Decimal

import openpyxl
import pytest

from toolkit import layout
from toolkit.book import formulas, lists, template
from toolkit.layout import column_letter


@pytest.fixture(scope="module")
def empty_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "template.xlsx"
    template.save_template(path)
    return openpyxl.load_workbook(path)


def _validations(ws):
    return ws.data_validations.dataValidation


def _validation_for(ws, cell):
    hits = [dv for dv in _validations(ws) if cell in dv.sqref]
    assert len(hits) <= 1, f"{ws.title}!{cell} has {len(hits)} validations"
    return hits[0] if hits else None


def test_sheets_in_layout_order(empty_book):
    assert empty_book.sheetnames == [*layout.ALL_SHEETS, formulas.LISTS_SHEET]
    assert empty_book[formulas.LISTS_SHEET].sheet_state == "hidden"


TABLES = [s for s in layout.TABLE_SHEETS + layout.OUTPUT_SHEETS if not s.placeholder]


@pytest.mark.parametrize("sheet", TABLES, ids=lambda s: s.name)
def test_table_sheet(empty_book, sheet):
    ws = empty_book[sheet.name]
    headers = [c.header for c in sheet.columns]
    assert [cell.value for cell in ws[1]] == headers
    assert list(ws.tables) == [sheet.table]
    table = ws.tables[sheet.table]
    # An empty table keeps one empty data row: Excel rejects a header-only table part.
    assert table.ref == f"A1:{column_letter(len(headers) - 1)}2"
    assert [c.name for c in table.tableColumns] == headers
    assert ws.freeze_panes == "A2"
    for i, col in enumerate(sheet.columns):
        letter = column_letter(i)
        dim = ws.column_dimensions[letter]
        # The header and its filter button fit: about one width unit per character, plus 3.
        assert dim.width >= max(col.width, len(col.header) + 3)
        assert dim.number_format == template.NUMBER_FORMATS[col.type]
        dv = _validation_for(ws, f"{letter}2")
        dropdown = bool(col.choices) and not col.output
        source = lists.COLUMN_LISTS.get((sheet.name, col.key))
        assert (dv is None) == (not dropdown and not col.help and not source and not col.computed)
        assert _validation_for(ws, f"{letter}{template.VALIDATION_LAST_ROW}") is dv
        if dropdown:
            assert dv.type == "list"
            assert dv.formula1 == '"' + ",".join(col.choices) + '"'
        if source:
            assert (dv.type, dv.formula1, dv.errorStyle) == ("list", source.name, "warning")
        if col.computed:  # typing over the formula asks first
            assert (dv.type, dv.formula1, dv.errorStyle) == ("custom", "FALSE", "warning")
        if col.help:
            assert dv.showInputMessage and dv.prompt == col.help[:255]
            assert dv.promptTitle == col.header[:32]
        if col.output:
            assert dim.fill.fgColor.rgb.endswith("F2F2F2")
        else:
            assert dim.fill.fill_type is None


def test_customer_import_is_a_paste_area(empty_book):
    # The pasted list brings its own columns: no table to fight with, just a header a paste
    # replaces, the instructions as input message where the paste goes, text format for numbers.
    sheet = layout.CUSTOMER_IMPORT
    ws = empty_book[sheet.name]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [[sheet.placeholder.header]]
    assert not ws.tables
    for cell in ("A1", "A2"):
        dv = _validation_for(ws, cell)
        assert dv.showInputMessage and dv.prompt == sheet.placeholder.help
    assert len(sheet.placeholder.help) <= template.PROMPT_MAX
    assert ws.column_dimensions["A"].number_format == ws.column_dimensions["Z"].number_format == "@"
    assert ws.freeze_panes == "A2"


def test_code_columns_are_text(empty_book):
    # Account numbers typed as 700000 must stay text ("@"), dates must show as ISO dates.
    ws = empty_book["Ledger accounts"]
    assert ws.column_dimensions["A"].number_format == "@"
    ws = empty_book["Invoices"]
    date_col = column_letter(layout.INVOICES.keys.index("date"))
    assert ws.column_dimensions[date_col].number_format == "yyyy-mm-dd"


def test_settings_sheet(empty_book):
    ws = empty_book[layout.SETTINGS_SHEET]
    assert [c.value for c in ws[1]] == list(layout.SETTINGS_HEADERS)
    assert ws.freeze_panes == "A2"
    for row, setting in enumerate(layout.SETTINGS, start=2):
        label, value, help_text = (c.value for c in ws[row])
        assert label == setting.label
        assert value == template.cell_value(setting.default)
        assert help_text == (setting.help or None)
        dv = _validation_for(ws, f"B{row}")
        if setting.choices:
            assert dv.formula1 == '"' + ",".join(setting.choices) + '"'
    numbering = next(r for r, s in enumerate(layout.SETTINGS, 2) if s.key == "customer_number_start")
    assert ws.cell(numbering, 2).value is None  # empty: the package's default start
    exports = next(r for r, s in enumerate(layout.SETTINGS, 2) if s.key == "export_customers")
    assert ws.cell(exports, 2).value == "yes"


def test_sample_fills_rows_and_tables_cover_them(tmp_path):
    sample = {
        "Ledger accounts": [["700000", "Sales", "revenue", True], ["400000", "Customers", "receivable", None]],
        "Invoice lines": [["F1", 1, "Work", Decimal("2"), Decimal("12.50"), None, Decimal("21"), "domestic", "700000", "manual"]],
        "Invoices": [["F1", "invoice", dt.date(2026, 1, 5), None, "C1"]],
        layout.SETTINGS_SHEET: {"company_name": "Demo BV", "export_customers": False},
    }
    path = tmp_path / "sample.xlsx"
    template.save_template(path, sample)
    wb = openpyxl.load_workbook(path)
    ws = wb["Ledger accounts"]
    assert ws.tables["LedgerAccounts"].ref == "A1:D3"
    assert [c.value for c in ws[2]] == ["700000", "Sales", "revenue", "yes"]
    assert ws["A2"].number_format == "@"
    lines = wb["Invoice lines"]
    assert lines.tables["InvoiceLines"].ref == f"A1:{column_letter(len(layout.INVOICE_LINES.columns) - 1)}2"
    assert lines["E2"].value == 12.5 and lines["E2"].number_format == "#,##0.00"
    assert wb["Invoices"]["C2"].value == dt.datetime(2026, 1, 5)
    customer = column_letter(layout.INVOICES.keys.index("customer_id"))
    assert wb["Invoices"][f"{customer}2"].value == "C1"
    assert wb["Invoices"]["C2"].number_format == "yyyy-mm-dd"
    settings = {row[0]: row[1] for row in wb["Settings"].iter_rows(min_row=2, values_only=True)}
    assert settings["Company name"] == "Demo BV"
    assert settings["Export customers"] == "no"


def test_unknown_sample_sheet_is_refused():
    with pytest.raises(KeyError, match="Nope"):
        template.build_template({"Nope": []})


def test_long_help_is_truncated_to_excel_limits():
    dv = template._validation((), "A very long column header that goes on and on", "x" * 400)
    assert len(dv.prompt) == 255 and len(dv.promptTitle) == 32


def test_two_builds_are_byte_identical(tmp_path):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    template.save_template(a)
    template.save_template(b)
    assert a.read_bytes() == b.read_bytes()
    wb = openpyxl.load_workbook(a)
    assert wb.properties.creator == template.CREATOR
    assert wb.properties.modified == template.FIXED_TIME


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "t.xlsx"
    template.save_template(path)
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    from toolkit import sample

    settings, tables = sample.demo()
    return template.save_template(tmp_path_factory.mktemp("demo") / "demo.xlsx",
                                  {**tables, layout.SETTINGS_SHEET: settings})


def test_every_sheet_prints_landscape_one_page_wide_with_its_header_row(demo_path):
    wb = openpyxl.load_workbook(demo_path)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), ws.title
        assert ws.print_title_rows.replace("$", "") == "1:1", ws.title


@pytest.mark.needs("soffice", "pdftotext")
def test_the_workbook_printed_by_libreoffice_repeats_each_tables_header_and_fits_its_width(demo_path, tmp_path):
    import subprocess

    from external import need, soffice_convert

    pdf = soffice_convert(demo_path, "pdf", tmp_path)
    text = subprocess.run([need("pdftotext"), "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = [" ".join(p.split()) for p in text.split("\f") if p.strip()]
    for sheet in (layout.INVOICES, layout.INVOICE_LINES, layout.CUSTOMERS, layout.CHECK):
        headers = " ".join(c.header for c in sheet.columns)
        own = [p for p in pages if p.startswith(headers)]  # the header row, every column on the page
        assert own, f"{sheet.name}: no page starts with its whole header row"
    lines = [p for p in pages if p.startswith(layout.INVOICE_LINES.columns[0].header + " Line")]
    assert len(lines) >= 2  # the demo's lines take several pages, each starting with the header row
    assert not any("Active ledger accounts" in p for p in pages)  # the hidden Lists sheet is not printed


def _settings_rows(ws):
    return {row[0].value: (row[1].value, row[2].value, ws.row_dimensions[row[0].row].hidden)
            for row in ws.iter_rows(min_row=2) if row[0].value}


def test_settings_show_the_chosen_packages_own_settings_and_hide_the_others(tmp_path):
    from toolkit import spec as specs

    values = {"company_name": "Demo", "package": "winbooks", "DATEV Berater": 1001, "FEC SIREN": "123456709",
              "WinBooks periods": "quarterly", "My own note": "kept"}
    ws = openpyxl.load_workbook(template.save_template(tmp_path / "wb.xlsx", {layout.SETTINGS_SHEET: values}))["Settings"]
    rows = _settings_rows(ws)
    winbooks, datev = specs.load_spec("winbooks"), specs.load_spec("datev")
    for param in winbooks.parameters:
        value, help_text, hidden = rows[param.label]
        assert not hidden and param.help in help_text
    assert rows["WinBooks periods"][0] == "quarterly" and "Allowed: monthly, quarterly" in rows["WinBooks periods"][1]
    # DATEV's rows: kept (a change back loses nothing) but not shown to a WinBooks company
    assert rows["DATEV Berater"] == (1001, None, True) and rows["FEC SIREN"][2]
    assert not any(label.startswith("DATEV") and not hidden for label, (_, _, hidden) in rows.items())
    assert rows["My own note"] == ("kept", None, False)
    package_row = next(r for r in range(2, 40) if ws.cell(r, 1).value == "Accounting package")
    dv = _validation_for(ws, f"B{package_row}")
    assert dv.type == "list" and dv.formula1.strip('"').split(",") == sorted(s.id for s in specs.list_specs())
    assert len(datev.parameters) >= 3


def test_upgrade_after_a_change_of_package_shows_the_new_packages_settings(tmp_path):
    from toolkit.book import upgrade

    path = template.save_template(tmp_path / "Company.xlsx", {layout.SETTINGS_SHEET: {
        "company_name": "Demo", "package": "winbooks", "DATEV Berater": 1001}})
    wb = openpyxl.load_workbook(path)
    ws = wb["Settings"]
    row = next(r for r in range(2, 40) if ws.cell(r, 1).value == "Accounting package")
    ws.cell(row, 2).value = "datev"  # the user picks another package
    wb.save(path)
    upgrade.upgrade(path)
    rows = _settings_rows(openpyxl.load_workbook(path)["Settings"])
    assert rows["DATEV Berater"][0] == 1001 and not rows["DATEV Berater"][2]
    assert "Allowed: 1001 to 9999999" in rows["DATEV Berater"][1]
    assert not rows["DATEV Mandant"][2]
    assert all(hidden for label, (_, _, hidden) in rows.items() if label.startswith("WinBooks"))
    assert "Settings of DATEV" in rows and "Settings of WinBooks" not in rows


@pytest.mark.parametrize("where", ["missing-folder/new.xlsx", "a-file.xlsx/new.xlsx", "a-folder.xlsx", "n" * 300 + ".xlsx",
                                   "missing-folder/new.xlsm"])
def test_a_new_workbook_that_cannot_be_written_is_a_message_not_a_traceback(where, tmp_path, capsys):
    from toolkit import cli

    (tmp_path / "a-file.xlsx").write_bytes(b"mine")
    (tmp_path / "a-folder.xlsx").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["workbook", "new", str(tmp_path / where), "--force"]) == 2
    message = capsys.readouterr().err
    assert message.startswith("ledger-export: ") and "Traceback" not in message
    assert "cannot be written" in message and "nothing was written" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary file left behind
    assert (tmp_path / "a-file.xlsx").read_bytes() == b"mine"


def test_a_new_workbook_in_a_folder_that_cannot_be_written_is_a_message(tmp_path, monkeypatch, capsys):
    from toolkit import cli

    def refused(self, data):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(template.Path, "write_bytes", refused)
    assert cli.main(["workbook", "new", str(tmp_path / "new.xlsx")]) == 2
    message = capsys.readouterr().err
    assert "cannot be written (Permission denied)" in message and "can be written" in message
    assert list(tmp_path.iterdir()) == []
