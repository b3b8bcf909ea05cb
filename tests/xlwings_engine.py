"""An xlwings engine backed by openpyxl, so code written for `xw.Book.caller()` runs in pytest.

xlwings' interactive mode needs Excel (Windows/macOS); its file engine is a PRO feature. This engine
plugs into `xw.engines` (see shared/reference/excel-build.md §3) and keeps COM's semantics where
tests can notice them: numbers read back as float, a single cell reads as a scalar, `end()` jumps
like Ctrl+Arrow, `Range(a, b)` is the bounding box, writing a scalar fills the whole range.

    with mock_caller("Company.xlsm") as book:      # registers the engine, opens, set_mock_caller()
        toolkit.excel.validate()                   # calls xw.Book.caller() unchanged
        book.app.impl.alerts                       # message boxes shown, as Alert records
        book.app.impl.status_bar_history           # status bar texts set

Limits: no formula calculation (a formula reads back as its text), no events, no `app.api`/COM;
names, charts, pictures and the like raise NotImplementedError (xlwings' own base classes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import openpyxl
import xlwings as xw
from openpyxl.styles import PatternFill
from openpyxl.utils.cell import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import TableColumn
from xlwings.main import Engine as EngineWrapper

try:
    import pandas as pd
except ImportError:  # pragma: no cover
    pd = None

MAX_ROW, MAX_COL = 1048576, 16384
ENGINE_NAME = "openpyxl"
_pids = itertools.count(1000)


class ErrorValue(str):
    """A cell error such as #N/A, as read (COM returns a number; xlwings maps it)."""


class ComError(Exception):
    """What pywin32 raises when Excel refuses an action, with the same args: (hresult, text,
    (wcode, source, description, helpfile, helpcontext, scode), argerror)."""

    def __init__(self, description: str):
        super().__init__(-2147352567, "Exception occurred.",
                         (0, "Microsoft Excel", description, "xlmain11.chm", 0, -2146827284), None)


TAKEN = "That name is already taken. Try a different one."
PROTECTED = ("The cell or chart you're trying to change is on a protected sheet. To make a change, unprotect "
             "the sheet. You might be requested to enter a password.")
MERGED = "We can't do that to a merged cell."


@dataclass(frozen=True)
class Alert:
    prompt: str
    title: str | None
    buttons: str
    mode: str | None


# ---- engine and app ------------------------------------------------------------------------------


class Engine:
    name = ENGINE_NAME
    type = "desktop"  # Excel semantics in the conversion pipeline (a scalar fills a range)

    def __init__(self):
        self.apps = Apps(self)

    @staticmethod
    def prepare_xl_data_element(x, options):
        if pd is not None and not isinstance(x, (list, tuple, dict, str)) and pd.isna(x):
            return ""
        if pd is not None and isinstance(x, pd.Timestamp):
            return x.to_pydatetime()
        if type(x).__module__ == "numpy":
            return x.item()
        return "" if x is None else x

    @staticmethod
    def clean_value_data(data, datetime_builder, empty_as, number_builder, err_to_str):
        def clean(value):
            if value is None or value == "":
                return empty_as
            if isinstance(value, ErrorValue):
                return str(value) if err_to_str else None
            if isinstance(value, dt.datetime):
                return datetime_builder(year=value.year, month=value.month, day=value.day,
                                        hour=value.hour, minute=value.minute, second=value.second,
                                        microsecond=value.microsecond, tzinfo=None)
            if number_builder is not None and isinstance(value, float):
                return number_builder(value)
            return value

        return [[clean(v) for v in row] for row in data]


class Apps:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._apps: list[App] = []

    def add(self, **kwargs) -> App:
        app = App(self.engine)
        self._apps.insert(0, app)  # the newest app is the active one
        return app

    def keys(self):
        return [a.pid for a in self._apps]

    def __iter__(self):
        return iter(list(self._apps))

    def __len__(self):
        return len(self._apps)

    def __getitem__(self, pid):
        for app in self._apps:
            if app.pid == pid:
                return app
        raise KeyError(pid)

    def cleanup(self):
        pass


