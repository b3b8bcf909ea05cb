"""What a Peppol BIS 3 e-invoice of a booked document says, beyond the booking itself.

`prepare` decides, per document: not a Peppol document (a private person without a VAT number or Peppol ID: left
for another package, with the reason), not valid (an error naming the cell to fill: the network
would reject the file), or its `EInvoice`: endpoints, VAT categories, payment, totals, PDF.

Amounts are the accounting's (`accounting.line_amounts`, the document's VAT groups), only regrouped
by VAT category: sums of amounts already rounded, never a new rounding, so the e-invoice and every
booking of the document agree to the cent.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from pathlib import Path

from stdnum import iban as iban_number
from stdnum.eu import vat as eu_vat

from toolkit import layout
from toolkit.accounting import line_amounts, plus
from toolkit.customers.normalize import vat_key
from toolkit.model import Document, EInvoice, EInvoiceCategory, EInvoiceLine, Finding, LineAmount, Settings, error, first_named, warning
from toolkit.peppol.identifiers import (
    ENTERPRISE, buyer_endpoint, endpoint_from_vat, payment_id, peppol_id_problem, seller_enterprise_number, vat_category,
)
from toolkit.spec.text import name_part

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
_VAT = attrgetter("vat")
NOT_PEPPOL = ("a private person without a VAT number or Peppol ID: not a Peppol document; export it with another "
              "package")


@dataclass
class Prepared:
    documents: list[Document] = field(default_factory=list)  # each with its `einvoice`
    skipped: dict[str, str] = field(default_factory=dict)  # document number -> why it is not written
    findings: list[Finding] = field(default_factory=list)  # errors block; warnings are shown


def is_peppol_customer(customer) -> bool:
    """A company, or a person with a Peppol ID or a VAT number: a sole trader registered for VAT is a
    business, which Belgian B2B e-invoicing covers, whatever its Kind says; only consumers are not."""
    return customer.kind != "person" or bool(str(customer.peppol_id).strip() or str(customer.vat_number).strip())


def prepare(documents: list[Document], settings: Settings, workbook: Path | None) -> Prepared:
    preparation = Preparation(settings, workbook)
    for document in documents:
        preparation.add(document)
    return preparation.done()


class Preparation:
    """`prepare`, a document at a time: the export prepares each document as the accounting books
    it, from the line amounts the booking computed (`add(document, amounts)`)."""

    def __init__(self, settings: Settings, workbook: Path | None):
        self.out = Prepared()
        self.settings = settings
        self.seller = _seller(settings, self.out.findings)
        self.pdfs = _pdf_folder(settings, workbook)
        self.pdf_files = PdfFolder(self.pdfs)
        self.without_pdf: list[str] = []
        self.not_pdf: list[str] = []
        self.without_seller_vat: list[str] = []
        self.buyers: dict[tuple, tuple] = {}  # see `_buyer`

    def add(self, document: Document, amounts: list[LineAmount] | None = None) -> None:
        """`amounts`: the document's `line_amounts`, when the accounting already has them."""
        out = self.out
        if not is_peppol_customer(document.customer):
            out.skipped[document.number] = NOT_PEPPOL
            return
        einvoice = _einvoice(document, self.settings, self.seller, out.findings, amounts, self.buyers)
        if einvoice is None:
            return
        if not self.seller["vat"] and any(c.code != "O" for c in einvoice.vat_categories):
            self.without_seller_vat.append(document.number)  # one error on the Settings cell, in done()
            return
        if self.pdfs is not None:
            pdf = self.pdf_files.find(document.number)
            data = _pdf_bytes(pdf) if pdf is not None else None
            if data is None:
                self.without_pdf.append(document.number)
            elif b"%PDF-" not in data[:1024]:  # empty, or another file renamed: a customer could not open it
                self.not_pdf.append(pdf.name)
            else:
                einvoice.pdf_name = pdf.name
                einvoice.pdf_base64 = base64.b64encode(data).decode("ascii")
        document.einvoice = einvoice
        out.documents.append(document)

    def done(self) -> Prepared:
        if self.without_seller_vat:  # BR-S-02, BR-Z-02, BR-E-02, BR-AE-02, BR-IC-02, BR-G-02; only BR-O-02 wants none
            numbers = self.without_seller_vat
            self.out.findings.append(error(
                "einvoice.seller.missing", self.settings.cell("company_vat"), "value",
                f"E-invoices of documents with VAT need the seller's VAT number, or the network rejects them "
                f"({len(numbers)} document(s): {first_named(numbers)}): fill in 'Company VAT number'."))
        said = []  # one finding: the Settings cell takes one
        if self.without_pdf:
            said.append(f"No PDF in {self.pdfs} for {len(self.without_pdf)} document(s): {', '.join(self.without_pdf)}. "
                        "Their e-invoices are written without one (name a PDF <document number>.pdf).")
        if self.not_pdf:
            said.append(f"{', '.join(self.not_pdf)} in {self.pdfs}: not a PDF (empty, or another kind of file renamed), "
                        "so not attached; their e-invoices are written without one. Save the invoice as PDF under that name.")
        if said:
            self.out.findings.append(warning("einvoice.pdf.missing", self.settings.cell("pdf_folder"), "value", " ".join(said)))
        return self.out


