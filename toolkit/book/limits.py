"""How much the toolkit agrees to read: the limits that keep a hostile or broken file from
exhausting memory (a zip bomb, one stray cell at XFD1048576, a million-row customer list).

Each limit has a default that is far above any real invoicing workbook and can be raised with an
environment variable; a refusal names the limit and the variable. See docs/limits.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from toolkit.errors import UserError

MB = 1_000_000


@dataclass(frozen=True)
class Limits:
    # The workbook file itself, as stored on disk.
    file_bytes: int = 500 * MB
    # All parts of the workbook inflated, as declared and as counted while inflating.
    uncompressed_bytes: int = 2_000 * MB
    # Inflated / stored size of one part (only for parts over `ratio_floor` bytes): XML compresses
    # 10 to 30 times, a zip bomb a thousand times.
    compression_ratio: int = 250
    ratio_floor: int = 1 * MB
    # Parts in the zip (a workbook has a few dozen).
    members: int = 10_000
    # Cells of one sheet's rectangle, from A1 to its last row and column: the reader holds the
    # rectangle in memory (about 40 bytes a cell), so 60 million is about 2.5 GB.
    sheet_cells: int = 60_000_000
    # Rows of a customer list imported or pasted on the Customer import sheet.
    import_rows: int = 100_000


# The environment variable of each limit, and how a person counts it (MB for byte sizes).
ENV = {
    "file_bytes": ("LEDGER_EXPORT_MAX_FILE_MB", MB),
    "uncompressed_bytes": ("LEDGER_EXPORT_MAX_UNCOMPRESSED_MB", MB),
    "compression_ratio": ("LEDGER_EXPORT_MAX_COMPRESSION_RATIO", 1),
    "members": ("LEDGER_EXPORT_MAX_ZIP_PARTS", 1),
    "sheet_cells": ("LEDGER_EXPORT_MAX_SHEET_CELLS", 1),
    "import_rows": ("LEDGER_EXPORT_MAX_IMPORT_ROWS", 1),
}


def current() -> Limits:
    """The defaults, with any limit raised (or lowered) through its environment variable."""
    values = {}
    for f in fields(Limits):
        if f.name not in ENV:
            continue
        name, unit = ENV[f.name]
        raw = os.environ.get(name, "").strip().replace("_", "")
        if not raw:
            continue
        try:
            number = int(raw)
        except ValueError:
            raise UserError(f"The environment variable {name}={os.environ[name]!r} must be a whole number.") from None
        if number <= 0:
            raise UserError(f"The environment variable {name}={number} must be above 0.")
        values[f.name] = number * unit
    return Limits(**values)


def how_to_raise(key: str, limits: Limits) -> str:
    """'(the limit is 2,000 MB; set LEDGER_EXPORT_MAX_UNCOMPRESSED_MB to raise it)'."""
    name, unit = ENV[key]
    value = getattr(limits, key) // unit
    return f"the limit is {value:,}{' MB' if unit == MB else ''}; set {name} to raise it"
