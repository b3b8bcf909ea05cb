"""The lists the dropdowns offer, fed by the other sheets as the user types.

Each list is a workbook name (a dropdown's source must be a name or a range, not a structured
reference). Customer ids and invoice numbers are whole table columns. Active ledger accounts and
the distinct VAT rates of the VAT rules need a filter, so formulas on the hidden sheet `Lists`
compute them (AGGREGATE: no array entry, works in Excel 2010+ and LibreOffice; stored as
`_xlfn.AGGREGATE`, the file form of functions newer than Excel 2007) and the name covers the
filled part of that column.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl.workbook.defined_name import DefinedName

from toolkit import layout
from toolkit.book.formulas import LIST_ROWS, LISTS_SHEET, col


@dataclass(frozen=True)
class Source:
    name: str  # the workbook name a dropdown refers to
    refers_to: str
    error: str  # shown when a typed value is not in the list


def _filled(letter: str, count: str) -> str:
    first = f"{LISTS_SHEET}!${letter}$2"
    return f"OFFSET({first},0,0,MAX(1,{count.format(range=f'{first}:${letter}${LIST_ROWS + 1}')}),1)"


A, V, C, I = layout.LEDGER_ACCOUNTS, layout.VAT_RULES, layout.CUSTOMERS, layout.INVOICES

CUSTOMER_IDS = Source("CustomerIds", col(C, "customer_id"),
                      "This customer id is not on the Customers sheet (yet). Add the customer there.")
INVOICE_NUMBERS = Source("InvoiceNumbers", col(I, "number"),
                         "This invoice number is not on the Invoices sheet (yet). Add the invoice there.")
ACTIVE_ACCOUNTS = Source("ActiveAccounts", _filled("A", "SUMPRODUCT(--(LEN({range})>0))"),
                         "This account is not an active account of the Ledger accounts sheet.")
VAT_RATES = Source("VatRates", _filled("B", "COUNT({range})"),
                   "No VAT rule has this rate. Add a rule on the VAT rules sheet, or pick a rate.")

# (sheet name, column key) -> the list its dropdown offers.
COLUMN_LISTS = {
    (layout.INVOICES.name, "customer_id"): CUSTOMER_IDS,
    (layout.INVOICES.name, "credited_invoice"): INVOICE_NUMBERS,
    (layout.INVOICE_LINES.name, "invoice_number"): INVOICE_NUMBERS,
    (layout.INVOICE_LINES.name, "ledger_account"): ACTIVE_ACCOUNTS,
    (layout.INVOICE_LINES.name, "vat_rate"): VAT_RATES,
    (layout.VAT_RULES.name, "revenue_account"): ACTIVE_ACCOUNTS,
}


def active_account(k: int) -> str:
    """The k-th (1-based) account whose Active is not 'no', in sheet order."""
    position = f"(ROW({col(A, 'account')})-ROW(INDEX({col(A, 'account')},1))+1)"
    keep = f'(({col(A, "active")}<>"no")*({col(A, "account")}<>""))'
    return f'=IFERROR(INDEX({col(A, "account")},_xlfn.AGGREGATE(15,6,{position}/{keep},{k}))&"","")'


def vat_rate(k: int) -> str:
    """The k-th smallest distinct rate of the VAT rules (k >= 1; row k+1 of the Lists sheet)."""
    rates = col(V, "rate")
    if k == 1:
        return f'=IFERROR(_xlfn.AGGREGATE(15,6,{rates}/ISNUMBER({rates}),1),"")'
    return f'=IFERROR(_xlfn.AGGREGATE(15,6,{rates}/({rates}>B{k}),1),"")'


def fill_lists_sheet(ws, print_setup) -> None:
    ws["A1"], ws["B1"] = "Active ledger accounts", "VAT rates of the VAT rules"
    ws["D1"] = "Computed lists for the dropdowns of the other sheets; nothing to type here."
    for k in range(1, LIST_ROWS + 1):
        ws.cell(row=k + 1, column=1, value=active_account(k))
        ws.cell(row=k + 1, column=2, value=vat_rate(k))
    ws.column_dimensions["A"].width = ws.column_dimensions["B"].width = 26
    ws.sheet_state = "hidden"
    print_setup(ws)


def add_names(wb) -> None:
    for source in (CUSTOMER_IDS, INVOICE_NUMBERS, ACTIVE_ACCOUNTS, VAT_RATES):
        wb.defined_names[source.name] = DefinedName(source.name, attr_text=source.refers_to)
