"""The customer operations on a workbook: what the CLI and the Excel buttons both call.

Each operation comes in two halves. `plan_<operation>(path, ...)` reads the workbook at `path`,
decides with the pure functions of `toolkit.customers` and returns `(Edits, Outcome)`, writing nothing.
`<operation>(path, ...)` is the plan written back to that file through `toolkit.book.writeback`
(backup, atomic replace, ribbon kept), in one write or none: the CLI. The Excel buttons plan on a
saved copy of the open book and write the edits into the book itself, since Excel locks its file.
A mistake the user can fix raises `CustomerCommandError`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from toolkit.errors import UserError
from toolkit import layout
from toolkit.book import address, limits, read
from toolkit.customers import duplicates as dup
from toolkit.customers.apply import ImportRow, apply_actions
from toolkit.customers.match import ACTIONS, AMBIGUOUS, CONFLICT, NEW, SKIP, Match, match_rows
from toolkit.customers.paste import Paste, cell_text, parse_paste, read_table_file
from toolkit.model import Customer, Workbook
from toolkit.book.writeback import Edits, write_back

IMPORT = layout.CUSTOMER_IMPORT
SHEET = IMPORT.name


class CustomerCommandError(UserError):
    """A customer command that cannot go ahead; the message tells the user what to do."""


@dataclass
class Outcome:
    message: str
    details: list[str] = field(default_factory=list)
    backup: Path | None = None
    data: object = None
    left: int = 0  # rows not carried out (a conflict or ambiguous match to decide, a refused action): the CLI exits 1

    def text(self, limit: int | None = None) -> str:
        """The message and its details; past `limit` details, how many more there are."""
        shown = self.details if limit is None else self.details[:limit]
        more = len(self.details) - len(shown)
        tail = [f"  ... and {more} more"] if more else []
        return "\n".join([self.message, *(f"  {d}" for d in shown), *tail])


Plan = tuple[Edits, Outcome]


def _written(path, plan: Plan) -> Outcome:
    """A plan written to the workbook file; the outcome names the backup (none when nothing changed)."""
    edits, outcome = plan
    return replace(outcome, backup=write_back(path, edits)) if edits else outcome


# ---- the Customer import sheet ------------------------------------------------------------------


@dataclass
class _ImportSheet:
    paste: Paste
    excel_rows: list[int]  # Excel row of each record
    results: dict[str, int]  # result key -> 0-based column, for the result columns present
    values: dict[int, dict[str, str]]  # Excel row -> result key -> text, as the sheet has them
    stale: list[int]  # Excel rows holding results but no pasted data any more


def _own_header(text: str) -> bool:
    """Row 1 text the sheet put there itself, not a pasted header: the placeholder, or Excel's
    "Column2" for a blank header of the table that workbooks of earlier versions had here."""
    folded = address.fold_header(text)
    return not folded or address.same_name(folded, IMPORT.placeholder.header) or bool(re.fullmatch(r"column\d+", folded))


def _read_import_sheet(path, company_country: str) -> _ImportSheet:
    """The paste and the match results beside it. The paste starts in A1 with its header row
    (replacing the placeholder), or in row 2 under the placeholder, with or without headers."""
    grid = read.open_grid(path)  # the Grid read_workbook just opened
    actual = grid.find_sheet(SHEET)
    if actual is None:
        raise CustomerCommandError(f"The workbook has no '{SHEET}' sheet: add it (ledger-export workbook upgrade) and paste there.")
    cap = limits.current().import_rows
    original = grid.rows(actual, nrows=cap + 2)  # the header (or placeholder) row, then the paste
    if len(original) > cap + 1:
        raise CustomerCommandError(
            f"The '{SHEET}' sheet holds more than {cap:,} pasted rows, more than one import takes "
            f"({limits.how_to_raise('import_rows', limits.current())}). Paste the list in parts and match "
            "and apply each part in turn.")
    rows = [list(r) for r in original]
    header = [cell_text(v) for v in rows[0]] if rows else []
    results = address.header_positions(header, IMPORT)
    first = min(results.values(), default=None)
    for r in rows:  # the paste is what lies left of the result columns
        for i in results.values():
            if i < len(r):
                r[i] = None
    start = 1 if all(_own_header(h) for i, h in enumerate(header) if i not in results.values()) else 0
    paste_rows = [r[:first] if first is not None else r for r in rows[start:]]
    paste = parse_paste(paste_rows, default_country=company_country)
    excel_rows = [start + i + 1 for i in paste.rows]
    if paste.records and paste.header_row is None and excel_rows[0] == 1:
        raise CustomerCommandError(
            f"The paste on '{SHEET}' starts in row 1 without a header row, so the match columns have no row for "
            "their headers: paste the list into A2 instead, or with its header row (e.g. Number, Name, VAT, "
            "Postal code, City) into A1.")
    if results and first is not None and any(any(cell_text(v) for v in r[first:]) for r in rows if r):
        raise CustomerCommandError(
            f"The paste on '{SHEET}' reaches into or past the match columns: clear the sheet, or delete the columns "
            f"from '{header[first]}' on, and paste again.")
    values = {
        i + 1: {k: cell_text(original[i][c]) if c < len(original[i]) else "" for k, c in results.items()}
        for i in range(1, len(original))
    } if results else {}
    _check_result_values(values, header, results)
    pasted = set(excel_rows) | ({start + paste.header_row + 1} if paste.header_row is not None else set())
    stale = [r for r, v in values.items() if any(v.values()) and r not in pasted]
    return _ImportSheet(paste, excel_rows, results, values, stale)


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


def _set_results(edits: Edits, row: int, values: dict[str, object]) -> None:
    """Every result column of a row: the given values, the others emptied."""
    for key in IMPORT.keys:
        value = values.get(key)
        edits.set(SHEET, row, key, None if value == "" else value)


def _match_results(m: Match) -> dict[str, object]:
    confidence = m.confidence if m.customer_id or m.confidence else None
    return {"match_customer_id": m.customer_id, "match_confidence": confidence, "match_method": m.method,
            "action": m.action, "note": m.note}


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


# ---- match and apply (the Customer import sheet) -----------------------------------------------


def plan_match_paste(path) -> Plan:
    """Propose a customer and an action beside each pasted row of the Customer import sheet."""
    wb = read.read_workbook(path)
    sheet = _read_import_sheet(path, wb.settings.company_country)
    _require_recognised(sheet.paste, f"the '{SHEET}' sheet")
    labels = [f"row {r}" for r in sheet.excel_rows]
    matches = match_rows(sheet.paste.records, wb.customers, wb.settings.company_country, labels)
    edits = Edits()
    for row, m in zip(sheet.excel_rows, matches):
        _set_results(edits, row, _match_results(m))
    for row in sheet.stale:
        _set_results(edits, row, {})
    details = [f"{label}: {m.action}{' ' + m.customer_id if m.customer_id else ''}{': ' + m.note if m.note else ''}"
               for label, m in zip(labels, matches) if m.action in (CONFLICT, AMBIGUOUS)]
    return edits, Outcome(f"Matched {len(matches)} pasted row(s) ({sheet.paste.describe()}): "
                          f"{_count([m.action for m in matches])}. Review the Action column, then apply.",
                          details, data=matches)


def match_paste(path) -> Outcome:
    return _written(path, plan_match_paste(path))


def _customer_row(c: Customer) -> list:
    return [getattr(c, key) for key in layout.CUSTOMERS.keys]


def _customer_edits(edits: Edits, wb: Workbook, numbers: dict[str, str], new: list[Customer]) -> None:
    by_id = {c.customer_id: c for c in wb.customers}
    for cid, number in numbers.items():
        row = by_id[cid].where.row
        edits.set(layout.CUSTOMERS.name, row, "accounting_number", number)
        edits.set(layout.CUSTOMERS.name, row, "number_source", "imported")
    if new:
        edits.append_rows(layout.CUSTOMERS.name, [_customer_row(c) for c in new])


def new_batch_id(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now()).strftime("IMP-%Y%m%d-%H%M%S")


def _summary(result) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(result.summary.items())) or "nothing to do"


def _batch_note(result, batch: str) -> str:
    return f" New customers carry import batch {batch}." if result.new_customers else ""


def _left(result) -> int:
    """The rows an apply did not carry out: a conflict or an ambiguous match waits for the user's
    decision, a refused action for a correction. The command's work is not done while any is left."""
    return result.summary["left for review"] + result.summary["refused"]


