"""The export register: one JSON line per export, in the export folder's root.

It survives Excel closing unsaved, so it — not only the workbook's "Exported in" column — says
which documents were exported and which customer numbers were handed out. Entries are keyed by
company, as a bookkeeping office may point several workbooks at one output folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "export-register.jsonl"


class Register:
    def __init__(self, root: Path):
        self.path = Path(root) / FILE_NAME

    def entries(self, company: str | None = None) -> list[dict]:
        if not self.path.is_file():
            return []
        entries = []
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    entry = json.loads(line)
                    if company is None or entry.get("company") == company:
                        entries.append(entry)
        return entries

    def find(self, export_id: str) -> dict | None:
        return next((e for e in self.entries() if e["id"] == export_id), None)

    def append(self, entry: dict) -> None:
        """One line, flushed to disk before the export counts as done."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def exported_documents(entries: list[dict]) -> dict[str, str]:
    """Document number -> the first export that carried it."""
    exported: dict[str, str] = {}
    for entry in entries:
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
