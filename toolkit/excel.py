"""What the ribbon buttons call (through xlwings RunPython): thin wrappers around the CLI's pipeline.

Each function takes the calling book (`xw.Book.caller()`), reads it in bulk from the copy VBA saved
(`copy=`; unsaved edits included) with the same reader as the CLI, runs the same functions as the
CLI, and writes results back in whole ranges: the Check sheet, a highlight on offending cells,
Export log rows, "Exported in", customer numbers, suggested accounts. A Python exception never
reaches the user as a traceback: it becomes a message box, the detail goes to a log file next to
the workbook.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import xlwings as xw

from toolkit import collector
from toolkit.model import Finding, report_order
from toolkit.book.edits import HIGHLIGHT  # noqa: F401 - the colour of a bad cell, for callers
from toolkit.book.live import apply as apply_live, show_findings

TITLE = "Ledger export"
LOG_NAME = "ledger-export.log"
MAX_DETAILS = 10  # detail lines in a message box; the sheet beside the paste has them all


class _Session:
    def __init__(self, book, copy: str | None):
        self.book = book
        self.path = _book_path(book)
        self.source = Path(copy) if copy else self.path  # the file to read

    def status(self, text: str | None) -> None:
        _status(self.book, text)

    def as_seen(self, message: str) -> str:
        """The message naming the workbook the user has open, not the copy of it VBA saved into the
        temp folder for Python to read (a file the user never made: "…\\Temp\\LedgerExport-….xlsm
        is damaged … restore it from a backup")."""
        if self.source == self.path:
            return message
        for copy in dict.fromkeys((str(self.source), str(self.source.resolve()))):
            message = message.replace(copy, str(self.path))
        return message.replace(self.source.name, self.path.name)

    def writing(self):
        """The locks and the recovery; a repair of the workbook goes into the open book."""
        from toolkit.app.recovery import writing

        return writing(self.path, read_from=self.source, write=lambda edits: apply_live(self.book, edits))


def _status(book, text: str | None) -> None:
    book.app.status_bar = f"{TITLE}: {text}…" if text else False


def _caller():
    """The book whose button was pressed. Without it there is no book to show a message in, but
    RunPython shows what the process writes to stderr: the message goes there, not a traceback."""
    try:
        return xw.Book.caller()
    except Exception as exc:  # noqa: BLE001 - xlwings raises several kinds (COM, its own)
        raise SystemExit(f"{TITLE}: Python could not reach this workbook in Excel ({exc}). "
                         f"{_NOT_FOUND_HELP}") from None


# What xlwings needs to map a OneDrive/SharePoint web address to the synchronised file.
_NOT_FOUND_HELP = ("Excel gives the place of a workbook opened from OneDrive or SharePoint as a web address: put the "
                   "local folder it is synchronised to on the xlwings.conf sheet (ONEDRIVE_CONSUMER_WIN for a personal "
                   "OneDrive, ONEDRIVE_COMMERCIAL_WIN for OneDrive for work or school, SHAREPOINT_WIN for SharePoint; "
                   "see xlwings.org/error; the README's 'In Excel' section, Troubleshooting, shows how to make that "
                   "hidden sheet visible), or copy the workbook to a folder outside OneDrive.")


def _refuse_read_only(book) -> None:
    """Changes made in a workbook Excel opened read-only cannot be saved into it: customer numbers
    given there, say, would be given again to others in the file everybody else opens."""
    from toolkit.errors import UserError

    if getattr(book.api, "ReadOnly", False) is True:  # COM's Workbook.ReadOnly
        raise UserError(f"{book.name} is open read-only (someone else has it open, or the file is read-only), so "
                        "what this button changes could not be saved into it. Close it, open it for editing "
                        "(File > Info, or ask who has it open to close it), then press the button again. "
                        "Nothing was changed.")


def _book_path(book) -> Path:
    """The workbook's file: the lock, the export folder and the log sit beside it."""
    from toolkit.errors import UserError

    try:
        fullname = book.fullname
    except Exception as exc:  # noqa: BLE001 - xlwings could not map a web address to a file
        raise UserError(f"Python cannot find this workbook's file on this computer ({exc}). {_NOT_FOUND_HELP}") from None
    if "://" in fullname:
        raise UserError(f"Python cannot find this workbook's file on this computer: Excel gives its place as "
                        f"{fullname}. {_NOT_FOUND_HELP}")
    return Path(fullname)


def button(func=None, *, writes: bool = True, saved: bool = True):
    """Status bar while running, a message box for every outcome, a log file for the details.
    A button that writes holds the workbook's and the export folder's locks while it runs, after
    recovering what a crash left (toolkit.app.recovery); the message starts with what that did.
    A button whose changes must be `saved` with the workbook refuses a workbook open read-only, as
    the command line refuses a read-only file (Validate's Check sheet needs no saving)."""
    if func is None:
        return functools.partial(button, writes=writes, saved=saved)

    @functools.wraps(func)
    def run(*args, copy: str | None = None):
        book = _caller()
        session: _Session | None = None
        notes: list[str] = []
        try:
            session = _Session(book, copy)
            if writes and saved:
                _refuse_read_only(book)
            with collector.paused(), session.writing() if writes else contextlib.nullcontext() as operation:
                notes = operation.notes if operation else []
                message = func(session, *args)
        except Exception as exc:  # noqa: BLE001 - the user gets a message, the log the traceback
            message = _explain(exc, session.path if session else Path(copy or tempfile.gettempdir()) / "book")
        finally:
            _status(book, None)
        message = "\n\n".join(notes + [message] if message else notes)
        if session is not None:
            message = session.as_seen(message)
        if message:
            book.app.alert(message, title=TITLE)
        return message

    return run


def _explain(exc: Exception, book_path: Path) -> str:
    from toolkit.errors import UserError

    if isinstance(exc, UserError):
        return str(exc)
    entry = f"--- {dt.datetime.now():%Y-%m-%d %H:%M:%S}\n{traceback.format_exc()}\n"
    # Beside the workbook; in the temp folder when that folder cannot be written (a read-only share).
    for log in (book_path.with_name(LOG_NAME), Path(tempfile.gettempdir()) / LOG_NAME):
        try:
            with log.open("a", encoding="utf-8") as handle:
                handle.write(entry)
        except OSError:
            continue
        return f"Something went wrong: {exc}\n\nThe details are in {log}; send that file to whoever maintains the toolkit."
    return (f"Something went wrong: {exc}\n\nNo log file could be written (neither beside the workbook nor in "
            f"{tempfile.gettempdir()}): press Ctrl+C on this message and send the text to whoever maintains the toolkit.")


# ---- the buttons -------------------------------------------------------------------------------


@button(saved=False)
def validate(s: _Session) -> str:
    from toolkit.app.check import plan_check
    from toolkit.app.preview import preview, preview_edits

    plan = plan_check(s.path, read_from=s.source, progress=s.status)
    findings = plan.findings
    show_findings(s.book, findings)
    apply_live(s.book, preview_edits(preview(plan)))  # adds the sheet to a workbook of an earlier version
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
def generate_einvoices(s: _Session) -> str:
    """The Peppol e-invoices of the period, whatever the Settings' bookkeeping package: the
    e-invoice stream is exported apart (the E-invoice in column)."""
    from toolkit.app.export import einvoice_package

    return _export(s, None, einvoice_package())


@button(saved=False)
def export_again(s: _Session, export_id: str) -> str:
    return _export(s, export_id)


def _export(s: _Session, again: str | None, package: str | None = None) -> str:
    from toolkit.app import export

    if again:
        plan = export.plan_again(s.path, again, read_from=s.source, progress=s.status, to_commit=True)
    else:
        plan = export.plan_export(export.ExportRequest(s.path, package, read_from=s.source), progress=s.status, to_commit=True)
    show_findings(s.book, plan.findings)
    if plan.status == "blocked":
        return f"{plan.message}\n\n{len(plan.blocking)} error(s): see the Check sheet."
    if plan.status != "ready":
        return plan.message
    s.status("Writing files")
    result = export.commit(plan)
    s.status("Updating the workbook")
    try:
        apply_live(s.book, result.edits)
    except Exception as exc:  # noqa: BLE001 - the export itself is committed and recorded in the register
        return (f"{result.message}\n\nBut the workbook was not updated: {_explain(exc, s.path)}\n\nThe export itself "
                "is done: once that is fixed, the next button you press carries the update in, and says so.")
    return result.message


@button
def assign_customer_numbers(s: _Session) -> str:
    from toolkit.app.numbering import package_number_rules, plan_assign
    from toolkit.book.read import read_workbook

    s.status("Assigning customer numbers")
    wb = read_workbook(s.source)
    edits, message, findings = plan_assign(wb, s.path, package_number_rules(wb))
    apply_live(s.book, edits)
    if edits:
        return f"{message} Save the workbook to keep them."
    # Like `customers assign`: its findings are told here, with their cells; the Check sheet stays
    # Validate's whole list (rewritten with these alone, it lost every other error and highlight).
    # The message already holds the first finding's text.
    if not findings:
        return message
    if len(findings) == 1:
        return f"{message}\n\nCell: {_place(findings[0])}." if findings[0].cell else message
    listed = [f"{_place(f)}: {f.message}" for f in sorted(findings, key=report_order)[:MAX_DETAILS]]
    more = [f"… and {len(findings) - MAX_DETAILS} more."] if len(findings) > MAX_DETAILS else []
    return "\n".join([message, ""] + listed + more)


@button(saved=False)
def match_customers(s: _Session) -> str:
    """Propose a customer and an action beside each row pasted on the Customer import sheet."""
    return _customer_plan(s, "Matching pasted customers", "plan_match_paste")


@button
def apply_customer_matches(s: _Session) -> str:
    """Carry out the reviewed Action column: assign the pasted numbers, create new customers."""
    return _customer_plan(s, "Applying matched customer numbers", "plan_apply_matches")


def _customer_plan(s: _Session, status: str, plan: str) -> str:
    from toolkit.app import customers as commands

    s.status(status)
    edits, outcome = getattr(commands, plan)(s.source)
    apply_live(s.book, edits)
    return outcome.text(limit=MAX_DETAILS)


@button(writes=False)
def open_export_folder(s: _Session) -> str:
    from toolkit.app.context import output_root
    from toolkit.book.read import open_grid, read_settings

    folder = output_root(read_settings(open_grid(s.source), []), s.path)  # the Settings sheet is enough
    if not folder.is_dir():
        return f"No exports yet: they will be written to {folder}."
    if sys.platform == "win32":
        os.startfile(folder)  # noqa: S606 - opening a folder the user asked for
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", str(folder)])
    return ""


# ---- messages ------------------------------------------------------------------------------------


def _place(f: Finding) -> str:
    return f"{f.sheet}!{f.cell}" if f.cell else f.sheet or "Workbook"


def _summary(findings: list[Finding], clean: str) -> str:
    errors = sum(f.is_error for f in findings)
    warnings = len(findings) - errors
    if not findings:
        return clean
    return f"{errors} error(s) and {warnings} warning(s): see the Check sheet."