def _pdf_bytes(pdf: Path) -> bytes | None:
    """The file's bytes; None when there is none (or it cannot be read: a folder, no permission)."""
    try:
        return pdf.read_bytes() if pdf.is_file() else None
    except OSError:
        return None


class PdfFolder:
    """The PDFs in the Invoice PDFs folder, listed once (an export of 70,000 e-invoices looked for
    each file on its own), and a document's found whatever the case of its name: `2026-0001.PDF`,
    which Windows finds and a case-sensitive file system did not."""

    def __init__(self, folder: Path | None):
        self.exact: dict[str, Path] = {}
        self.folded: dict[str, Path] = {}
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name) if folder is not None else []
        except OSError:  # no such folder, or it cannot be read: the e-invoices go without PDFs, said
            entries = []
        for entry in entries:
            if entry.name.lower().endswith(".pdf") and _is_file(entry):
                path = self.exact[entry.name] = Path(entry.path)
                self.folded.setdefault(entry.name.casefold(), path)

    def find(self, number: str) -> Path | None:
        """The document's PDF: `<number>.pdf` as typed, else in another case; for a number holding a
        character no file name can hold (2026/0008), by the name its e-invoice gets (2026_0008.pdf)."""
        for name in dict.fromkeys((f"{number}.pdf", f"{name_part(number)}.pdf")):
            found = self.exact.get(name) or self.folded.get(name.casefold())
            if found is not None:
                return found
        return None


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _pdf_folder(settings: Settings, workbook: Path | None) -> Path | None:
    text = str(settings.pdf_folder or "").strip()
    if not text:
        return None
    folder = Path(text).expanduser()
    if not folder.is_absolute() and workbook is not None:
        folder = Path(workbook).resolve().parent / folder
    return folder


def _seller(settings: Settings, findings: list[Finding]) -> dict:
    """The seller's identifiers, or errors on the Settings rows to fill."""
    seller = {}

    def need(key: str, what: str):
        findings.append(error("einvoice.seller.missing", settings.cell(key), "value",
                              f"E-invoices need {what}: fill in '{layout.SETTINGS_BY_KEY[key].label}'."))

    for key, what in (("company_address", "the seller's street"), ("company_postal_code", "the seller's postal code"),
                      ("company_city", "the seller's city")):
        if not str(getattr(settings, key) or "").strip():
            need(key, what)
    account = str(settings.iban or "").strip()
    if not account:
        need("iban", "the IBAN to pay into")
    elif not _iban_ok(account):
        findings.append(error("einvoice.seller.invalid", settings.cell("iban"), "value",
                              f"IBAN {account!r} is not a valid IBAN; e-invoices carry it as the account to pay into."))
    seller["iban"] = iban_number.compact(account) if account else ""
    country = str(settings.company_country or "").upper()
    seller["vat"] = vat_key(settings.company_vat, country)
    number = seller_enterprise_number(settings.company_enterprise_number, settings.company_vat, country)
    if str(settings.company_enterprise_number or "").strip() and not number:
        findings.append(error("einvoice.seller.invalid", settings.cell("company_enterprise_number"), "value",
                              f"'{settings.company_enterprise_number}' is not a valid Belgian enterprise number "
                              "(10 digits, e.g. 0477.472.701, mod-97 check)."))
    if number:
        seller["endpoint"] = (ENTERPRISE, number)
    else:
        derived = endpoint_from_vat(settings.company_vat, country)
        seller["endpoint"] = tuple(derived) if derived else ("", "")
        if derived is None and not str(settings.company_enterprise_number or "").strip():
            need("company_enterprise_number", "the seller's Peppol address (a Belgian enterprise number, or a VAT number)")
    seller["enterprise_number"] = number
    return seller


