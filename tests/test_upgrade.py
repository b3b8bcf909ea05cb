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


def test_upgrade_names_everything_else_of_the_user_s_own_it_does_not_carry(tmp_path, capsys):
    """Slicers, timelines, links to other workbooks, custom XML, controls, embedded objects, data
    connections, a data model, pictures in cells, named ranges and print areas, and sheet or
    workbook protection were dropped by the rebuild without a word (only comments, drawings,
    charts and pivot tables were named)."""
    from badfiles import replace_in, rezip

    settings, tables = sample.demo()
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    with zipfile.ZipFile(path) as z:
        names = {n: z.read(n) for n in z.namelist()}
    invoices = next(n for n in names if n.startswith("xl/worksheets/") and b"Invoice number" in names[n]
                    and b"Invoice discount" in names[n])
    added = {"xl/slicers/slicer1.xml": b"<slicers/>", "xl/slicerCaches/slicerCache1.xml": b"<slicerCacheDefinition/>",
             "xl/timelines/timeline1.xml": b"<timelines/>", "xl/externalLinks/externalLink1.xml": b"<externalLink/>",
             "customXml/item1.xml": b"<data/>", "xl/ctrlProps/ctrlProp1.xml": b"<formControlPr/>",
             "xl/activeX/activeX1.xml": b"<ocx/>", "xl/embeddings/oleObject1.bin": b"\0",
             "xl/connections.xml": b"<connections/>", "xl/model/item.data": b"\0",
             "xl/richData/rdrichvalue.xml": b"<rvData/>", "xl/pivotCache/pivotCacheDefinition1.xml": b"<pivotCacheDefinition/>",
             "xl/someAddIn/state.xml": b"<state/>"}
    data = rezip(path.read_bytes(), lambda name, part: part, add=added)
    data = rezip(data, replace_in("xl/workbook.xml", b"</definedNames>",
                                  b'<definedName name="MyRates">\'Invoice lines\'!$G$2:$G$9</definedName>'
                                  b'<definedName name="_xlnm.Print_Area" localSheetId="5">Invoices!$A$1:$J$40</definedName>'
                                  b"</definedNames>"))
    data = rezip(data, replace_in("xl/workbook.xml", b"<workbookProtection />", b'<workbookProtection lockStructure="1"/>'))
    data = rezip(data, replace_in(invoices, b"</sheetData>", b'</sheetData><sheetProtection sheet="1" objects="1"/>'))
    path.write_bytes(data)
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    out = capsys.readouterr().out
    for words in ("slicers", "timelines", "links to other workbooks", "custom XML", "form controls", "embedded objects",
                  "data connections", "data model", "pictures in cells", "pivot tables", "xl/someAddIn/",
                  "named range 'MyRates'", "print area of 'Invoices'", "protection of the sheet 'Invoices'",
                  "protection of the workbook's structure"):
        assert words in out, words
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    assert "Not carried" not in capsys.readouterr().out  # still: the toolkit's own workbook loses nothing


def test_an_empty_custom_properties_part_as_libreoffice_writes_it_is_nothing_lost(tmp_path):
    from toolkit.book.upgrade import _parts_not_rebuilt

    empty = (b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
             b'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"></Properties>')
    label = empty.replace(b"></Properties>", b'><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
                                             b'name="MSIP_Label_Enabled"><vt:lpwstr>true</vt:lpwstr></property></Properties>')
    for content, lost in ((empty, []), (label, ["custom document properties"])):
        path = tmp_path / "parts.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("xl/workbook.xml", b"<workbook/>")
            z.writestr("docProps/custom.xml", content)
        with zipfile.ZipFile(path) as z:
            assert [what.split(" (")[0] for what in _parts_not_rebuilt(z)] == lost


def test_two_upgrades_in_one_second_keep_both_backups(tmp_path):
    """The first backup is the only copy of the workbook as it was before any upgrade: a second
    upgrade in the same second (a double click on a script) must not write its backup over it."""
    import datetime as dt

    from toolkit.book import upgrade

    path = tmp_path / "Company.xlsx"
    cli.main(["workbook", "new", str(path), "--sample"])
    book = openpyxl.load_workbook(path)
    book["Invoices"]["Z1"] = "My notes"  # a column of the user's own: the upgrade does not carry it
    book.save(path)
    original = path.read_bytes()
    now = dt.datetime(2026, 12, 2, 10, 0, 0)
    first = upgrade.upgrade(path, now).backup
    second = upgrade.upgrade(path, now).backup
    assert first != second and sorted(p.name for p in tmp_path.glob("Company.before-upgrade-*.xlsx")) == [
        "Company.before-upgrade-20261202-100000-2.xlsx", "Company.before-upgrade-20261202-100000.xlsx"]
    assert first.read_bytes() == original
    assert not list(tmp_path.glob(".*.tmp"))  # copied under a temporary name, then named
