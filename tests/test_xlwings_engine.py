"""The openpyxl-backed xlwings test engine behaves like xlwings on Excel where our code relies on it."""

import datetime as dt

import openpyxl
import pandas as pd
import pytest
import xlwings as xw

from toolkit import layout
from toolkit.book import formulas
from toolkit.book import template, xlsm
from xlwings_engine import mock_caller, open_book

INVOICES = [["F1", "invoice", dt.date(2026, 1, 5), None, "C1"],
            ["F2", "credit note", dt.date(2026, 1, 6), None, "C2"]]


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "Company.xlsx"
    template.save_template(p, {"Invoices": INVOICES, "Ledger accounts": [["700000", "Sales", "revenue", True]]})
    return p


def test_caller_and_book_basics(path):
    with mock_caller(path) as book:
        caller = xw.Book.caller()
        assert caller == book
        assert caller.fullname == str(path.resolve())
        assert caller.name == "Company.xlsx"
        assert [s.name for s in caller.sheets] == [*layout.ALL_SHEETS, formulas.LISTS_SHEET]
        assert caller.sheets["invoices"].name == "Invoices"  # Excel ignores case
        assert caller.sheets[0].name == "Settings"
        assert "Check" in caller.sheets
    assert not hasattr(xw.Book, "_mock_caller")


def test_values_read_like_com(path):
    with mock_caller(path) as book:
        ws = book.sheets["Invoices"]
        assert ws["A1"].value == "Invoice number"
        assert ws.range("A2:C2").value == ["F1", "invoice", dt.datetime(2026, 1, 5)]
        assert ws.range("A2:B3").value == [["F1", "invoice"], ["F2", "credit note"]]
        assert ws.range("C2").options(dates=dt.date).value == dt.date(2026, 1, 5)
        accounts = book.sheets["Ledger accounts"]
        accounts["E2"].value = 12
        assert accounts["E2"].value == 12.0 and isinstance(accounts["E2"].value, float)
        assert accounts["E2"].options(numbers=int).value == 12
        assert accounts["Z99"].value is None


def test_expand_table_and_dataframe(path):
    with mock_caller(path) as book:
        ws = book.sheets["Invoices"]
        table = ws["A1"].options(expand="table").value
        assert table[0][:2] == ["Invoice number", "Type"] and len(table) == 3
        assert len(table[0]) == len(layout.INVOICES.columns)
        df = ws["A1"].options(pd.DataFrame, index=False, expand="table").value
        assert list(df["Invoice number"]) == ["F1", "F2"]
        assert ws["A1"].expand("down").shape == (3, 1)
        assert ws["A2"].end("down").row == 3 and ws["A3"].end("down").row == 1048576
        assert ws["A1"].end("right").column == len(layout.INVOICES.columns)


def test_write_2d_scalar_fill_and_save(path):
    with mock_caller(path) as book:
        check = book.sheets["Check"]
        check["A2"].value = [["error", "line.account.missing", "Invoice lines", "I5", "No account"],
                             ["warning", "invoice.gap", "Invoices", "A3", "Gap"]]
        check["F2:F3"].value = "x"
        check["D2"].add_hyperlink("#'Invoice lines'!I5", "I5", "Go to the cell")
        check["A2:A3"].color = (255, 199, 206)
        book.app.status_bar = "Checking..."
        book.app.status_bar = False
        book.save()
        assert book.app.impl.status_bar_history == ["Checking..."]
    ws = openpyxl.load_workbook(path)["Check"]
    assert [c.value for c in ws[2]] == ["error", "line.account.missing", "Invoice lines", "I5", "No account", "x"]
    assert ws["F3"].value == "x"
    assert ws["D2"].hyperlink.location == "'Invoice lines'!I5"
    assert ws["A3"].fill.fgColor.rgb.endswith("FFC7CE")


def test_alerts_are_recorded_with_answers(path):
    with mock_caller(path) as book:
        app = book.app
        assert app.alert("Done: 3 files written", title="Ledger export") == "ok"
        app.impl.alert_answers.append("no")
        assert app.alert("Overwrite?", buttons="yes_no") == "no"
        assert [a.prompt for a in app.impl.alerts] == ["Done: 3 files written", "Overwrite?"]
        assert app.impl.alerts[0].title == "Ledger export"


def test_error_cells(tmp_path):
    p = tmp_path / "err.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "#N/A"
    wb.active["A1"].data_type = "e"
    wb.save(p)
    with mock_caller(p) as book:
        assert book.sheets[0]["A1"].value is None
        assert book.sheets[0]["A1"].options(err_to_str=True).value == "#N/A"


def test_tables_resize(path):
    with mock_caller(path) as book:
        sheet = book.sheets["Check"]
        table = sheet.tables["CheckFindings"]
        assert table.range.address == "$A$1:$F$2"  # the Check table: six columns
        sheet["A2"].value = [["error", "a", "b", "c", "d", "e"]] * 3
        table.resize(sheet.range("A1:F4"))
        assert table.data_body_range.shape == (3, 6)
        book.save()
    assert openpyxl.load_workbook(path)["Check"].tables["CheckFindings"].ref == "A1:F4"


def test_saving_an_xlsm_keeps_macros_and_ribbon(tmp_path):
    p = tmp_path / "Company.xlsm"
    xlsm.build_xlsm(p)
    with mock_caller(p) as book:
        book.sheets["Settings"]["B2"].value = "Demo BV"
        book.save()
    import zipfile

    with zipfile.ZipFile(p) as z:
        assert "xl/vbaProject.bin" in z.namelist()
        assert xlsm.RIBBON_REL_TYPE in z.read("_rels/.rels").decode()
    assert openpyxl.load_workbook(p)["Settings"]["B2"].value == "Demo BV"


def test_open_book_without_caller(path):
    book = open_book(path)
    try:
        assert book.sheets["Settings"]["A1"].value == "Setting"
        assert xw.books.active == book
    finally:
        book.close()


def test_excel_refuses_a_taken_sheet_name_and_changes_to_protected_or_merged_cells(path):
    from xlwings_engine import MERGED, PROTECTED, TAKEN, ComError

    with mock_caller(path) as book:
        with pytest.raises(ValueError, match="already present"):  # xlwings' own test, before Excel's
            book.sheets.add(name="check")  # Excel compares sheet names without case
        with pytest.raises(ComError) as refused:
            book.sheets["Export log"].name = "CHECK"
        assert refused.value.args[2][2] == TAKEN  # where pywin32 puts Excel's text
        book.sheets["Export log"].name = "EXPORT LOG"  # its own name in other letters is no other sheet's
        assert [s.name for s in book.sheets if s.name.lower() == "export log"] == ["EXPORT LOG"]
        ws = book.sheets["Invoices"]
        ws.api.protection.sheet = True
        ws.api["D2"].protection = openpyxl.styles.Protection(locked=False)
        ws["D2"].value = dt.date(2026, 2, 5)  # an unlocked cell may be changed
        for change in (lambda: setattr(ws["A2"], "value", "F9"), lambda: setattr(ws["A2"], "color", (255, 0, 0)),
                       lambda: ws["A2:B3"].clear(), lambda: ws["A2"].add_hyperlink("#'Settings'!A1")):
            with pytest.raises(ComError) as refused:
                change()
            assert refused.value.args[2][2] == PROTECTED
        assert ws["A2"].value == "F1"
        ws.api.protection.sheet = False
        ws.api.merge_cells("A5:B5")
        with pytest.raises(ComError) as refused:
            ws["B4:B6"].value = [["x"], ["y"], ["z"]]
        assert refused.value.args[2][2] == MERGED
