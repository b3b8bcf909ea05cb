"""The export register: the source of truth for what was exported, one JSON line per event.

It survives Excel closing unsaved, so it — not only the workbook's "Exported in" column — says
which documents were exported and which customer numbers were handed out. Entries are keyed by
company, as a bookkeeping office may point several workbooks at one output folder.

Lines are appended, each flushed and fsynced, and never rewritten (SQLite's journal, in spirit):

    {"v": 2, "event": "pending", "id": ..., <the export's entry>}   before its folder is visible
    {"v": 2, "event": "committed", "id": ...}                       after the folder is in place
    {"v": 2, "event": "failed", "id": ..., "reason": ...}           rolled back
    {<the export's entry>}                                           version 1 (no "v"): committed

Only committed exports count. A crash (or a full disk) can leave a partial last line: readers
skip it, and the next writing operation repairs it (`load(repair=True)`, under the export
folder's lock). Any other damaged line stops every operation with a message naming the line.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import UserError

FILE_NAME = "export-register.jsonl"
VERSION = 2
EVENTS = ("pending", "committed", "failed")
# Export ids are folder names: one path component, no dots first (hidden, '..'), no separators.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
# A folder that an export made: its id starts with the export time (YYYYmmdd-HHMMSS-).
EXPORT_FOLDER = re.compile(r"\d{8}-\d{6}-.+")


class RegisterDamaged(UserError):
    """A line of the register cannot be read; the message names the line and what to do."""


@dataclass
class Loaded:
    """The register read: exports by id in the order they began, and what the reading found."""

    entries: dict[str, dict] = field(default_factory=dict)  # id -> the pending (or v1) entry
    status: dict[str, str] = field(default_factory=dict)  # id -> pending | committed | failed
    partial: bool = False  # the last line was incomplete (skipped)
    repaired: str = ""  # what load(repair=True) did to it

    def committed(self, company: str | None = None) -> list[dict]:
        return [e for i, e in self.entries.items()
                if self.status[i] == "committed" and (company is None or e.get("company") == company)]

    def pending(self) -> list[dict]:
        return [e for i, e in self.entries.items() if self.status[i] == "pending"]


class Register:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / FILE_NAME

    # ---- reading ---------------------------------------------------------------------------

    def load(self, repair: bool = False) -> Loaded:
        """Every line, checked. A last line without its newline is what a crash or a full disk
        leaves: it is skipped (and, with `repair`, completed or cut away and reported)."""
        loaded = Loaded()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return loaded
        except OSError as exc:
            raise RegisterDamaged(f"The export register {self.path} cannot be read ({exc}).") from None
        # A byte order mark is what a Windows editor puts first (the damage message sends the
        # user to one): not part of line 1's record.
        lines = data.removeprefix(codecs.BOM_UTF8).split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, as every complete line does
        number = 0
        for number, raw in enumerate(lines, 1):
            record = self._parse(raw, number)
            if record is not None:
                self._apply(loaded, record, number)
        if tail:
            record = self._parse(tail, number + 1, quiet=True) if tail.strip(b"\0 \t\r") else None
            loaded.partial = record is None
            if repair:
                loaded.repaired = self._repair_tail(len(data) - len(tail), record is not None, number + 1)
            if record is not None:
                self._apply(loaded, record, number + 1)
        return loaded

    def entries(self, company: str | None = None) -> list[dict]:
        """The committed exports (of `company`), in the order they began."""
        return self.load().committed(company)

    def find(self, export_id: str) -> dict | None:
        return next((e for e in self.entries() if e["id"] == export_id), None)

    def ids(self) -> set[str]:
        """Every id the register ever used, whatever became of it: never to be used again."""
        return set(self.load().entries)

    def _parse(self, raw: bytes, number: int, quiet: bool = False) -> dict | None:
        """One line as a record; None for a blank line (or, `quiet`, for a damaged one)."""
        problem = None
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            text, problem = "", f"bytes that are not UTF-8 text (at column {exc.start + 1})"
        if not problem and not text:
            return None
        record = None
        if not problem:
            if "\0" in text:
                problem = "NUL bytes (the file was damaged, e.g. by a crash or a copy that went wrong)"
            else:
                try:
                    record = json.loads(text)
                except (ValueError, RecursionError):
                    problem = f"not a JSON record: {text[:60]!r}{'...' if len(text) > 60 else ''}"
        if not problem:
            problem = _record_problem(record)
        if not problem:
            return record
        if quiet:
            return None
        raise RegisterDamaged(
            f"The export register {self.path} is damaged at line {number}: {problem}. "
            f"It records which documents were exported, so nothing can be exported or written "
            f"until it is repaired: restore it from a backup, or open it in a text editor and "
            f"fix or remove line {number} (each line is one JSON record), then try again. "
            f"`ledger-export register check` verifies it afterwards.")

    def _apply(self, loaded: Loaded, record: dict, number: int) -> None:
        export_id = record["id"]
        event = record.get("event", "committed") if record.get("v", 1) > 1 else "committed"
        if event == "pending" or record.get("v", 1) == 1:
            if export_id in loaded.entries:
                raise RegisterDamaged(
                    f"The export register {self.path} is damaged at line {number}: export {export_id} "
                    f"is recorded twice. Remove the later record with a text editor, then try again.")
            loaded.entries[export_id] = _entry(record)
            loaded.status[export_id] = event
        elif export_id in loaded.entries:
            loaded.status[export_id] = event
        else:
            raise RegisterDamaged(
                f"The export register {self.path} is damaged at line {number}: it marks export "
                f"{export_id} {event}, but no earlier line records that export. Restore the "
                f"register from a backup, or remove line {number} with a text editor.")

    def _repair_tail(self, offset: int, complete: bool, number: int) -> str:
        """A complete last record only misses its newline; anything else is cut away."""
        with self.path.open("r+b") as handle:
            if complete:
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
            else:
                handle.truncate(offset)
            handle.flush()
            os.fsync(handle.fileno())
        if complete:
            return f"The register's last line missed its line end; it was completed ({self.path.name}, line {number})."
        return (f"The register's last line was incomplete (an interrupted write, e.g. a full disk) and "
                f"was removed ({self.path.name}, line {number}); it recorded nothing that had finished.")

    # ---- writing (under the export folder's lock) -------------------------------------------

    def record_pending(self, entry: dict) -> None:
        self._append({"v": VERSION, "event": "pending", **entry})

    def record_committed(self, export_id: str) -> None:
        self._append({"v": VERSION, "event": "committed", "id": export_id})

    def record_failed(self, export_id: str, reason: str) -> None:
        self._append({"v": VERSION, "event": "failed", "id": export_id, "reason": reason})

    def _append(self, record: dict) -> None:
        """One whole line in one write, fsynced before anything depends on it."""
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        self.root.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def _record_problem(record) -> str | None:
    if not isinstance(record, dict):
        return "a JSON value that is not a record"
    export_id = record.get("id")
    if not isinstance(export_id, str) or not export_id:
        return "a record without an export id"
    if not ID_PATTERN.fullmatch(export_id):
        return f"the export id {export_id!r} is not a plain folder name"
    version = record.get("v", 1)
    if not isinstance(version, int) or version < 1:
        return f"an unknown version {version!r}"
    if version > VERSION:
        return f"version {version}, written by a newer ledger-export (install the newer version)"
    if version > 1 and record.get("event") not in EVENTS:
        return f"an unknown event {record.get('event')!r}"
    if version == 1 or record.get("event") == "pending":
        for key, (kind, valid) in ENTRY_FIELDS.items():
            value = record.get(key)
            if not isinstance(value, kind) or not valid(value):
                return f"a '{key}' field that is missing or not {ENTRY_WORDS[key]}"
    return None


def _iso(parse):
    def valid(text: str) -> bool:
        try:
            parse(text)
        except ValueError:
            return False
        return True

    return valid


def _texts(value) -> bool:
    items = value.items() if isinstance(value, dict) else ((v, v) for v in value)
    return all(isinstance(k, str) and isinstance(v, str) for k, v in items)


# What an export's entry holds, as every version wrote it; the commands rely on each field.
ENTRY_FIELDS = {
    "company": (str, lambda v: True),
    "created_at": (str, _iso(dt.datetime.fromisoformat)),
    "package": (str, bool),
    "period_from": (str, _iso(dt.date.fromisoformat)),
    "period_to": (str, _iso(dt.date.fromisoformat)),
    "parameters": (dict, lambda v: True),
    "documents": (list, _texts),
    "customers": (int, lambda v: v >= 0),
    "generated_numbers": (dict, _texts),
    "files": (dict, _texts),
}
ENTRY_WORDS = {
    "company": "a text", "created_at": "a date and time (YYYY-MM-DDTHH:MM:SS)", "package": "a package id",
    "period_from": "a date (YYYY-MM-DD)", "period_to": "a date (YYYY-MM-DD)", "parameters": "a record",
    "documents": "a list of document numbers", "customers": "a count", "generated_numbers":
    "a record of customer ids and numbers", "files": "a record of file names and SHA-256 sums",
}


def _entry(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("v", "event")}


# Two streams, each exactly once per document: the bookkeeping export and the e-invoice. An entry
# without "stream" is a bookkeeping export (as every export was before e-invoices). Each stream
# has its own column on the Invoices sheet.
STREAM_COLUMNS = {"bookkeeping": "exported_in", "einvoice": "einvoice_in"}


def stream_of(entry: dict) -> str:
    return entry.get("stream") or "bookkeeping"


def exported_documents(entries: list[dict], stream: str = "bookkeeping") -> dict[str, str]:
    """Document number -> the first export of `stream` that carried it."""
    exported: dict[str, str] = {}
    for entry in entries:
        if stream_of(entry) != stream:
            continue
        for number in entry.get("documents", ()):
            exported.setdefault(number, entry["id"])
    return exported


def given_numbers(entries: list[dict]) -> dict[str, str]:
    """Customer id -> the accounting number an export generated for it (never to change)."""
    numbers: dict[str, str] = {}
    for entry in entries:
        for customer_id, number in entry.get("generated_numbers", {}).items():
            numbers.setdefault(customer_id, number)
    return numbers


# ---- files ----------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_problems(root: Path, entry: dict) -> list[str]:
    """What is wrong with a recorded export's files on disk (empty: all there, all intact)."""
    folder = Path(root) / entry["id"]
    if not folder.is_dir():
        return [f"export {entry['id']}: its folder {folder} is missing"]
    problems = []
    for name, digest in entry.get("files", {}).items():
        path = folder / name
        if Path(name).name != name or name.startswith("."):
            problems.append(f"export {entry['id']}: the recorded file name {name!r} is not a plain file name")
        elif not path.is_file():
            problems.append(f"export {entry['id']}: {name} is missing")
        elif sha256_of(path) != digest:
            problems.append(f"export {entry['id']}: {name} was changed since the export (its SHA-256 differs)")
    return problems


