"""Booked exactly as invoiced: the two rounding conventions, the invoice discount and "on total"
VAT once per rate, credit notes typed negative, and "Total as issued".

The expected amounts are worked out by hand (docs/rounding.md shows the arithmetic) or by the
reference below, written from the rules in docs/rounding.md with Fractions, not from the toolkit.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from factory import CUSTOMERS, RULES, SETTINGS, invoice, line, workbook
from toolkit import checks, layout, sample
from toolkit.accounting import build_document, share
from toolkit.app.export import ExportRequest, plan_export
from toolkit.book import template
from toolkit.model import VatRule
from toolkit.spec import list_specs
from toolkit.vatrules import RuleBook

RULEBOOK = RuleBook(RULES + (VatRule(D(12), "domestic", None, None, "700000"), VatRule(D(0), "domestic", None, None, "700000")))
ONCE, GROSS = "line net once", "gross then discount"


def book(lines, rounding=ONCE, vat_booking="on lines", discount_account="708000", doc_type="invoice", discount_pct=D(0)):
    inv = invoice(lines=lines, doc_type=doc_type, discount_pct=discount_pct)
    settings = replace(SETTINGS, rounding=rounding, vat_booking=vat_booking, discount_account=discount_account)
    return build_document(inv, CUSTOMERS[0], settings, RULEBOOK, lambda *a: "")


def amounts(doc):
    """(revenue, discount, VAT, receivable) as booked, in document terms."""
    kinds = {"revenue": D(0), "discount": D(0), "vat": D(0), "receivable": D(0)}
    for p in doc.postings:
        kinds[p.kind] += p.amount * doc.sign
    return -kinds["revenue"], kinds["discount"], -kinds["vat"], kinds["receivable"]


# ---- the worked examples (docs/rounding.md) ------------------------------------------------------


@pytest.mark.parametrize("rounding, revenue, discount, net", [
    (ONCE, D("40.45"), D("4.04"), D("36.41")),  # 40.45 x 0.9 = 36.405 -> 36.41
    (GROSS, D("40.45"), D("4.05"), D("36.40")),  # 4.045 -> 4.05; 40.45 - 4.05
])
def test_one_times_40_45_less_10_percent(rounding, revenue, discount, net):
    doc = book([line(quantity="1", price="40.45", discount="10", rate="0")], rounding)
    assert amounts(doc) == (revenue, discount, D("0.00"), net)
    assert doc.base == net
    # booked net (no discount account): the revenue is the net
    assert amounts(book([line(quantity="1", price="40.45", discount="10", rate="0")], rounding, discount_account="")) == (
        net, D(0), D("0.00"), net)


@pytest.mark.parametrize("rounding, discount, net", [
    (ONCE, D("154.95"), D("1394.48")),  # exact 1,394.4825 -> 1,394.48; gross 1,549.425 -> 1,549.43
    (GROSS, D("154.94"), D("1394.49")),  # 154.943 -> 154.94; 1,549.43 - 154.94: rounding twice goes up
])
def test_seven_and_a_half_times_206_59_less_10_percent(rounding, discount, net):
    doc = book([line(quantity="7.5", price="206.59", discount="10", rate="21")], rounding)
    vat = (net * D("0.21")).quantize(D("0.01"), ROUND_HALF_UP)
    assert vat == {ONCE: D("292.84"), GROSS: D("292.84")}[rounding]  # 292.8408 / 292.8429
    assert amounts(doc) == (D("1549.43"), discount, vat, net + vat)


@pytest.mark.parametrize("vat_booking, vat, receivable", [
    ("on total", D("0.01"), D("0.25")),  # 0.24 x 6 % = 0.0144
    ("on lines", D("0.02"), D("0.26")),  # taxable 0.09 and 0.15: 0.0054 + 0.009 -> 0.01 + 0.01
])
@pytest.mark.parametrize("rounding", [ONCE, GROSS])
def test_two_percent_invoice_discount_on_six_percent_lines_of_0_09_and_0_16(rounding, vat_booking, vat, receivable):
    """Once per rate: 0.25 x 2 % = 0.005 -> 0.01 (per line, 0.0018 and 0.0032 both vanished)."""
    lines = [line(price="0.09", rate="6", account="700060"), line(price="0.16", rate="6", account="700060")]
    doc = book(lines, rounding, vat_booking, discount_account="", discount_pct=D(2))
    assert amounts(doc) == (D("0.24"), D(0), vat, receivable)
    with_account = book(lines, rounding, vat_booking, discount_pct=D(2))
    assert amounts(with_account) == (D("0.25"), D("0.01"), vat, receivable)


@pytest.mark.parametrize("vat_booking, vat, total", [
    ("on total", D("6.20"), D("35.74")),  # 29.54 x 21 % = 6.2034
    ("on lines", D("6.21"), D("35.75")),  # taxable 9.84, 9.85, 9.85: 2.0664 + 2.0685 + 2.0685 -> 3 x 2.07
])
def test_three_lines_of_10_15_at_21_percent_with_3_percent(vat_booking, vat, total):
    """30.45 x 3 % = 0.9135 -> 0.91 once (per line it was 3 x 0.30 = 0.90)."""
    lines = [line(price="10.15")] * 3
    doc = book(lines, vat_booking=vat_booking, discount_pct=D(3))
    assert amounts(doc) == (D("30.45"), D("0.91"), vat, total)
    assert doc.base == D("29.54")


def test_invoice_discount_shared_over_accounts_of_a_rate():
    """One rate, two revenue accounts: 3 % of 300.01 = 9.0003 -> 9.00, shared 6.00 / 3.00 by their nets."""
    lines = [line(price="200.01", account="700000"), line(price="100.00", account="700060", rate="21")]
    doc = book(lines, discount_account="", discount_pct=D(3))
    revenue = {g.account: g.net for g in doc.revenue_groups}
    assert revenue == {"700000": D("194.01"), "700060": D("97.00")}


def test_on_total_vat_shared_over_accounts_adds_up():
    """0.10 + 0.10 + 0.10 at 21 % on three accounts: 0.30 x 21 % = 0.063 -> 0.06 once; shares 0.02 each."""
    lines = [line(price="0.10", account=a) for a in ("700000", "700060", "700300")]
    doc = book(lines, vat_booking="on total")
    assert [g.vat for g in doc.revenue_groups] == [D("0.02")] * 3
    assert doc.vat == D("0.06")


@pytest.mark.parametrize("total, weights, expected", [
    ("0.01", ["0.09", "0.16"], ["0.00", "0.01"]),  # remainders 0.36 / 0.64 cent
    ("0.91", ["10.15"] * 3, ["0.31", "0.30", "0.30"]),  # a tie: the earliest gets the cent
    ("0.02", ["1.00", "-1.00", "3.00"], ["0.01", "-0.01", "0.02"]),  # exact shares 0.0067, -0.0067, 0.02
    ("5.00", ["0.00", "0.00"], ["5.00", "0.00"]),
    ("-0.05", ["1", "1"], ["-0.02", "-0.03"]),
])
def test_share_adds_up(total, weights, expected):
    shares = share(D(total).quantize(D("0.01")), [D(w) for w in weights])
    assert shares == [D(e) for e in expected]
    assert [str(s) for s in shares] == [str(D(e)) for e in expected]  # in cents, as written in files


# ---- credit notes typed negative, negative invoices -----------------------------------------------


def test_credit_note_typed_negative_is_booked_as_the_credit():
    """-1 x 250.00 at 21 % on a credit note: the receivable is -302.50, as for +1 x 250.00."""
    negative = book([line(quantity="-1", price="250.00")], doc_type="credit note")
    positive = book([line(quantity="1", price="250.00")], doc_type="credit note")
    price_typed = book([line(quantity="1", price="-250.00")], doc_type="credit note")
    receivable = [p.amount for p in negative.postings if p.kind == "receivable"]
    assert receivable == [D("-302.50")]
    for doc in (negative, price_typed):
        assert [(p.kind, p.amount) for p in doc.postings] == [(p.kind, p.amount) for p in positive.postings]


def _finding(wb, code):
    found = [f for f in checks.check_workbook(wb) if f.code == code]
    assert len(found) == 1, found
    return found[0]


def test_credit_note_typed_negative_warns_once():
    lines = [line("CN1", quantity="-1", price="250.00"), line("CN1", row=3, quantity="2", price="-10.00")]
    wb = workbook([invoice("CN1", doc_type="credit note", lines=lines)])
    found = checks.check_workbook(wb)
    assert [f.code for f in found] == ["credit_note.negative"]
    assert found[0].severity == "warning" and found[0].cell == "A2"
    assert "326.70" in found[0].message  # 250 + 20, VAT 52.50 + 4.20


def test_credit_note_with_both_signs_is_one_error():
    lines = [line("CN1", quantity="1", price="250.00"), line("CN1", row=3, quantity="-1", price="10.00")]
    found = checks.check_workbook(workbook([invoice("CN1", doc_type="credit note", lines=lines, total_as_issued=D(1))]))
    assert [(f.code, f.severity, f.cell) for f in found] == [("credit_note.signs.mixed", "error", "A2")]
    assert "row(s) 3" in found[0].message and "same sign" in found[0].message


def test_invoice_with_a_negative_total_is_one_error():
    lines = [line(quantity="1", price="-302.50")]
    found = checks.check_workbook(workbook([invoice(lines=lines, total_as_issued=D("-366.03"))]))
    assert [(f.code, f.severity, f.cell) for f in found] == [("invoice.total.negative", "error", "B2")]
    assert "-366.03" in found[0].message and "credit note" in found[0].message


def test_invoice_with_a_negative_line_and_a_positive_total_is_fine():
    """A deposit deducted on the final invoice."""
    lines = [line(quantity="1", price="1000.00"), line(row=3, quantity="1", price="-300.00")]
    assert checks.check_workbook(workbook([invoice(lines=lines)])) == []


# ---- Total as issued ------------------------------------------------------------------------------


def _issued(total, lines=None, settings=SETTINGS, **kw):
    lines = lines or [line(quantity="1", price="40.45", discount="10")]
    return workbook([invoice(lines=lines, total_as_issued=D(total), **kw)], settings=settings)


def test_total_as_issued_that_matches_is_silent():
    assert checks.check_workbook(_issued("44.06")) == []  # 36.41 + VAT 7.6461 -> 7.65
    assert checks.check_workbook(_issued("-44.06", doc_type="credit note")) == []  # a credit note's either sign


def test_total_as_issued_names_the_convention_that_would_match():
    """Booked 1 x 40.45 less 10 % = 36.40 + VAT 7.64 = 44.04 under gross then discount; the
    invoice says 44.06, which is what line net once gives."""
    finding = _finding(_issued("44.06", settings=replace(SETTINGS, rounding=GROSS)), "invoice.total.mismatch")
    assert (finding.severity, finding.sheet, finding.cell) == ("error", "Invoices", f"{layout.column_letter(layout.INVOICES.keys.index('total_as_issued'))}2")
    assert "44.06" in finding.message and "44.04" in finding.message
    assert "Rounding 'line net once'" in finding.message and "VAT booking" not in finding.message.split("With")[1]


def test_total_as_issued_names_the_vat_booking_that_would_match():
    lines = [line(price="10.15")] * 3
    finding = _finding(_issued("35.74", lines, discount_pct=D(3)), "invoice.total.mismatch")
    assert "35.75" in finding.message and "With VAT booking 'on total' it comes to 35.74" in finding.message


def test_total_as_issued_that_nothing_explains():
    finding = _finding(_issued("50.00"), "invoice.total.mismatch")
    assert "No rounding convention or VAT booking gives that amount" in finding.message
    assert "sheet's own Total" not in finding.message


def test_total_as_issued_with_an_invoice_discount_says_the_sheet_s_total_is_an_approximation():
    """The template's Total rounds an invoice discount on the whole invoice, the booking per VAT
    rate: a total copied from the sheet can be a cent off, and the message said only 'compare the
    lines'."""
    lines = [line(price="10.15")] * 3
    finding = _finding(_issued("50.00", lines, discount_pct=D(3)), "invoice.total.mismatch")
    assert "No rounding convention or VAT booking gives that amount" in finding.message
    assert "the sheet's own Total column is an approximation" in finding.message


