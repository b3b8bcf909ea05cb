"""Sheet addressing: the one way a sheet, a header, a column and a Settings label are recognised.

Every part that finds something in a workbook by its name goes through here: the reader, the file
writer, the live (xlwings) writer, `workbook upgrade` and the Customer import paste area. Names are
compared with one fold (`fold_header`: no case, spacing, or the trailing `*` / `:` some users add),
so a header typed `Exported in:` is the "Exported in" column for every one of them, and a writer
never adds a second column beside it.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from toolkit import layout
from toolkit.values import fold_header  # the fold itself lives with the other value parsers

__all__ = [
    "HEADER_SEARCH_ROWS", "fold_header", "same_name", "find_sheet", "header_positions", "find_header",
    "duplicate_headers", "header_search_rows", "setting_for", "missing_columns", "placed_columns", "cell_ref", "split_ref",
]

# The header row of a table sheet is the first of its first rows that names a layout column.
HEADER_SEARCH_ROWS = 10


def same_name(a, b) -> bool:
    return fold_header(a) == fold_header(b)


def find_sheet(names: Iterable[str], wanted: str) -> str | None:
    """The actual name of the sheet called `wanted`, matched with the fold."""
    folded = fold_header(wanted)
    return next((name for name in names if fold_header(name) == folded), None)


def header_positions(row: Sequence, sheet: layout.Sheet) -> dict[str, int]:
    """Layout key -> 0-based position of its header in `row`; the first of duplicates wins."""
    wanted = {fold_header(c.header): c.key for c in sheet.columns}
    positions: dict[str, int] = {}
    for pos, value in enumerate(row):
        key = wanted.get(fold_header(value)) if isinstance(value, str) else None
        if key and key not in positions:
            positions[key] = pos
    return positions


def duplicate_headers(row: Sequence, sheet: layout.Sheet) -> dict[str, list[int]]:
    """Layout key -> the 0-based positions of its header, for the columns `row` names more than once."""
    wanted = {fold_header(c.header): c.key for c in sheet.columns}
    places: dict[str, list[int]] = {}
    for pos, value in enumerate(row):
        key = wanted.get(fold_header(value)) if isinstance(value, str) else None
        if key:
            places.setdefault(key, []).append(pos)
    return {key: found for key, found in places.items() if len(found) > 1}


def header_search_rows(sheet: layout.Sheet) -> int:
    """A paste area's header is row 1 (what is below it is pasted data); a table's is searched."""
    return 1 if sheet.placeholder else HEADER_SEARCH_ROWS


def find_header(rows: Sequence[Sequence], sheet: layout.Sheet) -> tuple[int | None, dict[str, int]]:
    """(0-based header row, key -> 0-based position) of a table sheet's rows; (None, {}) if none."""
    for index, row in enumerate(rows[:header_search_rows(sheet)]):
        positions = header_positions(row, sheet)
        if positions:
            return index, positions
    return None, {}


_SETTINGS = {}
for _s in layout.SETTINGS:
    _SETTINGS.setdefault(fold_header(_s.label), _s)
    _SETTINGS.setdefault(fold_header(_s.key), _s)


def setting_for(label) -> layout.Setting | None:
    """The setting a Settings row's label names (its label, or its key), None for another row."""
    return _SETTINGS.get(fold_header(label)) if isinstance(label, str) else None


def missing_columns(found: Mapping[str, int], keys: Iterable[str]) -> list[str]:
    return [key for key in dict.fromkeys(keys) if key not in found]


def placed_columns(found: Mapping[str, int], keys: Iterable[str], right_edge: int) -> dict[str, int]:
    """Where the columns of `keys` missing from `found` go: right of every value on the sheet
    (`right_edge`, 1-based, 0 for an empty sheet), not just right of the headers, since data
    below the header (a paste) may be wider. Returns key -> 1-based column for the added ones."""
    return {key: right_edge + n for n, key in enumerate(missing_columns(found, keys), start=1)}


def cell_ref(row: int, col: int) -> str:
    """1-based row and column -> "C5"."""
    return f"{layout.column_letter(col - 1)}{row}"


def split_ref(ref: str) -> tuple[int, int] | None:
    """"C5" (or "$C$5") -> (row 5, column 3), 1-based; None when it is no single-cell reference."""
    text = str(ref or "").replace("$", "").strip().upper()
    letters = text.rstrip("0123456789")
    digits = text[len(letters):]
    if not (1 <= len(letters) <= 3 and letters.isalpha() and letters.isascii() and digits.isdigit()):
        return None
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    row = int(digits)
    if not (1 <= row <= 1048576 and 1 <= col <= 16384):
        return None
    return row, col
