"""Every check fires on the mistake it is for, and stays silent on good data."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from factory import ACCOUNTS, CUSTOMERS, RULES, SETTINGS, invoice, line, where, workbook
from toolkit import checks, layout
from toolkit.app.export import validate
from toolkit.spec import SpecError
from toolkit.model import LedgerAccount, VatRule


def codes(wb, package=None):
    found = checks.check_workbook(wb)
    if package:
        found += checks.check_package(wb, *package)
    return {f.code for f in found}


def one_line(**kw):
    return workbook([invoice(lines=[line(**kw)])])


def customer_invoice(customer, **kw):
    return workbook([invoice(customer=customer, lines=[line(**kw)])])


CASES = {
    "settings.period.reversed": lambda: workbook(settings=replace(SETTINGS, period_from=dt.date(2026, 3, 1), period_to=dt.date(2026, 1, 1))),
    "settings.company_vat.invalid": lambda: workbook(settings=replace(SETTINGS, company_vat="BE0123456789")),
    "settings.account.unknown": lambda: workbook(settings=replace(SETTINGS, discount_account="709999")),
    "settings.account.kind": lambda: workbook(settings=replace(SETTINGS, discount_account="700000")),
    "account.duplicate": lambda: workbook(accounts=ACCOUNTS + (LedgerAccount("700000", "again", "revenue"),)),
    "account.revenue.unusual": lambda: workbook(accounts=ACCOUNTS + (LedgerAccount("800000", "Omzet", "revenue"),)),
    "vat_rule.overlap": lambda: workbook(vat_rules=RULES + (VatRule(D(21), "domestic", dt.date(2026, 1, 1), None, "700000"),)),
    "customer.id.duplicate": lambda: workbook(customers=CUSTOMERS + (replace(CUSTOMERS[0], name="again"),)),
    "customer.vat.invalid": lambda: workbook(customers=(replace(CUSTOMERS[0], vat_number="BE0477472702"),) + CUSTOMERS[1:]),
    "customer.country.invalid": lambda: workbook(customers=(replace(CUSTOMERS[0], country="Belgium"),) + CUSTOMERS[1:]),
    "invoice.number.duplicate": lambda: workbook([invoice("F1"), invoice("F1", row=3)]),
    "invoice.customer.unknown": lambda: workbook([invoice(customer="C9")]),
    "invoice.lines.missing": lambda: workbook([invoice(lines=[])]),
    "invoice.currency.unsupported": lambda: workbook([invoice(currency="USD")]),
    "invoice.payment_reference.invalid": lambda: workbook([invoice(payment_reference="+++010/8068/17184+++")]),
    "invoice.due_date.early": lambda: workbook([invoice(due_date=dt.date(2026, 1, 1))]),
    "invoice.discount.account_missing": lambda: workbook(
        [invoice(discount_pct=D(5))], settings=replace(SETTINGS, discount_account="", require_discount_account=True)),
    "discount.range": lambda: one_line(discount="150"),
    "credit_note.credited.unknown": lambda: workbook([invoice(doc_type="credit note", credited_invoice="F0")]),
    "credit_note.credited.other_customer": lambda: workbook([invoice(), _credit(customer="C2")]),
    "credit_note.credited.later": lambda: workbook([invoice(), _credit(day=dt.date(2026, 1, 5))]),
    "credit_note.credited.not_invoice": lambda: workbook([invoice(), _credit(credited="CN1")]),
    "invoice.credited.type": lambda: workbook([invoice(), _credit(doc_type="invoice")]),
    "invoice.number.gap": lambda: workbook([invoice("F1"), invoice("F3", row=3, lines=[line("F3", row=3)])]),
    "invoice.number.order": lambda: workbook([invoice("F1", day=dt.date(2026, 1, 10)),
                                              invoice("F2", row=3, day=dt.date(2026, 1, 5), lines=[line("F2", row=3)])]),
    "line.invoice.unknown": lambda: replace(workbook(), lines=workbook().lines + (line("F7", row=3),)),
    "line.account.missing": lambda: one_line(account=""),
    "line.account.unknown": lambda: one_line(account="709999"),
    "line.account.inactive": lambda: workbook(accounts=ACCOUNTS[:3] + (LedgerAccount("700000", "Sales", "revenue", active=False),) + ACCOUNTS[4:]),
    "line.account.not_revenue": lambda: one_line(account="708000"),
    "line.vat_rate.fraction": lambda: one_line(rate="0.21"),
    "line.amount.too_large": lambda: one_line(quantity="999999999999999", price="999999999999999"),
    "line.vat_rule.missing": lambda: one_line(rate="12"),
    "line.regime.rate": lambda: customer_invoice("C2", rate="21", regime="intra-EU services"),
    "line.regime.intra_eu.vat": lambda: customer_invoice("C1", rate="0", regime="intra-EU goods", account="700300"),
    "line.regime.reverse_charge.vat": lambda: customer_invoice("C2", rate="0", regime="reverse charge", account="700600"),
    "line.regime.export.country": lambda: customer_invoice("C2", rate="0", regime="export", account="700500"),
}


def test_good_workbook_is_clean():
    assert checks.check_workbook(workbook()) == []


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_fires(code):
    assert code in codes(CASES[code]())


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_silent_on_good_data(code):
    assert code not in codes(workbook())


def test_findings_name_sheet_and_cell():
    [finding] = checks.check_workbook(one_line(account="709999"))
    assert (finding.sheet, finding.cell, finding.severity) == ("Invoice lines", "I2", "error")
    assert "709999" in finding.message and "Ledger accounts" in finding.message


@pytest.mark.parametrize("where, discount, flagged", [
    ("line", "100", False), ("line", "0", False), ("line", "150", True), ("line", "-10", True), ("line", "100.01", True),
    ("invoice", "100", False), ("invoice", "101", True), ("invoice", "-0.5", True)])
def test_a_discount_outside_0_to_100_percent_is_an_error_on_its_cell(where, discount, flagged):
    """150 % booked a negative line (a discount larger than the revenue), -10 % a surcharge as a
    discount, with no word: both exported before."""
    wb = one_line(discount=discount) if where == "line" else workbook([invoice(discount_pct=D(discount))])
    found = [f for f in checks.check_workbook(wb) if f.code == "discount.range"]
    assert bool(found) == flagged
    if flagged:
        [finding] = found
        assert finding.cell == ("F2" if where == "line" else "K2") and f"Discount {discount} %" in finding.message


def test_a_total_as_issued_past_the_cent_is_quoted_as_held():
    """121.004 was shown rounded: 'Total as issued 121.00, but the booking comes to 121.00'."""
    [finding] = [f for f in checks.check_workbook(workbook([invoice(total_as_issued=D("121.004"))]))
                 if f.code == "invoice.total.mismatch"]
    assert "holds 121.004" in finding.message and "comes to 121.00" in finding.message
    assert checks.check_workbook(workbook([invoice(total_as_issued=D("121.00"))])) == []


def test_ids_and_numbers_that_differ_in_case_only_are_duplicates():
    """Excel's lookups do not tell C001 from c001 (MATCH, SUMIFS): the workbook showed the invoice of
    c001 with C001's name and customer number, and the export booked it to c001's; INV-A and inv-a
    each showed the lines of both."""
    other = replace(CUSTOMERS[0], customer_id="c1", name="Other NV", where=where(layout.CUSTOMERS, 5))
    wb = workbook([invoice(customer="c1")], customers=CUSTOMERS + (other,))
    found = [(f.code, f.cell) for f in checks.check_workbook(wb)]
    assert found == [("customer.id.duplicate", "A5")]
    wb = workbook([invoice("INV-A", lines=[line("INV-A")]), invoice("inv-a", row=3, lines=[line("inv-a", row=3)])])
    [finding] = checks.check_workbook(wb)
    assert (finding.code, finding.cell) == ("invoice.number.duplicate", "A3") and "row 2" in finding.message
    # é typed, and e with a combining accent pasted: one number on screen (and one e-invoice file on a Mac)
    wb = workbook([invoice("F-\u00e9", lines=[line("F-\u00e9")]), invoice("F-e\u0301", row=3, lines=[line("F-e\u0301", row=3)])])
    assert [(f.code, f.cell) for f in checks.check_workbook(wb)] == [("invoice.number.duplicate", "A3")]


def test_a_customer_id_typed_in_another_case_says_what_the_sheet_shows():
    """c1 on an invoice, C1 on the Customers sheet: the sheet's lookup shows C1's name, the export
    cannot book to c1; the message said only 'add the customer or fix the id'."""
    [finding] = [f for f in checks.check_workbook(workbook([invoice(customer="c1")])) if f.code == "invoice.customer.unknown"]
    assert finding.message == ("Customer id c1 is not on the Customers sheet as typed: the sheet shows C1's name (its "
                               "lookups ignore case), but the export books to the id exactly. Type it as on the "
                               "Customers sheet (C1).")
    [finding] = [f for f in checks.check_workbook(workbook([invoice(customer="C9")])) if f.code == "invoice.customer.unknown"]
    assert finding.message == "Customer id C9 is not on the Customers sheet: add the customer or fix the id."


def test_good_regimes_are_silent():
    wb = workbook([
        invoice("F1", customer="C2", lines=[line("F1", rate="0", regime="intra-EU services", account="700300")]),
        invoice("F2", row=3, customer="C1", lines=[line("F2", row=3, rate="0", regime="reverse charge", account="700600")]),
        invoice("F3", row=4, customer="C3", lines=[line("F3", row=4, rate="0", regime="export", account="700500")]),
    ])
    assert checks.check_workbook(wb) == []


def test_vat_rule_applies_by_invoice_date():
    """A rate's rule that ends in February does not cover a March invoice."""
    rules = (VatRule(D(21), "domestic", None, dt.date(2026, 2, 28), "700000"),) + RULES[1:]
    march = workbook([invoice(day=dt.date(2026, 3, 2))], vat_rules=rules)
    february = workbook([invoice(day=dt.date(2026, 2, 28))], vat_rules=rules)
    assert "line.vat_rule.missing" in codes(march)
    assert "line.vat_rule.missing" not in codes(february)