# ---- every document recomputed independently -------------------------------------------------------


def _round(x: Fraction) -> Fraction:
    """Half-up (away from zero) to the cent, on exact fractions."""
    cents = abs(x) * 100
    whole = math.floor(cents + Fraction(1, 2))
    return Fraction(whole if x >= 0 else -whole, 100)


def _largest_remainder(total: Fraction, weights: list[Fraction]) -> list[Fraction]:
    whole = sum(weights)
    if whole == 0:
        return [total] + [Fraction(0)] * (len(weights) - 1)
    exact = [total * 100 * w / whole for w in weights]
    floors = [math.floor(e) for e in exact]
    left = int(total * 100) - sum(floors)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return [Fraction(f, 100) for f in floors]


def reference(lines, doc_type, rounding, vat_booking, invoice_pct):
    """docs/rounding.md, step by step. `lines`: (quantity, price, discount %, rate, regime) as
    Fractions and str. Returns (gross, discount, taxable, {(rate, regime): VAT}, receivable), all
    in document terms."""
    if doc_type == "credit note" and all(q * p <= 0 for q, p, *_ in lines) and any(q * p < 0 for q, p, *_ in lines):
        lines = [(-q, p, d, r, g) for q, p, d, r, g in lines]
    rows = []
    for q, p, d, r, g in lines:
        gross = _round(q * p)
        net = _round(q * p * (1 - d / 100)) if rounding == ONCE else gross - _round(gross * d / 100)
        rows.append([(r, g), gross, gross - net, net])
    vat_per_rate = {}
    for key in dict.fromkeys(row[0] for row in rows):
        rate = key[0]
        group = [row for row in rows if row[0] == key]
        cut = _round(sum(row[3] for row in group) * invoice_pct / 100)
        for row, part in zip(group, _largest_remainder(cut, [row[3] for row in group])):
            row[2] += part
            row[3] -= part
        if vat_booking == "on total":
            vat_per_rate[key] = _round(sum(row[3] for row in group) * rate / 100)
        else:
            vat_per_rate[key] = sum((_round(row[3] * rate / 100) for row in group), Fraction(0))
    gross = sum(row[1] for row in rows)
    discount = sum(row[2] for row in rows)
    taxable = sum(row[3] for row in rows)
    vat = sum(vat_per_rate.values())
    return gross, discount, taxable, vat_per_rate, taxable + vat


