"""A small valid workbook as model objects, for tests that change one thing and look at the result."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

from toolkit import layout
from toolkit.model import Customer, Invoice, InvoiceLine, LedgerAccount, Settings, VatRule, Where, Workbook


def where(sheet: layout.Sheet, row: int) -> Where:
    return Where(sheet.name, row, {k: layout.column_letter(i) for i, k in enumerate(sheet.keys)})


def line(number="F1", row=2, quantity="1", price="100.00", rate="21", regime="domestic", account="700000",
         discount="0", **extra) -> InvoiceLine:
    return InvoiceLine(number, 1, "Work", D(quantity), D(price), D(discount), D(rate), regime, account, "manual",
                       where(layout.INVOICE_LINES, row), **extra)


def invoice(number="F1", row=2, day=dt.date(2026, 1, 10), customer="C1", lines=None, doc_type="invoice", **extra) -> Invoice:
    lines = (line(number),) if lines is None else tuple(lines)
    return Invoice(number, doc_type, day, customer, lines=lines, where=where(layout.INVOICES, row), **extra)


ACCOUNTS = (
    LedgerAccount("400000", "Customers", "receivable"),
    LedgerAccount("451000", "VAT", "VAT"),
    LedgerAccount("708000", "Discounts", "discount"),
    LedgerAccount("700000", "Sales 21", "revenue"),
    LedgerAccount("700060", "Sales 6", "revenue"),
    LedgerAccount("700300", "Sales intra-EU", "revenue"),
    LedgerAccount("700500", "Sales export", "revenue"),
    LedgerAccount("700600", "Sales reverse charge", "revenue"),
)
RULES = (
    VatRule(D(21), "domestic", None, None, "700000"),
    VatRule(D(6), "domestic", None, None, "700060"),
    VatRule(D(0), "intra-EU services", None, None, "700300"),
    VatRule(D(0), "intra-EU goods", None, None, "700300"),
    VatRule(D(0), "export", None, None, "700500"),
    VatRule(D(0), "reverse charge", None, None, "700600"),
)
CUSTOMERS = (
    Customer("C1", "Brouwerij NV", vat_number="BE0477472701", country="BE", where=where(layout.CUSTOMERS, 2)),
    Customer("C2", "Ontwerp BV", vat_number="NL004495445B01", country="NL", where=where(layout.CUSTOMERS, 3)),
    Customer("C3", "Alpine AG", country="CH", where=where(layout.CUSTOMERS, 4)),
)
SETTINGS = Settings(company_name="Atelier", company_vat="BE0477472701", discount_account="708000")


def workbook(invoices=None, **changes) -> Workbook:
    invoices = (invoice(),) if invoices is None else tuple(invoices)
    lines = tuple(l for i in invoices for l in i.lines)
    wb = Workbook("test.xlsx", SETTINGS, ACCOUNTS, RULES, CUSTOMERS, invoices, lines)
    return replace(wb, **changes)
