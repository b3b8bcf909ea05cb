"""Accounting customer numbers as an export gives them: the numbers an earlier export handed out
again, then the next free ones from the start value, in order of first invoice date, then id.

The rules themselves (pattern, range, order) are pure and live in `toolkit.customers.numbers`;
this module adds what only the application knows: the register of earlier exports.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterable, Mapping

from toolkit import layout
from toolkit.app.context import history, output_root
from toolkit.app.register import given_numbers
from toolkit.book.writeback import Edits
from toolkit.customers import numbers
from toolkit.model import Customer, Finding, Invoice, Workbook, error
from toolkit.spec import load_spec, resolve_params


def number_customers(wb: Workbook, chosen: Iterable[Customer], invoices: Iterable[Invoice],
                     earlier_exports: list[dict], rules: Mapping) -> tuple[dict[str, str], list[Finding]]:
    """Numbers for the `chosen` customers that have none: {customer id: number}, or the findings
    that prevent giving them (manual numbering, no free number left)."""
    missing = [c for c in chosen if not c.accounting_number]
    if not missing:
        return {}, []
    if wb.settings.customer_numbering == "manage manually":
        return {}, [error("customer.number.missing", c.where, "accounting_number",
                          f"Customer {c.customer_id} is in this export but has no accounting customer number: "
                          f"type it, or set 'Customer numbers' to generate automatically.") for c in missing]
    earlier = given_numbers(earlier_exports)
    generated = {c.customer_id: earlier[c.customer_id] for c in missing if c.customer_id in earlier}
    first_date: dict[str, dt.date] = {}
    for invoice in invoices:
        if invoice.date and (invoice.customer_id not in first_date or invoice.date < first_date[invoice.customer_id]):
            first_date[invoice.customer_id] = invoice.date
    needing = numbers.order_for_numbering([c for c in missing if c.customer_id not in generated], first_date)
    used = {c.accounting_number for c in wb.customers if c.accounting_number} | set(earlier.values())
    try:
        generated.update(numbers.assign_numbers(needing, used, start_value(wb, rules), rules))
    except numbers.NumberingError as exc:
        where = wb.settings.cell("customer_number_start")
        return {}, [error("customer.number.generate", where, "value",
                          f"Cannot generate customer numbers: {exc}. The package takes {numbers.describe(rules)}: "
                          f"empty 'Customer number start' to start at {numbers.default_start(rules)}, or type a start that fits.")]
    return generated, []


def number_findings(wb: Workbook, rules: Mapping) -> list[Finding]:
    """The checks on the numbers customers already carry: the start value, one number per
    customer, and every number valid for the package."""
    typed = wb.settings.customer_number_start
    # A start the package cannot take at all is customer.number.generate's (one finding per mistake).
    fits = typed is not None and numbers.check_number(str(typed), rules) is None
    low = numbers.start_value_findings(typed, wb.settings.cell("customer_number_start"),
                                       usual=numbers.default_start(rules)) if fits else []
    return (low
            + numbers.duplicate_number_findings(wb.customers)
            + numbers.invalid_number_findings(wb.customers, rules))


def start_value(wb: Workbook, rules: Mapping) -> int:
    """The Settings' start, or the package's default when it is empty."""
    typed = wb.settings.customer_number_start
    return numbers.default_start(rules) if typed is None else typed


def package_number_rules(wb: Workbook) -> dict:
    """The Settings' package's customer number rules for the Settings' parameters (for 'Assign
    customer numbers'; an export takes them from its own validation)."""
    spec = load_spec(wb.settings.package)
    params, _ = resolve_params(spec, wb.settings)
    return spec.customer_number_rules(params)


def number_edits(edits: Edits, wb: Workbook, generated: Mapping[str, str]) -> Edits:
    """Generated numbers written beside their customers, with source 'generated'."""
    rows = {c.customer_id: c.where.row for c in wb.customers}
    for customer_id, number in generated.items():
        edits.set(layout.CUSTOMERS.name, rows[customer_id], "accounting_number", number)
        edits.set(layout.CUSTOMERS.name, rows[customer_id], "number_source", "generated")
    return edits


def plan_assign(wb: Workbook, book: Path, rules: Mapping, out_dir: Path | None = None) -> tuple[Edits, str, list[Finding]]:
    """'Assign customer numbers': every customer without a number gets one now, as an export would
    give it (same order, same rules, numbers handed out by earlier exports kept)."""
    if wb.settings.customer_numbering == "manage manually":
        return Edits(), "Customer numbers are managed manually (see Settings): nothing was assigned.", []
    earlier = history(wb, output_root(wb.settings, book, out_dir))
    customers = [c for c in wb.customers if c.customer_id]
    generated, findings = number_customers(wb, customers, wb.invoices, earlier, rules)
    if findings:
        return Edits(), f"No numbers assigned: {findings[0].message}", findings
    if not generated:
        return Edits(), "Every customer already has an accounting customer number.", []
    given = sorted(generated.values(), key=numbers.natural_key)
    return (number_edits(Edits(), wb, generated),
            f"{len(generated)} customer(s) got a number ({given[0]} to {given[-1]}).", [])
