"""An independent reference for "booked exactly as invoiced": plain Decimal arithmetic written from
the documented rules (docs/rounding.md, README "How an export is made", step 4), not from
toolkit.accounting or toolkit.computed (neither is imported here).

`book(...)` gives, for one document, what every package must carry: the customer receivable, the
revenue per ledger account, the discount, the VAT and its base per VAT rate and regime, and the
per-account revenue with its VAT (packages such as DATEV book revenue VAT-inclusive), all signed
debit + / credit - as the accountant sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext

CENT = Decimal("0.01")
# Exact arithmetic: room for every digit a product of typed numbers can have, and a loud failure
# (Inexact) rather than a silent rounding of an intermediate result (the default context keeps 28 digits).
EXACT = Context(prec=400, traps=[Inexact])
ROUNDING = Context(prec=400)  # the one intended rounding: to the cent
ZERO = Decimal("0.00")
ONCE, GROSS = "line net once", "gross then discount"


def rnd(x: Decimal) -> Decimal:
    """Half-up (away from zero) to the cent: 0.005 -> 0.01, -0.005 -> -0.01."""
    return x.quantize(CENT, ROUND_HALF_UP, context=ROUNDING)


def split(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """The sharing rule: each share the exact proportional amount rounded down to the cent, the
    cents still missing one each to the largest remainders, the earliest on a tie. With nothing
    to be proportional to (the weights add up to 0), all of it on the first."""
    whole = sum(weights, ZERO)
    if whole == 0:
        return [total] + [ZERO] * (len(weights) - 1)
    # in whole cents, so that the proportions and their remainders are exact integer arithmetic
    cents = int(total / CENT)
    num = [cents * int(w / CENT) for w in weights]
    den = int(whole / CENT)
    if den < 0:
        num, den = [-n for n in num], -den
    floors = [n // den for n in num]  # floor, towards minus infinity ("rounded down")
    remainders = [n - f * den for n, f in zip(num, floors)]
    left = cents - sum(floors)
    assert 0 <= left <= len(weights), (total, weights)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        floors[i] += 1
    return [Decimal(f) * CENT for f in floors]


@dataclass
class Line:
    quantity: Decimal
    price: Decimal
    discount: Decimal  # line discount %, 0 when none
    rate: Decimal
    regime: str
    account: str


@dataclass
class Booked:
    """One document as every package must book it. Amounts signed debit + / credit -."""

    receivable: Decimal
    revenue: dict[str, Decimal]  # ledger account -> revenue (gross with a discount account, else net)
    discount: Decimal  # on the discount account (0 without one)
    vat: dict[tuple[Decimal, str], Decimal]  # (rate, regime) -> VAT
    base: dict[tuple[Decimal, str], Decimal]  # (rate, regime) -> its base (document terms, unsigned by doc type)
    with_vat: dict[tuple[str, Decimal, str], Decimal]  # (account, rate, regime) -> taxable + its VAT
    total: Decimal  # document terms: what the invoice shows (positive for a credit note typed either way)
    lines_net: list[Decimal] = field(default_factory=list)  # each line's net before the invoice discount


def is_typed_negative(doc_type: str, lines: list[Line]) -> bool:
    """A credit note whose every line has quantity x unit price <= 0 and some < 0."""
    products = [l.quantity * l.price for l in lines]
    return doc_type == "credit note" and all(p <= 0 for p in products) and any(p < 0 for p in products)


def book(lines: list[Line], doc_type: str, invoice_discount: Decimal, rounding: str, vat_booking: str,
         discount_account: bool) -> Booked:
    with localcontext(EXACT):
        return _book(lines, doc_type, invoice_discount, rounding, vat_booking, discount_account)


def _book(lines: list[Line], doc_type: str, invoice_discount: Decimal, rounding: str, vat_booking: str,
          discount_account: bool) -> Booked:
    if is_typed_negative(doc_type, lines):  # booked as the credit it is: its positive twin
        lines = [Line(-l.quantity, l.price, l.discount, l.rate, l.regime, l.account) for l in lines]
    rows = []  # [group key, account, gross, discount (line + invoice), net, taxable]
    for l in lines:
        exact = l.quantity * l.price
        gross = rnd(exact)
        if rounding == ONCE:
            net = rnd(exact * (100 - l.discount) / 100)
        else:
            net = gross - rnd(gross * l.discount / 100)
        rows.append([(l.rate, l.regime), l.account, gross, gross - net, net, net])
    groups = list(dict.fromkeys(row[0] for row in rows))
    vat: dict = {}
    base: dict = {}
    account_vat: dict = {}
    for key in groups:
        members = [row for row in rows if row[0] == key]
        cut = rnd(sum((row[4] for row in members), ZERO) * invoice_discount / 100)
        for row, part in zip(members, split(cut, [row[4] for row in members])):
            row[3] += part
            row[5] -= part
        rate = key[0]
        base[key] = sum((row[5] for row in members), ZERO)
        accounts = list(dict.fromkeys(row[1] for row in members))
        taxable_of = {a: sum((row[5] for row in members if row[1] == a), ZERO) for a in accounts}
        if vat_booking == "on total":
            vat[key] = rnd(base[key] * rate / 100)
            for a, part in zip(accounts, split(vat[key], [taxable_of[a] for a in accounts])):
                account_vat[(a,) + key] = part
        else:
            for a in accounts:
                account_vat[(a,) + key] = sum((rnd(row[5] * rate / 100) for row in members if row[1] == a), ZERO)
            vat[key] = sum((account_vat[(a,) + key] for a in accounts), ZERO)
    total = sum(base.values(), ZERO) + sum(vat.values(), ZERO)
    sign = 1 if doc_type == "invoice" else -1
    revenue: dict[str, Decimal] = {}
    for row in rows:
        amount = row[2] if discount_account else row[5]
        revenue[row[1]] = revenue.get(row[1], ZERO) - sign * amount
    discount = sign * sum((row[3] for row in rows), ZERO) if discount_account else ZERO
    with_vat = {}
    for row in rows:
        k = (row[1],) + row[0]
        with_vat[k] = with_vat.get(k, ZERO) + row[5]
    with_vat = {k: v + account_vat[k] for k, v in with_vat.items()}
    return Booked(sign * total, revenue, discount, {k: -sign * v for k, v in vat.items()}, base, with_vat, total,
                  [row[4] for row in rows])
