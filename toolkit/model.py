"""The toolkit's data: what the workbook holds, and what the accounting core computes from it.

Money is `Decimal` throughout. Input records carry a `where` that names their sheet and row and
maps each field to its column letter, so any finding can point at the exact cell.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import repeat
from typing import Mapping, NamedTuple

from toolkit import catalogue, layout


class Where(NamedTuple):
    """Sheet, row and the column letter of each field of one record (a tuple: the reader makes
    one per row, hundreds of thousands of them)."""

    sheet: str
    row: int  # 1-based Excel row
    columns: Mapping[str, str] = {}

    def cell(self, key: str | None = None) -> str:
        letter = self.columns.get(key, "A") if key else "A"
        return f"{letter}{self.row}"

    @classmethod
    def many(cls, sheet: str, rows: list[int], columns: Mapping[str, str]) -> list[Where]:
        """One per row, all sharing `columns`; made by `tuple.__new__` in one C-level map, without
        the named tuple's Python-level constructor per row."""
        return list(map(tuple.__new__, repeat(cls), zip(repeat(sheet), rows, repeat(columns))))


NOWHERE = Where("", 0)


@dataclass(frozen=True)
class Finding:
    """A problem found in a workbook: what (a stable id of `toolkit.catalogue`), how bad, where
    (sheet, Excel row, the layout column key, the cell reference) and what to do (the message)."""

    code: str  # stable id, e.g. line.account.missing
    severity: str  # error | warning
    sheet: str
    cell: str  # e.g. "M12"; "" for the whole sheet or workbook
    message: str
    row: int = 0  # 1-based Excel row; 0 when the finding is not on a row
    key: str = ""  # the layout column key, when known

    def __post_init__(self):
        if not self.row and self.cell:  # built from a cell reference alone
            digits = self.cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            object.__setattr__(self, "row", int(digits) if digits.isdigit() else 0)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def title(self) -> str:
        """Plain-language title of the id (the Check sheet's Problem column)."""
        return catalogue.title(self.code)


_SHEET_ORDER = {name.casefold(): i for i, name in enumerate(layout.ALL_SHEETS)}


def report_order(f: Finding) -> tuple:
    """How findings are listed (the command line, the Check sheet): by sheet in workbook order
    (other sheets after, by name), then by row and column, a finding on no cell after them."""
    letters = f.cell.rstrip("0123456789")
    return (_SHEET_ORDER.get(f.sheet.casefold(), len(_SHEET_ORDER)), f.sheet, not f.row, f.row, len(letters), letters)


def _finding(code: str, severity: str, where: Where, key: str | None, message: str) -> Finding:
    cell = where.cell(key) if where.row else ""
    return Finding(code, severity, where.sheet, cell, message, where.row, key or "")


