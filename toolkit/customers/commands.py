"""The customer operations on a workbook file: what the CLI and the Excel buttons both call.

Each command reads the workbook, decides with the pure functions of this package and writes back
only through `toolkit.writeback` (backup, atomic replace, ribbon kept), in one write or none.
Commands return an `Outcome` to show; a mistake the user can fix raises `CustomerCommandError`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from toolkit import layout
from toolkit.customers import duplicates as dup
from toolkit.customers.apply import ImportRow, apply_actions
from toolkit.customers.match import ACTIONS, AMBIGUOUS, CONFLICT, NEW, SKIP, match_rows
from toolkit.customers.paste import Paste, cell_text, parse_paste, read_table_file
from toolkit.layout import Column
from toolkit.model import Customer, Workbook
from toolkit.values import fold_header

SHEET = layout.CUSTOMER_IMPORT.name

# The match result columns of the Customer import sheet. They belong in layout.CUSTOMER_IMPORT
# (after "Pasted data"); until they are declared there, this is their one declaration.
_PROPOSED_RESULT_COLUMNS = (
    Column("match_customer_id", "Match: customer id", "code", help="The existing customer this row belongs to. Change it to pick another customer.", width=14),
    Column("match_confidence", "Match: confidence", "int", help="0-100: how sure the match is (100 = same VAT number).", width=10, output=True),
    Column("match_method", "Match: method", help="What matched: VAT number, name and postal code, customer number, similar name.", width=18, output=True),
    Column("action", "Action", "choice", choices=ACTIONS, help="What 'Apply' does with the row; change it if you disagree.", width=16),
    Column("note", "Note", help="Why this action; after 'Apply': what was done or refused.", width=60, output=True),
)
RESULT_KEYS = tuple(c.key for c in _PROPOSED_RESULT_COLUMNS)


def result_columns() -> tuple[Column, ...]:
    declared = {c.key: c for c in layout.CUSTOMER_IMPORT.columns}
    return tuple(declared.get(c.key, c) for c in _PROPOSED_RESULT_COLUMNS)


class CustomerCommandError(Exception):
    """A customer command that cannot go ahead; the message tells the user what to do."""


@dataclass
class Outcome:
    message: str
    details: list[str] = field(default_factory=list)
    backup: Path | None = None
    data: object = None

    def text(self) -> str:
        return "\n".join([self.message, *(f"  {d}" for d in self.details)])


def _write(path, edits) -> Path | None:
    from toolkit.writeback import write_back

    return write_back(path, edits) if edits else None


def _edits():
    from toolkit.writeback import Edits

    return Edits()


def _read(path) -> Workbook:
    from toolkit.read import read_workbook

    return read_workbook(path)


# ---- the Customer import sheet ------------------------------------------------------------------

_SHEET_HEADER = re.compile(r"pasted data|column\d+")  # the template's header; Excel's "Column2"...


@dataclass
class _ImportSheet:
    paste: Paste
    excel_rows: list[int]  # Excel row of each record
    results: dict[str, int]  # result key -> 0-based column, for the result columns present
    values: dict[int, dict[str, str]]  # Excel row -> result key -> text, as the sheet has them
    stale: list[int]  # Excel rows holding results but no pasted data any more


def _read_import_sheet(path, company_country: str) -> _ImportSheet:
    from toolkit.read import Grid

    grid = Grid(path)
    actual = grid.find_sheet(SHEET)
    if actual is None:
        raise CustomerCommandError(f"The workbook has no '{SHEET}' sheet: add it (ledger-export workbook upgrade) and paste there.")
    original = grid.rows(actual)
    rows = [list(r) for r in original]
    header = [cell_text(v) for v in rows[0]] if rows else []
    by_header = {fold_header(c.header): c.key for c in result_columns()}
    results = {by_header[fold_header(h)]: i for i, h in enumerate(header) if fold_header(h) in by_header}
    first = min(results.values(), default=None)
    for r in rows:  # the paste is what lies left of the result columns
        for i in results.values():
            if i < len(r):
                r[i] = None
    own_header = all(not h or _SHEET_HEADER.fullmatch(fold_header(h)) for i, h in enumerate(header) if i not in results.values())
    start = 1 if own_header else 0
    paste_rows = [r[:first] if first is not None else r for r in rows[start:]]
    paste = parse_paste(paste_rows, default_country=company_country)
    excel_rows = [start + i + 1 for i in paste.rows]
    if paste.records and paste.header_row is None and excel_rows[0] == 1:
        raise CustomerCommandError(
            f"The paste on '{SHEET}' starts in row 1 without a header row, so the match columns have no row for "
            "their headers: paste the list with its header row (e.g. Number, Name, VAT, Postal code, City).")
    if results and first is not None and any(any(cell_text(v) for v in r[first:]) for r in rows if r):
        raise CustomerCommandError(
            f"The paste on '{SHEET}' reaches into or past the match columns: clear the sheet, or delete the columns "
            f"from '{header[first]}' on, and paste again.")
    _check_room(rows, header, results)
    values = {
        i + 1: {k: cell_text(original[i][c]) if c < len(original[i]) else "" for k, c in results.items()}
        for i in range(1, len(original))
    } if results else {}
    _check_result_values(values, header, results)
    pasted = set(excel_rows) | ({start + paste.header_row + 1} if paste.header_row is not None else set())
    stale = [r for r, v in values.items() if any(v.values()) and r not in pasted]
    return _ImportSheet(paste, excel_rows, results, values, stale)


def _check_room(rows: list[list], header: list[str], results: dict[str, int]) -> None:
    """Never write results over pasted data.

    The write-back finds a column by its header in row 1 and adds a missing one after the last
    header. A paste below row 1 that is wider than row 1's headers would be overwritten by the
    new columns, so that is refused until the results can go right of the paste.
    """
    missing = [k for k in RESULT_KEYS if k not in results]
    if not missing:
        return
    last_header = max((i for i, h in enumerate(header) if h), default=-1)
    width = max((i for r in rows[1:] for i, v in enumerate(r) if cell_text(v)), default=-1)
    if last_header < width:
        raise CustomerCommandError(
            f"The paste on '{SHEET}' is wider than its header row, and the match columns would be written over "
            f"pasted data. Paste the list with its header row into cell A1.")


def _check_result_values(values: dict[int, dict[str, str]], header: list[str], results: dict[str, int]) -> None:
    """Pasted data under the match headers (a list pasted too wide) must not be taken for results."""
    known = {a.casefold() for a in ACTIONS}
    for row, v in values.items():
        bad_action = v.get("action") and " ".join(v["action"].split()).casefold() not in known
        bad_confidence = v.get("match_confidence") and not re.fullmatch(r"\d{1,3}", v["match_confidence"])
        if bad_action or bad_confidence:
            key = "action" if bad_action else "match_confidence"
            raise CustomerCommandError(
                f"Row {row} of '{SHEET}' has {v[key]!r} under '{header[results[key]]}': the paste seems to overlap the "
                f"match columns. Clear the sheet (or delete the match columns) and paste again.")


def _require_recognised(paste: Paste, source: str) -> None:
    if not paste.records:
        raise CustomerCommandError(f"{source} is empty: paste the customer list of the accounting package first.")
    if "number" not in paste.columns.values() or not {"name", "vat"} & set(paste.columns.values()):
        raise CustomerCommandError(
            f"Could not tell which columns of {source} hold the customer number and the name or VAT number "
            f"({paste.describe()}). Include the header row, e.g. Number, Name, VAT, Postal code, City.")


def _count(actions: Sequence[str]) -> str:
    counts = {a: sum(1 for x in actions if x == a) for a in ACTIONS}
    return ", ".join(f"{n} {a}" for a, n in counts.items() if n)


# ---- commands -----------------------------------------------------------------------------------


def match_paste(path) -> Outcome:
    """Propose a customer and an action beside each pasted row of the Customer import sheet."""
    wb = _read(path)
    sheet = _read_import_sheet(path, wb.settings.company_country)
    _require_recognised(sheet.paste, f"the '{SHEET}' sheet")
    labels = [f"row {r}" for r in sheet.excel_rows]
    matches = match_rows(sheet.paste.records, wb.customers, wb.settings.company_country, labels)
    edits = _edits()
    for row, m in zip(sheet.excel_rows, matches):
        for key, value in zip(RESULT_KEYS, (m.customer_id, m.confidence if m.customer_id or m.confidence else None, m.method, m.action, m.note)):
            edits.set(SHEET, row, key, value if value != "" else None)
    for row in sheet.stale:
        for key in RESULT_KEYS:
            edits.set(SHEET, row, key, None)
    backup = _write(path, edits)
    details = [f"{label}: {m.action}{' ' + m.customer_id if m.customer_id else ''}{': ' + m.note if m.note else ''}"
               for label, m in zip(labels, matches) if m.action in (CONFLICT, AMBIGUOUS)]
    return Outcome(f"Matched {len(matches)} pasted row(s) ({sheet.paste.describe()}): {_count([m.action for m in matches])}. "
                   "Review the Action column, then apply.", details, backup, matches)


def _customer_row(c: Customer) -> list:
    return [getattr(c, key) for key in layout.CUSTOMERS.keys]


def _customer_edits(edits, wb: Workbook, numbers: dict[str, str], new: list[Customer]) -> None:
    by_id = {c.customer_id: c for c in wb.customers}
    for cid, number in numbers.items():
        row = by_id[cid].where.row
        edits.set(layout.CUSTOMERS.name, row, "accounting_number", number)
        edits.set(layout.CUSTOMERS.name, row, "number_source", "imported")
    if new:
        edits.append_rows(layout.CUSTOMERS.name, [_customer_row(c) for c in new])


def new_batch_id(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now()).strftime("IMP-%Y%m%d-%H%M%S")


def apply_matches(path, now: dt.datetime | None = None) -> Outcome:
    """Carry out the Action column of the Customer import sheet."""
    wb = _read(path)
    sheet = _read_import_sheet(path, wb.settings.company_country)
    if "action" not in sheet.results:
        raise CustomerCommandError(f"The '{SHEET}' sheet has no Action column yet: match the pasted rows first.")
    rows = [
        ImportRow(f"row {r}", rec, sheet.values.get(r, {}).get("match_customer_id", ""), sheet.values.get(r, {}).get("action", ""))
        for r, rec in zip(sheet.excel_rows, sheet.paste.records)
    ]
    batch = new_batch_id(now)
    result = apply_actions(rows, wb.customers, batch, wb.settings.company_country)
    edits = _edits()
    _customer_edits(edits, wb, result.numbers, result.new_customers)
    for r, row, outcome in zip(sheet.excel_rows, rows, result.rows):
        if outcome.note:
            edits.set(SHEET, r, "match_customer_id", outcome.customer_id or None)
            edits.set(SHEET, r, "action", outcome.action or None)
            edits.set(SHEET, r, "note", outcome.note)
    backup = _write(path, edits)
    summary = ", ".join(f"{n} {what}" for what, n in sorted(result.summary.items())) or "nothing to do"
    details = [f"{rows[i].label}: {note}" for i, note in result.refused]
    batch_note = f" New customers carry import batch {batch}." if result.new_customers else ""
    return Outcome(f"Applied: {summary}.{batch_note}", details, backup, result)


def import_file(path, file, create_new: bool = False, dry_run: bool = False, now: dt.datetime | None = None) -> Outcome:
    """Match a CSV/XLSX customer list against the workbook and apply the sure proposals.

    Nobody reviews in between, so conflicts and ambiguous rows are only listed, and rows that
    would create a customer do so only with `create_new`.
    """
    wb = _read(path)
    try:
        raw = read_table_file(file)
    except (OSError, ValueError) as exc:
        raise CustomerCommandError(f"Cannot read {file}: {exc}") from None
    paste = parse_paste(raw, default_country=wb.settings.company_country)
    _require_recognised(paste, str(file))
    labels = [f"line {i + 1}" for i in paste.rows]
    matches = match_rows(paste.records, wb.customers, wb.settings.company_country, labels)
    accepted = [m.action if m.action != NEW or create_new else SKIP for m in matches]
    rows = [ImportRow(label, rec, m.customer_id, action) for label, rec, m, action in zip(labels, paste.records, matches, accepted)]
    batch = new_batch_id(now)
    result = apply_actions(rows, wb.customers, batch, wb.settings.company_country)
    details = [f"{label}: {m.action}{' ' + m.customer_id if m.customer_id else ''}: {m.note}"
               for label, m in zip(labels, matches) if m.action in (CONFLICT, AMBIGUOUS)]
    details += [f"{rows[i].label}: {note}" for i, note in result.refused]
    skipped_new = sum(1 for m in matches if m.action == NEW and not create_new)
    tail = f"; {skipped_new} unknown customer(s) not created (use --create-new)" if skipped_new else ""
    summary = ", ".join(f"{n} {what}" for what, n in sorted(result.summary.items())) or "nothing to do"
    if dry_run:
        return Outcome(f"Dry run, nothing written. Would do: {summary}{tail}.", details, None, result)
    edits = _edits()
    _customer_edits(edits, wb, result.numbers, result.new_customers)
    backup = _write(path, edits)
    batch_note = f" New customers carry import batch {batch}." if result.new_customers else ""
    return Outcome(f"Imported {file}: {summary}{tail}.{batch_note}", details, backup, result)


def find_duplicates(path) -> Outcome:
    wb = _read(path)
    groups = dup.find_duplicates(wb.customers, dup.invoice_counts(wb.invoices), wb.settings.company_country)
    names = {c.customer_id: c.name for c in wb.customers}
    details = []
    for g in groups:
        details.append(f"keep {g.keeper} ({names[g.keeper]}):")
        for d in g.duplicates:
            blocked = f" [cannot merge: {g.blocked[d]}]" if d in g.blocked else ""
            details.append(f"    {d} ({names[d]}): {g.reasons[d]}{blocked}")
    return Outcome(f"{len(groups)} group(s) of likely duplicate customers.", details, None, groups)


def merge_customers(path, keeper: str, duplicate: str) -> Outcome:
    wb = _read(path)
    try:
        plan = dup.merge(wb.customers, wb.invoices, keeper.strip(), duplicate.strip())
    except dup.MergeError as exc:
        raise CustomerCommandError(f"Merge refused: {exc}. Nothing was changed.") from None
    by_id = {c.customer_id: c for c in wb.customers}
    edits = _edits()
    moving = set(plan.invoices)
    for invoice in wb.invoices:
        if invoice.number in moving and invoice.customer_id == plan.duplicate:
            edits.set(layout.INVOICES.name, invoice.where.row, "customer_id", plan.keeper)
    if plan.number:
        row = by_id[plan.keeper].where.row
        edits.set(layout.CUSTOMERS.name, row, "accounting_number", plan.number)
        edits.set(layout.CUSTOMERS.name, row, "number_source", by_id[plan.duplicate].number_source or "manual")
    edits.delete_rows(layout.CUSTOMERS.name, [by_id[plan.duplicate].where.row])
    backup = _write(path, edits)
    number = f"; {plan.keeper} takes over number {plan.number}" if plan.number else ""
    return Outcome(f"Merged {plan.duplicate} into {plan.keeper}: {len(plan.invoices)} invoice(s) moved{number}; "
                   f"{plan.duplicate} removed.", [], backup, plan)


def undo_import(path, batch: str) -> Outcome:
    wb = _read(path)
    plan = dup.undo_import(wb.customers, wb.invoices, batch)
    if not plan.removed and not plan.kept:
        raise CustomerCommandError(f"No customer carries import batch {batch!r}: nothing to undo.")
    by_id = {c.customer_id: c for c in wb.customers}
    edits = _edits()
    if plan.removed:
        edits.delete_rows(layout.CUSTOMERS.name, [by_id[cid].where.row for cid in plan.removed])
    backup = _write(path, edits)
    details = [f"kept {cid} ({by_id[cid].name}): {reason}" for cid, reason in plan.kept]
    return Outcome(f"Undid import {batch}: {len(plan.removed)} customer(s) removed, {len(plan.kept)} kept.", details, backup, plan)
