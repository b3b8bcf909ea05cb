"""Workbook edits as data, shared by the two appliers: the file (`writeback`) and the open book (`live`).

    edits = Edits()
    edits.set("Invoices", 5, "exported_in", "2026-Q1-001")
    edits.append_rows("Export log", [[...]])
    edits.set_setting("customer_number_start", 100000)
    edits.show_findings(findings)          # the Check sheet, its links and the highlighted cells

Rows are 1-based Excel rows as in the workbook read; columns are layout keys, found by their
header (`address`). Both appliers apply an `Edits` the same way: cell edits first, then row
deletions, then a replaced sheet's rows, then appended rows after the last row holding data;
a layout column missing on the sheet is added right of every value. Everything written is a
value, never a formula: a text starting with "=" is written as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from toolkit import catalogue, layout
from toolkit.model import report_order
from toolkit.book import address

SHEETS = {s.name: s for s in layout.TABLE_SHEETS + layout.OUTPUT_SHEETS}
HIGHLIGHT = (255, 199, 206)  # Excel's "light red fill" for the cells a finding points at
HIGHLIGHT_RGB = "FFC7CE"
OUTPUT_RGB = "F2F2F2"  # the grey of output columns in the template


@dataclass(frozen=True, slots=True)
class CellEdit:
    sheet: str
    row: int  # 1-based Excel row, as in the file before this write-back
    key: str  # layout column key
    value: object


@dataclass(frozen=True, slots=True)
class ColumnEdit:
    """One value set in one column of many rows (`Edits.set_rows`): an export marks each of its
    100,000 documents' rows with one export id, as one object rather than one CellEdit per row."""

    sheet: str
    rows: tuple[int, ...]  # 1-based Excel rows, as in the file before this write-back
    key: str  # layout column key
    value: object


@dataclass(frozen=True)
class CheckRow:
    """One row of the Check sheet, built once from a finding; both appliers render it."""

    severity: str
    code: str
    sheet: str
    cell: str
    message: str

    @property
    def target(self) -> tuple[str, str] | None:
        """(sheet, cell) the row links to and highlights; None without a single cell."""
        if self.sheet and address.split_ref(self.cell):
            return self.sheet, self.cell.replace("$", "").upper()
        return None

    @property
    def link(self) -> str | None:
        target = self.target
        return f"#'{target[0]}'!{target[1]}" if target else None

    @property
    def title(self) -> str:
        return catalogue.title(self.code)

    def values(self) -> list:
        return [getattr(self, key) for key in layout.CHECK.keys]


def check_rows(findings: Iterable) -> list[CheckRow]:
    """The Check sheet's rows for findings (anything with severity, code, sheet, cell, message)."""
    return [CheckRow(f.severity, f.code, f.sheet or "", f.cell or "", f.message)
            for f in sorted(findings, key=report_order)]


