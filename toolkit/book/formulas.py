"""The workbook's formulas: computed amount columns, customer lookups and the lists of dropdowns.

The amounts mirror `toolkit.accounting` (the one place money is computed; its docstring states
the rule), so the user sees each line's and invoice's Net, VAT and Total as they type. Validate
compares what Excel computed with the toolkit's Decimal amounts (`toolkit.computed`): a formula
typed over, or a convention the formulas cannot follow, shows up there.

Formulas use structured references (`Table[[#This Row],[Header]]`, Excel's file form of
`[@Header]`), so they follow columns the user moves, and they are the table's calculated column,
so Excel fills them into every row the user adds. Settings are looked up by their label, not by
row, so a moved Settings row does not break them.
"""

from __future__ import annotations

from toolkit import layout

LISTS_SHEET = "Lists"  # hidden: the computed lists some dropdowns read
LIST_ROWS = 500  # active ledger accounts / distinct VAT rates a dropdown can offer


def _escape(header: str) -> str:
    """A header inside [] of a structured reference: ' [ ] # are escaped with '."""
    return "".join("'" + ch if ch in "'[]#" else ch for ch in header)


def col(sheet: layout.Sheet, key: str) -> str:
    """The whole data column of a table: `Invoices[Invoice number]`."""
    return f"{sheet.table}[{_escape(sheet.column(key).header)}]"


def here(sheet: layout.Sheet, key: str) -> str:
    """This row's cell of a column: `Invoices[[#This Row],[Invoice number]]` (= [@...])."""
    return f"{sheet.table}[[#This Row],[{_escape(sheet.column(key).header)}]]"


def setting(key: str) -> str:
    """A setting's value found by its label in column A of the Settings sheet; its default when
    the row is missing (a workbook older than the setting)."""
    s = layout.SETTINGS_BY_KEY.get(key)
    if s is None:  # not (yet) a setting of this version: the toolkit's fixed behaviour
        return f'"{FIXED[key]}"'
    sheet = f"'{layout.SETTINGS_SHEET}'" if " " in layout.SETTINGS_SHEET else layout.SETTINGS_SHEET
    lookup = f'INDEX({sheet}!$B:$B,MATCH("{s.label}",{sheet}!$A:$A,0))'
    return f'IFERROR({lookup}&"","{s.default}")'


# What accounting does where a setting does not exist in this version.
FIXED = {"rounding": "line net once", "vat_booking": "on lines"}

GROSS_THEN_DISCOUNT = "gross then discount"  # the Rounding choice that rounds gross and discount apart


def line_net() -> str:
    """Net of an invoice line: quantity x unit price after the line discount, rounded as the
    Rounding setting says (accounting step 1). The invoice discount is not in it: accounting
    rounds that per VAT rate on the invoice, not per line."""
    L = layout.INVOICE_LINES
    q, p, d = here(L, "quantity"), here(L, "unit_price"), here(L, "discount_pct")
    gross = f"ROUND({q}*{p},2)"
    return _unless_blank(L, "invoice_number", (
        f'IF({setting("rounding")}="{GROSS_THEN_DISCOUNT}",'
        f"{gross}-ROUND({gross}*{d}/100,2),"
        f"ROUND({q}*{p}*(100-{d})/100,2))"))


def _invoice_pct(sheet: layout.Sheet, number: str) -> str:
    """The invoice discount % of the invoice numbered `number` (0 when none)."""
    I = layout.INVOICES
    return f'IFERROR(INDEX({col(I, "discount_pct")},MATCH({number},{col(I, "number")},0))*1,0)'


def _less_discount(amount: str, pct: str) -> str:
    return f"({amount}-ROUND({amount}*{pct}/100,2))"


def _rate_percents(rate: str) -> str:
    """The VAT rate in percents. `21%` typed in Excel is kept as 0.21 (with a percent format, which
    a formula cannot see): the toolkit reads that cell as 21, so the sheet computes with 21 too. No
    VAT rate lies between 0 and 1 %: a bare 0.21 (no percent format) is an error of the check."""
    return f"IF(AND({rate}>0,{rate}<1),{rate}*100,{rate})"


