"""Safe write-back into a user's workbook file (.xlsx or .xlsm), patching only what changes.

    edits = Edits()
    edits.set("Invoices", 5, "exported_in", "2026-Q1-001")
    edits.show_findings(findings)          # the Check sheet, its links and highlights
    edits.append_rows("Export log", [[...]])
    edits.set_setting("customer_number_start", 100000)
    backup = write_back("Company.xlsm", edits)

The workbook is not loaded and saved: the zip members the edits touch (the sheets, their tables,
styles.xml when a format must be added; workbook.xml, its relationships and content types only
to add a missing output sheet) are rewritten, streaming; every other member is copied byte for
byte, so text boxes, shapes, images, charts, comments, form controls, custom XML, the VBA project
and the ribbon stay as they were. Columns are found by their header (`address`); a missing one is
added right of everything on the sheet; Excel tables are resized to their data. Values are written
as values, never as formulas. What cannot be changed without losing something is refused with a
message, never dropped. The file is replaced atomically (temporary file, fsync, rename) after a
backup copy, made once per run, is put beside it.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import datetime as dt
import errno
import glob
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Sequence
from xml.etree import ElementTree as ET

from toolkit import layout
from toolkit.book import address, sheetxml
from toolkit.book.edits import (  # noqa: F401 - Edits and friends are the public API of write-back
    HIGHLIGHT_RGB, OUTPUT_RGB, SHEETS, CellEdit, CheckRow, Edits, SheetEdits, cell_value, check_rows, is_date,
)
from toolkit.book.package import LEVEL, STRINGS_REL, STYLES_REL, Deflated, Package
from toolkit.book.sheetxml import CELL, ROW_NUMBER, STYLE_ATTR, Row, SheetXmlError, cell_xml, letters
from toolkit.book.styles import NO_FILL, Styles
from toolkit.errors import UserError

KEEP_LAST = 10  # backups always kept, whatever their age
KEEP_DAYS = 30  # older backups beyond the last KEEP_LAST go
KEEP_MAX = 50  # and never more than this many
NUMBER_FORMATS = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "decimal": "#,##0.00", "percent": "General", "int": "0",
                  "code": "@", "text": "@", "choice": "@", "bool": "@"}  # as the template formats them
CREATABLE = {s.name for s in layout.OUTPUT_SHEETS if s.table and all(c.output for c in s.columns)}


class WriteBackError(UserError):
    """A write-back that could not be done; the message is meant for the user."""


class WorkbookLocked(WriteBackError):
    def __init__(self, path: Path, owner: Path | None = None):
        if owner is None:
            super().__init__(f"{path.name} is open in another program (probably Excel), so it cannot be written. "
                             f"Close it and try again; the workbook was not changed.")
        else:  # a stale owner file (Excel crashed, or a computer went off with the workbook open) is common
            super().__init__(f"{path.name} is open in Excel (its owner file {owner.name} is beside it, perhaps from "
                             f"another computer on a shared drive), so it cannot be written. Close it in Excel and try "
                             f"again; if no Excel has it open (Excel stopped without closing it), delete {owner.name} "
                             f"and try again. The workbook was not changed.")
        self.path = path


# ---- one sheet part ----------------------------------------------------------------------------


class _Op:
    """What to do to one cell: write a value, a header, or (un)highlight it."""

    __slots__ = ("kind", "value", "fmt", "output", "link", "mark")

    def __init__(self, kind: str, value=None, fmt: str | None = None, output: bool = False, link: bool = False):
        self.kind, self.value, self.fmt, self.output, self.link = kind, value, fmt, output, link
        self.mark: bool | None = None  # a value op's cell highlighted (True) or no longer (False)

    def marked(self, mark: bool) -> _Op:
        """This value op with its cell (un)highlighted too: a copy, as one value op serves every
        cell that gets its value (a column of 100,000 "Exported in")."""
        op = _Op(self.kind, self.value, self.fmt, self.output, self.link)
        op.mark = mark
        return op


def _value_op(value, column: layout.Column | None = None, fmt: str | None = None, link: bool = False) -> _Op:
    if column is not None:
        fmt = NUMBER_FORMATS.get(column.type, "General")
    return _Op("value", cell_value(value), fmt, bool(column and column.output), link)


class _SheetPatch:
    """Rewrites one sheet part: `ops` by row as read and column, rows deleted, data rows replaced,
    rows appended after the last row holding data; the result is a Deflated member."""

    def __init__(self, book: Package, part: str, sheet_name: str, styles: Styles, strings: sheetxml.SharedStrings):
        self.book, self.part, self.name, self.styles, self.strings = book, part, sheet_name, styles, strings
        self.ops: dict[int, dict[int, _Op]] = {}  # row as read -> col -> op; rows may share a dict (`op`)
        self._single: dict[int, _Op] = {}  # the last {col: op} a row got as its first op
        self._styles: dict[tuple, int] = {}
        self.deleted: list[int] = []
        self.replace_from: int | None = None  # rows from here on are dropped (a replaced sheet)
        self.new_rows: list[dict[int, _Op]] = []  # replaced rows, then appended ones
        self.append_after: set[int] | None = None  # layout columns that make a row a data row
        self.min_last = 0  # the last data row is at least this one
        self.header_row = 1
        self.links: list[tuple[int, int, str, str]] = []  # (index in new_rows, col, location, display)
        self._value_cells: dict[_Op, dict[bytes, bytes]] = {}  # op -> old attributes -> the new cell after its reference
        self.dropped: list[Row] = []
        self.keep_dropped = False
        self.last_row = 0  # the last data row, once written (rows as written)
        self.max_col = 0

    def op(self, row: int, col: int, op: _Op) -> None:
        """Add an op. Rows given the same single op share one {col: op} (100,000 "Exported in"
        are then one dict, not 100,000), so a row's ops are replaced, never changed in place."""
        cells = self.ops.get(row)
        if cells is None:  # the first op of its row: most are (one "Exported in" per invoice row)
            single = self._single
            if single.get(col) is not op:
                single = self._single = {col: op}
            self.ops[row] = single
            return
        old = cells.get(col)
        if old is not None and op.kind == "highlight" and old.kind == "value":
            op = old.marked(op.value)  # a value written into a cell that is (un)highlighted too
        elif old is not None and op.kind == "value" and old.kind == "highlight":
            op = op.marked(old.value)
        self.ops[row] = {**cells, col: op}

    def top(self, limit: int | None) -> tuple[bytes, dict[int, dict[int, object]]]:
        with self.book.open(self.part) as stream:
            return sheetxml.top_rows(stream, self.part, limit, self.strings)

    def right_edge(self) -> int:
        with self.book.open(self.part) as stream:
            return sheetxml.right_edge(stream, self.part)

    # ---- the rewrite --------------------------------------------------------------------------

    def run(self) -> Deflated:
        member = _SheetMember()
        with self.book.open(self.part) as stream:
            sheet = sheetxml.SheetStream(stream, self.part)
            self.prefix = sheet.prefix
            self.col_styles = sheetxml.col_styles(sheet.head)
            self._out = _Rows(member)
            self._prev: bytes | None = None
            pending: list[tuple[int, bytes | None]] = []  # rows after the last data row so far
            last_data = 0
            cells_only = self.replace_from is None and not self.deleted and self.append_after is None
            if cells_only:
                self._cells_only(sheet)
            else:
                for number, element in self._rows(sheet):
                    if self.replace_from is not None and number >= self.replace_from:
                        if self.keep_dropped and element is not None:
                            self.dropped.append(Row(number, element, self.prefix))
                        continue
                    if self.deleted and _contains(self.deleted, number):
                        if element is not None and not sheetxml.movable(element):
                            raise SheetXmlError(f"row {number} holds a formula other cells may depend on")
                        continue
                    if self.append_after is not None and number > self.header_row:
                        if number in self.ops and self.ops[number] and any(o.kind == "value" for o in self.ops[number].values()) \
                                or (element is not None and self._is_data(element)):
                            for row in pending:
                                self._emit(*row)
                            pending = []
                            last_data = number
                            self._emit(number, element)
                        else:
                            pending.append((number, element))
                        continue
                    self._emit(number, element)
            if self.append_after is not None:
                last = max(last_data, self.header_row, self.min_last)
                start = last + 1  # as read: the appended rows take the rows after the last data row
                for offset, ops in enumerate(self.new_rows):
                    self.ops[start + offset] = {**self.ops.get(start + offset, {}), **ops}
                extra = sorted(set(range(start, start + len(self.new_rows))) - {n for n, _ in pending})
                for number, element in sorted(pending + [(n, None) for n in extra], key=lambda r: r[0]):
                    self._emit(number, element)
            elif self.replace_from is not None:
                for offset, ops in enumerate(self.new_rows):
                    number = self.replace_from + offset
                    self.ops[number] = ops
                    self._emit(number, None)
            if self.append_after is not None:
                self._bottom_as_read = last + len(self.new_rows)
            _well_formed(sheet.head, self.prefix, sheet.tail, f"The sheet part {self.part} is damaged")
            head = sheetxml.dimension(sheet.head, self._written_last, self.max_col)
            tail = self._tail(sheet.tail)
            _well_formed(head, self.prefix, tail, f"Rewriting {self.part} went wrong")
        self._out.write(b"</" + self.prefix + b"sheetData>")
        self._out.write(tail)
        self._out.flush()
        return member.finish_after(head + b"<" + self.prefix + b"sheetData>")

    _bottom_as_read: int | None = None

    def data_bottom(self, table_bottom: int) -> int:
        """The last row holding data after the rewrite (rows as written)."""
        if self.replace_from is not None:
            return self.replace_from + len(self.new_rows) - 1
        bottom = self._bottom_as_read if self._bottom_as_read is not None else max(table_bottom, self.min_last)
        return bottom - bisect.bisect_right(self.deleted, bottom)

    _written_last = 0
    _prev_number = 0

    def _rows(self, sheet: sheetxml.SheetStream):
        """The part's rows and the rows only `ops` name (to be created), in row order."""
        keys = sorted(self.ops)
        i = 0
        for number, element in sheet.rows():
            while i < len(keys) and keys[i] < number:
                yield keys[i], None
                i += 1
            if i < len(keys) and keys[i] == number:
                i += 1
            yield number, element
        for number in keys[i:]:  # past the part's end (a replaced sheet's are dropped by `run`)
            yield number, None

    def _cells_only(self, sheet: sheetxml.SheetStream) -> None:
        """`run` when nothing but cells change, block by block (`SheetStream.blocks`): the rows
        nobody changes are copied as they are, never split into rows, so ten changed cells on a
        500,000-row sheet cost next to nothing. A block whose changed rows each get a new text
        (the "Exported in" of each exported invoice) is made by `_quick_block`; in any other the
        changed rows are found with bytes.find and made by `_emit`, and what find cannot place (a
        row to create between rows, rows without a number) goes row by row. The bytes are those
        of `_emit` row by row in every case."""
        keys = sorted(self.ops)
        i = number = 0  # the next changed row; the last row read
        p = self.prefix
        open_row = b"<" + p + b"row"
        numbered, close_row = open_row + b' r="', b"</" + p + b"row>"
        for block in sheet.blocks():
            pos = 0
            first = ROW_NUMBER.match(block, max(block.find(open_row), 0))
            last = ROW_NUMBER.match(block, max(block.rfind(open_row), 0))
            if first is not None and last is not None:
                while i < len(keys) and keys[i] < int(first.group(1)):  # rows to create before the block
                    self._emit(keys[i], None)
                    i += 1
                last_number = int(last.group(1))
                quick = self._quick_block(block, keys, i, last_number)
                if quick is not None:  # its changed rows made: copied below as a block without changes
                    block, i = quick
                while i < len(keys) and keys[i] <= last_number:
                    at = block.find(numbered + str(keys[i]).encode() + b'"', pos)
                    end = _row_end(block, at, close_row) if at >= 0 else -1
                    if end < 0:
                        break  # not a row of its own here: row by row below
                    self._copy(block, pos, at)
                    self._emit(keys[i], block[at:end])
                    number, pos = keys[i], end
                    i += 1
                else:  # every changed row of the block is done
                    self._copy(block, pos, len(block))
                    number = last_number
                    continue
            for number, element in sheetxml.rows_in(block[pos:], p, self.part, number):
                while i < len(keys) and keys[i] < number:
                    self._emit(keys[i], None)
                    i += 1
                if i < len(keys) and keys[i] == number:
                    i += 1
                self._emit(number, element)
        for key in keys[i:]:  # rows past the part's end
            self._emit(key, None)

    # A block goes the quick way when it has at least this many changed rows: its check (one
    # regular expression over the block) costs what `_emit` of a hundred rows costs.
    QUICK_ROWS = 100

    def _quick_block(self, block: bytes, keys: list[int], i: int, last: int) -> tuple[bytes, int] | None:
        """(the block with its changed rows made, the next key) when each changed row of the block
        (keys[i:] up to the block's last row, `last`) gets a new text in a cell it has: the common
        case by far, the "Exported in" of each exported invoice, and most of an export's
        write-back at 100,000 invoices. The bytes `_emit` makes, with a few bytes operations per
        row and the new cell's bytes made once per old attributes and text; `_emit` (Row: parse,
        apply, render) costs several times more. None, and nothing done, when the block has few
        changed rows or one of them is anything else (the caller then goes row by row)."""
        stop = bisect.bisect_right(keys, last, i)
        if stop - i < self.QUICK_ROWS or self.prefix or not sheetxml.referenced(block):
            return None  # every cell `<c r="`: a cell is found by its reference, as `Row._fast` does
        out, pos = [], 0
        find, rfind, starts = block.find, block.rfind, block.startswith
        max_col = self.max_col
        widest = b'<c r="' + sheetxml.letter_bytes(max_col) if max_col else b"<"  # a cell in column max_col
        all_ops = self.ops
        ops_of = None
        for number in keys[i:stop]:
            ops = all_ops[number]
            if ops is not ops_of:  # checked once for the rows sharing their ops (`op`)
                if len(ops) != 1:
                    return None
                (col, op), = ops.items()
                if op.kind != "value" or op.mark is not None or type(op.value) is not str:
                    return None
                ops_of, cell_ref = ops, b'<c r="' + sheetxml.letter_bytes(col)
                made = self._value_cells.setdefault(op, {})
            digits = b'%d"' % number
            ref = cell_ref + digits
            at = find(ref, pos)
            if at < 0:
                return None  # no such cell: one to insert
            row, end = rfind(b"<row", pos, at), find(b"</row>", at)
            if row < 0 or end < 0 or not starts(b'<row r="' + digits, row):
                return None  # the cell is not in its row's element here
            after_ref = at + len(ref)
            gt = find(b">", after_ref, end)
            if gt > 0 and block[gt - 1] == 47:  # an empty cell, `<c r="M5" s="9"/>`: what CELL would match
                attrs, cell_end = block[after_ref:gt - 1], gt + 1
            else:
                cell = CELL.match(block, at, end)
                if cell is None or (cell.group(2) and sheetxml.Cell(col, cell.group(1), cell.group(2), b"").formula_master()):
                    return None  # `_emit` refuses to overwrite a shared formula
                attrs, cell_end = cell.group(1)[len(ref) - 2:], cell.end()
            new = made.get(attrs)  # the new cell after its reference, by the old cell's attributes
            if new is None:
                style = STYLE_ATTR.search(attrs)
                new = made[attrs] = sheetxml.cell_rest(b"", self._style(int(style.group(1)) if style else 0, op), op.value)
            tag_end = row + 8 + len(digits)  # `<row r="5"` ends here: a `>` after it, or more attributes
            if block[tag_end] != 62:
                tag_end = find(b">", row) + 1
                if find(b"spans=", row, tag_end) >= 0:  # fitted to the row's first and last cell, as Row.render does
                    out += (block[pos:row], sheetxml.fit_spans(block[row:tag_end], block, tag_end, end))
                    pos = tag_end
            out += (block[pos:after_ref], new)
            pos = cell_end
            last_cell = rfind(b"<c ", at, end)  # its column widens the dimension, as Row.last_col does
            if not starts(widest + digits, last_cell):  # (most rows end in the same column)
                last_col = sheetxml.edge_col(block, last_cell)
                if last_col > max_col:
                    max_col, widest = last_col, b'<c r="' + sheetxml.letter_bytes(last_col)
        out.append(block[pos:])
        self.max_col = max_col
        return b"".join(out), stop

    def _copy(self, block: bytes, start: int, end: int) -> None:
        """Write block[start:end], rows as they are (the last of them is the row above the next)."""
        if end <= start:
            return
        self._out.write(block[start:end])
        at = block.rfind(b"<" + self.prefix + b"row", start, end)
        found = ROW_NUMBER.match(block, at) if at >= 0 else None
        if found is not None:
            number = int(found.group(1))
            if number > self.header_row:
                self._prev, self._prev_number = block[at:end].rstrip(), number
            self._written_last = number

    def _is_data(self, element: bytes) -> bool:
        if b"<v>" not in element and b":v>" not in element and b"<is>" not in element and b":is>" not in element:
            return False
        cells, _ = sheetxml.parse_cells(element[element.index(b">") + 1:])
        return any(c.col in self.append_after and c.has_value() for c in cells)

    def _shift(self, number: int) -> int:
        return bisect.bisect_left(self.deleted, number) if self.deleted else 0

    def _emit(self, number: int, element: bytes | None) -> None:
        new_number = number - self._shift(number)
        ops = self.ops.get(number)
        if ops:
            row = Row(number, element, self.prefix)
            for col, op in sorted(ops.items()):
                self._apply(row, col, op, new_number)
            if element is None and not row.body and not row._cells:
                return
            data = row.render(new_number)
            self.max_col = max(self.max_col, row.last_col())
        elif element is None:
            return
        elif new_number != number:
            data = sheetxml.renumber_row(element, new_number)
        else:
            data = element
        if number > self.header_row:
            self._prev, self._prev_number = data, new_number
        self._written_last = new_number
        self._out.write(data)

    def _apply(self, row: Row, col: int, op: _Op, number: int) -> None:
        cell = row.cell(col)
        ref = f"{letters(col)}{number}"
        if op.kind == "value":
            if cell is not None and cell.formula_master():
                raise SheetXmlError(f"cell {ref} holds a formula other cells share")
            base = cell.style if cell is not None else self._base_style(col)
            style = self._style(base, op)
            if op.mark:
                style = self.styles.derive(style, fill=HIGHLIGHT_RGB)
            elif op.mark is False and self.styles.fill_rgb(style) == HIGHLIGHT_RGB:
                style = self.styles.derive(style, fill=OUTPUT_RGB if op.output else NO_FILL)
            row.put(col, cell_xml(self.prefix, ref, style, op.value))
        elif op.kind == "header":
            if cell is not None and cell.formula_master():
                raise SheetXmlError(f"cell {ref} holds a formula other cells share")
            left = [c for c in row.cells if c.col < col]
            base = cell.style if cell is not None else (left[-1].style if left else 0)
            row.put(col, cell_xml(self.prefix, ref, base, op.value))
        else:  # highlight on (value True) or off
            if cell is None and not op.value:
                return
            base = cell.style if cell is not None else self._base_style(col)
            if op.value:
                style = self.styles.derive(base, fill=HIGHLIGHT_RGB)
            elif self.styles.fill_rgb(base) == HIGHLIGHT_RGB:
                style = self.styles.derive(base, fill=OUTPUT_RGB if op.output else NO_FILL)
            else:
                return
            row.put(col, cell.with_style(style) if cell is not None else cell_xml(self.prefix, ref, style, None))

    def _style(self, base: int, op: _Op) -> int:
        key = (base, op.fmt, op.output, op.link, type(op.value) if is_date(op.value) else None)
        style = self._styles.get(key)
        if style is None:
            style = self._styles[key] = self._new_style(base, op)
        return style

    def _new_style(self, base: int, op: _Op) -> int:
        styles = self.styles
        fmt = op.fmt if op.fmt and op.fmt != "General" and styles.number_format(base) == "General" else None
        if is_date(op.value) and not styles.is_date_format(base) and not (fmt and "y" in fmt):
            fmt = "yyyy-mm-dd hh:mm" if isinstance(op.value, dt.datetime) else "yyyy-mm-dd"
        fill = OUTPUT_RGB if op.output and styles.fill_rgb(base) == NO_FILL else None
        return styles.derive(base, fmt, fill, op.link)

    def _base_style(self, col: int) -> int:
        """A new cell's style: the cell above it (a data row), else its column's, else none."""
        if self._prev is not None:
            style = sheetxml.cell_style(self._prev, sheetxml.letter_bytes(col) + str(self._prev_number).encode())
            if style is not None:
                return style
        for first, last, style in self.col_styles:
            if first <= col <= last:
                return style
        return 0

    def _tail(self, tail: bytes) -> bytes:
        if self.deleted and sheetxml.has_element(tail, "mergeCells", "legacyDrawing"):
            raise SheetXmlError("rows would be deleted on a sheet with merged cells or comments, which would "
                                "no longer match their rows")
        if self.replace_from is None and not self.deleted:
            return tail
        start = self.replace_from

        def keep(row: int, col: int) -> int | None:
            if start is not None and row >= start:
                return None
            if self.deleted and _contains(self.deleted, row):
                return None
            return row - self._shift(row)

        new = [(f"{letters(col)}{start + index}", location, display)
               for index, col, location, display in self.links] if start is not None else []
        return sheetxml.edit_hyperlinks(tail, self.prefix, keep, new)