def plan_apply_matches(path, now: dt.datetime | None = None) -> Plan:
    """Carry out the Action column of the Customer import sheet."""
    wb = read.read_workbook(path)
    sheet = _read_import_sheet(path, wb.settings.company_country)
    if "action" not in sheet.results:
        raise CustomerCommandError(f"The '{SHEET}' sheet has no Action column yet: match the pasted rows first.")
    rows = [
        ImportRow(f"row {r}", rec, sheet.values.get(r, {}).get("match_customer_id", ""), sheet.values.get(r, {}).get("action", ""))
        for r, rec in zip(sheet.excel_rows, sheet.paste.records)
    ]
    batch = new_batch_id(now)
    result = apply_actions(rows, wb.customers, batch, wb.settings.company_country)
    edits = Edits()
    _customer_edits(edits, wb, result.numbers, result.new_customers)
    for r, outcome in zip(sheet.excel_rows, result.rows):
        if outcome.note:  # confidence and method stay: they tell how the row was matched
            edits.set(SHEET, r, "match_customer_id", outcome.customer_id or None)
            edits.set(SHEET, r, "action", outcome.action or None)
            edits.set(SHEET, r, "note", outcome.note)
    details = [f"{rows[i].label}: {note}" for i, note in result.refused]
    left = _left(result)
    waiting = (f" {left} row(s) of '{SHEET}' are left undone (a conflict, an ambiguous match or a refused action: see "
               "their Action and Note): set their Action, then apply again." if left else "")
    return edits, Outcome(f"Applied: {_summary(result)}.{_batch_note(result, batch)}{waiting}", details, data=result,
                          left=left)


