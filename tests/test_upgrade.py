"""`workbook upgrade` moves every value into a fresh workbook and keeps the old file."""

from __future__ import annotations

import zipfile

import openpyxl

from toolkit import cli, layout, sample
from toolkit.book import xlsm
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