def _row_end(block: bytes, at: int, close_row: bytes) -> int:
    """Where the row element starting at `at` ends (-1: not in the block)."""
    gt = block.find(b">", at)
    if gt < 0:
        return -1
    if block[gt - 1] == 47:  # "/>": an empty row
        return gt + 1
    end = block.find(close_row, gt)
    return end + len(close_row) if end >= 0 else -1


def _well_formed(head: bytes, prefix: bytes, tail: bytes, problem: str) -> None:
    """What lies around the rows parses (the rows themselves are checked as they stream)."""
    try:
        ET.fromstring(head + b"<" + prefix + b"sheetData/>" + tail)
    except ET.ParseError as exc:
        raise SheetXmlError(f"{problem} ({exc})") from None


def _contains(sorted_list: list[int], value: int) -> bool:
    i = bisect.bisect_left(sorted_list, value)
    return i < len(sorted_list) and sorted_list[i] == value


class _Rows:
    """The rewritten rows on their way into the member: the pieces they come in (rows, blocks of
    rows copied as they are) joined and deflated about 1 MB at a time."""

    PIECE = 1 << 20

    def __init__(self, member: Deflated):
        self.member = member
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size >= self.PIECE:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.member.write(b"".join(self.parts))
            self.parts, self.size = [], 0


