"""Safe write-back into a user's workbook file (.xlsx or .xlsm).

    edits = Edits()
    edits.set("Invoices", 5, "exported_in", "2026-Q1-001")
    edits.replace_rows("Check", rows, links=["#'Invoices'!C5", ...])
    edits.append_rows("Export log", [[...]])
    edits.set_setting("customer_number_start", 100000)
    backup = write_back("Company.xlsm", edits)

Columns are found by their layout header in row 1 (users reorder columns; a missing one is added
right of everything on the sheet), Excel tables are resized to cover their data, the file is
replaced atomically after a timestamped backup copy is made beside it, and an .xlsm gets its
ribbon back (openpyxl drops it). `Edits.set(..., None)` empties a cell.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import openpyxl
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import TableColumn
from openpyxl.worksheet.worksheet import Worksheet

from toolkit.errors import UserError
from toolkit import layout
from toolkit.book import address, template, xlsm
from toolkit.book.edits import SHEETS, CellEdit, CheckRow, Edits, check_rows  # noqa: F401 - the public API

KEEP_BACKUPS = 5


class WriteBackError(UserError):
    """A write-back that could not be done; the message is meant for the user."""


class WorkbookLocked(WriteBackError):
    def __init__(self, path: Path):
        super().__init__(
            f"{path.name} is open in another program (probably Excel), so it cannot be written. "
            f"Close it and try again. Nothing was changed.")
        self.path = path


# ---- applying edits to an openpyxl workbook -----------------------------------------------------


class _SheetWriter:
    """One worksheet with its layout: header positions, table and cell formatting."""

    def __init__(self, ws: Worksheet, sheet: layout.Sheet):
        self.ws, self.sheet = ws, sheet
        self.columns: dict[str, int] = {}  # folded header -> 1-based column
        for cell in ws[1]:
            if isinstance(cell.value, str) and cell.value.strip():
                self.columns.setdefault(address.fold_header(cell.value), cell.column)
        self.table = ws.tables.get(sheet.table) or next(iter(ws.tables.values()), None)
        self._right_edge: int | None = None  # the last column holding a value, once needed

    def column_of(self, key: str) -> int:
        """The column of a layout key. A missing column is added right of every value on the
        sheet, not just right of the headers: data below row 1 (a paste) may be wider."""
        header = self.sheet.column(key).header
        col = self.columns.get(address.fold_header(header))
        if col is None:
            if self._right_edge is None:
                self._right_edge = max((c for (_, c), cell in self.ws._cells.items()
                                        if cell.value not in (None, "")), default=0)
            col = self._right_edge = self._right_edge + 1
            self.ws.cell(row=1, column=col, value=header)
            self.columns[address.fold_header(header)] = col
        return col

    def write(self, row: int, key: str, value) -> None:
        cell = self.ws.cell(row=row, column=self.column_of(key))
        cell.value = template.cell_value(value)  # ws.cell(value=None) would leave the old value
        column = self.sheet.column(key)
        if cell.number_format == "General":
            cell.number_format = template.NUMBER_FORMATS.get(column.type, "General")
        if column.output:
            cell.fill = template.OUTPUT_FILL

    def write_row(self, row: int, values: Sequence) -> None:
        for key, value in zip(self.sheet.keys, values):
            self.write(row, key, value)

    def last_data_row(self) -> int:
        """The last row with a value in a layout column (1 = header only), scanning up from the
        bottom. Reads `ws._cells` because `ws.cell()` / `iter_rows()` create the cells they visit."""
        cells = self.ws._cells
        cols = [c for c in (self.columns.get(address.fold_header(col.header)) for col in self.sheet.columns) if c]
        for row in range(self.ws.max_row, 1, -1):
            for c in cols:
                cell = cells.get((row, c))
                if cell is not None and cell.value not in (None, ""):
                    return row
        return 1

    def clear_data(self) -> None:
        if self.ws.max_row >= 2:
            self.ws.delete_rows(2, self.ws.max_row - 1)

    def delete(self, rows: set[int]) -> None:
        # Bottom-up, contiguous runs at once: openpyxl shifts every cell below each deleted block.
        for start, count in reversed(_runs(sorted(rows))):
            self.ws.delete_rows(start, count)
        for cell in self.ws._cells.values():  # openpyxl moves cells but not their link anchors
            if cell.hyperlink is not None:
                cell.hyperlink.ref = cell.coordinate

    def link(self, row: int, key: str, target: str) -> None:
        cell = self.ws.cell(row=row, column=self.column_of(key))
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=target.lstrip("#"),
                                   display=str(cell.value or ""))
        cell.style = "Hyperlink"

    def fit_table(self, last_row: int) -> None:
        """Resize the table to the header row .. `last_row` over all header columns."""
        if self.table is None:
            return
        min_col, min_row, _, _ = range_boundaries(self.table.ref)
        max_col = max([min_col, *self.columns.values()])
        last_row = max(last_row, min_row + 1)  # a table keeps at least one (empty) data row
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last_row}"
        header = [self.ws.cell(row=min_row, column=c) for c in range(min_col, max_col + 1)]
        names = table_column_names([cell.value for cell in header])
        for cell, name in zip(header, names):
            if cell.value != name:  # Excel wants header cells equal to the table's column names
                cell.value = name
        old = {tc.name: tc for tc in self.table.tableColumns}
        next_id = max([tc.id for tc in self.table.tableColumns] + [0]) + 1
        columns = []
        for name in names:
            tc = old.get(name)
            if tc is None:
                tc, next_id = TableColumn(id=next_id, name=name), next_id + 1
            columns.append(tc)
        self.table.ref = ref
        self.table.tableColumns = columns
        if self.table.autoFilter is not None:
            self.table.autoFilter.ref = ref


def table_column_names(values: Sequence) -> list[str]:
    """Valid table column names for a header row, as Excel makes them: text, unique ignoring
    case (a second "Name" becomes "Name2"), a blank header "Column<n>". Duplicate or blank names
    make a file Excel has to repair, and users paste such header rows over tables."""
    names: list[str] = []
    taken: set[str] = set()
    for position, value in enumerate(values, start=1):
        base = _header_text(value) or f"Column{position}"
        name, n = base, 2
        while name.casefold() in taken:
            name, n = f"{base}{n}", n + 1
        taken.add(name.casefold())
        names.append(name)
    return names


def _header_text(value) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][0] + runs[-1][1] == r:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((r, 1))
    return runs


def _apply_settings(wb, values: dict[str, object]) -> None:
    if layout.SETTINGS_SHEET not in wb.sheetnames:
        raise WriteBackError(f"The workbook has no sheet named {layout.SETTINGS_SHEET!r}.")
    ws = wb[layout.SETTINGS_SHEET]
    rows = {}
    for cell in ws["A"]:
        setting = address.setting_for(cell.value)
        if setting is not None:
            rows.setdefault(setting.key, cell.row)
    for key, value in values.items():
        setting = layout.SETTINGS_BY_KEY[key]
        row = rows.get(key)
        if row is None:
            row = ws.max_row + 1
            ws.cell(row=row, column=1, value=setting.label)
            ws.cell(row=row, column=3, value=setting.help or None)
        cell = ws.cell(row=row, column=2, value=template.cell_value(value))
        if cell.number_format == "General":
            cell.number_format = template.NUMBER_FORMATS.get(setting.type, "General")


def apply_edits(wb, edits: Edits) -> None:
    """Apply `edits` to an openpyxl workbook in place."""
    if edits.settings:
        _apply_settings(wb, edits.settings)
    touched = ({e.sheet for e in edits.cells} | set(edits.deleted) | set(edits.appended)
               | set(edits.replaced))
    missing = sorted(touched - set(wb.sheetnames))
    if missing:
        raise WriteBackError(f"The workbook has no sheet named {missing[0]!r} (renamed or deleted?).")
    for name in sorted(touched, key=list(SHEETS).index):
        writer = _SheetWriter(wb[name], SHEETS[name])
        last = writer.last_data_row()
        # Row numbers of cell edits and deletions refer to the file as read: edits first.
        for e in (e for e in edits.cells if e.sheet == name):
            writer.write(e.row, e.key, e.value)
            last = max(last, e.row)
        if name in edits.deleted:
            gone = {r for r in edits.deleted[name] if r <= last}
            writer.delete(gone)
            last -= len(gone)
        if name in edits.replaced:
            rows, links, link_key = edits.replaced[name]
            writer.clear_data()
            for i, values in enumerate(rows):
                writer.write_row(2 + i, values)
                if links and links[i]:
                    writer.link(2 + i, link_key, links[i])
            last = 1 + len(rows)
        for values in edits.appended.get(name, ()):
            last += 1
            writer.write_row(last, values)
        writer.fit_table(last)


# ---- the file -----------------------------------------------------------------------------------


def backup_name(path: Path, now: dt.datetime) -> Path:
    stamp = now.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.backup-{stamp}-{n}{path.suffix}")
        n += 1
    return candidate


def prune_backups(path: Path, keep: int = KEEP_BACKUPS) -> None:
    """Keep the `keep` newest backups of `path` (their names sort by time)."""
    def order(backup: Path) -> tuple[str, int]:  # NAME.backup-YYYYmmdd-HHMMSS[-n].ext
        middle = backup.name[len(path.stem) + len(".backup-"):len(backup.name) - len(path.suffix)]
        return middle[:15], int(middle[16:]) if middle[16:].isdigit() else 1

    backups = sorted(path.parent.glob(f"{glob.escape(path.stem)}.backup-*{path.suffix}"), key=order)
    for old in backups[:-keep] if keep else backups:
        old.unlink(missing_ok=True)


def _check_writable(path: Path) -> None:
    """Excel on Windows keeps an open workbook locked: opening it for writing fails."""
    try:
        with open(path, "r+b"):
            pass
    except PermissionError:
        raise WorkbookLocked(path) from None


def write_back(path: str | os.PathLike, edits: Edits, *, now: dt.datetime | None = None,
               keep_backups: int = KEEP_BACKUPS) -> Path:
    """Apply `edits` to the workbook at `path` safely; returns the backup's path.

    Raises WorkbookLocked when the file is open in Excel, WriteBackError when a sheet is missing;
    in both cases the file is left as it was.
    """
    path = Path(path)
    if not path.is_file():
        raise WriteBackError(f"{path} does not exist.")
    macro = path.suffix.lower() in (".xlsm", ".xltm")
    _check_writable(path)
    wb = openpyxl.load_workbook(path, keep_vba=macro)
    apply_edits(wb, edits)
    data = template.workbook_bytes(wb)
    if macro:
        data = xlsm.with_ribbon(data)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp",
                                    dir=path.parent)
    tmp = Path(tmp_name)
    backup = backup_name(path, now or dt.datetime.now())
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        shutil.copymode(path, tmp)  # mkstemp makes the file private (0600); keep the original's
        shutil.copy2(path, backup)
        try:
            os.replace(tmp, path)
        except PermissionError:
            backup.unlink(missing_ok=True)
            raise WorkbookLocked(path) from None
    finally:
        tmp.unlink(missing_ok=True)
    prune_backups(path, keep_backups)
    return backup