def check(root: Path) -> tuple[int, list[str]]:
    """`ledger-export register check`: the number of committed exports, and every problem of the
    register and of the files it records."""
    root = Path(root)
    try:
        loaded = Register(root).load()
    except RegisterDamaged as exc:
        return 0, [str(exc)]
    problems = []
    if loaded.partial:
        problems.append(f"{FILE_NAME}: the last line is incomplete (an interrupted write); the next export "
                        f"or other writing command removes it.")
    for entry in loaded.pending():
        problems.append(f"export {entry['id']}: unfinished (interrupted); the next export or other writing "
                        f"command finishes or rolls it back.")
    committed = loaded.committed()
    for entry in committed:
        problems += file_problems(root, entry)
    recorded = {e["id"] for e in committed}
    unknown = []
    if root.is_dir():
        for path in sorted(root.iterdir()):
            if path.is_dir() and path.name.endswith(".partial"):
                problems.append(f"{path.name}: an unfinished export folder; the next writing command removes it.")
            elif path.is_dir() and EXPORT_FOLDER.fullmatch(path.name) and path.name not in recorded:
                unknown.append(path.name)
                problems.append(f"{path.name}: an export folder that no finished export in the register accounts for.")
    if unknown and not Register(root).path.exists():  # not "nothing was exported there"
        problems.insert(0, f"{FILE_NAME} is missing, but export folders are here ({len(unknown)}): was it deleted or "
                           f"moved? Restore it from a backup; without it, only the Invoices sheet's 'Exported in' "
                           f"says which documents were exported.")
    return len(committed), problems