def apply_matches(path, now: dt.datetime | None = None) -> Outcome:
    return _written(path, plan_apply_matches(path, now))


# ---- import, duplicates, merge, undo -------------------------------------------------------------


def plan_import_file(path, file, create_new: bool = False, now: dt.datetime | None = None) -> Plan:
    """Match a CSV/XLSX customer list against the workbook and apply the sure proposals.

    Nobody reviews in between, so conflicts and ambiguous rows are only listed, and rows that
    would create a customer do so only with `create_new`. The message starts with the file name,
    for the caller to say whether it was imported or only tried.
    """
    try:
        raw = read_table_file(file)  # first: a list past the import limit is refused at once
    except (OSError, ValueError) as exc:
        raise CustomerCommandError(f"Cannot read {file}: {exc}") from None
    wb = read.read_workbook(path)
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
    edits = Edits()
    _customer_edits(edits, wb, result.numbers, result.new_customers)
    left = _left(result)
    waiting = (f" {left} line(s) are left undone (listed below): settle them on the Customers sheet, or paste the "
               f"list on '{SHEET}', run `customers match`, set their Action and run `customers apply`." if left else "")
    return edits, Outcome(f"{file}: {_summary(result)}{tail}.{_batch_note(result, batch)}{waiting}", details,
                          data=result, left=left)


def import_file(path, file, create_new: bool = False, dry_run: bool = False, now: dt.datetime | None = None) -> Outcome:
    edits, outcome = plan_import_file(path, file, create_new, now)
    if dry_run:
        return replace(outcome, message=f"Dry run, nothing written. Would import {outcome.message}")
    outcome = _written(path, (edits, outcome))
    return replace(outcome, message=f"Imported {outcome.message}")


def find_duplicates(path) -> Outcome:
    """Likely duplicate customers with a suggested keeper; changes nothing."""
    wb = read.read_workbook(path)
    groups = dup.find_duplicates(wb.customers, dup.invoice_counts(wb.invoices), wb.settings.company_country)
    names = {c.customer_id: c.name for c in wb.customers}
    details = []
    for g in groups:
        details.append(f"keep {g.keeper} ({names[g.keeper]}):")
        for d in g.duplicates:
            blocked = f" [cannot merge: {g.blocked[d]}]" if d in g.blocked else ""
            details.append(f"    {d} ({names[d]}): {g.reasons[d]}{blocked}")
    return Outcome(f"{len(groups)} group(s) of likely duplicate customers.", details, None, groups)


def plan_merge_customers(path, keeper: str, duplicate: str) -> Plan:
    """Move the duplicate's invoices (and number) to the keeper and delete the duplicate's row."""
    wb = read.read_workbook(path)
    try:
        plan = dup.merge(wb.customers, wb.invoices, keeper.strip(), duplicate.strip())
    except dup.MergeError as exc:
        raise CustomerCommandError(f"Merge refused: {exc}. Nothing was changed.") from None
    by_id = {c.customer_id: c for c in wb.customers}
    edits = Edits()
    moving = set(plan.invoices)
    for invoice in wb.invoices:
        if invoice.number in moving and invoice.customer_id == plan.duplicate:
            edits.set(layout.INVOICES.name, invoice.where.row, "customer_id", plan.keeper)
    if plan.number:
        row = by_id[plan.keeper].where.row
        edits.set(layout.CUSTOMERS.name, row, "accounting_number", plan.number)
        edits.set(layout.CUSTOMERS.name, row, "number_source", by_id[plan.duplicate].number_source or "manual")
    edits.delete_rows(layout.CUSTOMERS.name, [by_id[plan.duplicate].where.row])
    number = f"; {plan.keeper} takes over number {plan.number}" if plan.number else ""
    return edits, Outcome(f"Merged {plan.duplicate} into {plan.keeper}: {len(plan.invoices)} invoice(s) moved{number}; "
                          f"{plan.duplicate} removed.", data=plan)


def merge_customers(path, keeper: str, duplicate: str) -> Outcome:
    return _written(path, plan_merge_customers(path, keeper, duplicate))


def plan_undo_import(path, batch: str) -> Plan:
    """Delete the customers an import batch created, except numbered or invoiced ones."""
    wb = read.read_workbook(path)
    plan = dup.undo_import(wb.customers, wb.invoices, batch)
    if not plan.removed and not plan.kept:
        raise CustomerCommandError(f"No customer carries import batch {batch!r}: nothing to undo.")
    by_id = {c.customer_id: c for c in wb.customers}
    edits = Edits()
    if plan.removed:
        edits.delete_rows(layout.CUSTOMERS.name, [by_id[cid].where.row for cid in plan.removed])
    details = [f"kept {cid} ({by_id[cid].name}): {reason}" for cid, reason in plan.kept]
    return edits, Outcome(f"Undid import {batch}: {len(plan.removed)} customer(s) removed, {len(plan.kept)} kept.",
                          details, data=plan)


def undo_import(path, batch: str) -> Outcome:
    return _written(path, plan_undo_import(path, batch))
