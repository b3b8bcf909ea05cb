"""`workbook upgrade` moves every value into a fresh workbook and keeps the old file."""

from __future__ import annotations

import zipfile

import openpyxl

from toolkit import cli, layout, sample
from toolkit.book import template, xlsm
from toolkit.book.read import read_workbook


def test_upgrade_keeps_the_data_and_a_backup(tmp_path, capsys):
    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsm"
    xlsm.build_xlsm(path, {**tables, layout.SETTINGS_SHEET: {**settings, "Book year": "3"}})
    book = openpyxl.load_workbook(path, keep_vba=True)
    book["Invoices"]["Z1"] = "My notes"  # a column of the user's own
    book["Invoices"]["Z2"] = "call back"
    book["Invoice lines"]["D2"] = "twee"  # an invalid value is carried as typed, not lost
    book.save(path)
    before = read_workbook(path)

    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Invoices: column 'My notes'" in out
    [backup] = tmp_path.glob("Company.before-upgrade-*.xlsm")
    after = read_workbook(path)
    assert after.invoices == before.invoices and after.customers == before.customers
    assert after.settings.extra == before.settings.extra and after.settings.extra["Book year"] == "3"
    assert [f.code for f in after.findings] == ["cell.invalid.decimal"]
    with zipfile.ZipFile(path) as z:
        assert "customUI/customUI14.xml" in z.namelist() and "xl/vbaProject.bin" in z.namelist()
    assert openpyxl.load_workbook(backup)["Invoices"]["Z2"].value == "call back"


