"""What the ribbon buttons call (through xlwings RunPython): thin wrappers around the CLI's pipeline.

Each function takes the calling book (`xw.Book.caller()`), reads it in bulk from the copy VBA saved
(`copy=`; unsaved edits included) with the same reader as the CLI, runs the same functions as the
CLI, and writes results back in whole ranges: the Check sheet, a highlight on offending cells,
Export log rows, "Exported in", customer numbers, suggested accounts. A Python exception never
reaches the user as a traceback: it becomes a message box, the detail goes to a log file next to
the workbook.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import subprocess
import sys
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import xlwings as xw

from toolkit import layout
from toolkit.model import Finding
from toolkit.values import fold_header
from toolkit.book.writeback import Edits

TITLE = "Ledger export"
HIGHLIGHT = (255, 199, 206)  # Excel's "light red fill" for bad cells
MAX_ROW = 1048576
LOG_NAME = "ledger-export.log"
MAX_DETAILS = 10  # detail lines in a message box; the sheet beside the paste has them all


class _Session:
    def __init__(self, copy: str | None):
        self.book = xw.Book.caller()
        self.path = Path(self.book.fullname)
        self.source = Path(copy) if copy else self.path  # the file to read

    def status(self, text: str | None) -> None:
        self.book.app.status_bar = f"{TITLE}: {text}…" if text else False

    def tell(self, text: str) -> None:
        self.book.app.alert(text, title=TITLE)


def button(func):
    """Status bar while running, a message box for every outcome, a log file for the details."""

    @functools.wraps(func)
    def run(*args, copy: str | None = None):
        session = _Session(copy)
        try:
            message = func(session, *args)
        except Exception as exc:  # noqa: BLE001 - the user gets a message, the log the traceback
            message = _explain(exc, session.path)
        finally:
            session.status(None)
        if message:
            session.tell(message)
        return message

    return run


def _explain(exc: Exception, book_path: Path) -> str:
    from toolkit.errors import UserError

    if isinstance(exc, UserError):
        return str(exc)
    log = book_path.with_name(LOG_NAME)
    try:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {dt.datetime.now():%Y-%m-%d %H:%M:%S}\n{traceback.format_exc()}\n")
    except OSError:
        log = Path("(the log could not be written)")
    return f"Something went wrong: {exc}\n\nThe details are in {log}; send that file to whoever maintains the toolkit."


# ---- the buttons -------------------------------------------------------------------------------


@button
def validate(s: _Session) -> str:
    from toolkit.app.check import plan_check

    findings = plan_check(s.path, read_from=s.source, progress=s.status).findings
    show_findings(s.book, findings)
    return _summary(findings, "No problems found.")


@button
def suggest_accounts(s: _Session) -> str:
    from toolkit.book.read import read_workbook
    from toolkit.app.suggest import suggest_accounts as suggest

    s.status("Suggesting accounts")
    result = suggest(read_workbook(s.source))
    apply_live(s.book, result.edits)
    return result.message


@button
def generate_export(s: _Session) -> str:
    return _export(s, None)


@button
def export_again(s: _Session, export_id: str) -> str:
    return _export(s, export_id)


def _export(s: _Session, again: str | None) -> str:
    from toolkit.app import export

    if again:
        plan = export.plan_again(s.path, again, read_from=s.source, progress=s.status)
    else:
        plan = export.plan_export(export.ExportRequest(s.path, read_from=s.source), progress=s.status)
    show_findings(s.book, plan.findings)
    if plan.status == "blocked":
        return f"{plan.message}\n\n{len(plan.blocking)} error(s): see the Check sheet."
    if plan.status != "ready":
        return plan.message
    s.status("Writing files")
    result = export.commit(plan)
    s.status("Updating the workbook")
    apply_live(s.book, result.edits)
    return result.message


@button
def assign_customer_numbers(s: _Session) -> str:
    from toolkit.app.numbering import plan_assign
    from toolkit.book.read import read_workbook
    from toolkit.spec.specs import load_spec

    s.status("Assigning customer numbers")
    wb = read_workbook(s.source)
    edits, message, findings = plan_assign(wb, s.path, load_spec(wb.settings.package).customer_numbers)
    show_findings(s.book, findings)
    apply_live(s.book, edits)
    return f"{message} Save the workbook to keep them." if edits else message


@button
def match_customers(s: _Session) -> str:
    """Propose a customer and an action beside each row pasted on the Customer import sheet."""
    return _customer_plan(s, "Matching pasted customers", "plan_match_paste")


@button
def apply_customer_matches(s: _Session) -> str:
    """Carry out the reviewed Action column: assign the pasted numbers, create new customers."""
    return _customer_plan(s, "Applying matched customer numbers", "plan_apply_matches")


def _customer_plan(s: _Session, status: str, plan: str) -> str:
    from toolkit.customers import commands

    s.status(status)
    edits, outcome = getattr(commands, plan)(s.source)
    apply_live(s.book, edits)
    return outcome.text(limit=MAX_DETAILS)


@button
def open_export_folder(s: _Session) -> str:
    from toolkit.app.context import output_root
    from toolkit.book.read import Grid, read_settings

    folder = output_root(read_settings(Grid(s.source), []), s.path)  # the Settings sheet is enough
    if not folder.is_dir():
        return f"No exports yet: they will be written to {folder}."
    if sys.platform == "win32":
        os.startfile(folder)  # noqa: S606 - opening a folder the user asked for
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", str(folder)])
    return ""


# ---- writing into the live book, range by range ------------------------------------------------


def _summary(findings: list[Finding], clean: str) -> str:
    errors = sum(f.is_error for f in findings)
    warnings = len(findings) - errors
    if not findings:
        return clean
    return f"{errors} error(s) and {warnings} warning(s): see the Check sheet."


def show_findings(book, findings: list[Finding]) -> None:
    """Rewrite the Check sheet (with a link to each cell) and move the highlights to the new cells."""
    sheet = book.sheets[layout.CHECK.name]
    columns = _columns(sheet, layout.CHECK)
    last = _last_row(sheet)
    if last >= 2:
        old = sheet.range((2, 1), (last, max(columns.values()))).options(ndim=2).value
        _highlight(book, [(r[columns["sheet"] - 1], r[columns["cell"] - 1]) for r in old], None)
        sheet.range((2, 1), (last, max(columns.values()))).clear_contents()
    if not findings:
        return
    rows = []
    for f in findings:
        values = {"severity": f.severity, "code": f.code, "sheet": f.sheet, "message": f.message,
                  "cell": f'=HYPERLINK("#\'{f.sheet}\'!{f.cell}","{f.cell}")' if f.sheet and f.cell else f.cell}
        row = [None] * max(columns.values())
        for key, col in columns.items():
            row[col - 1] = values[key]
        rows.append(row)
    sheet.range((2, 1)).value = rows
    _highlight(book, [(f.sheet, f.cell) for f in findings], HIGHLIGHT)


def _highlight(book, cells, color) -> None:
    names = {s.name for s in book.sheets}
    for sheet_name, cell in cells:
        cell = str(cell or "")
        if cell.startswith("=HYPERLINK"):
            cell = cell.rsplit(",", 1)[1].strip('")')
        if sheet_name in names and cell and cell[0].isalpha():
            book.sheets[sheet_name].range(cell).color = color


def apply_live(book, edits: Edits) -> None:
    """`Edits` written into the open book: one read and one write per edited column."""
    if edits.deleted:
        raise ValueError("deleting rows is done on the file, not in the open workbook")
    by_sheet: dict[str, dict[str, dict[int, object]]] = defaultdict(lambda: defaultdict(dict))
    for edit in edits.cells:
        by_sheet[edit.sheet][edit.key][edit.row] = edit.value
    for sheet_name, by_key in by_sheet.items():
        sheet = book.sheets[sheet_name]
        columns = _columns(sheet, _layout_sheet(sheet_name), add=list(by_key))
        for key, values in by_key.items():
            _patch_column(sheet, columns[key], values)
    for sheet_name, rows in edits.appended.items():
        _append(book.sheets[sheet_name], _layout_sheet(sheet_name), rows)
    for sheet_name, (rows, _links, _key) in edits.replaced.items():
        sheet = book.sheets[sheet_name]
        last = _last_row(sheet)
        if last >= 2:
            sheet.range((2, 1), (last, len(_layout_sheet(sheet_name).columns))).clear_contents()
        if rows:
            sheet.range((2, 1)).value = rows
    if edits.settings:
        sheet = book.sheets[layout.SETTINGS_SHEET]
        labels = sheet.range((1, 1), (_last_row(sheet), 1)).options(ndim=1).value
        rows = {fold_header(v): n for n, v in enumerate(labels, 1) if v}
        for key, value in edits.settings.items():
            setting = layout.SETTINGS_BY_KEY[key]
            row = rows.get(fold_header(setting.label))
            if row is None:
                row = _last_row(sheet) + 1
                sheet.range((row, 1)).value = setting.label
            sheet.range((row, 2)).value = value


def _patch_column(sheet, col: int, values: dict[int, object]) -> None:
    """Set some rows of one column: the block between them is read and written back whole."""
    top, bottom = min(values), max(values)
    block = sheet.range((top, col), (bottom, col))
    current = block.options(ndim=1).value if bottom > top else [block.value]
    for row, value in values.items():
        current[row - top] = value
    block.options(transpose=True).value = current


def _append(sheet, declared: layout.Sheet, rows) -> None:
    """Rows (values in layout order) below the last filled row, each value under its header."""
    columns = _columns(sheet, declared, add=declared.keys)
    first = max(sheet.range((MAX_ROW, col)).end("up").row for col in columns.values()) + 1
    for index, key in enumerate(declared.keys):
        values = [row[index] if index < len(row) else None for row in rows]
        if any(v not in (None, "") for v in values):
            sheet.range((first, columns[key])).options(transpose=True).value = values


def _layout_sheet(name: str) -> layout.Sheet:
    return next(s for s in layout.TABLE_SHEETS + layout.OUTPUT_SHEETS if s.name == name)


def _columns(sheet, declared: layout.Sheet, add: Sequence[str] = ()) -> dict[str, int]:
    """1-based column of each layout key present in row 1. Keys of `add` that are missing get
    their header right of every value on the sheet: data below row 1 (a paste) may be wider."""
    width = sheet.range((1, 16384)).end("left").column
    headers = sheet.range((1, 1), (1, width)).options(ndim=1).value
    found = {}
    wanted = {fold_header(c.header): c.key for c in declared.columns}
    for col, header in enumerate(headers, 1):
        key = wanted.get(fold_header(header)) if header else None
        if key and key not in found:
            found[key] = col
    missing = [key for key in add if key not in found]
    if missing:
        edge = _right_edge(sheet)
        for col, key in enumerate(missing, edge + 1):
            sheet.range((1, col)).value = declared.column(key).header
            found[key] = col
    return found


def _right_edge(sheet) -> int:
    """The last column holding a value. Excel's used range may be wider (formatted cells count),
    so its values are read, once, in bulk."""
    used = sheet.used_range
    rows = used.options(ndim=2).value
    last = max((i for row in rows for i, v in enumerate(row, 1) if v not in (None, "")), default=0)
    return used.column + last - 1 if last else 0


def _last_row(sheet) -> int:
    return sheet.range((MAX_ROW, 1)).end("up").row