class App:
    version = "16.0"
    path = ""
    startup_path = ""
    hwnd = 0
    selection = None
    cut_copy_mode = False

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pid = next(_pids)
        self.books = Books(self)
        self.visible = False
        self.screen_updating = True
        self.display_alerts = True
        self.enable_events = True
        self.interactive = True
        self.calculation = "automatic"
        self.alerts: list[Alert] = []
        self.alert_answers: list[str] = []  # queued answers; default: the first button
        self.status_bar_history: list[str] = []
        self._status_bar: str | bool = False

    @property
    def api(self):
        return self

    @property
    def status_bar(self):
        return self._status_bar

    @status_bar.setter
    def status_bar(self, value):
        self._status_bar = value
        if value:
            self.status_bar_history.append(value)

    def alert(self, prompt, title=None, buttons="ok", mode=None, callback=None):
        self.alerts.append(Alert(prompt, title, buttons, mode))
        if self.alert_answers:
            return self.alert_answers.pop(0)
        return {"ok": "ok", "ok_cancel": "ok", "yes_no": "yes", "yes_no_cancel": "yes"}[buttons]

    def calculate(self):
        pass

    def activate(self, steal_focus=False):
        pass

    def get_selection(self):
        return None

    def quit(self):
        self.books._books.clear()
        self.engine.apps._apps.remove(self)

    kill = quit


# ---- books and sheets ----------------------------------------------------------------------------


class Books:
    def __init__(self, app: App):
        self.app = app
        self._books: list[Book] = []

    def open(self, fullname, *args, **kwargs):
        book = Book(self.app, Path(fullname))
        self._books.append(book)
        return book

    def add(self):
        book = Book(self.app, None)
        self._books.append(book)
        return book

    @property
    def active(self):
        return self._books[-1] if self._books else None

    def __call__(self, name_or_index):
        if isinstance(name_or_index, int):
            return self._books[name_or_index - 1]
        for book in self._books:
            if book.name.lower() == str(name_or_index).lower():
                return book
        raise KeyError(name_or_index)

    def __contains__(self, name):
        return any(b.name.lower() == name.lower() for b in self._books)

    def __iter__(self):
        return iter(list(self._books))

    def __len__(self):
        return len(self._books)


class Book:
    def __init__(self, app: App, path: Path | None):
        self.app = app
        if path is None:
            self._path = None
            self._name = f"Book{len(app.books) + 1}"
            self.wb = openpyxl.Workbook()
        else:
            self._path = Path(os.path.realpath(path))
            self._name = self._path.name
            self.wb = openpyxl.load_workbook(self._path, keep_vba=self._is_macro(self._path))
        self.wb.ReadOnly = False  # COM's Workbook.ReadOnly (`book.api` stands in for COM); a test may set it
        self.sheets = Sheets(self)

    @staticmethod
    def _is_macro(path: Path) -> bool:
        return path.suffix.lower() in (".xlsm", ".xltm", ".xlam")

    @property
    def name(self):
        return self._name

    @property
    def fullname(self):
        return str(self._path) if self._path else self._name

    @property
    def api(self):
        return self.wb

    def save(self, path=None, password=None):
        target = Path(path) if path else self._path
        if target is None:
            raise ValueError("a new book needs a path to be saved")
        self.wb.save(target)
        if self._is_macro(target):
            # Excel keeps the ribbon when it saves; openpyxl drops its relationship.
            from toolkit.book import xlsm

            xlsm.apply_ribbon(target)
        self._path, self._name = Path(os.path.realpath(target)), target.name

    def close(self):
        self.app.books._books.remove(self)

    def activate(self, steal_focus=False):
        pass