class _SheetMember(Deflated):
    """A rewritten sheet part, deflated as its rows are made: holding them until the part's head
    is known (its <dimension> ends at the last row written) took ~56 MB at 100,000 invoices.
    The head is deflated last, on its own, and put in front: a deflate stream ended by a sync
    flush (whole bytes, no final block) may be followed by another, and the CRC-32 of the whole
    is combined from the two pieces' (`crc32_combine`)."""

    front = b""

    def __init__(self):
        # deflated, Invoices is ~6.5 MB at 100,000 invoices: beyond 1 MB it waits on disk, not in memory
        super().__init__(in_memory=1 << 20)

    def finish_after(self, head: bytes) -> Deflated:
        """The member, `head` before everything written so far."""
        z = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        self.front = z.compress(head) + z.flush(zlib.Z_SYNC_FLUSH)
        rows_crc, rows_size = self.crc, self.usize
        self.crc = crc32_combine(zlib.crc32(head), rows_crc, rows_size)
        self.usize += len(head)
        self.finish()
        self.size += len(self.front)
        return self

    def copy_to(self, out) -> None:
        out.write(self.front)
        super().copy_to(out)


def _crc_times(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC-32 polynomial, bit-reflected as CRC-32 holds them (zlib's multmodp)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1


_X_2N = [1 << 30]  # x^(2^n) modulo the polynomial, n = 0..31 (x^1 is 1 << 30 reflected)
for _ in range(31):
    _X_2N.append(_crc_times(_X_2N[-1], _X_2N[-1]))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib.crc32(A + B) from crc1 = zlib.crc32(A), crc2 = zlib.crc32(B) and len2 = len(B), as
    zlib's crc32_combine (which Python's zlib does not offer): appending len2 bytes multiplies
    A's CRC by x^(8 len2) modulo the polynomial, and B's CRC adds."""
    power, n, k = 1 << 31, len2, 3  # x^0; 8 len2 = len2 * 2^3
    while n:
        if n & 1:
            power = _crc_times(_X_2N[k & 31], power)
        n >>= 1
        k += 1
    return _crc_times(power, crc1) ^ crc2


# ---- tables -----------------------------------------------------------------------------------


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


class _Table:
    """An Excel table part: its range and columns, rewritten to fit the data."""

    def __init__(self, book: Package, part: str):
        self.part, self.xml = part, book.read(part)
        root = re.search(rb"<(\w+:)?table\b[^>]*>", self.xml)
        if root is None:
            raise SheetXmlError(f"{part} is not a table part")
        self.prefix = root.group(1) or b""
        attrs = dict(sheetxml.ATTR.findall(root.group(0)))
        self.name = sheetxml.unescape(attrs.get(b"displayName", attrs.get(b"name", b"")))
        self.has_header = attrs.get(b"headerRowCount", b"1") != b"0"
        self.totals = int(attrs.get(b"totalsRowCount", b"0") or 0)
        first, last = attrs.get(b"ref", b"A1:A1").decode().split(":") if b":" in attrs.get(b"ref", b"") else ("A1", "A1")
        (self.top, self.left), (self.bottom, self.right) = address.split_ref(first), address.split_ref(last)
        block = re.search(rb"<(?:\w+:)?tableColumns\b[^>]*>(.*?)</(?:\w+:)?tableColumns>", self.xml, re.S)
        self.columns = []
        if block is not None:
            for element in re.findall(rb"<(?:\w+:)?tableColumn\b(?:[^>]*?/>|[^>]*?>.*?</(?:\w+:)?tableColumn>)", block.group(1), re.S):
                a = dict(sheetxml.ATTR.findall(element[:element.index(b">")]))
                self.columns.append((sheetxml.unescape(a.get(b"name", b"")), int(a.get(b"id", b"0")), element))

    def fitted(self, bottom: int, names: list[str]) -> bytes | None:
        """The part with the range top..bottom over len(names) columns; None if unchanged."""
        right = self.left + len(names) - 1
        if bottom == self.bottom and right == self.right and [c[0] for c in self.columns] == names:
            return None
        if self.totals and bottom != self.bottom:
            raise SheetXmlError(f"the table {self.name} has a totals row")
        ref = f"{letters(self.left)}{self.top}:{letters(right)}{bottom}".encode()
        xml = re.sub(rb'(<(?:\w+:)?table\b[^>]*?\sref=")[^"]*(")', rb"\g<1>" + ref + rb"\2", self.xml, count=1)
        xml = re.sub(rb'(<(?:\w+:)?autoFilter\b[^>]*?\sref=")[^"]*(")', rb"\g<1>" + ref + rb"\2", xml, count=1)
        old = {name.casefold(): element for name, _, element in self.columns}
        next_id = max([i for _, i, _ in self.columns] + [0]) + 1
        elements = []
        p = self.prefix.decode()
        for name in names:
            element = old.pop(name.casefold(), None)
            if element is None or sheetxml.unescape(dict(sheetxml.ATTR.findall(element[:element.index(b">")]))[b"name"]) != name:
                if element is not None:  # same name but other case: keep its formulas, rename it
                    element = re.sub(rb'(\sname=")[^"]*(")', rb"\g<1>" + sheetxml.escape_attr(name).encode() + rb"\2", element, count=1)
                else:
                    element = f'<{p}tableColumn id="{next_id}" name="{sheetxml.escape_attr(name)}"/>'.encode()
                    next_id += 1
            elements.append(element)
        block = f'<{p}tableColumns count="{len(names)}">'.encode() + b"".join(elements) + f"</{p}tableColumns>".encode()
        return re.sub(rb"<(?:\w+:)?tableColumns\b[^>]*>.*?</(?:\w+:)?tableColumns>", lambda _: block, xml, count=1, flags=re.S)


# ---- the whole file ---------------------------------------------------------------------------


class _Patcher:
    def __init__(self, path: Path):
        self.book = Package(path)
        styles_part = next(iter(self.book.related(self.book.workbook, STYLES_REL)), None)
        self.styles_part = styles_part
        self.styles = Styles(self.book.read(styles_part) if styles_part and self.book.has(styles_part) else None)
        strings_part = next(iter(self.book.related(self.book.workbook, STRINGS_REL)), None)
        self.strings = sheetxml.SharedStrings(
            (lambda: self.book.open(strings_part)) if strings_part and self.book.has(strings_part) else None)

    def sheet_part(self, name: str, create: bool = False) -> tuple[str, str]:
        actual = address.find_sheet(self.book.sheets, name)
        if actual is None:
            if not create or name not in CREATABLE:
                raise WriteBackError(f"The workbook has no sheet named {name!r} (renamed or deleted?).")
            actual = name
            self._create(SHEETS[name])
        return actual, self.book.sheets[actual]

    def _create(self, sheet: layout.Sheet) -> None:
        """An output sheet the workbook lacks, as the template makes it: headers, widths, formats,
        the grey of output columns, an empty table."""
        ids, names = self.book.table_ids()
        table_name, n = sheet.table, 2
        while table_name.casefold() in names:
            table_name, n = f"{sheet.table}{n}", n + 1
        last = letters(len(sheet.columns))
        cols, cells = [], []
        for i, column in enumerate(sheet.columns, start=1):
            style = self.styles.derive(0, NUMBER_FORMATS.get(column.type, "General"), OUTPUT_RGB if column.output else None)
            cols.append(f'<col min="{i}" max="{i}" width="{column.width}" customWidth="1" style="{style}"/>')
            cells.append(cell_xml(b"", f"{letters(i)}1", 0, column.header).decode())
        main, rel = "http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
        sheet_xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{main}" xmlns:r="{rel}">'
                     f'<dimension ref="A1:{last}1"/><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                     f'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft"/></sheetView></sheetViews>'
                     f'<sheetFormatPr defaultRowHeight="15"/><cols>{"".join(cols)}</cols><sheetData><row r="1">{"".join(cells)}'
                     f'</row></sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
                     f'<tableParts count="1"><tablePart r:id="rId1"/></tableParts></worksheet>').encode()
        columns = "".join(f'<tableColumn id="{i}" name="{sheetxml.escape_attr(c.header)}"/>' for i, c in enumerate(sheet.columns, 1))
        table_xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<table xmlns="{main}" id="{max(ids, default=0) + 1}" '
                     f'name="{table_name}" displayName="{table_name}" ref="A1:{last}2"><autoFilter ref="A1:{last}2"/>'
                     f'<tableColumns count="{len(sheet.columns)}">{columns}</tableColumns><tableStyleInfo name="TableStyleLight1" '
                     f'showFirstColumn="0" showLastColumn="0" showRowStripes="1" showColumnStripes="0"/></table>').encode()
        self.book.add_sheet(sheet.name, sheet_xml, table_xml)

    def apply(self, edits: Edits) -> None:
        changes = edits.of_sheets()
        names = list(changes)
        parts = {name: self.sheet_part(name, create=True) for name in names}
        old_targets: list[tuple[str, str]] = []
        done: set[str] = set()
        highlight: dict[str, dict[tuple[int, int], bool]] = {}
        if layout.CHECK.name in names:
            old_targets = self._table_sheet(parts[layout.CHECK.name], SHEETS[layout.CHECK.name],
                                            changes.pop(layout.CHECK.name), {}, edits.highlight is not None)
            done.add(layout.CHECK.name)
        if edits.highlight is not None:
            for on, targets in ((False, old_targets), (True, edits.highlight)):
                for sheet_name, cell in targets:
                    actual = address.find_sheet(self.book.sheets, str(sheet_name or ""))
                    where = address.split_ref(cell)
                    if actual is not None and where is not None:
                        highlight.setdefault(actual, {})[where] = on or highlight.get(actual, {}).get(where, False)
        for name in names:
            if name not in done:
                actual, part = parts[name]
                self._table_sheet((actual, part), SHEETS[name], changes.pop(name), highlight.pop(actual, {}), False)
        settings = address.find_sheet(self.book.sheets, layout.SETTINGS_SHEET)
        if edits.settings:
            if settings is None:
                raise WriteBackError(f"The workbook has no sheet named {layout.SETTINGS_SHEET!r}.")
            self._settings(self.book.sheets[settings], edits.settings, highlight.pop(settings, {}))
        for actual, cells in highlight.items():
            declared = next((s for s in SHEETS.values() if address.same_name(s.name, actual)), None)
            self._highlight_only(actual, self.book.sheets[actual], declared, cells)
        if self.styles.changed:
            self.book.changed[self.styles_part] = self.styles.render()

    def _patch(self, part: str, name: str) -> _SheetPatch:
        return _SheetPatch(self.book, part, name, self.styles, self.strings)

    def _table_sheet(self, where: tuple[str, str], sheet: layout.Sheet, changes: SheetEdits,
                     highlight: dict[tuple[int, int], bool], read_old_targets: bool) -> list[tuple[str, str]]:
        actual, part = where
        patch = self._patch(part, actual)
        _, top = patch.top(address.header_search_rows(sheet))
        header, columns = _header(top, sheet)
        wanted = changes.keys()
        if address.missing_columns(columns, wanted):
            added = address.placed_columns(columns, wanted, patch.right_edge())
            for key, col in added.items():
                patch.op(header, col, _Op("header", sheet.column(key).header))
            columns.update(added)
        else:
            added = {}
        patch.header_row = header
        # cell edits
        shared: dict[tuple[str, str], _Op] = {}  # one op per column and text (`_Op.marked` copies)
        values_of = ops_of = None  # the rows of a ColumnEdit share their values: their ops are made once
        for row, values in changes.cells.items():
            if values is not values_of:
                values_of, ops_of = values, []
                for key, value in values.items():
                    if type(value) is str:
                        op = shared.get((key, value))
                        if op is None:
                            op = shared[key, value] = _value_op(value, sheet.column(key))
                    else:
                        op = _value_op(value, sheet.column(key))
                    ops_of.append((columns[key], op))
            for col, op in ops_of:
                patch.op(row, col, op)
        patch.min_last = max(changes.cells, default=0)
        changes.cells = {}  # now the patch's ops (100,000 rows after an export): not kept through the rewrite
        patch.deleted = sorted(r for r in changes.deleted if r > header)
        rows_out = changes.rows_in_order()
        if changes.replaced is not None:
            patch.replace_from = header + 1
            patch.keep_dropped = read_old_targets
        elif rows_out:
            # a computed column's formula alone (an empty table's row) makes no data row
            patch.append_after = {col for key, col in columns.items() if not sheet.column(key).computed}
        links = changes.links or []  # one per replaced row, and those come first
        for index_, values in enumerate(rows_out):
            linked = index_ < len(links) and bool(links[index_])
            patch.new_rows.append({columns[key]: _value_op(value, sheet.column(key), link=linked and key == changes.link_key)
                                   for key, value in zip(sheet.keys, values)
                                   if key in columns and not sheet.column(key).computed})
            if linked:
                display = dict(zip(sheet.keys, values)).get(changes.link_key)
                patch.links.append((index_, columns[changes.link_key], links[index_].lstrip("#"), str(display or "")))
        by_col = {col: key for key, col in columns.items()}
        for (row, col), on in highlight.items():
            key = by_col.get(col)
            patch.op(row, col, _Op("highlight", on, output=bool(key and sheet.column(key).output)))
        # the table: its columns are the header cells from its first column to the last header that
        # follows it without a gap (as Excel takes in a header typed next to a table) or was added
        # here. Not to the row's last header: a column or a table of the user's past an empty column
        # became the table's, with "Column<n>" written over the gap, and two tables overlapped (a file
        # Excel repairs by removing one).
        tables = self._tables(part)
        table = self._table(tables, sheet)
        names = None
        if table is not None and table.has_header and table.top == header:
            header_values = dict(top.get(header, {}))
            header_values.update({col: sheet.column(key).header for key, col in added.items()})
            others = {c for t in tables if t is not table for c in range(t.left, t.right + 1)}
            right = table.right
            while header_values.get(right + 1) not in (None, "") and right + 1 not in others:
                right += 1
            right = max([right, *added.values()])
            names = table_column_names([header_values.get(c) for c in range(table.left, right + 1)])
            for col, name in zip(range(table.left, right + 1), names):
                if header_values.get(col) != name:
                    patch.op(header, col, _Op("header", name))
        old_targets = []
        try:
            self.book.changed[part] = patch.run()
        except SheetXmlError as exc:
            raise WriteBackError(f"The sheet '{actual}' cannot be changed without losing something ({exc}); "
                                 "the workbook was not changed.") from None
        if read_old_targets:
            s_col, c_col = columns.get("sheet"), columns.get("cell")
            for row in patch.dropped:
                cells = {c.col: c for c in row.cells}
                if s_col in cells and c_col in cells:
                    old_targets.append((cells[s_col].value(self.strings), cells[c_col].value(self.strings)))
        if names is not None:
            bottom = max(patch.data_bottom(table.bottom), header + 1)
            fitted = table.fitted(bottom, names)
            if fitted is not None:
                self.book.changed[table.part] = fitted
        return [(str(s or ""), str(c or "")) for s, c in old_targets]

    def _tables(self, part: str) -> list[_Table]:
        return [_Table(self.book, p) for p in self.book.related(part, "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table")
                if self.book.has(p)]

    @staticmethod
    def _table(tables: list[_Table], sheet: layout.Sheet) -> _Table | None:
        return next((t for t in tables if sheet.table and t.name.casefold() == sheet.table.casefold()),
                    tables[0] if tables else None)

    def _settings(self, part: str, values: dict[str, object], highlight: dict[tuple[int, int], bool]) -> None:
        patch = self._patch(part, layout.SETTINGS_SHEET)
        _, rows = patch.top(None)
        found: dict[str, int] = {}
        for number in sorted(rows):
            setting = address.setting_for(rows[number].get(1))
            if setting is not None:
                found.setdefault(setting.key, number)
        last = max(rows, default=1)
        for key, value in values.items():
            setting = layout.SETTINGS_BY_KEY[key]
            row = found.get(key)
            if row is None:
                row = last = last + 1
                patch.op(row, 1, _Op("value", setting.label))
                if setting.help:
                    patch.op(row, 3, _Op("value", setting.help))
            patch.op(row, 2, _value_op(value, fmt=NUMBER_FORMATS.get(setting.type, "General")))
        for (row, col), on in highlight.items():
            patch.op(row, col, _Op("highlight", on))
        self._run(patch, layout.SETTINGS_SHEET)

    def _highlight_only(self, actual: str, part: str, sheet: layout.Sheet | None, cells: dict[tuple[int, int], bool]) -> None:
        patch = self._patch(part, actual)
        output_cols = set()
        if sheet is not None:
            _, top = patch.top(address.header_search_rows(sheet))
            patch.header_row, columns = _header(top, sheet)
            output_cols = {col for key, col in columns.items() if sheet.column(key).output}
        for (row, col), on in cells.items():
            patch.op(row, col, _Op("highlight", on, output=col in output_cols))
        self._run(patch, actual)

    def _run(self, patch: _SheetPatch, name: str) -> None:
        try:
            self.book.changed[patch.part] = patch.run()
        except SheetXmlError as exc:
            raise WriteBackError(f"The sheet '{name}' cannot be changed without losing something ({exc}); "
                                 "the workbook was not changed.") from None


def _header(top: dict[int, dict[int, object]], sheet: layout.Sheet) -> tuple[int, dict[str, int]]:
    """(header row, layout key -> column), 1-based, of a sheet's first rows as `top_rows` reads them;
    row 1 when no header is found (the columns are then added there)."""
    rows = [[top.get(r, {}).get(c) for c in range(1, max(top.get(r) or {0: 0}) + 1)] for r in range(1, max(top, default=0) + 1)]
    index, positions = address.find_header(rows, sheet)
    return (index or 0) + 1, {key: pos + 1 for key, pos in positions.items()}


# ---- the file -----------------------------------------------------------------------------------

_RUN: contextvars.ContextVar[dict | None] = contextvars.ContextVar("writeback_run", default=None)


@contextlib.contextmanager
def one_run():
    """Inside, each workbook gets one backup, before its first write-back (a command = a run)."""
    token = _RUN.set({})
    try:
        yield
    finally:
        _RUN.reset(token)


def backup_name(path: Path, now: dt.datetime, kind: str = "backup") -> Path:
    """NAME.<kind>-YYYYmmdd-HHMMSS[-n].ext: a name no file has, so a backup never replaces another
    made in the same second (the older one may be the only copy of the workbook as it was)."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.{kind}-{stamp}{path.suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.{kind}-{stamp}-{n}{path.suffix}")
        n += 1
    return candidate