def test_upgrade_names_the_sheets_comments_and_pictures_it_does_not_carry(tmp_path, capsys):
    """A sheet of the user's own, comments and a chart were dropped by the rebuild without a word
    (only unknown columns were listed)."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.comments import Comment

    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsx"
    from toolkit.book import template

    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    assert "Not carried" not in capsys.readouterr().out  # the toolkit's own workbook loses nothing
    book = openpyxl.load_workbook(path)
    book.create_sheet("My notes")["A1"] = "remember the milk"
    book["Invoices"]["A3"].comment = Comment("check this one", "me")
    chart = BarChart()
    chart.add_data(Reference(book["Invoices"], min_col=16, min_row=1, max_row=10))
    book["Invoices"].add_chart(chart, "Z2")
    book.save(path)
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    out = capsys.readouterr().out
    assert "sheet 'My notes' (a sheet of your own)" in out and "comments (notes)" in out
    assert "pictures, shapes, text boxes or charts" in out and "\n  charts" in out and "still in the backup" in out


def _with_project(path, modules) -> None:
    """`path` (an .xlsm) with its VBA project replaced by one holding `modules`."""
    from toolkit.book import vba

    with zipfile.ZipFile(path) as z:
        parts = {info: z.read(info.filename) for info in z.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            z.writestr(info, vba.vba_project_bin(modules) if info.filename == xlsm.VBA_PART else data)


def test_upgrade_names_the_macros_of_the_user_s_own_it_does_not_carry(tmp_path, capsys):
    """The rebuilt .xlsm has only the toolkit's modules: a module of the user's own and code in
    ThisWorkbook were dropped without a word."""
    from toolkit.book import vba

    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsm"
    xlsm.build_xlsm(path, {**tables, layout.SETTINGS_SHEET: settings})
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    assert "Not carried" not in capsys.readouterr().out  # the toolkit's own project loses nothing

    ours = xlsm.vba_modules(["Sheet1"])
    mine = vba.standard_module('Attribute VB_Name = "MyMacros"\nSub Hello()\n    MsgBox "hi"\nEnd Sub\n')
    opening = vba.Module("ThisWorkbook", "Option Explicit\nPrivate Sub Workbook_Open()\nEnd Sub\n", "document")
    _with_project(path, [opening, *ours[1:], mine])
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    out = capsys.readouterr().out
    assert "VBA module 'MyMacros' (macros of your own)" in out and "VBA code in 'ThisWorkbook'" in out
    assert "Sheet1" not in out and "LedgerExport" not in out and "still in the backup" in out
    with zipfile.ZipFile(path) as z:
        rebuilt = vba.read_modules(z.read(xlsm.VBA_PART))
    assert "MyMacros" not in {m.name for m in rebuilt}


def test_an_unreadable_vba_project_is_pointed_to_not_a_traceback(tmp_path, capsys):
    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsm"
    xlsm.build_xlsm(path, {**tables, layout.SETTINGS_SHEET: settings})
    with zipfile.ZipFile(path) as z:
        parts = {info: z.read(info.filename) for info in z.infolist()}
    with zipfile.ZipFile(path, "w") as z:
        for info, data in parts.items():
            z.writestr(info, b"not a compound file" if info.filename == xlsm.VBA_PART else data)
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    assert "the VBA project (it could not be read; any macros of your own are in the backup)" in capsys.readouterr().out


def test_the_vba_reader_reads_projects_excel_saved():
    """read_modules on projects Excel wrote (xlwings' quickstart workbooks), not only on ours."""
    from pathlib import Path

    import xlwings

    from toolkit.book import vba

    with zipfile.ZipFile(Path(xlwings.__file__).parent / "quickstart.xlsm") as z:
        modules = vba.read_modules(z.read(xlsm.VBA_PART))
    assert [(m.name, m.kind) for m in modules] == [("ThisWorkbook", "document"), ("Sheet1", "document"),
                                                   ("Module1", "standard"), ("Sheet2", "document")]
    assert modules[2].source.startswith('Attribute VB_Name = "Module1"') and "Sub " in modules[2].source


def test_a_table_whose_header_row_is_not_recognised_stops_the_upgrade_instead_of_losing_its_rows(tmp_path, capsys):
    """Every header of 'Invoices' retyped: the rebuild carried no invoice and said nothing."""
    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    book = openpyxl.load_workbook(path)
    for cell in book["Invoices"][1]:
        cell.value = f"my {cell.value}" if cell.value else cell.value
    book.save(path)
    before = path.read_bytes()

    assert cli.main(["workbook", "upgrade", str(path)]) == 2
    err = capsys.readouterr().err
    assert "'Invoices'" in err and "header row" in err and "Invoice number" in err and "Nothing was changed" in err
    assert path.read_bytes() == before and not list(tmp_path.glob("*before-upgrade*"))


def test_a_renamed_invoices_sheet_stops_the_upgrade_instead_of_dropping_the_invoices(tmp_path, capsys):
    """'Invoices' renamed 'Factures': the rebuild listed 'Factures' among what it does not carry,
    made an empty Invoices and exited 0 (every invoice only in the backup)."""
    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    book = openpyxl.load_workbook(path)
    book["Invoices"].title = "Factures"
    book.save(path)
    before = path.read_bytes()

    assert cli.main(["workbook", "upgrade", str(path)]) == 2
    err = capsys.readouterr().err
    assert "The sheet 'Invoices' is missing" in err and "'Factures'" in err and "Rename" in err
    assert "Nothing was changed" in err and "Traceback" not in err
    assert path.read_bytes() == before and not list(tmp_path.glob("*before-upgrade*"))


def test_a_deleted_sheet_with_no_sheet_of_the_user_s_own_is_rebuilt_empty_and_told(tmp_path, capsys):
    """Nowhere else its rows could be: the rebuild gives the sheet back (empty) and says so."""
    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    book = openpyxl.load_workbook(path)
    del book["Ledger accounts"]
    book.save(path)

    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    out = capsys.readouterr().out
    assert "The sheet 'Ledger accounts' was missing" in out
    assert "Ledger accounts" in openpyxl.load_workbook(path).sheetnames
    assert read_workbook(path).invoices


def test_a_workbook_given_through_a_symbolic_link_is_upgraded_where_it_is_and_the_link_stays(tmp_path, capsys):
    """The rebuild replaced the user's link with the new workbook (the real one left old)."""
    settings, tables = sample.demo()
    office = tmp_path / "office"
    office.mkdir()
    book = office / "Company.xlsx"
    template.save_template(book, {**tables, layout.SETTINGS_SHEET: settings})
    openpyxl_book = openpyxl.load_workbook(book)
    openpyxl_book.create_sheet("My notes")["A1"] = "remember the milk"
    openpyxl_book.save(book)
    work = tmp_path / "work"
    work.mkdir()
    link = work / "Company.xlsx"
    link.symlink_to(book)

    assert cli.main(["workbook", "upgrade", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == book.resolve()
    assert "My notes" not in openpyxl.load_workbook(book).sheetnames  # the real workbook was rebuilt
    assert list(work.iterdir()) == [link]
    [backup] = office.glob("Company.before-upgrade-*.xlsx")
    assert "My notes" in openpyxl.load_workbook(backup).sheetnames
