"""Postings per regime and document type, discounts, VAT on lines vs on total; every document balances."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from factory import CUSTOMERS, RULES, SETTINGS, invoice, line
from toolkit.accounting import build_document, money, plus
from toolkit.vatrules import RuleBook
from toolkit.model import VatRule

# WinBooks' Belgian sales codes (formats.md §1.5); exempt / not subject get codes of our own here.
CODES = {"domestic": {D(0): "211100", D(6): "211200", D(12): "211300", D(21): "211400"},
         "intra-EU goods": "221000", "intra-EU services": "222000", "export": "231000",
         "reverse charge": "212000", "exempt": "EX", "not subject": "NS"}


def lookup(regime, rate, doc_type):
    code = CODES[regime]
    return code.get(rate) if isinstance(code, dict) else code


RULEBOOK = RuleBook(RULES + (VatRule(D(0), "exempt", None, None, "700000"), VatRule(D(0), "not subject", None, None, "700000")))


def post(inv, settings=SETTINGS, customer=CUSTOMERS[0]):
    doc = build_document(inv, customer, settings, RULEBOOK, lookup)
    return doc, [(p.kind, p.account, p.amount, p.vat_code, p.vat_base) for p in doc.postings]


Z = D("0.00")
CASES = [
    # regime, rate, document type, account, expected postings (kind, account, amount, VAT code, VAT base)
    ("domestic", "21", "invoice", "700000",
     [("receivable", "400000", D("121.00"), "", D("100.00")), ("revenue", "700000", D("-100.00"), "211400", Z),
      ("vat", "451000", D("-21.00"), "211400", D("100.00"))]),
    ("domestic", "21", "credit note", "700000",
     [("receivable", "400000", D("-121.00"), "", D("100.00")), ("revenue", "700000", D("100.00"), "211400", Z),
      ("vat", "451000", D("21.00"), "211400", D("100.00"))]),
    ("domestic", "6", "invoice", "700060",
     [("receivable", "400000", D("106.00"), "", D("100.00")), ("revenue", "700060", D("-100.00"), "211200", Z),
      ("vat", "451000", D("-6.00"), "211200", D("100.00"))]),
]
for regime, code in (("intra-EU goods", "221000"), ("intra-EU services", "222000"), ("export", "231000"),
                     ("reverse charge", "212000"), ("exempt", "EX"), ("not subject", "NS")):
    account = {"export": "700500", "reverse charge": "700600", "exempt": "700000", "not subject": "700000"}.get(regime, "700300")
    for doc_type, sign in (("invoice", 1), ("credit note", -1)):
        CASES.append((regime, "0", doc_type, account,
                      [("receivable", "400000", sign * D("100.00"), "", D("100.00")),
                       ("revenue", account, -sign * D("100.00"), code, Z),
                       ("vat", "451000", Z, code, D("100.00"))]))


@pytest.mark.parametrize("regime, rate, doc_type, account, expected", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_postings_per_regime_and_document_type(regime, rate, doc_type, account, expected):
    inv = invoice(doc_type=doc_type, lines=[line(rate=rate, regime=regime, account=account)])
    doc, postings = post(inv)
    assert postings == expected
    assert doc.sign == (-1 if doc_type == "credit note" else 1)
    assert doc.journal == (SETTINGS.credit_note_journal if doc_type == "credit note" else SETTINGS.invoice_journal)


def test_discount_booked_on_the_discount_account():
    inv = invoice(lines=[line(quantity="2", price="50", discount="10")])
    doc, postings = post(inv)
    assert postings == [("receivable", "400000", D("108.90"), "", D("90.00")),
                        ("revenue", "700000", D("-100.00"), "211400", Z),
                        ("discount", "708000", D("10.00"), "211400", Z),
                        ("vat", "451000", D("-18.90"), "211400", D("90.00"))]


def test_discount_without_account_books_revenue_net():
    inv = invoice(lines=[line(quantity="2", price="50", discount="10")], discount_pct=D(5))
    doc, postings = post(inv, replace(SETTINGS, discount_account=""))
    # 100 - 10 line discount = 90; 5 % invoice discount = 4.50; net 85.50; VAT 17.955 -> 17.96
    assert postings == [("receivable", "400000", D("103.46"), "", D("85.50")),
                        ("revenue", "700000", D("-85.50"), "211400", Z),
                        ("vat", "451000", D("-17.96"), "211400", D("85.50"))]


def test_vat_on_lines_and_on_total_differ_by_rounding():
    """Three lines of 0.50 at 21 %: each line's 0.105 rounds up to 0.11 (0.33 in all); on the total,
    1.50 x 21 % = 0.315 rounds to 0.32. Both balance; they differ by a cent."""
    inv = invoice(lines=[line(price="0.50")] * 3)
    on_lines, _ = post(inv)
    on_total, _ = post(inv, replace(SETTINGS, vat_booking="on total"))
    assert (on_lines.vat, on_lines.total) == (D("0.33"), D("1.83"))
    assert (on_total.vat, on_total.total) == (D("0.32"), D("1.82"))


def test_the_workbooks_code_for_the_package_overrides_the_package_table():
    from toolkit.model import VatCode
    from toolkit.vatrules import package_vat_codes

    own = (VatCode("winbooks", "domestic", None, "", "OWN21"),)
    doc = build_document(invoice(), CUSTOMERS[0], SETTINGS, RULEBOOK, package_vat_codes("winbooks", lookup, own))
    assert {p.vat_code for p in doc.postings if p.kind != "receivable"} == {"OWN21"}
    other = build_document(invoice(), CUSTOMERS[0], SETTINGS, RULEBOOK, package_vat_codes("datev", lookup, own))
    assert "OWN21" not in {p.vat_code for p in other.postings}


def test_due_date_from_payment_terms():
    customer = replace(CUSTOMERS[0], payment_terms=30)
    doc = build_document(invoice(), customer, SETTINGS, RULEBOOK, lookup)
    assert doc.due_date == dt.date(2026, 2, 9)


amounts = st.decimals(min_value=D("-50"), max_value=D("5000"), places=2)
lines_strategy = st.lists(
    st.tuples(st.decimals(min_value=D("0.01"), max_value=D("500"), places=2), amounts,
              st.sampled_from([D(0), D("2.5"), D(10), D(33)]), st.sampled_from([D(0), D(6), D(12), D(21)]),
              st.sampled_from(["700000", "700060"])),
    min_size=1, max_size=12)


@hyp_settings(max_examples=300, deadline=None)
@given(lines_strategy, st.sampled_from(["invoice", "credit note"]), st.sampled_from(["on lines", "on total"]),
       st.sampled_from(["", "708000"]), st.sampled_from([D(0), D(3), D("7.5")]))
def test_every_document_balances(specs, doc_type, booking, discount_account, invoice_discount):
    inv = invoice(doc_type=doc_type, discount_pct=invoice_discount,
                  lines=[line(quantity=str(q), price=str(p), discount=str(d), rate=str(r), account=a) for q, p, d, r, a in specs])
    settings = replace(SETTINGS, vat_booking=booking, discount_account=discount_account)
    doc = build_document(inv, CUSTOMERS[0], settings, RULEBOOK, lookup)
    assert sum(p.amount for p in doc.postings) == 0
    assert sum(g.vat for g in doc.vat_groups) == doc.vat
    assert sum(g.vat for g in doc.revenue_groups) == doc.vat  # VAT per revenue account adds up too
    assert doc.total == doc.base + doc.vat
    assert all(p.amount == p.amount.quantize(D("0.01")) for p in doc.postings)
    for group in doc.vat_groups:
        if booking == "on total":
            assert group.vat == money(group.base * group.rate / 100)
    # Every amount has exactly two places, as money() gives: the renderer formats by exponent.
    every = [doc.base, doc.vat, doc.total]
    every += [amount for p in doc.postings for amount in (p.amount, p.vat_base, p.vat_amount)]
    every += [amount for g in doc.vat_groups for amount in (g.base, g.vat)]
    every += [amount for g in doc.revenue_groups for amount in (g.gross, g.discount, g.net, g.vat)]
    assert all(amount.as_tuple().exponent == -2 for amount in every)
    assert all(amount or not amount.is_signed() for amount in (doc.base, doc.vat, doc.total))  # sums: 0.00, not -0.00
    # Every amount per line, rate and account against an independent recomputation: test_rounding.py


def test_a_document_that_does_not_balance_is_refused(monkeypatch):
    """The balance assertion is the last guard: simulate a posting off by a cent."""
    from toolkit import accounting
    from toolkit.model import Posting

    def off_by_a_cent(kind, account, amount, *rest):
        return Posting(kind, account, amount + (D("0.01") if kind == "vat" else 0), *rest)

    monkeypatch.setattr(accounting, "Posting", off_by_a_cent)
    with pytest.raises(accounting.Unbalanced) as refused:
        post(invoice())
    assert refused.value.finding.code == "document.unbalanced"
    assert "F1" in refused.value.finding.message and refused.value.finding.cell == "A2"


def test_an_invoice_dated_at_the_end_of_9999_gets_a_due_date_not_a_traceback():
    """date + payment terms overflowed (OverflowError from check and export) for an invoice dated
    31/12/9999 without a due date, in an open period."""
    doc, _ = post(invoice(day=dt.date(9999, 12, 31)), customer=replace(CUSTOMERS[0], payment_terms=30))
    assert doc.due_date == dt.date(9999, 12, 31)
    doc, _ = post(invoice(day=dt.date(2026, 1, 10)), customer=replace(CUSTOMERS[0], payment_terms=30))
    assert doc.due_date == dt.date(2026, 2, 9)


@hyp_settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(min_value=D("-5"), max_value=D("5"), places=2) | st.sampled_from([D("0.00"), D("-0.00")]),
                max_size=6))
def test_plus_is_the_plain_sum_from_0_00_digit_for_digit(amounts):
    """`plus` takes no new Decimal where a side is 0, and gives the very digits of the plain sum."""
    mine = plain = D("0.00")
    for amount in amounts:
        mine, plain = plus(mine, amount), plain + amount
    assert str(mine) == str(plain)


# ---- every amount digit for digit: the rules in plain Decimal, written here ---------------------


def _cents(x: D) -> D:
    return x.quantize(D("0.01"), rounding="ROUND_HALF_UP")


def _split(total: D, weights: list[D]) -> list[D]:
    """Largest remainder, in whole cents: each share rounded down, the cents left over one each to
    the largest remainders, the earliest first on a tie; all on the first without weights."""
    cents, target = [int(w * 100) for w in weights], int(total * 100)
    whole = sum(cents)
    if len(weights) == 1 or whole == 0:
        return [total] + [D("0.00")] * (len(weights) - 1)
    parts = [divmod(target * c * (1 if whole > 0 else -1), abs(whole)) for c in cents]
    floors = [f for f, _ in parts]
    for i in sorted(range(len(parts)), key=lambda i: (-parts[i][1], i))[:target - sum(floors)]:
        floors[i] += 1
    return [D(f).scaleb(-2) for f in floors]


def plain_amounts(inv, rounding, on_total):
    """docs/rounding.md in the plainest Decimal: `x * pct / 100`, sums from 0.00. Returns the
    line rows [line, quantity, gross, line discount, net, invoice discount, taxable], the revenue
    groups {(account, rate, regime): [gross, discount, net, VAT]} and the VAT groups
    {(rate, regime): [base, VAT]}, in the order the lines name them."""
    signs = [l.quantity * l.unit_price for l in inv.lines if l.quantity and l.unit_price]
    flip = inv.doc_type == "credit note" and any(s < 0 for s in signs) and not any(s > 0 for s in signs)
    rows = []
    for l in inv.lines:
        q = -l.quantity if flip else l.quantity
        gross = _cents(q * l.unit_price)
        if not l.discount_pct:
            net = gross
        elif rounding == "line net once":
            net = _cents(q * l.unit_price * (100 - l.discount_pct) / 100)
        else:
            net = gross - _cents(gross * l.discount_pct / 100)
        rows.append([l, q, gross, gross - net if l.discount_pct else D("0.00"), net, D("0.00"), net])
    for key in dict.fromkeys((r[0].vat_rate, r[0].vat_regime) for r in rows):
        group = [r for r in rows if (r[0].vat_rate, r[0].vat_regime) == key]
        if inv.discount_pct:
            nets = [r[4] for r in group]
            for r, part in zip(group, _split(_cents(sum(nets, D("0.00")) * inv.discount_pct / 100), nets)):
                r[5], r[6] = r[4] - (r[4] - part), r[4] - part
    zero = D("0.00")
    revenue = {}
    for l, _, gross, discount, net, cut, taxable in rows:
        sums = revenue.setdefault((l.ledger_account, l.vat_rate, l.vat_regime), [zero, zero, zero, zero])
        sums[0] += gross
        sums[1] += discount + cut
        sums[2] += taxable
        if not on_total:
            sums[3] += _cents(taxable * l.vat_rate / 100)
    vat = {}
    for (account, rate, regime), sums in revenue.items():
        group = vat.setdefault((rate, regime), [zero, zero])
        group[0] += sums[2]
        group[1] += sums[3]
    if on_total:
        for (rate, regime), group in vat.items():
            group[1] = _cents(group[0] * rate / 100)
            members = [sums for key, sums in revenue.items() if key[1:] == (rate, regime)]
            for sums, part in zip(members, _split(group[1], [sums[2] for sums in members])):
                sums[3] = part
    return rows, revenue, vat


_odd = st.sampled_from([D("0"), D("-0"), D("0.004"), D("-0.004"), D("0.005"), D("-0.005"), D("1E+1"), D("2.50")])
_digits = st.lists(st.tuples(
    st.sampled_from([D(1), D(2), D(3), D("0.5"), D("7.25"), D(-1), D("0.333")]) | _odd,
    st.decimals(min_value=D("-50"), max_value=D("2000"), places=3) | _odd,
    st.sampled_from([D(0), D(5), D("2.5"), D(100), D("12.345"), D("0.0")]),
    st.sampled_from([D(21), D(6), D(0), D("-0"), D("21.0"), D("5.5")]),
    st.sampled_from(["700000", "700060"]), st.sampled_from(["domestic", "export"])), min_size=1, max_size=7)


@hyp_settings(max_examples=400, deadline=None)
@given(_digits, st.sampled_from(["invoice", "credit note"]), st.sampled_from(["line net once", "gross then discount"]),
       st.sampled_from(["on lines", "on total"]), st.sampled_from([D(0), D(2), D("7.5")]))
def test_every_amount_is_the_plain_decimal_rules_digit_for_digit(specs, doc_type, rounding, vat_booking, invoice_pct):
    """The fast paths (no division per line, sums that start from a line's amount, a line's
    amounts without rows) give the very digits — exponent and sign of a zero included — of the
    rules computed plainly: every line, revenue group, VAT group and total."""
    lines = [line(row=n + 2, quantity=str(q), price=str(p), discount=str(d), rate=str(r), account=a, regime=g)
             for n, (q, p, d, r, a, g) in enumerate(specs)]
    inv = invoice(lines=lines, doc_type=doc_type, discount_pct=invoice_pct)
    settings = replace(SETTINGS, rounding=rounding, vat_booking=vat_booking)
    out = []
    doc = build_document(inv, CUSTOMERS[0], settings, RULEBOOK, lambda *_: "", out)
    rows, revenue, vat = plain_amounts(inv, rounding, vat_booking == "on total")
    S = lambda *amounts: tuple(map(str, amounts))  # noqa: E731 - digits, exponent and sign
    assert [S(a.quantity, a.gross, a.discount, a.net, a.invoice_discount, a.taxable) for a in out] == [S(*r[1:]) for r in rows]
    assert {(g.account, g.rate, g.regime): S(g.gross, g.discount, g.net, g.vat) for g in doc.revenue_groups} == {
        key: S(*sums) for key, sums in revenue.items()}
    assert [(g.rate, g.regime) for g in doc.revenue_groups] == [key[1:] for key in revenue]
    assert [(g.rate, g.regime, S(g.base, g.vat)) for g in doc.vat_groups] == [(*key, S(*v)) for key, v in vat.items()]
    base, tax = sum((v[0] for v in vat.values()), D("0.00")), sum((v[1] for v in vat.values()), D("0.00"))
    assert S(doc.base, doc.vat, doc.total) == S(base, tax, base + tax)
