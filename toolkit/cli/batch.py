"""`ledger-export export BOOK... --jobs N`: a bookkeeping office's month-end run.

Each workbook is exported in a process of its own (a fresh one per workbook), exactly as
`ledger-export export BOOK` would do it — with its own locks, recovery, register and write-back —
so a broken workbook fails alone. A line per workbook as it finishes, then a table.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import multiprocessing
import multiprocessing.context
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from toolkit.app.context import is_backup
from toolkit.cli.output import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass
class Outcome:
    workbook: Path
    code: int  # the exit code `ledger-export export` gives this workbook alone
    documents: int = 0
    files: tuple[str, ...] = ()
    message: str = ""  # what happened, in one line: the export's message or the error
    dry_run: bool = False  # the documents and files are what the export would write
    notes: tuple[str, ...] = ()  # what recovery did to the workbook or its export folder first

    @property
    def status(self) -> str:
        done = ("would export" if self.dry_run else "exported") if self.documents else "nothing new"
        return {EXIT_OK: done, EXIT_FINDINGS: "blocked", EXIT_INTERRUPTED: "interrupted"}.get(self.code, "failed")


def workbooks(paths: list[Path]) -> list[Path]:
    """The workbooks named, folders expanded to the workbooks directly in them (not Excel's
    `~$` owner files, backups or hidden files), each once, in the order given: a file reached by
    two names (a link, a hard link, a folder and a file in it) is exported once, under the first."""
    found: dict[object, Path] = {}
    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if (child.suffix.lower() in WORKBOOK_SUFFIXES and child.is_file() and not child.name.startswith(("~$", "."))
                        and not is_backup(child)):
                    found.setdefault(_identity(child), child.resolve())
        else:
            found.setdefault(_identity(path), path.resolve())
    return list(found.values())


def _identity(path: Path) -> object:
    """The file itself, whatever the name: a hard link under another name has its own lock and
    export folder, so both names exported at once booked every invoice twice."""
    try:
        stat = path.stat()
    except OSError:  # its export says what is wrong with it
        return path.resolve()
    return (stat.st_dev, stat.st_ino) if stat.st_ino else path.resolve()


def export_one(main: Callable, workbook: Path, options: list[str]) -> Outcome:
    """`ledger-export export WORKBOOK OPTIONS` through the command line's `main`, in this
    process, its output kept for the report."""
    out, err = io.StringIO(), io.StringIO()
    report: dict = {}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["export", str(workbook), *options], report=report)
    except Exception:  # noqa: BLE001 - a bug in one workbook's export must not stop the others
        return Outcome(workbook, EXIT_USAGE, message=f"internal error: {traceback.format_exc(limit=1).splitlines()[-1]}")
    lines = [line for line in (err.getvalue() + out.getvalue()).splitlines() if line.strip()]
    message = report.get("message") or (lines[-1].removeprefix("ledger-export: ") if lines else "")
    said = [line for line in err.getvalue().splitlines() if line.startswith("ledger-export: ")]
    if code == EXIT_INTERRUPTED and said:  # where the interrupt left it, not what the export had done before
        message = said[-1].removeprefix("ledger-export: ")
    return Outcome(workbook, code, report.get("documents", 0), tuple(report.get("files", ())), message,
                   report.get("dry_run", False), tuple(report.get("notes", ())))


def run(main: Callable, paths: list[Path], options: list[str], jobs: int, out=None) -> int:
    out = out or sys.stdout
    books = workbooks(paths)
    if not books:
        print("No workbooks (.xlsx, .xlsm) found in " + ", ".join(map(str, paths)) + ".", file=out)
        return EXIT_USAGE
    outcomes: dict[Path, Outcome] = {}
    label = labels(books)
    waiting = iter(books)
    running: dict[concurrent.futures.Future, Path] = {}
    interrupted = False
    # A fresh process per workbook: no state, memory or lock carries from one to the next. A
    # workbook is handed to the pool only when a process is free for it, so that after Ctrl-C
    # none starts (the pool would run every workbook already queued).
    with contextlib.ExitStack() as pools:
        pool = pools.enter_context(_pool(jobs))

        def start_next() -> None:
            nonlocal pool
            book = next(waiting, None)
            if book is None:
                return
            try:
                future = pool.submit(export_one, main, book, options)
            except concurrent.futures.process.BrokenProcessPool:
                # A process died (killed, out of memory): the pool takes no more work, and the
                # workbooks after it get a new one (it was a traceback, the rest not exported).
                pool = pools.enter_context(_pool(jobs))
                future = pool.submit(export_one, main, book, options)
            running[future] = book

        for _ in range(max(1, jobs)):
            start_next()
        try:
            while running:
                done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    book = running.pop(future)
                    outcomes[book] = _outcome(future, book)
                    print(f"[{len(outcomes)}/{len(books)}] {label[book]}: {outcomes[book].status} — {outcomes[book].message}",
                          *(f"    {note}" for note in outcomes[book].notes), sep="\n", file=out, flush=True)
                    start_next()
        except KeyboardInterrupt:  # those under way end as they would alone (Ctrl-C reached them too)
            interrupted = True
    for future, book in running.items():
        outcomes[book] = _outcome(future, book)
    for book in books:
        outcomes.setdefault(book, Outcome(book, EXIT_INTERRUPTED, message="not started: interrupted (Ctrl-C)"))
    _table([outcomes[b] for b in books], label, out)
    if interrupted:
        done = sum(o.code == EXIT_OK for o in outcomes.values())
        not_started = sum(o.message.startswith("not started") for o in outcomes.values())
        raise KeyboardInterrupt(f"interrupted: {done} of {len(books)} workbook(s) done, {not_started} not started; "
                                "the next export of a workbook cut short finishes or rolls back what was under way, and says so.")
    return max(o.code for o in outcomes.values())


def _outcome(future: concurrent.futures.Future, book: Path) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - the worker process itself died
        return Outcome(book, EXIT_USAGE, message=f"the export process ended unexpectedly ({exc}); the next export of "
                                                 "this workbook finishes or rolls back what was under way, and says so")


def _pool(jobs: int) -> concurrent.futures.ProcessPoolExecutor:
    return concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), max_tasks_per_child=1,
                                                  mp_context=_fresh_processes())


def labels(books: list[Path]) -> dict[Path, str]:
    """How each workbook is named in the progress lines and the table: its file name, or its whole
    path where another workbook of the run has the same name (two folders' Company.xlsx)."""
    names = [book.name.casefold() for book in books]
    return {book: book.name if names.count(book.name.casefold()) == 1 else str(book) for book in books}


# What an export imports, loaded once by the fork server (about half a second per workbook otherwise).
_PRELOAD = ["toolkit.cli", "toolkit.app.export", "toolkit.app.recovery", "toolkit.book.read", "toolkit.book.writeback"]


def _fresh_processes() -> multiprocessing.context.BaseContext:
    """Where it can ('forkserver': Linux, macOS), each workbook's process is forked from a server
    process that has imported the toolkit and done nothing else, so it starts without paying the
    imports again yet carries nothing of another workbook. Elsewhere (Windows) a spawned process
    imports them itself."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _table(outcomes: list[Outcome], label: dict[Path, str], out) -> None:
    width = max(len("workbook"), *(len(label[o.workbook]) for o in outcomes))
    print(f"\n{'workbook':<{width}}  {'result':<12} {'documents':>9}  files / error", file=out)
    for o in outcomes:
        detail = o.message if o.code == EXIT_INTERRUPTED else ", ".join(o.files) or o.message
        print(f"{label[o.workbook]:<{width}}  {o.status:<12} {o.documents:>9}  {detail}", file=out)
    failed = sum(o.code != EXIT_OK for o in outcomes)
    dry = " (a dry run: nothing written)" if any(o.dry_run for o in outcomes) else ""
    print(f"{len(outcomes)} workbook(s): {len(outcomes) - failed} done, {failed} not exported{dry}.", file=out)