def copy_backup(path: Path, backup: Path) -> None:
    """`path` copied to `backup` under a temporary name (the next command's recovery removes one a
    crash leaves), then named: a copy cut short by a crash was a damaged file under a backup's name."""
    fd, copy = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    try:
        shutil.copy2(path, copy)
        os.rename(copy, backup)  # a name no file has (backup_name)
    except BaseException:
        Path(copy).unlink(missing_ok=True)
        raise


def _backups(path: Path) -> list[tuple[dt.datetime, int, Path]]:
    """(time, sequence, path) of the backups of `path`, newest first (NAME.backup-YYYYmmdd-HHMMSS[-n].ext)."""
    found = []
    for backup in path.parent.glob(f"{glob.escape(path.stem)}.backup-*{path.suffix}"):
        middle = backup.name[len(path.stem) + len(".backup-"):len(backup.name) - len(path.suffix)]
        try:
            when = dt.datetime.strptime(middle[:15], "%Y%m%d-%H%M%S")
        except ValueError:
            continue
        found.append((when, int(middle[16:]) if middle[16:].isdigit() else 1, backup))
    return sorted(found, key=lambda b: (b[0], b[1]), reverse=True)


def prune_backups(path: Path, now: dt.datetime | None = None, keep_last: int = KEEP_LAST,
                  keep_days: int = KEEP_DAYS, keep_max: int = KEEP_MAX) -> list[Path]:
    """Remove old backups: the newest `keep_last` always stay; older ones stay while younger than
    `keep_days`, up to `keep_max` in all. Returns the removed ones."""
    now = now or dt.datetime.now()
    keep_last = max(keep_last, 10)
    removed = []
    for index, (when, _, backup) in enumerate(_backups(path)):
        if index < keep_last or (index < keep_max and now - when <= dt.timedelta(days=keep_days)):
            continue
        with contextlib.suppress(OSError):
            backup.unlink()
            removed.append(backup)
    return removed