class Sheets:
    def __init__(self, book: Book):
        self.book = book

    def _sheet(self, ws):
        return Sheet(self.book, ws)

    def __call__(self, name_or_index):
        worksheets = self.book.wb.worksheets
        if isinstance(name_or_index, int):
            return self._sheet(worksheets[name_or_index - 1])
        for ws in worksheets:
            if ws.title.lower() == str(name_or_index).lower():  # Excel ignores case
                return self._sheet(ws)
        raise KeyError(name_or_index)

    def __contains__(self, name):
        return any(ws.title.lower() == name.lower() for ws in self.book.wb.worksheets)

    def __iter__(self):
        return (self._sheet(ws) for ws in list(self.book.wb.worksheets))

    def __len__(self):
        return len(self.book.wb.worksheets)

    @property
    def active(self):
        return self._sheet(self.book.wb.active)

    def add(self, before=None, after=None, name=None):
        wb = self.book.wb
        if before is not None:
            index = wb.worksheets.index(before.ws)
        elif after is not None:
            index = wb.worksheets.index(after.ws) + 1
        else:
            index = wb.worksheets.index(wb.active)  # Excel adds before the active sheet
        if name is not None:
            _refuse_taken(wb, name)  # openpyxl would make it "Name1"
        ws = wb.create_sheet(name, index)
        wb.active = index
        return self._sheet(ws)


class Sheet:
    def __init__(self, book: Book, ws):
        self.book, self.ws = book, ws

    def __eq__(self, other):
        return isinstance(other, Sheet) and other.ws is self.ws

    @property
    def name(self):
        return self.ws.title

    @name.setter
    def name(self, value):
        _refuse_taken(self.book.wb, value, self.ws)
        if str(value).lower() == self.ws.title.lower():  # openpyxl would make "preview" of "Preview" "preview1"
            self.ws._WorkbookChild__title = value
        else:
            self.ws.title = value

    @property
    def index(self):
        return self.book.wb.worksheets.index(self.ws) + 1

    @property
    def api(self):
        return self.ws

    @property
    def visible(self):
        return self.ws.sheet_state == "visible"

    @visible.setter
    def visible(self, value):
        self.ws.sheet_state = "visible" if value else "hidden"

    def range(self, cell1, cell2=None):
        r1, c1, r2, c2 = _bounds(cell1)
        if cell2 is not None:
            s1, d1, s2, d2 = _bounds(cell2)
            r1, c1, r2, c2 = min(r1, s1), min(c1, d1), max(r2, s2), max(c2, d2)
        return Range(self, r1, c1, r2, c2)

    @property
    def cells(self):
        return Range(self, 1, 1, MAX_ROW, MAX_COL)

    @property
    def used_range(self):
        return Range(self, self.ws.min_row, self.ws.min_column, self.ws.max_row, self.ws.max_column)

    def clear_contents(self):
        for cell in self.ws._cells.values():
            cell.value = None

    def clear(self):
        self.ws.delete_rows(1, self.ws.max_row)

    def activate(self):
        self.book.wb.active = self.book.wb.worksheets.index(self.ws)

    select = activate

    def delete(self):
        self.book.wb.remove(self.ws)

    @property
    def tables(self):
        return Tables(self)


def _refuse_taken(wb, name: str, ws=None) -> None:
    if any(other.title.lower() == str(name).lower() and other is not ws for other in wb.worksheets):
        raise ComError(TAKEN)


def _bounds(cell) -> tuple[int, int, int, int]:
    """(row1, col1, row2, col2) of "A1", "A1:C3", "A:C", "2:4", (r, c), (r, c, rows, cols), a Range."""
    if isinstance(cell, Range):
        return cell.row, cell.column, cell.row2, cell.col2
    if isinstance(cell, tuple):
        if len(cell) == 2:
            return cell[0], cell[1], cell[0], cell[1]
        r, c, nr, nc = cell
        return r, c, r + max(nr, 1) - 1, c + max(nc, 1) - 1
    text = str(cell).replace("$", "").split("!")[-1]
    if re.fullmatch(r"[A-Za-z]+:[A-Za-z]+", text):
        a, b = text.split(":")
        return 1, column_index_from_string(a.upper()), MAX_ROW, column_index_from_string(b.upper())
    if re.fullmatch(r"\d+:\d+", text):
        a, b = text.split(":")
        return int(a), 1, int(b), MAX_COL
    min_col, min_row, max_col, max_row = range_boundaries(text.upper())
    return min_row, min_col, max_row or min_row, max_col or min_col


# ---- ranges --------------------------------------------------------------------------------------