def test_package_checks():
    table = {("domestic", D(21), "invoice"): "211400"}
    lookup = lambda regime, rate, doc_type: table.get((regime, rate, doc_type))
    rules = {"pattern": "^[0-9]+$", "min_length": 6, "max_length": 6}
    assert codes(workbook(), (rules, lookup)) == set()
    credit = workbook([invoice(doc_type="credit note")])
    assert "line.vat_code.missing" in codes(credit, (rules, lookup))
    short = workbook(accounts=ACCOUNTS + (LedgerAccount("7001", "short", "revenue"),))
    assert "account.format" in codes(short, (rules, lookup))
    # a row of the workbook's VAT codes sheet for the package fills the gap in the package's table
    from toolkit.model import VatCode
    from toolkit.vatrules import package_vat_codes

    own = (VatCode("winbooks", "domestic", D(21), "credit note", "211400"),)
    assert "line.vat_code.missing" not in codes(credit, (rules, package_vat_codes("winbooks", lookup, own)))
    assert "line.vat_code.missing" in codes(credit, (rules, package_vat_codes("datev", lookup, own)))


def test_every_check_id_has_a_test():
    """Each finding id written in the toolkit appears in some test."""
    source = Path(__file__).parents[1] / "toolkit"
    pattern = re.compile(r'(?:error|warning|Finding)\(\s*f?"([a-z_]+\.[a-z_.]+)"')
    ids = {m for path in source.rglob("*.py") for m in pattern.findall(path.read_text())}
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    assert ids, "no check ids found: the pattern above is stale"
    assert sorted(i for i in ids if i not in tests) == []