def check_writable(path: Path) -> None:
    """Refuse a workbook open in Excel (the one decision, for every system): Excel saving it later
    would overwrite what was written, or what was written would replace the user's unsaved edits.
    Excel's owner file beside the workbook (~$Company.xlsx) says it is open, on any computer (a
    workbook on a shared drive is not locked for Linux or macOS); Excel on Windows also locks the
    file: opening it for writing fails. Then a read-only file is told as one."""
    owner = path.with_name(f"~${path.name}")
    if owner.exists():
        raise WorkbookLocked(path, owner)
    try:
        with open(path, "r+b"):
            pass
    except PermissionError:
        if not os.access(path, os.W_OK) and os.access(path, os.F_OK):
            # Not "save a copy": an export's update is carried in later only at the workbook's own path.
            raise WriteBackError(f"{path} is read-only, so it cannot be updated. Make it writable (clear its "
                                 "read-only attribute or permission) and run the command again; the workbook was "
                                 "not changed.") from None
        raise WorkbookLocked(path) from None
    except FileNotFoundError:
        raise WriteBackError(f"{path} no longer exists (moved or deleted?): nothing was written to it.") from None


def _os_error(path: Path, exc: OSError, doing: str) -> WriteBackError:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        # a rewritten sheet past 1 MB waits in the temporary folder (_SheetMember): either may be full
        return WriteBackError(f"The disk holding {path} (or the temporary folder {tempfile.gettempdir()}) is full, "
                              f"so {doing} failed. Free some space and run the command again; the workbook was not changed.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return WriteBackError(f"{path} cannot be saved: its folder is not writable ({exc.strerror}), so {doing} "
                              "failed. Make the folder writable (or copy the workbook somewhere you can write) and "
                              "run the command again; the workbook was not changed.")
    if isinstance(exc, FileNotFoundError):
        return WriteBackError(f"{path} no longer exists (moved or deleted?), so {doing} failed; nothing was written to it.")
    if exc.errno == errno.ENAMETOOLONG:  # the name fits, its backup's (NAME.backup-YYYYmmdd-HHMMSS, 23 more) does not
        return WriteBackError(f"The name of {path} is too long for the file system to hold its backup beside it, so "
                              f"{doing} failed; the workbook was not changed. Give the workbook a shorter name and run "
                              "the command again.")
    return WriteBackError(f"{doing.capitalize()} failed for {path} ({exc.strerror or exc}); the workbook was not "
                          "changed. Check the disk and run the command again.")