def _read(cell):
    """A cell's value as COM reports it."""
    if cell is None or cell.value is None:
        return None
    value = cell.value
    if cell.data_type == "e":
        return ErrorValue(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


class Range:
    max_cells_per_read = None
    max_cells_per_write = None
    has_array = False

    def __init__(self, sheet: Sheet, row: int, column: int, row2: int, col2: int):
        self.sheet, self.row, self.column, self.row2, self.col2 = sheet, row, column, row2, col2
        self.options = {}

    @property
    def ws(self):
        return self.sheet.ws

    @property
    def api(self):
        return self.ws  # truthy: the conversion pipeline checks `range.api`

    @property
    def shape(self):
        return self.row2 - self.row + 1, self.col2 - self.column + 1

    def __len__(self):
        rows, cols = self.shape
        return rows * cols

    def _cells(self):
        """The openpyxl cells of the range, created on demand (for writing). Excel refuses to
        change a locked cell of a protected sheet, or part of a merged cell."""
        self._refuse_change()
        for r in range(self.row, self.row2 + 1):
            yield [self.ws.cell(row=r, column=c) for c in range(self.column, self.col2 + 1)]

    def _refuse_change(self):
        ws = self.ws
        if ws.protection.sheet:
            for r in range(self.row, min(self.row2, ws.max_row) + 1):
                for c in range(self.column, min(self.col2, ws.max_column) + 1):
                    cell = ws._cells.get((r, c))
                    if cell is None or cell.protection.locked:
                        raise ComError(PROTECTED)
            if self.row2 > ws.max_row or self.col2 > ws.max_column:  # cells never touched: locked
                raise ComError(PROTECTED)
        for merged in ws.merged_cells.ranges:
            inside = (self.row <= merged.min_row and merged.max_row <= self.row2
                      and self.column <= merged.min_col and merged.max_col <= self.col2)
            overlaps = not (merged.max_row < self.row or self.row2 < merged.min_row
                            or merged.max_col < self.column or self.col2 < merged.min_col)
            if overlaps and not inside:
                raise ComError(MERGED)

    @property
    def raw_value(self):
        cells = self.ws._cells  # reading must not create cells
        rows = [[_read(cells.get((r, c))) for c in range(self.column, self.col2 + 1)]
                for r in range(self.row, min(self.row2, max(self.ws.max_row, self.row)) + 1)]
        rows += [[None] * self.shape[1] for _ in range(self.shape[0] - len(rows))]
        return rows[0][0] if len(self) == 1 else rows

    @raw_value.setter
    def raw_value(self, data):
        self._refuse_change()
        if not isinstance(data, (list, tuple)):
            data = [[data] * self.shape[1] for _ in range(self.shape[0])]
        elif data and not isinstance(data[0], (list, tuple)):
            data = [data]
        for r, row in enumerate(data):
            for c, value in enumerate(row):
                # Not ws.cell(value=...): openpyxl ignores value=None there, and writing "" or
                # None must empty the cell, as it does in Excel.
                cell = self.ws.cell(row=self.row + r, column=self.column + c)
                cell.value = None if value == "" else value
                if isinstance(value, str) and value.startswith("=") and cell.number_format == "@":
                    cell.data_type = "s"  # Excel keeps what is typed into a Text cell as text

    def __call__(self, row, col=None):
        if col is None:  # COM's Item(i): cells counted row by row
            row, col = divmod(row - 1, self.shape[1])
            row, col = row + 1, col + 1
        r, c = self.row + row - 1, self.column + col - 1
        return Range(self.sheet, r, c, r, c)

    def end(self, direction):
        step = {"down": (1, 0), "d": (1, 0), -4121: (1, 0), "up": (-1, 0), "u": (-1, 0), -4162: (-1, 0),
                "right": (0, 1), "r": (0, 1), -4161: (0, 1), "left": (0, -1), "l": (0, -1), -4159: (0, -1)}
        dr, dc = step[direction.lower() if isinstance(direction, str) else direction]
        cells = self.ws._cells

        def filled(r, c):
            cell = cells.get((r, c))
            return cell is not None and cell.value not in (None, "")

        def inside(r, c):
            return 1 <= r <= MAX_ROW and 1 <= c <= MAX_COL

        r, c = self.row, self.column
        last_r, last_c = self.ws.max_row, self.ws.max_column
        if filled(r, c) and inside(r + dr, c + dc) and filled(r + dr, c + dc):
            while inside(r + dr, c + dc) and filled(r + dr, c + dc):  # to the end of the block
                r, c = r + dr, c + dc
        else:  # to the next filled cell, or the sheet's edge
            r, c = r + dr, c + dc
            # Nothing lies beyond the last row / column holding cells: skip that stretch.
            r, c = (min(r, last_r + 1) if dr < 0 else r), (min(c, last_c + 1) if dc < 0 else c)
            while inside(r, c) and not filled(r, c):
                if (dr > 0 and r > last_r) or (dc > 0 and c > last_c):
                    r, c = (MAX_ROW, c) if dr else (r, MAX_COL)
                    break
                r, c = r + dr, c + dc
            r, c = min(max(r, 1), MAX_ROW), min(max(c, 1), MAX_COL)
        return Range(self.sheet, r, c, r, c)

    def expand(self, mode="table"):
        from xlwings import expansion
        from xlwings.main import Range as RangeWrapper

        return expansion.expanders.get(mode, mode).expand(RangeWrapper(impl=self)).impl

    def get_address(self, row_absolute=True, col_absolute=True, external=False):
        def ref(r, c):
            return (("$" if col_absolute else "") + get_column_letter(c)
                    + ("$" if row_absolute else "") + str(r))

        address = ref(self.row, self.column)
        if len(self) > 1:
            address += ":" + ref(self.row2, self.col2)
        if external:
            address = f"[{self.sheet.book.name}]{self.sheet.name}!{address}"
        return address

    @property
    def address(self):
        return self.get_address()

    @property
    def plain_address(self):
        return self.get_address(False, False)

    def clear_contents(self):
        self._refuse_change()
        cells = self.ws._cells
        for r in range(self.row, min(self.row2, self.ws.max_row) + 1):
            for c in range(self.column, min(self.col2, self.ws.max_column) + 1):
                if (r, c) in cells:
                    cells[(r, c)].value = None

    def clear(self):
        self.clear_contents()
        self.color = None
        for r in range(self.row, min(self.row2, self.ws.max_row) + 1):
            for c in range(self.column, min(self.col2, self.ws.max_column) + 1):
                cell = self.ws._cells.get((r, c))
                if cell is not None:
                    cell.hyperlink = None

    @property
    def formula(self):
        value = self.raw_value
        return "" if value is None else str(value)

    @formula.setter
    def formula(self, value):
        self.raw_value = value

    @property
    def number_format(self):
        return self.ws.cell(row=self.row, column=self.column).number_format

    @number_format.setter
    def number_format(self, value):
        for row in self._cells():
            for cell in row:
                cell.number_format = value

    @property
    def color(self):
        cell = self.ws._cells.get((self.row, self.column))
        if cell is None or cell.fill.fill_type != "solid":
            return None
        rgb = cell.fill.fgColor.rgb[-6:]
        return tuple(int(rgb[i:i + 2], 16) for i in (0, 2, 4))

    @color.setter
    def color(self, value):
        if value is None:
            fill = PatternFill(fill_type=None)
        else:
            if isinstance(value, str):
                rgb = value.lstrip("#")
            elif isinstance(value, int):  # Excel's BGR integer
                rgb = "%02X%02X%02X" % (value & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF)
            else:
                rgb = "%02X%02X%02X" % tuple(value)
            fill = PatternFill("solid", fgColor=rgb.upper())
        self._refuse_change()
        if value is None:  # clearing must not create the cells of a big empty range
            for r in range(self.row, min(self.row2, self.ws.max_row) + 1):
                for c in range(self.column, min(self.col2, self.ws.max_column) + 1):
                    if (r, c) in self.ws._cells:
                        self.ws._cells[(r, c)].fill = fill
            return
        for row in self._cells():
            for cell in row:
                cell.fill = fill

    @property
    def hyperlink(self):
        cell = self.ws._cells.get((self.row, self.column))
        link = cell.hyperlink if cell is not None else None
        if link is None:
            raise Exception("The cell doesn't seem to contain a hyperlink!")
        return link.target or "#" + link.location

    def add_hyperlink(self, address, text_to_display=None, screen_tip=None):
        self._refuse_change()
        cell = self.ws.cell(row=self.row, column=self.column)
        if address.startswith("#"):  # a place in this workbook, as Excel's SubAddress
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=address[1:], tooltip=screen_tip)
        else:
            cell.hyperlink = Hyperlink(ref=cell.coordinate, target=address, tooltip=screen_tip)
        cell.value = text_to_display if text_to_display is not None else address
        cell.style = "Hyperlink"

    @property
    def table(self):
        for table in self.ws.tables.values():
            r1, c1, r2, c2 = _bounds(table.ref)
            if r1 <= self.row <= r2 and c1 <= self.column <= c2:
                return Table(self.sheet, table)
        return None

    def select(self):
        pass


