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
import functools
from operator import attrgetter
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, localcontext

from toolkit.model import Customer, Document, Finding, Invoice, LineAmount, Posting, RevenueGroup, Settings, VatGroup, error
from toolkit.vatrules import RuleBook, VatCodeLookup

CENT = Decimal("0.01")  # also "/ 100": x * pct * CENT is x * pct / 100 exactly (the same digits), without a division
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")
GROSS_THEN_DISCOUNT = "gross then discount"
# Rounded once, to the cent, and nowhere before: Decimal's default context keeps 28 significant
# digits and rounds (half-even) past them, so 1.03969051682579 x 9.62305593643924 (two numbers as
# Excel keeps them) = 10.0049999999999999999999999996 became 10.005 before `money` rounded it
# half-up to 10.01, where the amount is 10.00. In this context a sum, difference or product keeps
# every digit (accounting divides nothing: x * CENT is its / 100).
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)



def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def line_vat(taxable: Decimal, rate: Decimal) -> Decimal:
    """A line's VAT when VAT is booked on lines: its taxable amount times the rate, to the cent."""
    return money(taxable * rate * CENT)


def plus(total: Decimal, amount: Decimal) -> Decimal:
    """`total + amount` for amounts in cents (exponent -2, as `money` gives), a new object only when
    neither is 0: 0.00 + x is x itself, and a sum that starts at 0.00 is never -0.00 (a zero amount
    is not taken as it is). For sums kept until the render ends: most have a single term or add
    zeros (no discount), and a big export keeps hundreds of thousands of them."""
    if not amount:
        return total
    return total + amount if total else amount


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
    return [Decimal(f) * CENT for f in floors]  # exponent -2, as money() gives (and faster than scaleb)


def _exact(compute):
    """`compute` runs in the EXACT context (once per invoice: the context is switched per call)."""
    @functools.wraps(compute)
    def exact(*args, **kwargs):
        with localcontext(EXACT):
            return compute(*args, **kwargs)
    return exact


