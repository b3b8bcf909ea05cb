"""The preview: what the next export would carry, shown before anything is written.

It is the export's plan (`plan_export`), laid out for an accountant: every document of the period
with its status (new, already exported, blocked by an error), the customers the export would write
with their accounting numbers, and the totals the import can be checked against — per journal, per
ledger account and per VAT code. Totals are summed in integer cents (pandas), never in floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from toolkit import layout
from toolkit.app.export import ExportPlan
from toolkit.book.writeback import Edits
from toolkit.model import Finding

CENTS = Decimal(100)


@dataclass
class Preview:
    rows: list[dict]  # one per line of the Preview sheet, by layout.PREVIEW key
    links: list[str | None]  # an internal link per row (a blocked document's first error), or None
    message: str


def preview(plan: ExportPlan) -> Preview:
    wb = plan.workbook
    exported = plan.exported
    customers = {c.customer_id: c for c in wb.customers}
    documents = {d.number: d for d in plan.documents}
    errors = _first_error_per_invoice(plan.blocking, wb)
    rows, links = [], []

    def add(values: dict, link: str | None = None) -> None:
        rows.append({key: values.get(key) for key in layout.PREVIEW.keys})
        links.append(link)

    chosen = {i.number for i in plan.selected}
    for invoice in sorted(plan.in_period, key=lambda i: (i.date, i.number)):
        customer = customers.get(invoice.customer_id)
        document = documents.get(invoice.number)
        number = customer.accounting_number if customer else ""
        if not number and invoice.customer_id in plan.generated:
            number = f"{plan.generated[invoice.customer_id]} (new)"
        error = errors.get(invoice.number)
        if invoice.number in plan.skipped:
            status = f"not written by this package: {plan.skipped[invoice.number]}"
        elif invoice.number not in chosen:
            status = f"exported in {exported.get(invoice.number, '?')}"
        elif error is not None:
            status = f"blocked: {error.message}"
        elif plan.status == "ready":
            status = "new"
        else:
            status = "waits for the errors above to be fixed"
        add({"section": "Document", "item": invoice.number, "date": invoice.date,
             "customer": f"{invoice.customer_id} {customer.name}" if customer else invoice.customer_id,
             "accounting_number": number, "journal": document.journal if document else "",
             "net": document.base * document.sign if document else None,
             "vat": document.vat * document.sign if document else None,
             "total": document.total * document.sign if document else None, "status": status},
            f"#'{error.sheet}'!{error.cell}" if error is not None and error.cell else None)

    written = {d.customer.customer_id: d.customer for d in plan.documents}
    for customer_id in sorted(written):
        c = written[customer_id]
        add({"section": "Customer", "item": customer_id, "customer": c.name,
             "accounting_number": c.accounting_number,
             "status": "number given by this export" if customer_id in plan.generated else ""})

    for section, table in _totals(plan).items():
        for item, journal, net, vat, total in table:
            add({"section": section, "item": item, "journal": journal, "net": net, "vat": vat, "total": total})

    new = sum(1 for r in rows if r["section"] == "Document" and r["status"] == "new")
    return Preview(rows, links, f"{plan.message} Preview: {new} new document(s), "
                                f"{sum(1 for r in rows if r['section'] == 'Document')} in the period.")


def _first_error_per_invoice(blocking: list[Finding], wb) -> dict[str, Finding]:
    by_row = {}
    for invoice in wb.invoices:
        by_row[(layout.INVOICES.name, invoice.where.row)] = invoice.number
        for line in invoice.lines:
            by_row[(layout.INVOICE_LINES.name, line.where.row)] = invoice.number
    first = {}
    for finding in blocking:
        number = by_row.get((finding.sheet, finding.row))
        if number is not None:
            first.setdefault(number, finding)
    return first


def _totals(plan: ExportPlan) -> dict[str, list[tuple]]:
    """Per journal (documents' net, VAT, total), per ledger account (debit, credit, balance) and
    per VAT code (base, VAT, base + VAT), in the export's own signs. Integer cents in, Decimal out."""
    if not plan.documents:
        return {}
    docs = pd.DataFrame([(d.journal, _cents(d.base * d.sign), _cents(d.vat * d.sign), _cents(d.total * d.sign))
                         for d in plan.documents], columns=["journal", "net", "vat", "total"])
    postings = pd.DataFrame([(p.account, _cents(p.debit), _cents(p.credit), p.kind, p.vat_code,
                              _cents(p.vat_base) * d.sign, _cents(p.vat_amount) * d.sign)
                             for d in plan.documents for p in d.postings],
                            columns=["account", "debit", "credit", "kind", "vat_code", "base", "vat"])
    per_journal = docs.groupby("journal", sort=True)[["net", "vat", "total"]].sum()
    per_account = postings.groupby("account", sort=True)[["debit", "credit"]].sum()
    vat = postings[postings["kind"] == "vat"]
    per_code = vat.groupby("vat_code", sort=True)[["base", "vat"]].sum()
    return {
        "Total per journal": [(j, j, _money(r.net), _money(r.vat), _money(r.total)) for j, r in per_journal.iterrows()],
        "Total per account (debit, credit, balance)": [
            (a, "", _money(r.debit), _money(r.credit), _money(r.debit - r.credit)) for a, r in per_account.iterrows()],
        "Total per VAT code (base, VAT, together)": [
            (c or "(none)", "", _money(r.base), _money(r.vat), _money(r.base + r.vat)) for c, r in per_code.iterrows()],
    }


def _cents(amount: Decimal) -> int:
    return int(amount * CENTS)  # amounts are already rounded to the cent


def _money(cents) -> Decimal:
    return Decimal(int(cents)) / CENTS


def preview_edits(shown: Preview) -> Edits:
    """The Preview sheet rewritten with these rows (a blocked document links to its error)."""
    rows = [[row[key] for key in layout.PREVIEW.keys] for row in shown.rows]
    return Edits().replace_rows(layout.PREVIEW.name, rows, shown.links, link_key="status")