@dataclass
class Edits:
    """What to change in a workbook; fill it with the methods, then apply it to the file
    (`writeback.write_back`) or to the open workbook (`live.apply`)."""

    cells: list[CellEdit | ColumnEdit] = field(default_factory=list)  # in the order given: a later one wins
    settings: dict[str, object] = field(default_factory=dict)
    deleted: dict[str, set[int]] = field(default_factory=dict)
    appended: dict[str, list[list]] = field(default_factory=dict)
    replaced: dict[str, tuple[list[list], list[str | None] | None, str]] = field(default_factory=dict)
    # (sheet, cell) to highlight; None: leave highlights alone. Set by `show_findings`: the cells
    # named by the Check sheet's previous rows lose their highlight, these get it.
    highlight: list[tuple[str, str]] | None = None

    def set(self, sheet: str, row: int, key: str, value) -> Edits:
        sheet_of(sheet).column(key)  # fail early on a typo
        self.cells.append(CellEdit(sheet, row, key, value))
        return self

    def set_rows(self, sheet: str, rows: Iterable[int], key: str, value) -> Edits:
        """`set` of one value on many rows of one column (an export marks each document's row),
        the column checked once."""
        sheet_of(sheet).column(key)  # fail early on a typo
        rows = tuple(rows)
        if rows:
            self.cells.append(ColumnEdit(sheet, rows, key, value))
        return self

    def set_setting(self, key: str, value) -> Edits:
        if key not in layout.SETTINGS_BY_KEY:
            raise KeyError(f"unknown setting {key!r}")
        self.settings[key] = value
        return self

    def delete_rows(self, sheet: str, rows: Iterable[int]) -> Edits:
        """Delete whole rows (1-based, as in the file before this write-back) of a table sheet."""
        sheet_of(sheet)
        self.deleted.setdefault(sheet, set()).update(r for r in rows if r >= 2)
        return self

    def append_rows(self, sheet: str, rows: Iterable[Sequence]) -> Edits:
        """Add rows (values in layout column order) after the last row holding data."""
        sheet_of(sheet)
        self.appended.setdefault(sheet, []).extend(list(r) for r in rows)
        return self

    def replace_rows(self, sheet: str, rows: Iterable[Sequence],
                     links: Sequence[str | None] | None = None, link_key: str = "cell") -> Edits:
        """Replace all data rows of a sheet (e.g. Check). `links` holds one internal hyperlink
        target per row, like "#'Invoices'!C5", put on the `link_key` column (None: no link)."""
        rows = [list(r) for r in rows]
        if links is not None:
            if len(links) != len(rows):
                raise ValueError("one link (or None) per row")
            sheet_of(sheet).column(link_key)
        self.replaced[sheet] = (rows, list(links) if links is not None else None, link_key)
        return self

    def show_findings(self, findings: Iterable) -> Edits:
        """The Check sheet rewritten with these findings, each linked to its cell, and the
        highlight moved from the cells of the previous findings to theirs."""
        rows = check_rows(findings)
        self.replace_rows(layout.CHECK.name, [r.values() for r in rows], [r.link for r in rows])
        self.highlight = [r.target for r in rows if r.target]
        return self

    def __bool__(self) -> bool:
        return bool(self.cells or self.settings or self.deleted or self.appended or self.replaced)

    def sheets(self) -> list[str]:
        """The sheets these edits change, Check first (its old rows name the old highlights)."""
        names = ({e.sheet for e in self.cells} | set(self.deleted) | set(self.appended) | set(self.replaced))
        return sorted(names, key=lambda n: (n != layout.CHECK.name, list(SHEETS).index(n)))

    def of_sheets(self) -> dict[str, SheetEdits]:
        """The edits of each sheet of `sheets()`, in that order; one pass over the cells for all
        sheets. The rows a ColumnEdit alone changes share one {key: value} (100,000 rows after an
        export: one dict, not 100,000), so a row's dict is replaced, never changed in place."""
        cells: dict[str, dict[int, dict[str, object]]] = {name: {} for name in self.sheets()}
        for e in self.cells:
            rows = cells[e.sheet]
            if type(e) is ColumnEdit:
                shared = {e.key: e.value}
                for row in e.rows:
                    old = rows.get(row)
                    rows[row] = shared if old is None else {**old, e.key: e.value}
            else:
                old = rows.get(e.row)
                rows[e.row] = {e.key: e.value} if old is None else {**old, e.key: e.value}
        return {name: self._sheet_edits(name, rows) for name, rows in cells.items()}

    def _sheet_edits(self, name: str, cells: dict[int, dict[str, object]]) -> SheetEdits:
        rows, links, link_key = self.replaced.get(name, (None, None, "cell"))
        return SheetEdits(SHEETS[name], cells, set(self.deleted.get(name, ())), rows, links, link_key,
                          self.appended.get(name, []))


@dataclass
class SheetEdits:
    """The edits of one sheet, in the order they apply."""

    sheet: layout.Sheet
    cells: dict[int, dict[str, object]]  # row as read -> key -> value; rows may share a dict: read, never change
    deleted: set[int]
    replaced: list[list] | None
    links: list[str | None] | None
    link_key: str
    appended: list[list]

    def keys(self) -> list[str]:
        """The layout keys written, in layout order: their columns must exist."""
        used = {k for values in self.cells.values() for k in values}
        width = max((len(r) for r in (self.replaced or []) + self.appended), default=0)
        if self.replaced is not None:
            width = max(width, len(self.sheet.columns))
        used.update(self.sheet.keys[:width])
        # a computed column is the workbook's formula: written rows leave it alone, never add it
        return [k for k in self.sheet.keys if k in used and not self.sheet.column(k).computed]

    def rows_in_order(self) -> list[list]:
        return (self.replaced or []) + self.appended


def sheet_of(name: str) -> layout.Sheet:
    try:
        return SHEETS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a table sheet of the layout") from None


def cell_value(value):
    """A value as the workbook stores it: booleans as the yes/no of the dropdowns, "" as empty, a
    text cut to what a cell holds."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value == "":
        return None
    if type(value) is str and len(value) > EXCEL_TEXT_LIMIT // 2:
        return _fitted(value)
    return value


# Characters (UTF-16 units) one cell holds. Excel "repairs" a file with a longer text and may drop
# the cell, or refuses it from the open book: an e-invoice export of 500 documents lists 33,000
# characters of SHA-256 on its Export log row (the register keeps them all), a Check message
# may name 70,000 documents.
EXCEL_TEXT_LIMIT = 32767


def _fitted(text: str) -> str:
    units = len(text.encode("utf-16-le")) // 2
    if units <= EXCEL_TEXT_LIMIT:
        return text
    note = f" ... (cut: {units:,} characters; a cell holds {EXCEL_TEXT_LIMIT:,})"
    room = EXCEL_TEXT_LIMIT - len(note)
    head = text[:room]
    while (over := len(head.encode("utf-16-le")) // 2 - room) > 0:  # characters past U+FFFF take two units
        head = head[:len(head) - (over + 1) // 2]
    return head + note


def is_date(value) -> bool:
    return isinstance(value, (dt.date, dt.datetime))