@_exact
def _amounts(invoice: Invoice, rounding: str, on_total: bool, lines_out: list | None = None,
             vat_code: VatCodeLookup | None = None):
    """Steps 1-3 of the module docstring: (the revenue groups per account, rate and regime; the
    VAT groups per rate and regime), both in the order the lines name them, with the VAT codes
    `vat_code` gives (none without it). `lines_out`, when given, receives a LineAmount per line
    (e-invoices show each line)."""
    once = rounding != GROSS_THEN_DISCOUNT
    flip = typed_negative(invoice)
    pct = invoice.discount_pct
    revenue: dict[tuple, RevenueGroup] = {}
    accounts: dict[tuple, list[RevenueGroup]] = {}  # (rate, regime) -> its revenue groups, in order
    # Rows per line (see `_taxable`) are kept only to share an invoice discount over a group's
    # lines. Without one (most invoices) a line's amounts go straight into its revenue group, and
    # to `lines_out` as they are (nothing of it to take off: its taxable amount is its net).
    rows: list[list] | None = [] if pct else None
    for line in invoice.lines:
        quantity = -line.quantity if flip else line.quantity
        exact = quantity * line.unit_price
        gross = exact.quantize(CENT, ROUND_HALF_UP)  # money(), inlined: this runs for every line
        line_pct = line.discount_pct
        if not line_pct:
            net = gross
        elif once:
            net = (exact * (HUNDRED - line_pct) * CENT).quantize(CENT, ROUND_HALF_UP)
        else:
            net = gross - (gross * line_pct * CENT).quantize(CENT, ROUND_HALF_UP)
        discount = gross - net if line_pct else ZERO
        rate, regime = line.vat_rate, line.vat_regime
        key = (line.ledger_account, rate, regime)
        group = revenue.get(key)
        if rows is not None:
            if group is None:  # sums from 0.00 (`_taxable` adds to them)
                group = revenue[key] = RevenueGroup(line.ledger_account, rate, regime, "", ZERO, ZERO, ZERO, ZERO)
                accounts.setdefault((rate, regime), []).append(group)
            rows.append([group, gross, discount, net, line, quantity, discount, net])
            continue
        vat = ZERO if on_total else (net * rate * CENT).quantize(CENT, ROUND_HALF_UP)  # line_vat(), inlined
        if group is None:  # a sum from 0.00 of one amount is that amount, but never -0.00 (as `plus`)
            group = revenue[key] = RevenueGroup(line.ledger_account, rate, regime, "", gross or ZERO, discount or ZERO,
                                                ZERO, vat or ZERO)
            accounts.setdefault((rate, regime), []).append(group)
        else:
            group.gross += gross
            if line_pct:
                group.discount += discount
            if not on_total:
                group.vat += vat
        if lines_out is not None:
            lines_out.append(LineAmount(line, quantity, gross, discount, net, ZERO, net))
    if rows is not None:
        _taxable(rows, accounts, pct, on_total)
        if lines_out is not None:
            lines_out.extend(LineAmount(line, quantity, gross, discount, net, net - taxable, taxable)
                             for _, gross, _, taxable, line, quantity, discount, net in rows)
    doc_type = invoice.doc_type
    vat_groups = []
    for (rate, regime), members in accounts.items():
        code = (vat_code(regime, rate, doc_type) or "") if vat_code is not None else ""
        for group in members:
            # the sum of the taxable amounts, exactly: each is its line's gross less its discount
            group.net = group.gross - group.discount if group.discount else group.gross
            group.vat_code = code
        if len(members) == 1:  # the VAT group's amounts are its one account's (the same objects)
            base, tax = members[0].net, members[0].vat
        else:
            base = tax = ZERO
            for group in members:
                base += group.net
                tax += group.vat
        if on_total:
            tax = money(base * rate * CENT)
            for group, part in zip(members, share(tax, [group.net for group in members])):
                group.vat = part
        vat_groups.append(VatGroup(rate, regime, code, base, tax))
    return list(revenue.values()), vat_groups


def _taxable(rows: list[list], accounts: dict[tuple, list[RevenueGroup]], pct: Decimal, on_total: bool) -> None:
    """Step 2, and the line VAT of step 3, for `_amounts`' rows (in line order): the invoice
    discount of each group shared over its lines, then each row added to its revenue group.
    A row is [revenue group, gross, discount, taxable, line, quantity, line discount, net];
    discount and taxable start as the line's and take the row's share of the invoice discount."""
    lines_of: dict[tuple, list[list]] = {key: [] for key in accounts}
    for row in rows:
        lines_of[(row[0].rate, row[0].regime)].append(row)
    for (rate, _), members in lines_of.items():
        if pct:
            nets = [row[3] for row in members]
            for row, part in zip(members, share(money(sum(nets) * pct * CENT), nets)):
                row[2] += part
                row[3] -= part
        for group, gross, discount, taxable, *_ in members:  # `plus`: a group of one line shares its amounts
            group.gross = plus(group.gross, gross)
            group.discount = plus(group.discount, discount)
            if not on_total:
                group.vat = plus(group.vat, line_vat(taxable, rate))


def line_amounts(invoice: Invoice, settings: Settings) -> list[LineAmount]:
    """Each line's amounts as `build_document` computes them (the same code, the same rounding)."""
    return sheet_amounts(invoice, settings)[1]


def sheet_amounts(invoice: Invoice, settings: Settings) -> tuple[list[VatGroup], list[LineAmount]]:
    """The VAT groups and each line's amounts `build_document` computes for `invoice`, without
    its postings (the workbook's computed columns are checked against them)."""
    lines: list[LineAmount] = []
    _, vat_groups = _amounts(invoice, settings.rounding, settings.vat_booking == "on total", lines)
    return vat_groups, lines