def first_named(names: list[str], shown: int = 10) -> str:
    """The first `shown` of `names` for a message, and how many more: 'A, B and 3 more'."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def error(code: str, where: Where, key: str | None, message: str) -> Finding:
    return _finding(code, "error", where, key, message)


def warning(code: str, where: Where, key: str | None, message: str) -> Finding:
    return _finding(code, "warning", where, key, message)


# ---- input -------------------------------------------------------------------------------------
# The records a workbook's rows become are slotted, not frozen: a big workbook makes hundreds of
# thousands of them, and frozen construction (one object.__setattr__ per field) costs several times
# as much, with a __dict__ per object. `unsafe_hash` keeps them hashable by value, as frozen made
# them; nothing changes them after the reader (a changed copy is made with `dataclasses.replace`).


def _default(key: str):
    value = layout.SETTINGS_BY_KEY[key].default
    return "" if value is None and layout.SETTINGS_BY_KEY[key].type not in ("date", "int") else value


@dataclass(frozen=True)
class Settings:
    """The Settings sheet; defaults come from `layout.SETTINGS`, where each setting is declared."""

    company_name: str = _default("company_name")
    company_vat: str = _default("company_vat")
    company_country: str = _default("company_country")
    company_enterprise_number: str = _default("company_enterprise_number")
    company_address: str = _default("company_address")
    company_postal_code: str = _default("company_postal_code")
    company_city: str = _default("company_city")
    iban: str = _default("iban")
    package: str = _default("package")
    period_from: dt.date | None = _default("period_from")
    period_to: dt.date | None = _default("period_to")
    vat_booking: str = _default("vat_booking")
    rounding: str = _default("rounding")
    export_customers: bool = _default("export_customers")
    invoice_journal: str = _default("invoice_journal")
    credit_note_journal: str = _default("credit_note_journal")
    receivables_account: str = _default("receivables_account")
    vat_account: str = _default("vat_account")
    discount_account: str = _default("discount_account")
    require_discount_account: bool = _default("require_discount_account")
    customer_numbering: str = _default("customer_numbering")
    customer_number_start: int | None = _default("customer_number_start")  # None: the package's default
    output_folder: str = _default("output_folder")
    pdf_folder: str = _default("pdf_folder")
    # Rows of the Settings sheet that are not general settings: the package's parameters,
    # by the label (or name) written in the Setting column.
    extra: Mapping[str, object] = field(default_factory=dict)
    where: Mapping[str, Where] = field(default_factory=dict, compare=False, repr=False)

    def cell(self, key: str) -> Where:
        """Where a setting (or a package parameter, by its label) is; the sheet when unknown."""
        return self.where.get(key) or Where(layout.SETTINGS_SHEET, 0)

    def journal(self, doc_type: str) -> str:
        """The journal a document of this type is booked in."""
        return getattr(self, self.journal_key(doc_type))

    @staticmethod
    def journal_key(doc_type: str) -> str:
        """The setting that names the journal of a document of this type."""
        return "credit_note_journal" if doc_type == "credit note" else "invoice_journal"


@dataclass(slots=True, unsafe_hash=True)
class LedgerAccount:
    account: str
    name: str
    kind: str
    active: bool = True
    where: Where = field(default=NOWHERE, compare=False, repr=False)


@dataclass(slots=True, unsafe_hash=True)
class VatRule:
    rate: Decimal
    regime: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    revenue_account: str
    where: Where = field(default=NOWHERE, compare=False, repr=False)

    def covers(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(slots=True, unsafe_hash=True)
class VatCode:
    """A row of the VAT codes sheet: the workbook's own code for a package, regime, rate (None =
    any) and document type ("" = both)."""

    package: str
    regime: str
    rate: Decimal | None
    doc_type: str
    code: str
    where: Where = field(default=NOWHERE, compare=False, repr=False)


@dataclass(slots=True, unsafe_hash=True)
class Customer:
    customer_id: str
    name: str
    kind: str = "company"
    vat_number: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""
    peppol_id: str = ""
    language: str = ""
    email: str = ""
    phone: str = ""
    payment_terms: int | None = None
    accounting_number: str = ""
    number_source: str = ""
    import_batch: str = ""
    where: Where = field(default=NOWHERE, compare=False, repr=False)


SHOWN = ("net", "vat", "total")  # the computed amounts a row's `shown` holds, in this order


@dataclass(slots=True, unsafe_hash=True)
class InvoiceLine:
    invoice_number: str
    line: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal
    vat_rate: Decimal
    vat_regime: str = "domestic"
    ledger_account: str = ""
    account_source: str = ""
    where: Where = field(default=NOWHERE, compare=False, repr=False)
    # What the workbook's computed columns showed, in SHOWN order (each the float its cell holds,
    # the Decimal a text read as, or None; `values.shown_amount` gives the Decimal), when a program
    # that calculates (Excel) saved them, else (); `toolkit.computed` compares them with the
    # toolkit's amounts.
    shown: tuple = field(default=(), compare=False, repr=False)


@dataclass(slots=True, unsafe_hash=True)
class Invoice:
    number: str
    doc_type: str  # invoice | credit note
    date: dt.date
    customer_id: str
    due_date: dt.date | None = None
    currency: str = "EUR"
    payment_reference: str = ""
    description: str = ""
    discount_pct: Decimal = Decimal(0)
    credited_invoice: str = ""
    buyer_reference: str = ""
    exported_in: str = ""
    einvoice_in: str = ""
    lines: tuple[InvoiceLine, ...] = ()
    where: Where = field(default=NOWHERE, compare=False, repr=False)
    total_as_issued: Decimal | None = None  # the total incl. VAT the invoicing software printed
    shown: tuple = field(default=(), compare=False, repr=False)  # as InvoiceLine

    @property
    def is_credit_note(self) -> bool:
        return self.doc_type == "credit note"


@dataclass(frozen=True)
class Workbook:
    """Everything read from one workbook, plus what the reader found wrong while reading."""

    path: str
    settings: Settings
    accounts: tuple[LedgerAccount, ...]
    vat_rules: tuple[VatRule, ...]
    customers: tuple[Customer, ...]
    invoices: tuple[Invoice, ...]
    lines: tuple[InvoiceLine, ...]
    findings: tuple[Finding, ...] = ()
    vat_codes: tuple[VatCode, ...] = ()


# ---- accounting output (what specs render; the spec never computes money) ---------------------
# Slotted, not frozen: a big export makes millions of these, and frozen construction costs five
# times as much. Only `accounting.build_document` creates them; only the export sets
# `Document.sequence` (and empties the postings and groups of an e-invoice's document when its spec
# reads none of them: `app.export._account`); nothing else changes them.


@dataclass(slots=True)
class Posting:
    """One accounting line. `amount` is signed: debit positive, credit negative."""

    kind: str  # receivable | revenue | discount | vat (one per VAT group, 0 % groups included)
    account: str
    amount: Decimal
    description: str = ""
    vat_rate: Decimal | None = None
    vat_regime: str = ""
    vat_code: str = ""
    vat_base: Decimal = Decimal(0)  # VAT lines: the base, positive in document terms
    vat_amount: Decimal = Decimal(0)  # receivable: total VAT; vat: the VAT, document terms
    order: int = 0  # position within the document, 1-based

    @property
    def debit(self) -> Decimal:
        return self.amount if self.amount > 0 else Decimal("0.00")

    @property
    def credit(self) -> Decimal:
        return -self.amount if self.amount < 0 else Decimal("0.00")

    @property
    def side(self) -> str:
        return "debit" if self.amount >= 0 else "credit"


@dataclass(slots=True)
class VatGroup:
    """VAT of one rate and regime on a document, in document terms (positive on credit notes)."""

    rate: Decimal
    regime: str
    vat_code: str
    base: Decimal
    vat: Decimal


@dataclass(slots=True)
class RevenueGroup:
    """Revenue of one ledger account, rate and regime on a document, in document terms. `vat` is
    the VAT on this revenue (packages such as DATEV book revenue VAT-inclusive, per account)."""

    account: str
    rate: Decimal
    regime: str
    vat_code: str
    gross: Decimal
    discount: Decimal
    net: Decimal
    vat: Decimal = Decimal("0.00")

    @property
    def total(self) -> Decimal:
        return self.net + self.vat


@dataclass(slots=True)
class LineAmount:
    """One invoice line's amounts, in document terms: gross = round(quantity x unit price); net
    after the line discount; taxable after its share of the invoice discount."""

    line: InvoiceLine
    quantity: Decimal  # in document terms (a credit note typed negative: positive here)
    gross: Decimal
    discount: Decimal  # the line discount
    net: Decimal
    invoice_discount: Decimal = Decimal("0.00")
    taxable: Decimal = Decimal("0.00")


@dataclass(slots=True)
class Document:
    number: str
    doc_type: str
    date: dt.date
    due_date: dt.date
    customer: Customer
    journal: str
    description: str
    payment_reference: str
    currency: str
    base: Decimal  # total excluding VAT, document terms
    vat: Decimal  # total VAT, document terms
    total: Decimal  # base + vat
    postings: tuple[Posting, ...]
    vat_groups: tuple[VatGroup, ...]
    revenue_groups: tuple[RevenueGroup, ...]
    credited_invoice: str = ""
    sequence: int = 0  # 1-based position within its journal in this export
    einvoice: EInvoice | None = None  # set by the export for e-invoice packages only
    invoice: Invoice | None = field(default=None, compare=False, repr=False)

    @property
    def is_credit_note(self) -> bool:
        return self.doc_type == "credit note"

    @property
    def sign(self) -> int:
        return -1 if self.is_credit_note else 1


@dataclass(slots=True)
class EInvoiceLine:
    """A line of an e-invoice (UBL InvoiceLine / CreditNoteLine): the accounting's line amounts.
    `net` is the line extension amount (after the line discount, before the invoice discount)."""

    position: int
    description: str
    quantity: Decimal  # negative for a negative line (the price stays positive)
    unit_price: Decimal
    discount_pct: Decimal
    gross: Decimal  # the line discount's base
    discount: Decimal
    net: Decimal
    rate: Decimal
    category: str  # UNCL5305 VAT category code


@dataclass(slots=True)
class EInvoiceCategory:
    """The VAT breakdown of one category and rate, and the invoice discount on it."""

    code: str
    rate: Decimal
    reason_code: str
    reason: str
    line_total: Decimal  # sum of its lines' net
    discount_pct: Decimal  # the invoice discount %
    allowance: Decimal  # the invoice discount on it
    taxable: Decimal  # line_total - allowance
    vat: Decimal


@dataclass(slots=True)
class EInvoice:
    """What a UBL e-invoice needs beyond the booking, decided by `toolkit.peppol.einvoice`."""

    seller_endpoint_scheme: str
    seller_endpoint: str
    seller_enterprise_number: str
    seller_vat: str  # empty when the rules forbid it (category O)
    buyer_endpoint_scheme: str
    buyer_endpoint: str
    buyer_vat: str
    buyer_country: str  # the customer's, else the company's country
    buyer_reference: str
    payment_means_code: str  # 58 SEPA credit transfer, 30 credit transfer
    payment_id: str
    iban: str
    delivery_country: str  # intra-community supply (K) must say where the goods went
    line_total: Decimal
    allowance_total: Decimal
    tax_exclusive: Decimal
    tax: Decimal
    tax_inclusive: Decimal
    payable: Decimal
    pdf_name: str
    pdf_base64: str
    lines: tuple[EInvoiceLine, ...]
    vat_categories: tuple[EInvoiceCategory, ...]


@dataclass(frozen=True)
class Batch:
    """What one export renders: the input of a package spec."""

    export_id: str
    created_at: dt.datetime
    period_from: dt.date
    period_to: dt.date
    settings: Settings
    params: Mapping[str, object]  # the package's parameters, resolved and typed
    documents: tuple[Document, ...]
    customers: tuple[Customer, ...]  # customers of the documents, with their accounting numbers
    accounts: tuple[LedgerAccount, ...]  # ledger accounts used by the postings, sorted
