"""toolkit.peppol.einvoice: the decisions behind each e-invoice, on model objects."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from hypothesis import given, settings, strategies as st

from factory import CUSTOMERS, RULES, SETTINGS, invoice, line
from toolkit.accounting import build_document, line_amounts
from toolkit.model import Customer
from toolkit.peppol.einvoice import prepare
from toolkit.vatrules import RuleBook

SELLER = replace(SETTINGS, company_address="Markt 1", company_postal_code="8000", company_city="Brugge",
                 iban="BE71096123456769")


def document(inv, customer=CUSTOMERS[0], settings=SELLER):
    return build_document(inv, customer, settings, RuleBook(RULES), lambda *a: "")


def codes(prepared):
    return sorted((f.code, f.cell) for f in prepared.findings)


def test_a_valid_document_gets_its_einvoice_with_the_booked_totals():
    doc = document(invoice(lines=[line(quantity="3", price="33.335", discount="10"), line(rate="6", price="10")],
                           discount_pct=D(3)))
    prepared = prepare([doc], SELLER, None)
    assert prepared.findings == [] and prepared.documents == [doc]
    e = doc.einvoice
    # independent reference: 3 x 33.335 = 100.005 -> gross 100.01; net once = round(90.0045) = 90.00;
    # invoice discount 3 % per rate: round(2.70) on 21 %, round(0.30) on 6 %
    assert [(l.gross, l.discount, l.net) for l in e.lines] == [(D("100.01"), D("10.01"), D("90.00")),
                                                                (D("10.00"), D("0.00"), D("10.00"))]
    assert [(c.code, c.rate, c.allowance, c.taxable) for c in e.vat_categories] == [
        ("S", D(21), D("2.70"), D("87.30")), ("S", D(6), D("0.30"), D("9.70"))]
    assert e.line_total - e.allowance_total == e.tax_exclusive == doc.base
    assert e.payable == doc.total and (e.seller_endpoint_scheme, e.seller_endpoint) == ("0208", "0477472701")


def test_missing_seller_facts_name_their_settings():
    bare = replace(SELLER, company_city="", iban="BE00 0000")
    prepared = prepare([document(invoice(), settings=bare)], bare, None)
    assert {f.code for f in prepared.findings} == {"einvoice.seller.missing", "einvoice.seller.invalid"}
    bad_number = replace(SELLER, company_enterprise_number="0477.472.702")
    assert {f.code for f in prepare([document(invoice())], bad_number, None).findings} == {"einvoice.seller.invalid"}


def test_not_subject_cannot_share_a_document():
    inv = invoice(lines=[line(rate="0", regime="not subject"), line(rate="21")])
    prepared = prepare([document(inv)], SELLER, None)
    assert [f.code for f in prepared.findings] == ["einvoice.category.mixed"] and prepared.documents == []


def test_a_rate_on_a_regime_without_vat_is_refused():
    inv = invoice(lines=[line(rate="21", regime="export")])
    prepared = prepare([document(inv, CUSTOMERS[2])], SELLER, None)
    assert "einvoice.line.rate" in {f.code for f in prepared.findings}


def test_reverse_charge_needs_the_buyer_vat_number():
    buyer = Customer("C9", "Bouw", peppol_id="0088:5790000435968", country="BE", where=CUSTOMERS[0].where)
    prepared = prepare([document(invoice(customer="C9", lines=[line(rate="0", regime="reverse charge")]), buyer)], SELLER, None)
    assert [f.code for f in prepared.findings] == ["einvoice.buyer.vat"]
    assert prepared.findings[0].cell.startswith("D")  # the VAT number column of Customers


def test_not_subject_alone_carries_no_vat_numbers():
    prepared = prepare([document(invoice(lines=[line(rate="0", regime="not subject")]))], SELLER, None)
    e = prepared.documents[0].einvoice
    assert (e.seller_vat, e.buyer_vat) == ("", "") and e.vat_categories[0].reason_code == "VATEX-EU-O"


def test_a_person_without_peppol_id_is_skipped_with_the_reason():
    person = Customer("P", "Jan", kind="person", country="BE", where=CUSTOMERS[0].where)
    prepared = prepare([document(invoice(customer="P"), person)], SELLER, None)
    assert prepared.documents == [] and "private person" in prepared.skipped["F1"]


def test_an_einvoice_that_would_differ_from_its_booking_is_not_written(monkeypatch):
    from toolkit.peppol import einvoice

    doc = document(invoice(lines=[line(quantity="2", price="10")]))
    booked = einvoice.line_amounts

    def a_cent_off(inv, settings):  # a regrouping bug, planted: the first line's net one cent higher
        amounts = list(booked(inv, settings))
        amounts[0] = replace(amounts[0], net=amounts[0].net + D("0.01"))
        return amounts

    monkeypatch.setattr(einvoice, "line_amounts", a_cent_off)
    prepared = prepare([doc], SELLER, None)
    assert [f.code for f in prepared.findings] == ["einvoice.amounts.differ"] and prepared.documents == []


cents = st.decimals(min_value=D("-20"), max_value=D("200"), places=3)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1", "2", "0.5", "-1"]), cents, st.sampled_from(["0", "10"]),
                          st.sampled_from(["21", "6"])), min_size=1, max_size=6),
       st.sampled_from([D(0), D(3)]))
def test_the_category_sums_are_the_plain_sums_digit_for_digit(rows, invoice_pct):
    """The e-invoice's sums (kept without a new Decimal where one side is 0) are exactly the plain
    Decimal sums from 0.00 of the booked line amounts: the same digits, never -0.00."""
    inv = invoice(lines=[line(quantity=q, price=str(p), discount=d, rate=r) for q, p, d, r in rows], discount_pct=invoice_pct)
    doc = document(inv)
    prepare([doc], SELLER, None)
    e = doc.einvoice
    amounts = line_amounts(inv, SELLER)
    zero = D("0.00")
    for c in e.vat_categories:
        mine = [a for a in amounts if a.line.vat_rate == c.rate]
        net, allowance = sum((a.net for a in mine), zero), sum((a.invoice_discount for a in mine), zero)
        vat = sum((g.vat for g in doc.vat_groups if g.rate == c.rate), zero)
        assert (str(c.line_total), str(c.allowance), str(c.taxable), str(c.vat)) == (
            str(net), str(allowance), str(net - allowance), str(vat))
    assert str(e.line_total) == str(sum((a.net for a in amounts), zero))
    assert str(e.allowance_total) == str(sum((c.allowance for c in e.vat_categories), zero))