# ---- tables (ListObjects) ------------------------------------------------------------------------


class Tables:
    def __init__(self, sheet: Sheet):
        self.sheet = sheet

    def __call__(self, name_or_index):
        tables = list(self.sheet.ws.tables.values())
        if isinstance(name_or_index, int):
            return Table(self.sheet, tables[name_or_index - 1])
        for table in tables:
            if table.displayName.lower() == name_or_index.lower():
                return Table(self.sheet, table)
        raise KeyError(name_or_index)

    def __contains__(self, name):
        return any(t.lower() == name.lower() for t in self.sheet.ws.tables)

    def __iter__(self):
        return (Table(self.sheet, t) for t in list(self.sheet.ws.tables.values()))

    def __len__(self):
        return len(self.sheet.ws.tables)


class Table:
    def __init__(self, sheet: Sheet, table):
        self.sheet, self.table = sheet, table

    @property
    def parent(self):
        return self.sheet

    @property
    def name(self):
        return self.table.displayName

    display_name = name

    @property
    def api(self):
        return self.table

    @property
    def range(self):
        return self.sheet.range(self.table.ref)

    @property
    def header_row_range(self):
        r1, c1, _, c2 = _bounds(self.table.ref)
        return Range(self.sheet, r1, c1, r1, c2)

    @property
    def data_body_range(self):
        r1, c1, r2, c2 = _bounds(self.table.ref)
        return Range(self.sheet, r1 + 1, c1, r2, c2) if r2 > r1 else None

    def resize(self, rng):
        """Like ListObject.Resize: the new range keeps the header row; headers name the columns."""
        impl = rng.impl if hasattr(rng, "impl") else rng
        ref = impl.plain_address
        self.table.ref = ref
        if self.table.autoFilter is not None:
            self.table.autoFilter.ref = ref
        old = {c.name: c for c in self.table.tableColumns}
        ids = itertools.count(max([c.id for c in self.table.tableColumns] + [0]) + 1)
        names = [str(self.sheet.ws.cell(row=impl.row, column=c).value or f"Column{c - impl.column + 1}")
                 for c in range(impl.column, impl.col2 + 1)]
        self.table.tableColumns = [old.get(n) or TableColumn(id=next(ids), name=n) for n in names]


# ---- registration --------------------------------------------------------------------------------


def register() -> EngineWrapper:
    """Add the engine to `xw.engines` once and make it the active one."""
    engine = xw.engines.engines_by_name.get(ENGINE_NAME)
    if engine is None:
        engine = EngineWrapper(impl=Engine())
        xw.engines.add(engine)
    xw.engines.active = engine
    if not len(engine.impl.apps):
        engine.impl.apps.add()
    return engine


def open_book(path) -> xw.Book:
    register()
    return xw.Book(str(path))


@contextlib.contextmanager
def mock_caller(path):
    """Open `path` in the test engine as the calling book of `xw.Book.caller()`; cleans up after."""
    previous = xw.engines.active
    engine = register()
    app = engine.impl.apps.add()  # a fresh app per test: its alerts and status bar are the test's
    book = xw.Book(str(path))
    book.set_mock_caller()
    try:
        yield book
    finally:
        if getattr(xw.Book, "_mock_caller", None) is book:
            del xw.Book._mock_caller
        with contextlib.suppress(ValueError):
            book.impl.close()
        app.quit()
        xw.engines.active = previous if previous is not None else engine