def test_unknown_package_is_a_settings_finding():
    wb = workbook()
    found = validate(replace(wb, settings=replace(wb.settings, package="nosuch")))[2]
    assert [f.code for f in found] == ["settings.package.unknown"]
    assert found[0].cell == ""  # the factory's Settings have no cells
    assert validate(wb, package="csv-journal")[2] == []
    with pytest.raises(SpecError):  # asked for by name: a usage mistake
        validate(wb, package="nosuch")


def test_vat_numbers_as_typed():
    """Without prefix (the customer's country is assumed), with dots and spaces, Greek 'EL'."""
    assert checks.valid_vat_country("0477.472.701", "BE") == "BE"
    assert checks.valid_vat_country("be 0477 472 701", "") == "BE"
    assert checks.valid_vat_country("EL094259216", "BE") == "GR"
    assert checks.valid_vat_country("BE0477472702", "BE") is None


def test_a_valid_vat_number_of_a_country_outside_the_eu_is_valid():
    """A customer in the United Kingdom, Switzerland or Norway has a VAT number of its own (on the
    invoice as the customer gave it): not an error that blocks the export of its invoices. An EU
    number that fails its check stays invalid, and a number outside the EU never makes an intra-EU supply."""
    assert checks.valid_vat_country("GB980780684", "GB") == "GB"
    assert checks.valid_vat_country("GB 980 7806 84", "") == "GB"
    assert checks.valid_vat_country("CHE-116.281.710 MWST", "CH") == "CH"
    assert checks.valid_vat_country("NO974760673MVA", "NO") == "NO"
    assert checks.valid_vat_country("GB980780685", "GB") is None  # a wrong check digit
    assert checks.valid_vat_country("US123456789", "US") is None  # no VAT number python-stdnum knows
    assert checks.valid_vat_country("NL004495446B01", "NL") is None  # a wrong check digit of an EU number
    uk = replace(CUSTOMERS[2], customer_id="C4", name="Thames Ltd", vat_number="GB980780684", country="GB",
                 where=where(layout.CUSTOMERS, 5))
    exported = workbook([invoice(customer="C4", lines=[line(rate="0", regime="export", account="700500")])],
                        customers=CUSTOMERS + (uk,))
    assert checks.check_workbook(exported) == []
    intra = workbook([invoice(customer="C4", lines=[line(rate="0", regime="intra-EU services", account="700300")])],
                     customers=CUSTOMERS + (uk,))
    assert codes(intra) == {"line.regime.intra_eu.vat"}
    wrong = replace(uk, vat_number="GB980780685")
    assert "customer.vat.invalid" in codes(workbook([invoice(customer="C4", lines=[line(rate="0", regime="export",
                                                   account="700500")])], customers=CUSTOMERS + (wrong,)))


