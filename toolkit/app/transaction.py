"""The commit of an export, in the order that makes a crash at any moment recoverable (the shape
of SQLite's atomic commit: journal first, fsync, then make visible):

  1. the register records the export as *pending* (with every file's SHA-256), fsynced;
  2. the files are written into a hidden `.ID.partial` folder and made durable (one syncfs of
     the file system on Linux, else an fsync per file), then the folder;
  3. the folder is renamed into place (visible), and the export folder fsynced;
  4. the register records the export as *committed*, fsynced.

The caller holds the export folder's lock (toolkit.app.lock) from planning on. A failure or a
Ctrl-C on the way rolls back (folder removed, export marked failed); a crash (or a rollback that
could not finish) is finished or rolled back by toolkit.app.recovery at the start of the next
writing operation.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from pathlib import Path

from toolkit.app.register import ID_PATTERN, Register
from toolkit.errors import UserError
from toolkit.spec import spool
from toolkit.spec.spool import Spooled

STEPS = ("pending", "file", "staged", "visible", "committed")


class ExportFailed(UserError):
    """Writing failed after the checks passed; nothing of the export was kept."""


def reached(step: str) -> None:
    """Called after each step of the commit; the fault-injection tests replace it to crash there."""


def free_id(base: str, register: Register) -> str:
    """`base`, or `base-2`, `base-3`...: the first id no register line and no folder uses. Under
    the export folder's lock, so two exports in one second never get the same id."""
    taken = register.ids()
    n = 1
    export_id = base
    while export_id in taken or _exists(register.root, export_id):
        n += 1
        export_id = f"{base}-{n}"
    return export_id


def _exists(root: Path, export_id: str) -> bool:
    return (root / export_id).exists() or (root / f".{export_id}.partial").exists()


def _to_make(root: Path) -> list[Path]:
    """The folders `root.mkdir(parents=True)` is about to make, deepest first."""
    made = []
    for folder in (root, *root.parents):
        if folder.exists():
            break
        made.append(folder)
    return made


def _remove_empty(folders: list[Path]) -> None:
    """The folders an export made, removed again while still empty (a first export that ended
    before its register line left an empty '<workbook>-exports' behind)."""
    for folder in folders:
        try:
            folder.rmdir()  # only an empty folder: a register line begun stays, for recovery
        except OSError:
            return


def commit(root: Path, files: list[tuple[str, bytes | Spooled]], entry: dict) -> Path:
    """Write `files` as export `entry['id']` and record it; returns the visible folder. A file
    that waits in a temporary file (spool.py) is read once, here: that file is discarded."""
    root = Path(root)
    export_id = entry["id"]
    if not ID_PATTERN.fullmatch(export_id):
        raise ExportFailed(f"{export_id!r} is not a valid export id (a plain folder name); nothing was written.")
    register = Register(root)
    folder = root / export_id
    staging = root / f".{export_id}.partial"
    if _exists(root, export_id) or export_id in register.ids():
        raise ExportFailed(f"An export {export_id} already exists in {root}; nothing was written.")
    made = _to_make(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        register.record_pending(entry)
    except OSError as exc:
        _remove_empty(made)
        raise ExportFailed(f"Recording the export in {register.path} failed ({exc.strerror or exc}); nothing was "
                           f"written. {_WRITABLE.format(root=root)}") from exc
    except KeyboardInterrupt:  # Ctrl-C before the export's first line: nothing of it is left, not even its folder
        _remove_empty(made)
        raise
    reached("pending")
    try:
        staging.mkdir()
        _write_files(staging, files)
        spool.discard(data for _, data in files)  # copied: the sync need not write the temporary file too
        _sync_files(staging, [name for name, _ in files])
        _sync_dir(staging)
        reached("staged")
        os.rename(staging, folder)
        _sync_dir(root)
        reached("visible")
        register.record_committed(export_id)
    except OSError as exc:
        done = _roll_back(register, export_id, (staging, folder), str(exc))
        raise ExportFailed(f"Writing the export to {root} failed ({exc.strerror or exc}); " + (
            "nothing was kept. " if done else f"what was written could not all be removed: {_NEXT_COMMAND} ")
            + _WRITABLE.format(root=root)) from exc
    except KeyboardInterrupt:  # Ctrl-C: rolled back here as a failure is, not left for the next command
        try:
            done = _roll_back(register, export_id, (staging, folder), "interrupted (Ctrl-C); rolled back")
        except KeyboardInterrupt:  # a second Ctrl-C: recovery finishes it
            done = False
        raise KeyboardInterrupt(f"interrupted while export {export_id} was written: " + (
            "it was rolled back, nothing of it was kept or counts as exported." if done else _NEXT_COMMAND)) from None
    reached("committed")
    return folder


def _roll_back(register: Register, export_id: str, folders: tuple[Path, ...], reason: str) -> bool:
    """An export not committed undone: its folders removed, the register marking it failed.
    False when something is left (still pending: the next operation's recovery finds no
    complete folder and rolls it back)."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        register.record_failed(export_id, reason)
    except OSError:
        return False
    return not any(folder.exists() for folder in folders)


# What an export that could not be rolled back at once says (recovery finishes it, see the module docstring).
_NEXT_COMMAND = ("the next export of the workbook (or any command that changes it) finishes or rolls back what was "
                 "half-written, and says so.")
_WRITABLE = ("Check that {root} can be written (not read-only, not full), or choose another output folder "
             "(--out, or Output folder on Settings), then export again.")


# A new file, never one already there; bytes as they are (Windows would translate line ends).
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _write_files(folder: Path, files: list[tuple[str, bytes | Spooled]]) -> None:
    """Each file created in `folder` and filled. An e-invoice export writes 70,000 small files: each
    is written by its descriptor (no Path, no Python file object: they took half the time of
    the commit); a big spooled file is copied by the kernel (`spool.write_to`)."""
    base = os.fspath(folder)
    for name, data in files:
        path = os.path.join(base, name)
        if isinstance(data, Spooled) and data.size > spool.PIECE:
            with open(path, "xb") as handle:
                spool.write_to(data, handle)
        else:
            fd = os.open(path, _NEW_FILE, 0o666)
            try:
                for piece in spool.pieces(data):
                    view = memoryview(piece)
                    while view:
                        view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        reached("file")


def _sync_files(folder: Path, names: list[str]) -> None:
    """The files written into `folder` made durable, all at once where the system can: an fsync
    per file waits for a journal commit each (an e-invoice export of 7,000 files spent 9 s in
    them), one syncfs of the file system writes them all in one go."""
    if _syncfs(folder):
        return
    for name in names:
        with open(folder / name, "r+b") as handle:  # Windows flushes only a file opened for writing
            os.fsync(handle.fileno())


def _syncfs(folder: Path) -> bool:
    """syncfs(2) of the file system holding `folder` (Linux); False where there is none."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs failed: {os.strerror(ctypes.get_errno())}", str(folder))
        return True
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable (POSIX; Windows cannot open a folder)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
