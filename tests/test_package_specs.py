"""The shipped package specs in use: every package exports the demo workbook by changing only the
'Accounting package' setting; their limits are checked before anything is written; the period
rules refuse an export across two fiscal years; `ledger-export packages` describes them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from decimal import Decimal as D

from test_render import batch, credit_doc, invoice_doc
from toolkit import cli, layout, sample
from toolkit.book import template
from toolkit import spec as specs
from toolkit.app.export import ExportRequest, run_export
from toolkit.model import RevenueGroup

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PACKAGES = [s.id for s in specs.list_specs()]
DATEV = {"berater": 1001, "mandant": 1, "fiscal_year_start": dt.date(2024, 1, 1), "account_length": 6, "skr": ""}


def adapted(path: Path, package: str) -> None:
    settings, tables = sample.demo(package)
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})


def set_setting(path: Path, label: str, value) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book[layout.SETTINGS_SHEET]
    [row] = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == label]
    sheet.cell(row, 2).value = value
    book.save(path)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_exports_the_demo_by_changing_only_the_package_setting(demo, tmp_path, package):
    set_setting(demo, "Accounting package", package)
    if package in sample.ADAPTED:  # the demo as the package takes it (sample.ADAPTED says why)
        adapted(demo, package)
    result = run_export(ExportRequest(demo, out_dir=tmp_path / "out"))
    assert result.status == "written", [f.message for f in result.findings if f.is_error]
    assert [f for f in result.findings if f.is_error] == []
    golden = SAMPLES / "golden" / package
    assert sorted(p.name for p in result.folder.iterdir()) == sorted(p.name for p in golden.iterdir())
    for path in result.folder.iterdir():
        assert path.read_bytes() == (golden / path.name).read_bytes(), path.name


def test_check_finds_nothing_in_the_demo_for_any_package():
    from toolkit.app.check import check

    for package in [None] + PACKAGES:
        if package in sample.ADAPTED:  # checked by the test below
            continue
        found = check(SAMPLES / "demo.xlsx", package)
        if package == "peppol-bis3":  # the consumers' invoices are named: not Peppol documents
            assert found and {f.code for f in found} == {"export.not_written"}
            continue
        assert found == [], package


def test_check_datev_reports_the_customer_numbers_that_are_no_debtor_accounts(demo):
    """The demo has Sachkontenlänge 6: DATEV debtors are then 7-digit accounts 1000000-6999999
    (formats.md 5.3: personal accounts have Sachkontenlänge + 1 digits; first digit 1-6 for
    debtors). Every 6-digit number of the demo is reported on its cell; the start value 100000 the
    demo types cannot give one either. The demo as DATEV takes it (7-digit numbers) checks clean."""
    from toolkit.app.check import check

    numbered = [(row, number) for row, c in enumerate(sample.CUSTOMERS, start=2) if (number := c[10])]
    not_debtors = [row for row, number in numbered if not (len(number) == 7 and 1000000 <= int(number) <= 6999999)]
    assert len(not_debtors) == len(numbered) == 8
    findings = check(demo, "datev")
    invalid = [f for f in findings if f.code == "customer.number.invalid"]
    assert [(f.sheet, f.row, f.severity) for f in invalid] == [("Customers", row, "error") for row in not_debtors]
    assert "exactly 7 characters, from 1000000 to 6999999" in invalid[0].message
    [start] = [f for f in findings if f.sheet == "Settings"]  # one finding for the start: no 7-digit number
    assert start.code == "customer.number.generate" and "'100000' is shorter than 7" in start.message
    assert {f.code for f in findings if f.is_error} == {"customer.number.invalid", "customer.number.generate"}
    adapted(demo, "datev")
    assert check(demo, "datev") == []


def test_datev_refuses_an_export_across_two_fiscal_years(demo, tmp_path):
    adapted(demo, "datev")
    result = run_export(ExportRequest(demo, "datev", dt.date(2025, 12, 1), dt.date(2026, 3, 31), tmp_path / "out"))
    assert result.status == "blocked" and result.folder is None
    assert not (tmp_path / "out").exists() or not any(p.is_dir() for p in (tmp_path / "out").iterdir())
    [finding] = [f for f in result.findings if f.is_error]
    assert finding.code == "period.fiscal_year" and finding.sheet == "Settings"
    assert "01/12/2025 to 31/03/2026" in finding.message and "DATEV fiscal year start" in finding.message
    # a fiscal year from July: the demo's first quarter lies within 2025-07-01 .. 2026-06-30
    set_setting(demo, "DATEV fiscal year start", dt.datetime(2025, 7, 1))
    assert run_export(ExportRequest(demo, "datev", out_dir=tmp_path / "out")).status == "written"


def test_check_reports_the_period_too(demo, capsys):
    set_setting(demo, "Period from", dt.datetime(2025, 12, 1))
    assert cli.main(["check", str(demo), "--package", "fec"]) == 1
    out = capsys.readouterr().out
    assert "period.fiscal_year" in out and "FEC closing date" in out


def test_fec_closing_date_defaults_to_the_period_end(demo, tmp_path):
    set_setting(demo, "FEC closing date", None)
    result = run_export(ExportRequest(demo, "fec", out_dir=tmp_path / "out"))
    assert result.status == "written" and list(result.entry["files"]) == ["123456709FEC20260331.txt"]


def test_missing_datev_parameters_block_with_their_labels(demo, tmp_path):
    adapted(demo, "datev")
    set_setting(demo, "DATEV Berater", None)
    set_setting(demo, "DATEV Mandant", 123456)
    result = run_export(ExportRequest(demo, "datev", out_dir=tmp_path / "out"))
    messages = [f.message for f in result.findings if f.is_error]
    assert result.status == "blocked" and len(messages) == 2
    assert "'DATEV Berater' is required" in messages[0] and "'DATEV Mandant' must be at most 99999" in messages[1]


# ---- limits checked before export -----------------------------------------------------------------


def with_revenue(doc):
    """The hand-built invoice with the revenue groups of its postings (DATEV books per revenue group)."""
    groups = (RevenueGroup("700000", D(21), "domestic", "", D("1000.00"), D("0.00"), D("1000.00"), D("210.00")),
              RevenueGroup("700300", D(0), "intra-EU services", "", D("100.00"), D("0.00"), D("100.00"), D("0.00")))
    return dataclasses.replace(doc, revenue_groups=groups)


def test_datev_belegfeld_1_outside_its_character_set_or_over_12_is_an_error():
    spec = specs.load_spec("datev")
    docs = [with_revenue(invoice_doc("F 2024_001")), with_revenue(invoice_doc("F$&%*+-/1234", row=3)),
            with_revenue(invoice_doc("F" + "1" * 12, row=4))]
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec, batch(docs, params=DATEV))
    problems = {(f.code, f.cell) for f in caught.value.findings}
    assert problems == {("text.disallowed", "A2"), ("text.too_long", "A4")}  # the invoice number cells; A3 fits
    assert all("Belegfeld 1" in f.message for f in caught.value.findings)


def test_datev_long_buchungstext_is_cut_to_60_with_a_warning():
    doc = with_revenue(invoice_doc(description="Consulting services for the brewery in March 2024, phase two of three"))
    result = specs.render(specs.load_spec("datev"), batch([doc, credit_doc()], params=DATEV))
    [warning] = result.warnings
    assert warning.code == "text.truncated" and "Buchungstext" in warning.message
    booking = dict(result.files)["EXTF_Buchungsstapel.csv"].decode("cp1252")
    assert ';"Consulting services for the brewery in March 2024, phase two";' in booking
    assert '1210,00;"S";"EUR";;;"";100001;700000;"";0503;' in booking  # VAT-inclusive, debtor against revenue
    assert '"BE0477472701"' in booking  # the customer's VAT number on the intra-EU booking


def test_bob50_label_is_cut_to_32_and_fec_replaces_its_separator():
    doc = invoice_doc(description="Design | print | web for the new brand")
    result = specs.render(specs.load_spec("bob50"), batch([doc], params={"decimal_separator": "comma"}))
    assert {w.code for w in result.warnings} == {"text.truncated"}
    assert dict(result.files)[next(iter(dict(result.files)))].decode("cp1252").split("\n")[0].endswith(
        ";Design | print | web for the new")
    fec = specs.render(specs.load_spec("fec"), batch([doc], params={"siren": "123456709", "closing_date": dt.date(2024, 12, 31),
                                                                      "delimiter": "pipe", "journal_label": "Ventes"}))
    [(name, content)] = fec.files
    assert name == "123456709FEC20241231.txt"
    assert "|Design / print / web for the new brand|" in content.decode("iso-8859-15")


def test_sie_writes_what_cp437_lacks_as_look_alikes():
    customer = dataclasses.replace(invoice_doc().customer, name="Œuvre “Ölmann” €")
    doc = dataclasses.replace(invoice_doc(), customer=customer)
    result = specs.render(specs.load_spec("sie"), batch([doc]))
    text = result.files[0][1].decode("cp437")
    assert '"OEuvre \\"Ölmann\\" EUR"' in text
    assert {w.code for w in result.warnings} == {"text.transliterated"}


# ---- discoverability --------------------------------------------------------------------------------


def test_packages_lists_every_package_with_countries_files_and_parameters(capsys):
    assert cli.main(["packages"]) == 0
    out = capsys.readouterr().out
    for package in ("datev", "fec", "sie", "exact-globe", "bob50"):
        assert f"\n{package} " in "\n" + out
    assert "EXTF_Buchungsstapel.csv, EXTF_Debitoren_Kreditoren.csv" in out and "[DE]" in out
    assert "DATEV Berater, DATEV Mandant" in out


def test_packages_show_prints_parameters_help_and_the_period_rule(capsys):
    assert cli.main(["packages", "show", "datev"]) == 0
    out = capsys.readouterr().out
    assert "DATEV fiscal year start [date, required]" in out and "WJ-Beginn" in out
    assert "Export period:" in out and "'DATEV fiscal year start'" in out
    assert all(len(line) <= 110 for line in out.splitlines())  # wrapped for a terminal
    assert cli.main(["packages", "show", "bob50"]) == 0
    assert "Dolibarr" in capsys.readouterr().out


def test_a_journal_code_too_long_for_the_package_is_one_error_at_its_setting(tmp_path):
    """The journal comes from Settings: a code too long for WinBooks was an error on every
    invoice's row (100,000 of them in a big workbook), none on the cell to fix."""
    from toolkit.app.check import check

    settings, tables = sample.demo()
    path = tmp_path / "demo.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: {**settings, "invoice_journal": "VERKOOPJOURNAAL"}})
    findings = check(path, "winbooks")
    where = openpyxl.load_workbook(path)[layout.SETTINGS_SHEET]
    row = next(r for r in range(1, where.max_row + 1) if where.cell(r, 1).value == "Invoice journal")
    assert [(f.code, f.sheet, f.cell) for f in findings] == [("text.too_long", layout.SETTINGS_SHEET, f"B{row}")]
    assert "setting 'Invoice journal'" in findings[0].message and "'VERKOOPJOURNAAL' is longer than 6" in findings[0].message