def _check_against_reference(doc, lines, doc_type, rounding, vat_booking, invoice_pct, discount_account):
    gross, discount, taxable, vat_per_rate, receivable = reference(lines, doc_type, rounding, vat_booking, invoice_pct)
    revenue, booked_discount, vat, booked_receivable = amounts(doc)
    F = lambda x: Fraction(x)  # noqa: E731
    assert F(revenue) == (gross if discount_account else taxable)
    assert F(booked_discount) == (discount if discount_account else 0)
    assert {(F(g.rate), g.regime): F(g.vat) for g in doc.vat_groups} == vat_per_rate
    assert F(vat) == sum(vat_per_rate.values())
    assert F(booked_receivable) == receivable == F(doc.total)
    assert sum(p.amount for p in doc.postings) == 0


quantities = st.decimals(min_value=D("-20"), max_value=D("200"), places=3).filter(bool)
prices = st.decimals(min_value=D("-50"), max_value=D("5000"), places=2)
line_specs = st.lists(
    st.tuples(quantities, prices, st.sampled_from([D(0), D("2.5"), D(5), D(10), D(33), D("12.345")]),
              st.sampled_from([D(0), D(6), D(12), D(21)]), st.sampled_from(["700000", "700060"]),
              st.sampled_from(["domestic", "domestic", "exempt"])),
    min_size=1, max_size=12)