def line_vat() -> str:
    """'on lines': the line's taxable amount (its net less its invoice discount) x rate, rounded
    per line. 'on total': the rate's VAT computed once on the invoice's taxable amount of that
    rate (and regime), exactly as accounting does, shown on the first line of the rate.
    With an invoice discount, 'on lines' rounds the discount per line, where accounting shares
    the rate's rounded discount over its lines: a cent may differ (Validate then does not
    compare; see toolkit.computed)."""
    L = layout.INVOICE_LINES
    n, r, g = here(L, "invoice_number"), here(L, "vat_rate"), here(L, "vat_regime")
    pct = _invoice_pct(L, n)
    rate = _rate_percents(r)
    per_line = f"ROUND({_less_discount(here(L, 'net'), pct)}*{rate}/100,2)"

    def upto(key):  # the column from its first row down to this row
        return f"INDEX({col(L, key)},1):{here(L, key)}"

    # Criteria `x&""`: a blank cell as criterion would count as 0, not as blank.
    first = (f'COUNTIFS({upto("invoice_number")},{n}&"",{upto("vat_rate")},{r},'
             f'{upto("vat_regime")},{g}&"")=1')
    group_net = (f'SUMIFS({col(L, "net")},{col(L, "invoice_number")},{n}&"",'
                 f'{col(L, "vat_rate")},{r},{col(L, "vat_regime")},{g}&"")')
    on_total = f"IF({first},ROUND({_less_discount(group_net, pct)}*{rate}/100,2),0)"
    return _unless_blank(L, "invoice_number", f'IF({setting("vat_booking")}="on total",{on_total},{per_line})')


def line_total() -> str:
    """Net + VAT, less the line's invoice discount (rounded per line)."""
    L = layout.INVOICE_LINES
    pct = _invoice_pct(L, here(L, "invoice_number"))
    return _unless_blank(L, "invoice_number", f"{_less_discount(here(L, 'net'), pct)}+{here(L, 'vat')}")


def invoice_sum(key: str) -> str:
    """An invoice's VAT: the sum of its lines'. Its Net: the lines' nets less the invoice
    discount (rounded on the sum: exact when the invoice has one VAT rate)."""
    L, I = layout.INVOICE_LINES, layout.INVOICES
    total = f'SUMIFS({col(L, key)},{col(L, "invoice_number")},{here(I, "number")}&"")'
    if key == "net":
        total = _less_discount(total, f'({here(I, "discount_pct")}*1)')
    return _unless_blank(I, "number", total)


def invoice_total() -> str:
    I = layout.INVOICES
    return _unless_blank(I, "number", f"{here(I, 'net')}+{here(I, 'vat')}")


def customer_lookup(key: str) -> str:
    """A field of the invoice's customer on the Customers sheet; empty when not found."""
    I, C = layout.INVOICES, layout.CUSTOMERS
    found = f'INDEX({col(C, key)},MATCH({here(I, "customer_id")},{col(C, "customer_id")},0))&""'
    return _unless_blank(I, "customer_id", f'IFERROR({found},"")')


def _unless_blank(sheet: layout.Sheet, key: str, formula: str) -> str:
    """Empty while the row's key cell is: an empty table row stays empty for the reader."""
    return f'=IF({here(sheet, key)}="","",{formula})'


def computed_columns() -> dict[tuple[str, str], str]:
    """(sheet name, column key) -> formula of every computed column of the layout."""
    L, I = layout.INVOICE_LINES.name, layout.INVOICES.name
    return {
        (L, "net"): line_net(),
        (L, "vat"): line_vat(),
        (L, "total"): line_total(),
        (I, "net"): invoice_sum("net"),
        (I, "vat"): invoice_sum("vat"),
        (I, "total"): invoice_total(),
        (I, "customer_name"): customer_lookup("name"),
        (I, "customer_number"): customer_lookup("accounting_number"),
    }
