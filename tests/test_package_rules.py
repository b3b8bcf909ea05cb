"""Each package's own rules, enforced by the one validation stage before anything is written:
document numbers as the package keeps them, VAT codes per package."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from factory import SETTINGS, invoice, line, workbook
from toolkit import layout
from toolkit.app.export import ExportRequest, run_export, validate
from toolkit.book.read import read_workbook

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


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


def test_winbooks_keeps_the_digits_0_to_9_only_and_the_check_judges_the_number_it_keeps():
    # Fullwidth (U+FF11) or Arabic-Indic (U+0661) digits are digits to Python's \\d, but WinBooks'
    # DOCNUMBER keeps 0-9 only: INV-\uff11 was exported with an empty document number, and
    # 2026-\uff101 as 20261 beside 2026-1's 20261 in the same journal, both without a finding.
    for number in ("INV-\uff11", "INV-\u0661"):
        alone = workbook([invoice(number, lines=[line(number)])])
        assert [f.code for f in validate(alone, "winbooks")[2] if f.code.startswith("invoice.number.package")] == [
            "invoice.number.package_empty"]
    mixed = workbook([invoice("2026-1", row=2, lines=[line("2026-1", row=2)]),
                      invoice("2026-\uff101", row=3, lines=[line("2026-\uff101", row=3)])])
    [collision] = [f for f in validate(mixed, "winbooks")[2] if f.code.startswith("invoice.number.package")]
    assert (collision.code, collision.cell) == ("invoice.number.package_collision", "A3") and "20261" in collision.message


@pytest.mark.parametrize("package, a, b", [
    ("bob50", "INV-\uff13", "INV-3"), ("fec", "F1\U0001F600", "F1\U0001F642"), ("sie", "F\u00f51", "Fo1"),
    ("bob50", "F;1", "F,1"), ("fec", "F|1", "F/1")])
def test_numbers_a_package_writes_alike_are_an_error_naming_both_cells(package, a, b):
    # A file whose character set cannot hold a character writes another one (cp1252, ISO 8859-15,
    # CP437: INV-\uff13 as INV-3, an emoji as ?), and BOB 50 writes ; as , and FEC | as /: both
    # documents were written under one number with a warning each.
    docs = [invoice(a, row=2, lines=[line(a, row=2)]), invoice(b, row=3, lines=[line(b, row=3)])]
    found = [f for f in validate(workbook(docs), package)[2] if f.code.startswith("invoice.number.package")]
    assert [(f.code, f.cell) for f in found] == [("invoice.number.package_collision", "A3")]
    assert "Invoices!A2" in found[0].message
    # a Unicode file writes both as typed
    assert not [f for f in validate(workbook(docs), "csv-journal")[2] if f.code.startswith("invoice.number.package")]
    # numbers that differ in case only are one duplicate, said once
    same = [invoice("INV-1", row=2, lines=[line("INV-1", row=2)]), invoice("inv-1", row=3, lines=[line("inv-1", row=3)])]
    assert [f.code for f in validate(workbook(same), "winbooks")[2] if f.code.startswith("invoice.number")] == [
        "invoice.number.duplicate"]


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


# ---- VAT codes per package -------------------------------------------------------------------------


def _vat_codes(folder: Path) -> dict[str, set[str]]:
    """WinBooks ACT.txt: document number -> the VAT codes on its lines (VATCODE and VATIMPUT)."""
    rows = csv.reader(io.StringIO((folder / "ACT.txt").read_text(encoding="cp1252")))
    found: dict[str, set[str]] = {}
    for r in rows:
        found.setdefault(r[3], set()).update(c for c in (r[18], r[23]) if c)
    return found


def test_winbooks_services_outside_the_eu_get_232000_and_goods_231000(demo, tmp_path):
    """formats.md 1.5: 231000 / 232000 = export goods / services outside the EU. The demo's export
    customer (C010) buys design services."""
    wb = read_workbook(demo)
    services = {i.number for i in wb.invoices if any(l.vat_regime == "export services" for l in i.lines)}
    assert services and all(i.customer_id == "C010" for i in wb.invoices if i.number in services)
    result = run_export(ExportRequest(demo, out_dir=tmp_path / "out"))
    codes = _vat_codes(result.folder)
    assert all(codes["".join(ch for ch in n if ch.isdigit())] == {"232000"} for n in services)
    assert "231000" not in set().union(*codes.values())
    # the same lines typed as goods
    lines = openpyxl.load_workbook(demo)[layout.INVOICE_LINES.name]
    rows = [r for r in range(2, lines.max_row + 1) if lines.cell(r, 8).value == "export services"]
    edit(demo, layout.INVOICE_LINES.name, {(r, "VAT regime"): "export" for r in rows})
    codes = _vat_codes(run_export(ExportRequest(demo, out_dir=tmp_path / "goods", include_exported=True)).folder)
    assert all(codes["".join(ch for ch in n if ch.isdigit())] == {"231000"} for n in services)


def _add_vat_codes(path: Path, rows: list[list]) -> None:
    from toolkit.book.writeback import Edits, write_back

    write_back(path, Edits().append_rows(layout.VAT_CODES.name, rows))


def _all_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in folder.iterdir())


@pytest.mark.parametrize("other", ["datev", "csv-journal", "exact-globe"])
def test_a_winbooks_code_on_the_vat_codes_sheet_stays_in_winbooks(demo, tmp_path, other):
    from toolkit import sample
    from toolkit.book import template

    _add_vat_codes(demo, [["winbooks", "domestic", 21, None, "219999"]])
    winbooks = run_export(ExportRequest(demo, out_dir=tmp_path / "wb"))
    codes = _vat_codes(winbooks.folder)
    assert "219999" in set().union(*codes.values()) and "211400" not in set().union(*codes.values())
    if other in sample.ADAPTED:  # the demo as that package takes it, with the row again
        settings, tables = sample.demo(other)
        template.save_template(demo, {**tables, layout.SETTINGS_SHEET: {**settings, "package": "winbooks"}})
        _add_vat_codes(demo, [["winbooks", "domestic", 21, None, "219999"]])
    result = run_export(ExportRequest(demo, package=other, out_dir=tmp_path / other, include_exported=True))
    assert result.status == "written", [f.message for f in result.findings if f.is_error]
    assert "219999" not in _all_text(result.folder)
    # the row for that package is used there, more specific rows first
    _add_vat_codes(demo, [[other, "domestic", None, None, "77"], [other, "domestic", 21, "invoice", "19"]])
    got = {(p.vat_rate, d.doc_type, p.vat_code) for d in _documents(demo, other) for p in d.postings if p.kind == "vat"}
    assert ("21", "invoice", "19") in {(str(r), t, c) for r, t, c in got}
    assert {c for r, t, c in got if r == 21 and t == "credit note"} <= {"77"}
    assert {c for r, t, c in got if r == 6} == {"77"}


def _documents(path: Path, package: str):
    from toolkit.app.export import plan_export

    return plan_export(ExportRequest(path, package=package, include_exported=True)).documents


def test_two_rows_for_the_same_case_are_an_error(demo):
    from toolkit.app.check import check

    _add_vat_codes(demo, [["winbooks", "domestic", 21, None, "211400"], ["WinBooks", "domestic", 21, None, "211401"]])
    [dup] = [f for f in check(demo) if f.code == "vat_code.duplicate"]
    first_row = dup.row - 1
    assert dup.sheet == "VAT codes" and f"row {first_row}" in dup.message and dup.is_error


def test_a_code_for_a_package_that_does_not_exist_is_a_warning(demo):
    from toolkit.app.check import check

    _add_vat_codes(demo, [["winbook", "domestic", 21, None, "211400"]])  # a typo for winbooks
    [unknown] = [f for f in check(demo) if f.code == "vat_code.package.unknown"]
    assert unknown.severity == "warning" and unknown.cell.startswith("A") and "winbooks" in unknown.message


def _legacy(demo: Path, codes: dict[tuple[int, str], str]) -> None:
    """The demo as an earlier version wrote it: a 'Package VAT code' column on VAT rules, no VAT
    codes sheet. `codes`: (rate, regime) -> code."""
    book = openpyxl.load_workbook(demo)
    del book[layout.VAT_CODES.name]
    ws = book[layout.VAT_RULES.name]
    col = ws.max_column + 1
    ws.cell(1, col).value = "Package VAT code"
    for r in range(2, ws.max_row + 1):
        ws.cell(r, col).value = codes.get((ws.cell(r, 1).value, ws.cell(r, 2).value))
    for table in list(ws.tables):  # the old table did not have the new column either
        del ws.tables[table]
    book.save(demo)


def test_an_old_workbook_keeps_its_codes_for_its_package_with_a_warning_and_upgrade_moves_them(demo, tmp_path):
    from toolkit import cli
    from toolkit.app.check import check

    _legacy(demo, {(21, "domestic"): "219999"})
    [warn] = [f for f in check(demo) if f.code == "workbook.upgrade.vat_codes"]
    assert warn.severity == "warning" and "workbook upgrade" in warn.message and warn.sheet == "VAT rules"
    assert not [f for f in check(demo) if f.code == "sheet.vat_codes.missing"]  # one finding for one cause
    codes = _vat_codes(run_export(ExportRequest(demo, out_dir=tmp_path / "wb")).folder)
    assert "219999" in set().union(*codes.values())
    journal = run_export(ExportRequest(demo, package="csv-journal", out_dir=tmp_path / "csv", include_exported=True))
    assert "219999" not in _all_text(journal.folder)

    assert cli.main(["workbook", "upgrade", str(demo)]) == 0
    wb = read_workbook(demo)
    assert [(c.package, c.regime, c.rate, c.doc_type, c.code) for c in wb.vat_codes] == [
        ("winbooks", "domestic", 21, "", "219999")]
    assert not [f for f in wb.findings if f.code in ("workbook.upgrade.vat_codes", "sheet.vat_codes.missing")]
    headers = [c.value for c in openpyxl.load_workbook(demo)[layout.VAT_RULES.name][1]]
    assert "Package VAT code" not in headers


def test_a_workbook_without_the_vat_codes_sheet_warns_and_uses_the_packages_codes(demo, tmp_path):
    from toolkit.app.check import check

    book = openpyxl.load_workbook(demo)
    del book[layout.VAT_CODES.name]
    book.save(demo)
    [missing] = [f for f in check(demo) if f.code == "sheet.vat_codes.missing"]
    assert missing.severity == "warning" and "workbook upgrade" in missing.message
    assert run_export(ExportRequest(demo, out_dir=tmp_path / "out")).status == "written"


# ---- DATEV: a G/L account has at most Sachkontenlänge digits ------------------------------------


@pytest.mark.parametrize("length, too_long", [(6, False), (5, True), (4, True)])
def test_datev_accounts_longer_than_the_sachkontenlaenge_are_personal_accounts(tmp_path, length, too_long):
    from toolkit import sample
    from toolkit.book import template

    settings, tables = sample.demo("datev")
    path = template.save_template(tmp_path / "datev.xlsx", {**tables, layout.SETTINGS_SHEET: {
        **settings, "DATEV Sachkontenlänge": length}})
    wb = read_workbook(path)
    found = [f for f in validate(wb, "datev", wb.settings.period_from, wb.settings.period_to)[2] if f.code == "account.format"]
    accounts = [a.account for a in wb.accounts]
    assert accounts and all(len(a) == 6 for a in accounts)  # the demo's chart: 6 digits
    if not too_long:
        assert found == []
        return
    assert sorted(f.cell for f in found) == sorted(a.where.cell("account") for a in wb.accounts)
    assert all("DATEV Sachkontenlänge" in f.message and f"4 to {length} characters" in f.message for f in found)


def test_an_account_length_parameter_must_be_a_declared_integer(tmp_path):
    import json

    from toolkit.spec import SpecError, load_spec

    data = json.loads((Path(__file__).resolve().parents[1] / "package_specs" / "datev.json").read_text(encoding="utf-8"))
    data["accounts"]["max_length"] = {"param": "no_such_parameter"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"accounts.*max_length.*no_such_parameter"):
        load_spec(path)


def test_a_number_parameter_is_read_as_excel_shows_it():
    """A package parameter typed in Excel is a float read as Excel shows it, as every cell is: a
    formula's binary noise is no fraction of a whole number; what is not a number says so."""
    from toolkit.spec.params import Parameter, convert

    whole = Parameter("berater", "Berater", "integer", "help", min=1, max=9999999)
    assert convert(whole, 1001.0000000000001) == (1001, "")  # =1000+1.0000000000001 as a file stores it
    assert convert(whole, 1001.5)[1] == "must be a whole number, not 1001.5"
    for hostile in (float("nan"), float("inf"), float("-inf")):
        assert convert(whole, hostile) == (None, f"is not a valid integer: {hostile!r}")
    rate = Parameter("rate", "Rate", "decimal", "help")
    assert convert(rate, 0.1 + 0.2) == (Decimal("0.3"), "")
    assert convert(rate, 12.5) == (Decimal("12.5"), "")
