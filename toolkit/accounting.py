"""From invoices to balanced postings: VAT, rounding, discounts. The only place money is computed.

Per line (all ROUND_HALF_UP to the cent, each amount rounded once):
    gross            = quantity x unit price
    line discount    = gross x line discount %
    invoice discount = (gross - line discount) x invoice discount %
    net              = gross - line discount - invoice discount      (the VAT base)
    VAT "on lines"   = net x rate, per line, then summed per rate and regime
    VAT "on total"   = (sum of nets of a rate and regime) x rate, once per document
The two VAT modes can differ by a cent or more per rate on a document (each line rounded vs the
sum rounded); "on total" is what the VAT return computes, "on lines" is what most invoices print.

Postings (amount signed debit - credit; a credit note mirrors an invoice):
    receivable on the customer    +total
    revenue per account and rate  -gross (discount account set) or -net (booked net)
    discount per rate             +discount (only when a discount account is set)
    VAT per rate and regime       -VAT, with its base (0 % groups too: some packages need their base)
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from toolkit.model import Customer, Document, Finding, Invoice, Posting, RevenueGroup, Settings, VatGroup, error
from toolkit.vatrules import RuleBook

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")

VatCodeLookup = Callable[[str, Decimal, str], "str | None"]


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


class Unbalanced(Exception):
    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


def build_document(
    invoice: Invoice,
    customer: Customer,
    settings: Settings,
    rules: RuleBook,
    vat_code: VatCodeLookup,
) -> Document:
    on_total = settings.vat_booking == "on total"
    booked_gross = bool(settings.discount_account)
    invoice_pct = invoice.discount_pct or ZERO
    revenue: dict[tuple, list[Decimal]] = {}  # (account, rate, regime) -> [gross, discount, net, vat]
    vat: dict[tuple, list[Decimal]] = {}  # (rate, regime) -> [base, vat]
    for line in invoice.lines:
        gross = money(line.quantity * line.unit_price)
        line_discount = money(gross * line.discount_pct / HUNDRED) if line.discount_pct else ZERO
        invoice_discount = money((gross - line_discount) * invoice_pct / HUNDRED) if invoice_pct else ZERO
        net = gross - line_discount - invoice_discount
        rate = line.vat_rate
        sums = revenue.setdefault((line.ledger_account, rate, line.vat_regime), [ZERO, ZERO, ZERO, ZERO])
        sums[0] += gross
        sums[1] += line_discount + invoice_discount
        sums[2] += net
        group = vat.setdefault((rate, line.vat_regime), [ZERO, ZERO])
        group[0] += net
        if not on_total:
            line_vat = money(net * rate / HUNDRED)
            group[1] += line_vat
            sums[3] += line_vat
    if on_total:
        for (rate, regime), group in vat.items():
            group[1] = money(group[0] * rate / HUNDRED)
            _share_vat(group[1], rate, [sums for (_, r, g), sums in revenue.items() if (r, g) == (rate, regime)])

    codes = {key: _code(key[0], key[1], invoice, rules, vat_code) for key in vat}
    vat_groups = tuple(VatGroup(rate, regime, codes[(rate, regime)], base, tax) for (rate, regime), (base, tax) in vat.items())
    revenue_groups = tuple(
        RevenueGroup(account, rate, regime, codes[(rate, regime)], gross, discount, net, tax)
        for (account, rate, regime), (gross, discount, net, tax) in revenue.items()
    )
    base = sum((g.base for g in vat_groups), ZERO)
    tax = sum((g.vat for g in vat_groups), ZERO)
    total = base + tax
    sign = -1 if invoice.is_credit_note else 1
    text = invoice.description or customer.name

    postings: list[Posting] = []

    def post(kind, account, amount, rate=None, regime="", code="", base=ZERO, tax=ZERO):
        postings.append(Posting(kind, account, amount, text, rate, regime, code, base, tax, len(postings) + 1))

    post("receivable", settings.receivables_account, sign * total, base=base, tax=tax)
    for group in revenue_groups:
        amount = group.gross if booked_gross else group.net
        post("revenue", group.account, -sign * amount, group.rate, group.regime, group.vat_code)
    if booked_gross:
        discounts: dict[tuple, Decimal] = {}
        for group in revenue_groups:
            if group.discount:
                key = (group.rate, group.regime, group.vat_code)
                discounts[key] = discounts.get(key, ZERO) + group.discount
        for (rate, regime, code), amount in discounts.items():
            post("discount", settings.discount_account, sign * amount, rate, regime, code)
    for group in vat_groups:
        post("vat", settings.vat_account, -sign * group.vat, group.rate, group.regime, group.vat_code, group.base, group.vat)

    if sum(p.amount for p in postings) != 0:
        raise Unbalanced(error("document.unbalanced", invoice.where, "number",
                               f"Invoice {invoice.number} does not balance after rounding; nothing was written."))
    return Document(
        number=invoice.number,
        doc_type=invoice.doc_type,
        date=invoice.date,
        due_date=invoice.due_date or invoice.date + dt.timedelta(days=customer.payment_terms or 0),
        customer=customer,
        journal=settings.credit_note_journal if invoice.is_credit_note else settings.invoice_journal,
        description=text,
        payment_reference=invoice.payment_reference,
        currency=invoice.currency,
        base=base,
        vat=tax,
        total=total,
        postings=tuple(postings),
        vat_groups=vat_groups,
        revenue_groups=revenue_groups,
        credited_invoice=invoice.credited_invoice,
        invoice=invoice,
    )


def _share_vat(total: Decimal, rate: Decimal, groups: list[list[Decimal]]) -> None:
    """VAT computed on the total, shared over the revenue accounts of its rate: each its own
    rounded share, the rounding difference on the largest, so the shares add up to the total."""
    for sums in groups:
        sums[3] = money(sums[2] * rate / HUNDRED)
    largest = max(groups, key=lambda sums: abs(sums[2]))
    largest[3] += total - sum(sums[3] for sums in groups)


def _code(rate: Decimal, regime: str, invoice: Invoice, rules: RuleBook, vat_code: VatCodeLookup) -> str:
    """A VAT rule's own package code wins over the package's table."""
    rule = rules.rule_for(rate, regime, invoice.date)
    if rule is not None and rule.vat_code:
        return rule.vat_code
    return vat_code(regime, rate, invoice.doc_type) or ""

