"""From invoices to balanced postings: VAT, rounding, discounts. The only place money is computed.

Every rounding is ROUND_HALF_UP to the cent (`money`; halves away from zero, so a negated amount
rounds to the negated result). In this order (docs/rounding.md has worked examples):

1. Per line, by the Settings row "Rounding":
   "line net once" (the default; EN 16931, Odoo and most invoicing software):
       gross    = round(quantity x unit price)
       net      = round(quantity x unit price x (100 - discount %) / 100)
       discount = gross - net
   "gross then discount" (the toolkit's only rule before this setting existed):
       gross    = round(quantity x unit price)
       discount = round(gross x discount % / 100)
       net      = gross - discount
2. Per VAT rate and regime on the document (a "group"), once:
   invoice discount = round(sum of the group's line nets x invoice discount % / 100),
                      shared over the group's lines in proportion to their nets (`share`)
   taxable          = line net - its share of the invoice discount
3. VAT "on lines":  round(taxable x rate / 100) per line, summed per group and per revenue account.
   VAT "on total":  round(sum of the group's taxable x rate / 100) once per group, shared over the
                    group's revenue accounts in proportion to their taxable amounts (`share`).
4. base = sum of taxable, VAT = sum of the groups' VAT, total = base + VAT.
`share(total, weights)`: each share rounded down to the cent, the cents left over one each to the
largest remainders, the earliest line or account first on a tie. The shares add up to the total.

A credit note typed with negative amounts (every line's quantity x unit price <= 0) is computed as
its positive twin (`typed_negative`); the check warns about it.

Postings (amount signed debit - credit; a credit note mirrors an invoice):
    receivable on the customer    +total
    revenue per account and rate  -gross (discount account set) or -taxable (booked net)
    discount per rate             +line discounts + invoice discount (only with a discount account)
    VAT per rate and regime       -VAT, with its base (0 % groups too: some packages need their base)
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from toolkit.model import Customer, Document, Finding, Invoice, LineAmount, Posting, RevenueGroup, Settings, VatGroup, error
from toolkit.vatrules import RuleBook, VatCodeLookup

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")
GROSS_THEN_DISCOUNT = "gross then discount"



def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


class Unbalanced(Exception):
    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


def line_signs(invoice: Invoice) -> tuple[bool, bool]:
    """(has a positive line, has a negative line), by the sign of quantity x unit price (compared,
    not multiplied: this runs for every invoice); unreadable lines are left out."""
    positive = negative = False
    for line in invoice.lines:
        quantity, price = line.quantity, line.unit_price
        if not quantity or not price:  # zero, or unreadable (None)
            continue
        if (quantity < ZERO) is (price < ZERO):
            positive = True
        else:
            negative = True
    return positive, negative


def typed_negative(invoice: Invoice) -> bool:
    """A credit note typed with negative amounts (a common habit): booked as the credit it is."""
    if not invoice.is_credit_note:
        return False
    positive, negative = line_signs(invoice)
    return negative and not positive


def share(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` split in proportion to `weights` (amounts in cents), adding up to it exactly: each
    share rounded down to the cent, the cents left over one each to the largest remainders, the
    earliest first on a tie."""
    if len(weights) == 1:
        return [total]
    cents = [int(w * HUNDRED) for w in weights]
    whole = sum(cents)
    if whole == 0:  # nothing to be proportional to (the total is then 0 too): all on the first
        return [total] + [ZERO] * (len(weights) - 1)
    if whole < 0:
        whole, cents = -whole, [-c for c in cents]
    target = int(total * HUNDRED)
    parts = [divmod(target * c, whole) for c in cents]  # (share rounded down, remainder)
    floors = [floor for floor, _ in parts]
    left = target - sum(floors)  # 0 <= left < len(weights)
    if left:
        for index in sorted(range(len(parts)), key=lambda i: -parts[i][1])[:left]:
            floors[index] += 1
    return [Decimal(f).scaleb(-2) for f in floors]  # exponent -2, as money() gives