@hyp_settings(max_examples=400, deadline=None)
@given(line_specs, st.sampled_from(["invoice", "credit note", "credit note typed negative"]),
       st.sampled_from([ONCE, GROSS]), st.sampled_from(["on lines", "on total"]),
       st.sampled_from(["", "708000"]), st.sampled_from([D(0), D(2), D(3), D("7.5")]))
def test_every_document_recomputed_independently(specs, doc_type, rounding, vat_booking, discount_account, invoice_pct):
    if doc_type == "credit note typed negative":
        doc_type = "credit note"
        specs = [(-abs(q), abs(p), d, r, a, g) for q, p, d, r, a, g in specs]
    typed = [line(row=n + 2, quantity=str(q), price=str(p), discount=str(d), rate=str(r), account=a, regime=g)
             for n, (q, p, d, r, a, g) in enumerate(specs)]
    doc = book(typed, rounding, vat_booking, discount_account, doc_type, invoice_pct)
    exact = [(Fraction(q), Fraction(p), Fraction(d), Fraction(r), g) for q, p, d, r, a, g in specs]
    _check_against_reference(doc, exact, doc_type, rounding, vat_booking, Fraction(invoice_pct), discount_account)


# ---- the demo, exported to every package ------------------------------------------------------------


@pytest.mark.parametrize("vat_booking", ["on lines", "on total"])
@pytest.mark.parametrize("package", [s.id for s in list_specs()])
def test_demo_export_matches_a_once_rounded_recomputation(package, vat_booking, tmp_path):
    """Every document the export would render, against the reference recomputed from the
    workbook's own lines (line net once, the demo's default)."""
    settings, tables = sample.demo(package)
    assert settings["rounding"] == ONCE
    book = tmp_path / "demo.xlsx"
    template.save_template(book, {**tables, layout.SETTINGS_SHEET: {**settings, "vat_booking": vat_booking}})
    plan = plan_export(ExportRequest(book, package=package, out_dir=tmp_path / "out"))
    assert plan.status == "ready" and plan.files, plan.message
    invoices = {i.number: i for i in plan.workbook.invoices}
    assert sorted(d.number for d in plan.documents) == sorted(set(invoices) - set(plan.skipped)) and len(invoices) == 64
    for doc in plan.documents:
        inv = invoices[doc.number]
        exact = [(Fraction(l.quantity), Fraction(l.unit_price), Fraction(l.discount_pct), Fraction(l.vat_rate), l.vat_regime)
                 for l in inv.lines]
        _check_against_reference(doc, exact, inv.doc_type, ONCE, vat_booking, Fraction(inv.discount_pct),
                                 plan.workbook.settings.discount_account)


