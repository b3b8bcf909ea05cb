"""One writer at a time: a lock per workbook and per export folder (the `filelock` library:
fcntl / msvcrt locks, which the operating system releases when a process dies, so a crash
never leaves a stale lock behind).

    with locked(workbook, export_root):
        ... plan, commit, write back ...

The lock files sit beside what they guard (`.NAME.ledger-export.lock`): beside the workbook, and
beside the export folder (so a blocked export does not create the folder).

A second writer of the same workbook (a double click, a second command line) waits `WAIT_SECONDS`
(the environment's LEDGER_EXPORT_LOCK_WAIT, else 5), then gives up with a message instead of
queueing behind a long export. Other workbooks that share an export folder (a bookkeeping office's
month-end batch with one --out) queue for it: they wait up to `FOLDER_WAIT_SECONDS`
(LEDGER_EXPORT_FOLDER_LOCK_WAIT, else 300).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

import filelock

from toolkit.errors import UserError

WAIT_SECONDS = 5.0  # LEDGER_EXPORT_LOCK_WAIT changes it
FOLDER_WAIT_SECONDS = 300.0  # LEDGER_EXPORT_FOLDER_LOCK_WAIT changes it


class Busy(UserError):
    """Another process holds the lock."""


def lock_path(guarded: Path) -> Path:
    guarded = Path(guarded).resolve()
    return guarded.with_name(f".{guarded.name}.ledger-export.lock")


@contextlib.contextmanager
def locked(workbook: Path | None, export_root: Path | None = None,
           wait: float | None = None) -> Iterator[None]:
    """Hold the workbook's lock, then the export folder's (always in this order: no deadlock).
    `wait` overrides both waits."""
    with contextlib.ExitStack() as stack:
        if workbook is not None:
            stack.enter_context(_hold(lock_path(workbook), _seconds("LEDGER_EXPORT_LOCK_WAIT", WAIT_SECONDS, wait),
                                      f"Another export of this workbook is running, or another ledger-export "
                                      f"command is writing it ({Path(workbook).name})"))
        if export_root is not None:
            stack.enter_context(_hold(lock_path(export_root), _seconds("LEDGER_EXPORT_FOLDER_LOCK_WAIT", FOLDER_WAIT_SECONDS, wait),
                                      f"Another export into {export_root} is running"))
        yield


@contextlib.contextmanager
def reading(export_root: Path) -> Iterator[None]:
    """A reader of an export folder (`register check`) waits for an export under way, as a writer
    would: half-way its register says 'pending' beside a '.ID.partial' folder, which is no
    interrupted export. A folder not there yet, or one where no lock can be made (a read-only
    copy of the exports), is read without the lock."""
    try:
        if not Path(export_root).is_dir():
            raise FileNotFoundError(export_root)
        _can_create(lock_path(export_root))
    except OSError:
        yield
        return
    with locked(None, export_root):
        yield


def _seconds(variable: str, default: float, wait: float | None) -> float:
    """`wait` when given, else the environment variable's seconds, else the default."""
    if wait is not None:
        return wait
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:  # also refuses nan
        raise UserError(f"The environment variable {variable}={text!r} must be a number of seconds "
                        f"from 0 to 86400, e.g. {default:g}.")
    return seconds


@contextlib.contextmanager
def _hold(path: Path, wait: float, busy: str) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _can_create(path)
        lock = filelock.FileLock(path, is_singleton=True)  # one per path: nested holds count
        lock.acquire(timeout=wait)
    except filelock.Timeout:
        raise Busy(f"{busy}: it did not finish within {wait:g} seconds. Wait until it has finished, "
                   f"then try again. Nothing was changed.") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # a workbook name near the file system's 255 bytes
            raise Busy(f"The name {path.name[:60]}... is too long for the file system to hold the lock beside it: "
                       f"give the workbook (or the export folder) a shorter name. Nothing was changed.") from None
        raise Busy(f"Cannot take the lock {path} ({exc}): check that its folder can be written. "
                   f"Nothing was changed.") from None
    try:
        yield
    finally:
        lock.release()


def _can_create(path: Path) -> None:
    """Raise the OSError of a lock file that cannot be made (a folder that cannot be written, a
    system folder such as /proc): filelock takes a failure to open it for another process's hold
    and would wait out the whole wait (300 s for an export folder) before saying anything."""
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o666))
    except OSError:
        # On Windows a lock file being deleted by its holder's release refuses to be opened: that
        # is the other writer, not this folder, and filelock's wait is the answer.
        if os.name != "nt" or not path.exists():
            raise