def _amounts(invoice: Invoice, rounding: str, on_total: bool, lines_out: list | None = None):
    """Steps 1-3 of the module docstring: ({(account, rate, regime): [gross, discount, taxable, VAT]},
    {(rate, regime): [base, VAT]}), both in the order the lines name them. `lines_out`, when given,
    receives a LineAmount per line (e-invoices show each line)."""
    once = rounding != GROSS_THEN_DISCOUNT
    flip = typed_negative(invoice)
    pct = invoice.discount_pct or ZERO
    revenue: dict[tuple, list[Decimal]] = {}
    groups: dict[tuple, list[list]] = {}  # (rate, regime) -> [[revenue sums, gross, discount, net, line], ...]
    accounts: dict[tuple, list[list[Decimal]]] = {}  # (rate, regime) -> its revenue sums, in order
    for line in invoice.lines:
        exact = (-line.quantity if flip else line.quantity) * line.unit_price
        gross = money(exact)
        if not line.discount_pct:
            net = gross
        elif once:
            net = money(exact * (HUNDRED - line.discount_pct) / HUNDRED)
        else:
            net = gross - money(gross * line.discount_pct / HUNDRED)
        key = (line.ledger_account, line.vat_rate, line.vat_regime)
        sums = revenue.get(key)
        if sums is None:
            sums = revenue[key] = [ZERO, ZERO, ZERO, ZERO]
            accounts.setdefault(key[1:], []).append(sums)
        groups.setdefault(key[1:], []).append([sums, gross, gross - net, net, line])
        if lines_out is not None:
            lines_out.append(LineAmount(line, -line.quantity if flip else line.quantity, gross, gross - net, net))
    vat: dict[tuple, list[Decimal]] = {}
    for (rate, regime), rows in groups.items():
        if pct:
            nets = [row[3] for row in rows]
            for row, part in zip(rows, share(money(sum(nets) * pct / HUNDRED), nets)):
                row[2] += part
                row[3] -= part
        base = tax = ZERO
        for sums, gross, discount, taxable, _ in rows:
            sums[0] += gross
            sums[1] += discount
            sums[2] += taxable
            base += taxable
            if not on_total:
                line_vat = money(taxable * rate / HUNDRED)
                sums[3] += line_vat
                tax += line_vat
        if on_total:
            tax = money(base * rate / HUNDRED)
            shared = accounts[(rate, regime)]
            for sums, part in zip(shared, share(tax, [sums[2] for sums in shared])):
                sums[3] = part
        vat[(rate, regime)] = [base, tax]
    if lines_out is not None:
        taxable_of = {id(row[4]): row[3] for rows in groups.values() for row in rows}
        for amount in lines_out:
            amount.taxable = taxable_of[id(amount.line)]
            amount.invoice_discount = amount.net - amount.taxable
    return revenue, vat


def line_amounts(invoice: Invoice, settings: Settings) -> list[LineAmount]:
    """Each line's amounts as `build_document` computes them (the same code, the same rounding)."""
    lines: list[LineAmount] = []
    _amounts(invoice, settings.rounding, settings.vat_booking == "on total", lines)
    return lines


def document_total(invoice: Invoice, rounding: str, vat_booking: str) -> Decimal:
    """The total incl. VAT `build_document` books for `invoice`, in document terms."""
    _, vat = _amounts(invoice, rounding, vat_booking == "on total")
    return sum((base + tax for base, tax in vat.values()), ZERO)


def build_document(
    invoice: Invoice,
    customer: Customer,
    settings: Settings,
    rules: RuleBook,
    vat_code: VatCodeLookup,
) -> Document:
    booked_gross = bool(settings.discount_account)
    revenue, vat = _amounts(invoice, settings.rounding, settings.vat_booking == "on total")

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
        journal=settings.journal(invoice.doc_type),
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


def _code(rate: Decimal, regime: str, invoice: Invoice, rules: RuleBook, vat_code: VatCodeLookup) -> str:
    """The package's code (the workbook's VAT codes sheet over the spec's table, `package_vat_codes`)."""
    return vat_code(regime, rate, invoice.doc_type) or ""