# ---- export again: the amounts of the earlier export ---------------------------------------------------


def _set_rounding(path, value):
    import openpyxl

    book = openpyxl.load_workbook(path)
    sheet = book[layout.SETTINGS_SHEET]
    [row] = [r for r in sheet.iter_rows() if r[0].value == "Rounding"]
    row[1].value = value
    book.save(path)


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "before-the-setting"])
def test_export_again_keeps_the_rounding_of_the_earlier_export(recorded, tmp_path, monkeypatch):
    """An export made under "gross then discount" is re-created byte for byte after the workbook
    switched to "line net once"; a register entry from before the setting (no "rounding") was made
    under "gross then discount"."""
    import json

    from toolkit.app.export import run_export
    from toolkit.app.register import FILE_NAME

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    settings, tables = sample.demo()
    book = tmp_path / "demo.xlsx"
    template.save_template(book, {**tables, layout.SETTINGS_SHEET: {**settings, "rounding": GROSS}})
    first = run_export(ExportRequest(book, package="csv-journal", out_dir=tmp_path / "out"))
    assert first.status == "written" and first.entry["rounding"] == GROSS
    if not recorded:
        register = tmp_path / "out" / FILE_NAME
        records = [json.loads(text) for text in register.read_text("utf-8").splitlines()]
        for record in records:
            record.pop("rounding", None)
        register.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), "utf-8")
    _set_rounding(book, ONCE)
    now = run_export(ExportRequest(book, package="csv-journal", out_dir=tmp_path / "out", include_exported=True))
    assert now.entry["files"] != first.entry["files"]  # 8 documents round differently now
    again = run_export(ExportRequest(book, again=first.entry["id"], out_dir=tmp_path / "out"))
    assert again.entry["files"] == first.entry["files"] and "identical" in again.message
