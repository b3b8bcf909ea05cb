"""The workbook's computed amounts (Net, VAT, Total of lines and invoices) checked against the
toolkit's own.

The workbook computes them with formulas (toolkit.book.formulas) so the user sees them while
typing; the export never reads them, it computes with `toolkit.accounting`. A difference means
the user sees a figure that will not be booked: a formula typed over, or a rule the formulas do
not follow. A cell without a result (a file saved by a program that does not calculate, such as
the toolkit itself) is not compared, nor are the amounts of an invoice with an invoice discount
that the formulas can only approximate (see toolkit.book.formulas.line_vat).
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter

from toolkit import layout
from toolkit.accounting import HUNDRED, ZERO, line_vat, money, sheet_amounts, typed_negative
from toolkit.model import SHOWN, Finding, Invoice, Workbook, warning
from toolkit.values import TOO_LARGE, shown_amount


def computed_findings(wb: Workbook) -> list[Finding]:
    on_total = wb.settings.vat_booking == "on total"
    findings: list[Finding] = []
    if not _anything_shown(wb.invoices):
        return findings  # a file saved by a program that does not calculate (the toolkit itself)
    for invoice in wb.invoices:
        if not (invoice.shown or any(line.shown for line in invoice.lines)) or not computable(invoice):
            continue
        # The amounts as the sheet shows them: a credit note typed negative stays negative there,
        # while accounting computes its positive twin (rounding half away from zero: the same
        # digits). One computation gives the invoice's and each line's (a line's net, before the
        # invoice discount, is what a document of that line alone would book).
        vat_groups, line_amounts = sheet_amounts(invoice, wb.settings)
        sign = -1 if typed_negative(invoice) else 1
        base = sign * sum((g.base for g in vat_groups), ZERO)
        vat = sign * sum((g.vat for g in vat_groups), ZERO)
        # With an invoice discount the sheet rounds it per line (on lines) or on the invoice's sum
        # (Net), where accounting shares each rate's rounded discount: only exact figures compared.
        exact = not invoice.discount_pct
        if exact:
            _compare(findings, "invoice.amount.differs", layout.INVOICES, invoice.where, invoice.shown,
                     {"net": base, "vat": vat, "total": base + vat}, "invoice {}", invoice)
        elif on_total:
            _compare(findings, "invoice.amount.differs", layout.INVOICES, invoice.where, invoice.shown,
                     {"vat": vat}, "invoice {}", invoice)
        group_vat = {(g.rate, g.regime): sign * g.vat for g in vat_groups} if on_total else {}
        seen: set = set()
        for line, amount in zip(invoice.lines, line_amounts):
            if on_total:  # the rate's VAT, on its first line
                group = (line.vat_rate, line.vat_regime)
                tax = ZERO if group in seen else group_vat[group]
                seen.add(group)
            if not line.shown:
                continue
            net = amount.net if sign > 0 else -amount.net
            if exact:
                if not on_total:
                    tax = line_vat(net, line.vat_rate)
                expected = {"net": net, "vat": tax, "total": net + tax}
            elif on_total:
                expected = {"net": net, "vat": tax}
            else:
                expected = {"net": net}
            _compare(findings, "line.amount.differs", layout.INVOICE_LINES, line.where, line.shown, expected,
                     "this line of invoice {}", invoice, line)
    return findings


def _anything_shown(invoices) -> bool:
    """Whether any invoice or line of `invoices` shows a computed amount: C-level passes instead of
    a Python step per invoice."""
    return any(map(_SHOWN, invoices)) or any(map(_SHOWN, chain.from_iterable(map(attrgetter("lines"), invoices))))


_SHOWN = attrgetter("shown")


def computable(invoice: Invoice) -> bool:
    """Amounts can be computed: every number they need was read (missing ones are reported), and
    none is past what an amount, a discount or a VAT rate can be (reported: line.amount.too_large,
    discount.range, line.vat_rule.missing). Past them, a line's figures need more digits than the
    accounting core's Decimal context holds: 999999999999999 x 999999999999999 was a traceback."""
    pct = invoice.discount_pct
    return bool(invoice.lines) and (pct is None or ZERO <= pct <= HUNDRED) and all(
        # `is not None`: `in` would compare each Decimal with None
        line.quantity is not None and line.unit_price is not None and line.vat_rate is not None
        and ZERO <= line.vat_rate <= HUNDRED and (line.discount_pct is None or ZERO <= line.discount_pct <= HUNDRED)
        and not too_large(line) for line in invoice.lines)


def too_large(line) -> bool:
    """Quantity x unit price past any amount (15 digits before the decimal point): reported on the
    line (line.amount.too_large), and no invoice holding it is computed."""
    return not -TOO_LARGE < line.quantity * line.unit_price < TOO_LARGE


# Below this a figure's float is the toolkit's Decimal figure exactly when it is the float nearest to
# it: 15 significant digits with the cents, which a float holds and `shown_amount` gives back.
EXACT = 1e13


def _compare(findings: list[Finding], code: str, sheet: layout.Sheet, where, shown, expected, what: str,
             invoice: Invoice, line=None) -> None:
    """A warning for each figure `shown` that differs from the one `expected`; `what` names the row
    (formatted with the invoice's number only for a finding: a million rows at 100,000 invoices).
    `line`: the row is this line of `invoice` (else the invoice's own row)."""
    for key, value in zip(SHOWN, shown):
        want = expected.get(key)
        if value is None or want is None or (type(value) is float and value == float(want) and -EXACT < value < EXACT):
            continue  # the usual figure of a saved workbook: the float nearest to the toolkit's
        figure = money(shown_amount(value))  # rounded to the cent: a float's noise is no difference
        if figure != want:
            header = sheet.column(key).header
            discounted = (line.discount_pct or invoice.discount_pct if line is not None
                          else any(other.discount_pct for other in invoice.lines))
            findings.append(warning(
                code, where, key,
                f"{header} shows {figure}, but the toolkit computes {want} for {what.format(invoice.number)} "
                f"(and exports that). The cell's formula was probably typed over: copy the cell from "
                f"another row of the {header} column. If the whole column differs, rebuild the "
                f"formulas with `ledger-export workbook upgrade`." + (_PERCENT_TYPED if discounted else "")))


# A discount typed `10%` is kept by Excel as 0.1 in a percent-formatted cell: the toolkit reads it
# as 10 (toolkit.book.read), the sheet's formulas (which cannot see a format) as 0.1.
_PERCENT_TYPED = (" Or a discount was typed with a % sign (10%): Excel keeps it as 0.1, which the sheet's formulas "
                  "take as 0.1 % while the export books 10 %; type 10 (no % sign) to make the sheet show it.")