def _credit(number="CN1", row=3, credited="F1", customer="C1", day=dt.date(2026, 1, 20), doc_type="credit note"):
    return invoice(number, row=row, day=day, customer=customer, doc_type=doc_type, credited_invoice=credited,
                   lines=[line(number, row=row)])


@pytest.mark.parametrize("credit, code, words", [
    (_credit(customer="C2"), "credit_note.credited.other_customer", ["F1 is to customer C1", "CN1 to C2"]),
    (_credit(day=dt.date(2026, 1, 5)), "credit_note.credited.later", ["10/01/2026", "05/01/2026"]),
    (_credit(credited="CN1"), "credit_note.credited.not_invoice", ["CN1 is this credit note"]),
    (_credit(doc_type="invoice"), "invoice.credited.type", ["Type is 'invoice'", "booked as a sale"]),
])
def test_a_credited_invoice_that_cannot_be_the_one_credited_is_named(credit, code, words):
    """A credit note naming another customer's invoice, one dated after it or itself, and an invoice
    that names a credited invoice (a credit note whose Type was left 'invoice': booked as a sale,
    the reverse of what was meant) all checked clean; the Peppol credit note carried the reference."""
    found = [f for f in checks.check_workbook(workbook([invoice(), credit])) if f.code == code]
    [finding] = found
    assert (finding.sheet, finding.cell) == ("Invoices", "L3" if code != "invoice.credited.type" else "B3")
    assert all(w in finding.message for w in words), finding.message
    assert checks.check_workbook(workbook([invoice(), _credit()])) == []


def test_a_credit_note_of_a_credit_note_is_named():
    wb = workbook([invoice(), _credit(), _credit("CN2", row=4, credited="CN1")])
    [finding] = [f for f in checks.check_workbook(wb) if f.code == "credit_note.credited.not_invoice"]
    assert finding.cell == "L4" and "CN1 is a credit note (row 3)" in finding.message