def followed(path: str | os.PathLike) -> Path:
    """The file to change for the workbook at `path`: a link to it (work/Company.xlsx -> the
    office's file) is followed, so the file it names is changed and backed up where it is (as its
    lock and export folder are), and the link stays; replacing `path` itself swapped the user's
    link for a changed copy. Every command that rewrites a workbook (write-back, upgrade) asks here."""
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


def _writable_file(path: str | os.PathLike) -> Path:
    """The file `write_back` changes for the workbook at `path` (`followed`), once it is known
    that it is there, not open in Excel and not read-only (`check_writable`)."""
    path = followed(path)
    if not path.is_file():
        raise WriteBackError(f"{path} does not exist.")
    check_writable(path)
    return path


def updatable(path: str | os.PathLike) -> Path:
    """`_writable_file`, and a package a patch can change (not Strict Open XML, no encrypted part).
    An export from the command line asks it before its commit, so that it does not write an export
    whose workbook it then cannot update (the write-back itself finds that out as it opens it)."""
    path = _writable_file(path)
    _package(path).close()
    return path


def write_back(path: str | os.PathLike, edits: Edits, *, now: dt.datetime | None = None,
               keep_backups: int = KEEP_LAST) -> Path:
    """Apply `edits` to the workbook at `path` safely; returns the backup's path.

    Raises WorkbookLocked when the file is open in Excel, WriteBackError when a sheet is missing,
    something would be lost, or the disk refuses; in every case the file is left as it was.
    """
    path = _writable_file(path)
    now = now or dt.datetime.now()
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as out:
            _write_patched(path, edits, out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copymode(path, tmp)  # mkstemp makes the file private (0600); keep the original's
        backup, made = _backup(path, now)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            if made:
                backup.unlink(missing_ok=True)
            if isinstance(exc, PermissionError):
                raise WorkbookLocked(path) from None
            raise
        tmp = None
    except OSError as exc:
        raise _os_error(path, exc, "saving the workbook") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    prune_backups(path, now, keep_backups)
    return backup


def _package(path: Path, make=Package):
    """`make(path)` (the Package, or the _Patcher around it), with what makes the file one a write-back
    cannot patch as a WriteBackError."""
    try:
        return make(path)
    except (zipfile.BadZipFile, ET.ParseError, KeyError, EOFError, zlib.error, ValueError) as exc:
        raise WriteBackError(f"{path.name} cannot be read as an Excel workbook ({exc}); the workbook was not changed.") from None
    except SheetXmlError as exc:
        raise WriteBackError(f"{path.name}: {exc} The workbook was not changed.") from None


def _write_patched(path: Path, edits: Edits, out) -> None:
    patcher = _package(path, _Patcher)
    try:
        patcher.apply(edits)
        patcher.book.write(out)
    except (zipfile.BadZipFile, ET.ParseError, EOFError, zlib.error) as exc:
        raise WriteBackError(f"{path.name} is damaged ({exc}); the workbook was not changed. Open it in Excel and save it "
                             "again, or restore a backup.") from None
    except SheetXmlError as exc:
        raise WriteBackError(f"{path.name}: {exc} The workbook was not changed.") from None
    finally:
        patcher.book.close()


def _backup(path: Path, now: dt.datetime) -> tuple[Path, bool]:
    """The backup of this run (made before its first write-back, then reused), and whether it
    was made now."""
    run = _RUN.get()
    if run is not None and path.resolve() in run:
        return run[path.resolve()], False
    backup = backup_name(path, now)
    copy_backup(path, backup)
    if run is not None:
        run[path.resolve()] = backup
    return backup, True