def _buyer(customer, settings: Settings, buyers: dict) -> tuple:
    """(country, Peppol endpoint or None, VAT number) of a customer: worked out once per customer
    (`buyers`, keyed by what they come from), not once per document. An empty Country is the
    company's, unless the VAT number is another member state's: a Dutch VAT number with no country
    typed is a Dutch buyer (an intra-EU supply 'delivered to BE' would say the goods never left)."""
    key = (customer.country, customer.peppol_id, customer.vat_number)
    found = buyers.get(key)
    if found is None:
        home = (settings.company_country or "").upper()
        vat = vat_key(customer.vat_number, customer.country or home)
        country = (customer.country or _VAT_COUNTRIES.get(vat[:2]) or home).upper()
        found = buyers[key] = (country, buyer_endpoint(customer.peppol_id, customer.vat_number, country), vat)
    return found


# The country of an EU VAT number's prefix (Greece's numbers carry EL, its country code is GR).
_VAT_COUNTRIES = {**{prefix.upper(): prefix.upper() for prefix in eu_vat.MEMBER_STATES}, "EL": "GR"}


def _einvoice(document: Document, settings: Settings, seller: dict, findings: list[Finding],
              amounts: list[LineAmount] | None, buyers: dict) -> EInvoice | None:
    customer, invoice = document.customer, document.invoice
    before = len(findings)
    country, endpoint, buyer_vat = _buyer(customer, settings, buyers)
    if endpoint is None:
        if str(customer.peppol_id).strip():
            findings.append(error("einvoice.buyer.peppol_id", customer.where, "peppol_id",
                                  f"{document.number}: Peppol ID {customer.peppol_id!r} of {customer.customer_id} "
                                  f"{peppol_id_problem(customer.peppol_id)}."))
        else:
            findings.append(error("einvoice.buyer.endpoint", customer.where, "vat_number",
                                  f"{document.number}: {customer.name} ({customer.customer_id}) has no Peppol address: fill in "
                                  "a VAT number the toolkit can derive it from, or the 'Peppol ID' column."))

    # Sums by `plus` (and a taxable amount without an allowance is the net itself): most categories
    # have no invoice discount, one VAT group, a line or two (at 100,000 invoices some 500,000
    # Decimals fewer, kept until the render ends).
    lines, groups = [], {}
    line_total = ZERO
    for n, amount in enumerate(line_amounts(invoice, settings) if amounts is None else amounts, 1):
        line = amount.line
        category = vat_category(line.vat_regime, line.vat_rate)
        if category.code not in ("S", "Z") and line.vat_rate:
            findings.append(error("einvoice.line.rate", line.where, "vat_rate",
                                  f"{document.number}: a '{line.vat_regime}' line carries no VAT, so its rate must be 0 "
                                  f"(VAT category {category.code})."))
        quantity, price = amount.quantity, line.unit_price
        if price < 0:  # a price is never negative in UBL (BR-27): the quantity carries the sign
            quantity, price = -quantity, -price
        net = amount.net
        lines.append(EInvoiceLine(line.line or n, line.description or document.description, quantity, price,
                                  line.discount_pct or ZERO, amount.gross, amount.discount, net, line.vat_rate, category.code))
        line_total = plus(line_total, net)
        key = (category, line.vat_rate)
        sums = groups.get(key)
        if sums is None:  # plus(0.00, x), as below
            groups[key] = [net or ZERO, amount.invoice_discount or ZERO]
        else:
            sums[0] = plus(sums[0], net)
            sums[1] = plus(sums[1], amount.invoice_discount)
    vat_by_category: dict = {}
    for group in document.vat_groups:
        key = (vat_category(group.regime, group.rate), group.rate)
        vat_by_category[key] = plus(vat_by_category.get(key, ZERO), group.vat)
    categories = tuple([  # a list comprehension: no generator resumed per category
        EInvoiceCategory(category.code, rate, category.reason_code, category.reason, net, invoice.discount_pct or ZERO,
                         discount, net - discount if discount else net, vat_by_category.get((category, rate), ZERO))
        for (category, rate), (net, discount) in groups.items()
    ])
    codes = {c.code for c in categories}
    if "O" in codes and len(codes) > 1:
        findings.append(error("einvoice.category.mixed", invoice.where, "number",
                              f"{document.number}: lines 'not subject' to VAT cannot share an e-invoice with other VAT "
                              "regimes (rule BR-O-11): put them on an invoice of their own."))
    for c in categories:
        if c.rate and abs(abs(c.vat) - _rule_vat(c)) >= 1:
            findings.append(error(
                "einvoice.vat.tolerance", invoice.where, "number",
                f"{document.number}: its VAT at {c.rate} % is {abs(c.vat)}, computed on the lines; the e-invoice rules "
                f"(BR-CO-17) accept only less than 1.00 away from {abs(c.taxable)} x {c.rate} % = {_rule_vat(c)}, so "
                "the network would reject it. Set 'VAT booking' to 'on total' on the Settings sheet (VAT per rate "
                "on the document, as EN 16931 computes it), or split the invoice."))
    if codes & {"AE", "K"} and not buyer_vat:
        findings.append(error("einvoice.buyer.vat", customer.where, "vat_number",
                              f"{document.number}: reverse-charge and intra-community invoices must carry the buyer's VAT "
                              f"number: fill it in for {customer.customer_id}."))
    if len(findings) > before:
        return None
    allowance_total = ZERO
    for c in categories:
        allowance_total = plus(allowance_total, c.allowance)
    # The regrouping only adds: it must give back the booked amounts exactly, or nothing is written.
    if line_total - allowance_total != document.base or sum(map(_VAT, categories), ZERO) != document.vat:
        findings.append(error("einvoice.amounts.differ", invoice.where, "number",
                              f"{document.number}: the e-invoice's amounts would differ from its booking "
                              f"({line_total - allowance_total} net instead of {document.base}); nothing was written. "
                              "Please report this with the workbook."))
        return None
    not_subject = codes == {"O"}
    # Positional, in the order of model.EInvoice's fields: 23 keywords cost more, once per document.
    return EInvoice(
        seller["endpoint"][0], seller["endpoint"][1], seller["enterprise_number"],  # seller endpoint, enterprise number
        "" if not_subject else seller["vat"],  # seller_vat
        endpoint.scheme, endpoint.id, "" if not_subject else buyer_vat, country,  # buyer endpoint, VAT, country
        invoice.buyer_reference or document.number,  # buyer_reference
        "58" if document.currency == "EUR" else "30",  # payment_means_code
        payment_id(document.payment_reference) if document.payment_reference else "",  # payment_id
        seller["iban"], country if "K" in codes else "",  # iban, delivery_country
        line_total, allowance_total, document.base, document.vat,  # line_total, allowance_total, tax_exclusive, tax
        document.total, document.total,  # tax_inclusive, payable
        "", "", tuple(lines), categories,  # pdf_name, pdf_base64, lines, vat_categories
    )


def _rule_vat(category: EInvoiceCategory) -> Decimal:
    """The VAT that rules BR-CO-17 and BR-S-09 expect of a category: |taxable| x rate, rounded to the
    cent as their XPath round() does (half up on a positive amount)."""
    return (abs(category.taxable) * category.rate / 100).quantize(CENT, ROUND_HALF_UP)


def _iban_ok(account: str) -> bool:
    """The IBAN's own check digits (the bank registry of python-stdnum is not consulted: it does
    not know every bank, and Peppol does not check it either)."""
    try:
        iban_number.validate(account, check_country=False)
    except Exception:
        return False
    return True