def document_total(invoice: Invoice, rounding: str, vat_booking: str) -> Decimal:
    """The total incl. VAT `build_document` books for `invoice`, in document terms."""
    _, groups = _amounts(invoice, rounding, vat_booking == "on total")
    return sum((group.base + group.vat for group in groups), ZERO)


def build_document(
    invoice: Invoice,
    customer: Customer,
    settings: Settings,
    rules: RuleBook,
    vat_code: VatCodeLookup,
    lines_out: list | None = None,
) -> Document:
    """The balanced booking of `invoice`; raises Unbalanced if its postings do not add up to 0.
    (`rules` is not consulted: the lines carry their accounts.) `lines_out`, when given, receives
    each line's amounts as `line_amounts` gives them (an e-invoice shows them: not computed twice)."""
    booked_gross = bool(settings.discount_account)
    revenue_groups, vat_groups = _amounts(invoice, settings.rounding, settings.vat_booking == "on total", lines_out, vat_code)
    doc_type = invoice.doc_type
    if len(vat_groups) == 1:  # the document's amounts are its one group's (the same objects)
        base, tax = vat_groups[0].base, vat_groups[0].vat or ZERO  # a sum: 0.00, never -0.00
    else:
        base = tax = ZERO
        for group in vat_groups:
            base += group.base
            tax += group.vat
    total = base + tax
    text = invoice.description or customer.name

    # Amounts in document terms become signed (debit +, credit -); a credit note mirrors an
    # invoice. copy_negate() is the `-1 * amount` it stands for, down to the sign of a zero.
    credit_note = invoice.is_credit_note
    postings = [Posting("receivable", settings.receivables_account, total.copy_negate() if credit_note else total,
                        text, None, "", "", base, tax, 1)]
    add = postings.append
    for group in revenue_groups:
        amount = group.gross if booked_gross else group.net
        add(Posting("revenue", group.account, amount if credit_note else amount.copy_negate(),
                    text, group.rate, group.regime, group.vat_code, ZERO, ZERO, len(postings) + 1))
    if booked_gross:
        discounts: dict[tuple, Decimal] = {}
        for group in revenue_groups:
            if group.discount:
                key = (group.rate, group.regime, group.vat_code)
                discounts[key] = discounts[key] + group.discount if key in discounts else group.discount
        account = settings.discount_account
        for (rate, regime, code), amount in discounts.items():
            add(Posting("discount", account, amount.copy_negate() if credit_note else amount,
                        text, rate, regime, code, ZERO, ZERO, len(postings) + 1))
    account = settings.vat_account
    for group in vat_groups:
        vat = group.vat
        add(Posting("vat", account, vat if credit_note else vat.copy_negate(),
                    text, group.rate, group.regime, group.vat_code, group.base, vat, len(postings) + 1))

    if sum(map(_AMOUNT, postings), ZERO) != 0:  # the last guard, on the postings as built
        raise Unbalanced(error("document.unbalanced", invoice.where, "number",
                               f"Invoice {invoice.number} does not balance after rounding; nothing was written."))
    # Positional, in the order of model.Document's fields: keywords cost more, once per document.
    return Document(
        invoice.number, doc_type, invoice.date,
        invoice.due_date or _due(invoice.date, customer.payment_terms or 0),  # due_date
        customer, settings.journal(doc_type), text, invoice.payment_reference, invoice.currency,
        base, tax, total, tuple(postings), tuple(vat_groups), tuple(revenue_groups),
        invoice.credited_invoice, 0, None, invoice,  # credited_invoice, sequence, einvoice, invoice
    )


@functools.lru_cache(maxsize=1 << 14)  # a few hundred dates times a handful of payment terms: one date object each
def _due(day: dt.date, days: int) -> dt.date:
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:  # an invoice dated late in 9999 (a typing accident): no later date exists
        return dt.date.max


_AMOUNT = attrgetter("amount")
