"""Every finding the toolkit can report: its stable id, its severity and a plain-language title.

The id is what scripts and tests match on (`check --json`); the title is what the Check sheet shows
an accountant; the message of each finding (built where it is found, with the values involved)
says what exactly is wrong and what to do. A new check adds its id here first: a test fails on any
id used in `toolkit/` that is not in this catalogue.
"""

from __future__ import annotations

from typing import NamedTuple


class Kind(NamedTuple):
    severity: str  # error | warning | either (the package spec decides: refuse or truncate)
    title: str


E, W, EITHER = "error", "warning", "either"

CATALOGUE: dict[str, Kind] = {
    # reading the workbook
    "sheet.missing": Kind(E, "Sheet missing"),
    "sheet.header.missing": Kind(E, "Header row missing"),
    "sheet.column.missing": Kind(E, "Column missing"),
    "sheet.column.duplicate": Kind(E, "Column on a sheet twice"),
    "cell.error": Kind(E, "Excel error in a cell"),
    "cell.required": Kind(E, "Required value missing"),
    "cell.invalid.text": Kind(E, "Unreadable text"),
    "cell.invalid.code": Kind(E, "Unreadable code"),
    "cell.invalid.int": Kind(E, "Not a whole number"),
    "cell.invalid.decimal": Kind(E, "Not a number"),
    "cell.invalid.percent": Kind(E, "Not a percentage"),
    "cell.invalid.date": Kind(E, "Not a date"),
    "cell.invalid.bool": Kind(E, "Not yes or no"),
    "cell.invalid.choice": Kind(E, "Not one of the allowed values"),
    "cell.control_characters": Kind(W, "Invisible control characters removed"),
    # settings and the package's parameters
    "settings.missing": Kind(E, "Setting missing"),
    "settings.duplicate": Kind(E, "Setting on two rows"),
    "settings.rounding.absent": Kind(W, "Rounding row missing: the earlier rule applies"),
    "settings.period.reversed": Kind(E, "Period reversed"),
    "settings.company_vat.invalid": Kind(E, "Company VAT number invalid"),
    "settings.account.unknown": Kind(E, "Settings account not in the chart"),
    "settings.account.kind": Kind(E, "Settings account of the wrong kind"),
    "settings.package.unknown": Kind(E, "Unknown accounting package"),
    "settings.customer_number_start.low": Kind(W, "Customer number start below 100000"),
    "param.missing": Kind(E, "Package setting missing"),
    "param.invalid": Kind(E, "Package setting invalid"),
    "period.fiscal_year": Kind(E, "Period outside one fiscal year"),
    # ledger accounts
    "account.duplicate": Kind(E, "Ledger account listed twice"),
    "account.format": Kind(E, "Account number the package cannot take"),
    "account.revenue.unusual": Kind(W, "Unusual revenue account"),
    # VAT rules
    "vat_rule.overlap": Kind(E, "VAT rules overlap"),
    # customers
    "customer.id.duplicate": Kind(E, "Customer id used twice"),
    "customer.vat.invalid": Kind(E, "Customer VAT number invalid"),
    "customer.country.invalid": Kind(E, "Country code invalid"),
    "customer.number.duplicate": Kind(E, "Accounting customer number used twice"),
    "customer.number.invalid": Kind(E, "Accounting customer number the package cannot take"),
    "customer.number.missing": Kind(E, "Accounting customer number missing"),
    "customer.number.generate": Kind(E, "Customer numbers cannot be generated"),
    # invoices
    "invoice.number.duplicate": Kind(E, "Invoice number used twice"),
    "invoice.number.package_collision": Kind(E, "Two documents share a number as the package keeps it"),
    "invoice.number.package_empty": Kind(E, "Document number without the digits the package keeps"),
    "invoice.number.gap": Kind(W, "Gap in the invoice numbering"),
    "invoice.number.order": Kind(W, "Invoice numbers out of date order"),
    "invoice.customer.unknown": Kind(E, "Unknown customer"),
    "invoice.lines.missing": Kind(E, "Invoice without lines"),
    "invoice.currency.unsupported": Kind(E, "Currency not supported"),
    "invoice.payment_reference.invalid": Kind(E, "Structured communication invalid"),
    "invoice.due_date.early": Kind(W, "Due date before the invoice date"),
    "invoice.discount.account_missing": Kind(E, "Discount without a discount account"),
    "discount.range": Kind(E, "Discount outside 0 to 100 %"),
    "credit_note.credited.unknown": Kind(W, "Credited invoice not found"),
    "credit_note.credited.not_invoice": Kind(W, "Credited invoice is a credit note"),
    "credit_note.credited.other_customer": Kind(W, "Credited invoice of another customer"),
    "credit_note.credited.later": Kind(W, "Credited invoice dated after the credit note"),
    "invoice.credited.type": Kind(W, "Invoice with a credited invoice"),
    "credit_note.negative": Kind(W, "Credit note typed with negative amounts"),
    "credit_note.signs.mixed": Kind(E, "Credit note with positive and negative lines"),
    "invoice.total.negative": Kind(E, "Invoice with a negative total"),
    "invoice.total.mismatch": Kind(E, "Total differs from the total as issued"),
    "invoice.amount.differs": Kind(W, "Invoice amount shown differs from the booked one"),
    # invoice lines
    "line.invoice.unknown": Kind(E, "Line of an unknown invoice"),
    "line.account.missing": Kind(E, "Ledger account missing"),
    "line.account.unknown": Kind(E, "Ledger account not in the chart"),
    "line.account.inactive": Kind(E, "Ledger account inactive"),
    "line.account.not_revenue": Kind(E, "Not a revenue account"),
    "line.vat_rate.fraction": Kind(E, "VAT rate typed as a fraction"),
    "line.vat_rule.missing": Kind(E, "No VAT rule for this rate"),
    "line.vat_code.missing": Kind(E, "No package VAT code for this rate"),
    "vat_code.duplicate": Kind(E, "Two VAT codes rows for the same case"),
    "vat_code.package.unknown": Kind(W, "VAT code for a package that does not exist"),
    "workbook.upgrade.vat_codes": Kind(W, "VAT codes still on the VAT rules (earlier version)"),
    "sheet.vat_codes.missing": Kind(W, "VAT codes sheet missing (earlier version)"),
    "line.regime.rate": Kind(E, "VAT rate does not fit the regime"),
    "line.regime.intra_eu.vat": Kind(E, "Intra-EU supply without an EU VAT number"),
    "line.regime.reverse_charge.vat": Kind(E, "Reverse charge without a Belgian VAT number"),
    "line.regime.export.country": Kind(E, "Export to an EU country"),
    "line.amount.differs": Kind(W, "Line amount shown differs from the booked one"),
    "line.amount.too_large": Kind(E, "Quantity x unit price beyond any amount"),
    # the export's documents and files
    "document.unbalanced": Kind(E, "Document does not balance"),
    "document.zero": Kind(E, "Document of zero"),
    "file.name": Kind(E, "File name not allowed"),
    "text.unrepresentable": Kind(EITHER, "Character the package cannot take"),
    "text.too_long": Kind(EITHER, "Text too long for the package"),
    "text.disallowed": Kind(EITHER, "Character not allowed by the package"),
    "text.delimiter": Kind(EITHER, "Delimiter inside a value"),
    "text.formula": Kind(EITHER, "Text that would start a spreadsheet formula"),
    "text.control": Kind(W, "Control characters removed"),
    "text.truncated": Kind(W, "Text cut to the package's length"),
    "text.replaced": Kind(W, "Characters the package does not accept replaced"),
    "text.transliterated": Kind(W, "Characters written in the package's character set"),
    "xml.malformed": Kind(E, "XML file not well-formed"),
    "export.not_written": Kind(W, "Document left for another package"),
    "export.before_period": Kind(W, "Document dated before the period, never exported"),
    "export.number_taken": Kind(W, "Document number exported from another workbook"),
    "export.changed": Kind(W, "Document changed after its export"),
    "export.not_carried": Kind(W, "Document marked with an export that did not carry it"),
    # e-invoices (Peppol BIS 3): what the network would reject is an error
    "einvoice.amounts.differ": Kind(E, "E-invoice amounts differ from the booking"),
    "einvoice.seller.missing": Kind(E, "Company fact an e-invoice needs is missing"),
    "einvoice.seller.invalid": Kind(E, "Company IBAN or enterprise number invalid"),
    "einvoice.buyer.endpoint": Kind(E, "Customer without a Peppol address"),
    "einvoice.buyer.peppol_id": Kind(E, "Peppol ID not usable"),
    "einvoice.buyer.vat": Kind(E, "Reverse charge or intra-EU e-invoice without the buyer's VAT number"),
    "einvoice.line.rate": Kind(E, "VAT rate on a line that carries no VAT"),
    "einvoice.category.mixed": Kind(E, "Not subject to VAT mixed with other VAT regimes"),
    "einvoice.vat.tolerance": Kind(E, "VAT on lines too far from the rate for an e-invoice"),
    "einvoice.pdf.missing": Kind(W, "No PDF to attach to the e-invoice"),
}


def title(code: str) -> str:
    """The plain-language title of a finding id (the id itself when it is not catalogued)."""
    kind = CATALOGUE.get(code)
    return kind.title if kind else code
