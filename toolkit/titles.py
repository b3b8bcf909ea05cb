"""Plain-language titles of finding ids, for the Check sheet's Title column.

The id stays the stable key (tests, scripts, the Id column); the title is what a user scans.
An id without an entry gets a title made from its words ("line.account.missing" ->
"Line: account missing"), so a new check never shows an empty title.
"""

from __future__ import annotations

TITLES = {
    "account.duplicate": "Ledger account listed twice",
    "account.format": "Account number not in the package's format",
    "account.revenue.unusual": "Revenue account outside the usual revenue class",
    "cell.error": "Excel error in a cell",
    "cell.required": "Required cell is empty",
    "credit_note.credited.unknown": "Credited invoice not found",
    "credit_note.negative": "Credit note typed with negative amounts",
    "credit_note.signs.mixed": "Credit note mixes positive and negative lines",
    "customer.country.invalid": "Customer country is not a country code",
    "customer.id.duplicate": "Customer id used twice",
    "customer.number.duplicate": "Accounting customer number used twice",
    "customer.number.generate": "Customer number will be generated",
    "customer.number.invalid": "Accounting customer number not in the package's format",
    "customer.number.missing": "Customer has no accounting number",
    "customer.vat.invalid": "Customer VAT number is not valid",
    "document.unbalanced": "Invoice does not balance after rounding",
    "document.zero": "Invoice total is zero",
    "file.name": "Export file name not allowed",
    "invoice.amount.differs": "Invoice amount differs from the toolkit's",
    "invoice.currency.unsupported": "Currency not supported by the package",
    "invoice.customer.unknown": "Invoice customer not on the Customers sheet",
    "invoice.discount.account_missing": "Discount without a discount account",
    "invoice.due_date.early": "Due date before the invoice date",
    "invoice.lines.missing": "Invoice has no lines",
    "invoice.number.duplicate": "Invoice number used twice",
    "invoice.number.gap": "Gap in the invoice numbers",
    "invoice.number.order": "Invoice numbers out of date order",
    "invoice.payment_reference.invalid": "Structured payment reference is not valid",
    "invoice.total.mismatch": "Booked total differs from the total as issued",
    "invoice.total.negative": "Invoice total is negative",
    "line.account.inactive": "Line uses an inactive ledger account",
    "line.account.missing": "Line has no ledger account",
    "line.account.not_revenue": "Line account is not a revenue account",
    "line.account.unknown": "Line account not on the Ledger accounts sheet",
    "line.amount.differs": "Line amount differs from the toolkit's",
    "line.invoice.unknown": "Line belongs to no invoice",
    "line.regime.export.country": "Export to a customer inside the EU",
    "line.regime.intra_eu.vat": "Intra-EU line without a valid customer VAT number",
    "line.regime.rate": "VAT rate not allowed for the VAT regime",
    "line.regime.reverse_charge.vat": "Reverse charge without a customer VAT number",
    "line.vat_code.missing": "No package VAT code for the line",
    "line.vat_rate.fraction": "VAT rate typed as a fraction",
    "line.vat_rule.missing": "No VAT rule for the line",
    "param.invalid": "Package setting not valid",
    "param.missing": "Package setting missing",
    "period.fiscal_year": "Export period outside the fiscal year",
    "settings.account.kind": "Settings account of the wrong kind",
    "settings.account.unknown": "Settings account not on the Ledger accounts sheet",
    "settings.company_vat.invalid": "Company VAT number is not valid",
    "settings.customer_number_start.low": "Customer number start is low",
    "settings.missing": "Required setting is empty",
    "settings.package.unknown": "Unknown accounting package",
    "settings.period.reversed": "Period ends before it starts",
    "sheet.column.missing": "Column missing on a sheet",
    "sheet.header.missing": "Header row not found",
    "sheet.missing": "Sheet missing",
    "text.control": "Control characters removed from a text",
    "text.delimiter": "Text contains the file's delimiter",
    "text.disallowed": "Text not allowed in the package file",
    "text.formula": "Text that looks like a spreadsheet formula",
    "text.replaced": "Characters replaced in a text",
    "text.too_long": "Text too long for the package",
    "text.transliterated": "Accented characters transliterated",
    "text.truncated": "Text cut to the package's length",
    "text.unrepresentable": "Characters the package file cannot hold",
    "vat_rule.overlap": "VAT rules overlap",
    "xml.malformed": "Export XML not well-formed",
}


def title(code: str) -> str:
    """The title of a finding id; `cell.invalid.date` and the like by their first two words."""
    if code in TITLES:
        return TITLES[code]
    if code.startswith("cell.invalid."):
        return f"Cell is not a valid {code.rsplit('.', 1)[1]}"
    head, _, rest = code.partition(".")
    words = rest.replace(".", " ").replace("_", " ")
    return f"{head.replace('_', ' ').capitalize()}: {words}" if words else head.capitalize()
