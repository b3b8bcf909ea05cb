"""Streaming a worksheet part row by row, and rewriting only the rows and cells that change.

A sheet part is split into its head (everything before <sheetData>), its <row> elements and its
tail (everything after </sheetData>). Rows are read in chunks and never parsed into a tree: a row
that does not change is copied as it is; a row that changes has its cells parsed with a regular
expression, the changed cells replaced or inserted in column order, and is written back. Whatever
the code does not know (extLst, mc:AlternateContent, drawing and legacyDrawing references,
conditional formats, data validations) stays byte for byte.
"""

from __future__ import annotations

import bisect
import datetime as dt
import html
import re
from decimal import Decimal
from typing import Callable, Iterable, Iterator
from xml.etree import ElementTree as ET

from toolkit import layout
from toolkit.errors import UserError

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
CHUNK = 1 << 20


class SheetXmlError(UserError):
    """A sheet part that cannot be changed without losing something; the message says what."""


# ---- values -------------------------------------------------------------------------------------

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def escape_text(text: str) -> str:
    """Text for an XML text node, control characters as Excel writes them (_x0007_)."""
    text = _ILLEGAL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(text: str) -> str:
    return escape_text(text).replace('"', "&quot;")


def unescape(raw: bytes) -> str:
    text = html.unescape(raw.decode("utf-8"))
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def number_text(value) -> str:
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, float):
        return repr(value)
    return str(int(value))


def serial(value: dt.date) -> str:
    """An Excel date serial: days (and the fraction of a day) since 1899-12-30."""
    if not isinstance(value, dt.datetime):
        return str((value - EXCEL_EPOCH.date()).days)
    delta = value.replace(tzinfo=None) - EXCEL_EPOCH
    return repr(delta.days + delta.seconds / 86400) if delta.seconds else str(delta.days)


def cell_xml(prefix: bytes, ref: str, style: int, value) -> bytes:
    """One <c> element. Text is an inline string: a text starting with "=" stays text."""
    p = prefix.decode()
    s = f' s="{style}"' if style else ""
    if value is None:
        return f'<{p}c r="{ref}"{s}/>'.encode()
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() or "\n" in value else ""
        return f'<{p}c r="{ref}"{s} t="inlineStr"><{p}is><{p}t{space}>{escape_text(value)}</{p}t></{p}is></{p}c>'.encode()
    if isinstance(value, (dt.date, dt.datetime)):
        return f'<{p}c r="{ref}"{s}><{p}v>{serial(value)}</{p}v></{p}c>'.encode()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return f'<{p}c r="{ref}"{s}><{p}v>{number_text(value)}</{p}v></{p}c>'.encode()
    return cell_xml(prefix, ref, style, str(value))


# ---- cells --------------------------------------------------------------------------------------

_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_REF = re.compile(rb"([A-Z]{1,3})([0-9]+)")
_FORMULA = re.compile(rb"<(?:\w+:)?f\b([^>]*)")
_V = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.S)
_T = re.compile(rb"<(?:\w+:)?t\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?t>)", re.S)
_RPH = re.compile(rb"<(?:\w+:)?rPh\b.*?</(?:\w+:)?rPh>", re.S)


def col_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters if isinstance(letters, str) else letters.decode():
        n = n * 26 + ord(ch) - 64
    return n


def letters(col: int) -> str:
    return layout.column_letter(col - 1)


class Cell:
    """A parsed <c> element: its column, attributes and bytes."""

    __slots__ = ("col", "attrs", "body", "raw")

    def __init__(self, col: int, attrs: dict[bytes, bytes], body: bytes | None, raw: bytes):
        self.col, self.attrs, self.body, self.raw = col, attrs, body, raw

    @property
    def style(self) -> int:
        s = self.attrs.get(b"s")
        return int(s) if s and s.isdigit() else 0

    def has_value(self) -> bool:
        return bool(self.body) and (b"<v>" in self.body or b":v>" in self.body or b"<is>" in self.body
                                    or b":is>" in self.body or _FORMULA.search(self.body) is not None)

    def value(self, strings: SharedStrings):
        """The cell's value as a reader sees it (text, number, bool), None when empty."""
        if not self.body:
            return None
        kind = self.attrs.get(b"t", b"n")
        if kind == b"inlineStr":
            return "".join(unescape(t or b"") for t in _T.findall(_RPH.sub(b"", self.body)))
        v = _V.search(self.body)
        if v is None:
            return None
        raw = v.group(1)
        if kind == b"s":
            return strings[int(raw)]
        if kind in (b"str", b"e"):
            return unescape(raw)
        if kind == b"b":
            return raw.strip() == b"1"
        try:
            number = float(raw)
        except ValueError:
            return unescape(raw)
        return int(number) if number.is_integer() else number

    def formula_master(self) -> bool:
        """A shared or array formula other cells depend on: it cannot be overwritten alone."""
        match = _FORMULA.search(self.body or b"")
        if match is None:
            return False
        attrs = dict(_ATTR.findall(match.group(1)))
        ref = attrs.get(b"ref", b"")
        return attrs.get(b"t") in (b"shared", b"array") and b":" in ref

    def with_style(self, style: int) -> bytes:
        end = self.raw.index(b">")
        if self.raw[end - 1:end] == b"/":
            end -= 1
        tag = self.raw[:end]
        new = f' s="{style}"'.encode() if style else b""
        tag = re.sub(rb'\ss="\d*"', b"", tag) + new
        return tag + self.raw[end:]


def parse_cells(body: bytes) -> tuple[list[Cell], bytes]:
    """The cells of a row's content in order, and whatever else it holds (an extLst)."""
    cells: list[Cell] = []
    col = 0
    rest = []
    last = 0
    for match in _CELL.finditer(body):
        rest.append(body[last:match.start()])
        last = match.end()
        attrs = dict(_ATTR.findall(match.group(1)))
        ref = attrs.get(b"r")
        if ref:
            m = _REF.match(ref)
            col = col_number(m.group(1)) if m else col + 1
        else:
            col += 1
        cells.append(Cell(col, attrs, match.group(2), match.group(0)))
    rest.append(body[last:])
    extra = b"".join(rest).strip()
    return cells, extra


class Row:
    """A <row> element split into its opening tag, cells and other content."""

    __slots__ = ("number", "open", "cells", "extra", "prefix")

    def __init__(self, number: int, element: bytes | None, prefix: bytes):
        self.number, self.prefix = number, prefix
        if element is None:
            self.open, self.cells, self.extra = b"<" + prefix + b'row r="' + str(number).encode() + b'">', [], b""
            return
        end = element.index(b">")
        if element[end - 1:end] == b"/":
            self.open = element[:end - 1].rstrip() + b">"
            self.cells, self.extra = [], b""
        else:
            self.open = element[:end + 1]
            close = element.rindex(b"</")
            self.cells, self.extra = parse_cells(element[end + 1:close])

    def cell(self, col: int) -> Cell | None:
        for cell in self.cells:
            if cell.col == col:
                return cell
        return None

    def put(self, col: int, raw: bytes) -> None:
        """Set the bytes of the cell in `col` (replacing it or inserting it in column order)."""
        cell = Cell(col, {}, None, raw)
        cols = [c.col for c in self.cells]
        at = bisect.bisect_left(cols, col)
        if at < len(cols) and cols[at] == col:
            self.cells[at] = cell
        else:
            self.cells.insert(at, cell)

    def render(self, number: int) -> bytes:
        tag = re.sub(rb'(\sr=")\d+(")', rb"\g<1>" + str(number).encode() + rb"\2", self.open, count=1)
        if self.cells and b"spans=" in tag:
            tag = re.sub(rb'\sspans="[^"]*"', f' spans="{self.cells[0].col}:{self.cells[-1].col}"'.encode(), tag)
        if number != self.number:
            cells = b"".join(_renumber_cell(c.raw, number) for c in self.cells)
        else:
            cells = b"".join(c.raw for c in self.cells)
        return tag + cells + self.extra + b"</" + self.prefix + b"row>"


def _renumber_cell(raw: bytes, number: int) -> bytes:
    return re.sub(rb'(\sr="[A-Z]{1,3})\d+(")', rb"\g<1>" + str(number).encode() + rb"\2", raw, count=1)


def renumber_row(element: bytes, number: int) -> bytes:
    """A row element moved to another row number (its cells' references with it)."""
    if _FORMULA.search(element):
        raise SheetXmlError("a formula would move to another row")
    element = re.sub(rb'(<(?:\w+:)?row\b[^>]*?\sr=")\d+(")', rb"\g<1>" + str(number).encode() + rb"\2", element, count=1)
    return re.sub(rb'(<(?:\w+:)?c\b[^>]*?\sr="[A-Z]{1,3})\d+(")', rb"\g<1>" + str(number).encode() + rb"\2", element)


# ---- shared strings -----------------------------------------------------------------------------


class SharedStrings:
    """The shared string table, parsed only as far as the highest index asked for."""

    def __init__(self, opener: Callable[[], object] | None):
        self._opener, self._stream, self._parser = opener, None, None
        self.items: list[str] = []
        self._done = opener is None

    def __getitem__(self, index: int) -> str:
        while len(self.items) <= index and not self._done:
            self._more()
        return self.items[index] if index < len(self.items) else ""

    def _more(self) -> None:
        if self._stream is None:
            self._stream = self._opener()
            self._parser = ET.XMLPullParser(events=("end",))
        chunk = self._stream.read(CHUNK)
        if not chunk:
            self._done = True
            self._stream.close()
            return
        self._parser.feed(chunk)
        for _, element in self._parser.read_events():
            if element.tag == f"{{{MAIN}}}si":
                self.items.append("".join(t.text or "" for t in element.iter(f"{{{MAIN}}}t")
                                          if t not in _phonetic(element)))
                element.clear()


def _phonetic(si) -> set:
    return {t for rph in si.iter(f"{{{MAIN}}}rPh") for t in rph.iter(f"{{{MAIN}}}t")}


# ---- the part, row by row -----------------------------------------------------------------------

_ROOT = re.compile(rb"<(\w+:)?worksheet\b")


class SheetStream:
    """head, then `rows()` (row number, element), then `tail` (after </sheetData>)."""

    def __init__(self, stream, name: str):
        self.stream, self.name = stream, name
        buf = b""
        while True:
            chunk = stream.read(CHUNK)
            buf += chunk
            root = _ROOT.search(buf)
            start = re.search(rb"<(?:\w+:)?sheetData\b[^>]*?(/?)>", buf) if root else None
            if start is not None or not chunk:
                break
        if root is None or start is None:
            raise SheetXmlError(f"The sheet part {name} has no sheetData: it cannot be changed safely.")
        self.prefix = root.group(1) or b""
        self.head = buf[:start.start()]
        self.empty = start.group(1) == b"/"
        self._buf = buf[start.end():]
        self.tail = self._buf if self.empty else b""
        self._eof = not chunk

    def rows(self) -> Iterator[tuple[int, bytes]]:
        if self.empty:
            return
        p = self.prefix
        open_row, close_row, end_data = b"<" + p + b"row", b"</" + p + b"row>", b"</" + p + b"sheetData"
        buf, pos, number = self._buf, 0, 0
        while True:
            while pos < len(buf) and buf[pos] in b" \t\r\n":
                pos += 1
            if len(buf) - pos < 256 and not self._eof:
                rest = buf[pos:]
                if self._read_into(rest):
                    buf, pos = self._chunk, 0
                    continue
            if buf.startswith(end_data, pos):
                gt = buf.index(b">", pos)
                tail = [buf[gt + 1:]]
                while self._read():
                    tail.append(self._last)
                self.tail = b"".join(tail)
                return
            if not buf.startswith(open_row, pos):
                if pos >= len(buf) and self._eof:
                    raise SheetXmlError(f"The sheet part {self.name} ends inside its rows: the file is damaged.")
                raise SheetXmlError(f"The sheet part {self.name} holds something other than rows in its sheetData.")
            gt = buf.find(b">", pos)
            end = -1
            if gt >= 0:
                if buf[gt - 1] == 47:  # "/>": an empty row
                    end = gt + 1
                else:
                    end = buf.find(close_row, gt)
                    if end >= 0:
                        end += len(close_row)
            if end < 0:
                if self._eof:
                    raise SheetXmlError(f"The sheet part {self.name} ends inside a row: the file is damaged.")
                self._read_into(buf[pos:])
                buf, pos = self._chunk, 0
                continue
            element = buf[pos:end]
            match = _ROW_R.match(element)
            number = int(match.group(1)) if match else number + 1
            yield number, element
            pos = end

    def _read_into(self, rest: bytes) -> bool:
        if self._read():
            self._chunk = rest + self._last
            return True
        self._chunk = rest
        return False

    def _read(self) -> bool:
        chunk = b"" if self._eof else self.stream.read(CHUNK)
        self._last = chunk
        if not chunk:
            self._eof = True
        return bool(chunk)


_ROW_R = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d+)"')


def top_rows(stream, name: str, limit: int | None, strings: SharedStrings) -> tuple[bytes, dict[int, dict[int, object]]]:
    """(head, {row: {col: value}} of the first `limit` rows (all when None)), reading no further
    than needed."""
    sheet = SheetStream(stream, name)
    values: dict[int, dict[int, object]] = {}
    for number, element in sheet.rows():
        if limit is not None and number > limit:
            break
        row = Row(number, element, sheet.prefix)
        values[number] = {c.col: c.value(strings) for c in row.cells if c.has_value()}
    return sheet.head, values


_VALUED_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\sr="([A-Z]{1,3})\d+"[^>]*(?<!/)>')


def right_edge(stream, name: str) -> int:
    """The last column holding a value anywhere on the sheet (0 for none)."""
    best = b""
    for _, element in SheetStream(stream, name).rows():
        for letters_ in _VALUED_CELL.findall(element):
            if (len(letters_), letters_) > (len(best), best):
                best = letters_
    return col_number(best) if best else 0


def col_styles(head: bytes) -> list[tuple[int, int, int]]:
    """(first, last, style) of the <col> elements that give a column a style."""
    found = []
    for attrs in re.findall(rb"<(?:\w+:)?col\b([^>]*?)/?>", head):
        a = dict(_ATTR.findall(attrs))
        if b"style" in a and b"min" in a and b"max" in a:
            found.append((int(a[b"min"]), int(a[b"max"]), int(a[b"style"])))
    return found


# ---- the tail: hyperlinks -----------------------------------------------------------------------

# Elements that follow <hyperlinks> in a worksheet (CT_Worksheet's sequence).
_AFTER_HYPERLINKS = {b"printOptions", b"pageMargins", b"pageSetup", b"headerFooter", b"rowBreaks", b"colBreaks",
                     b"customProperties", b"cellWatches", b"ignoredErrors", b"smartTags", b"drawing",
                     b"legacyDrawing", b"legacyDrawingHF", b"drawingHF", b"picture", b"oleObjects", b"controls",
                     b"webPublishItems", b"tableParts", b"extLst", b"AlternateContent"}
_TAG = re.compile(rb"<(/?)([\w:.-]+)[^>]*?(/?)>|<!--.*?-->|<\?.*?\?>", re.S)


def top_elements(tail: bytes) -> list[tuple[bytes, int, int]]:
    """(local name, start, end) of the top-level elements of the tail (inside the root)."""
    found, depth, start, name = [], 0, 0, b""
    for match in _TAG.finditer(tail):
        if match.group(2) is None:
            continue
        closing, tag, empty = match.group(1), match.group(2), match.group(3)
        local = tag.split(b":")[-1]
        if closing:
            depth -= 1
            if depth == 0:
                found.append((name, start, match.end()))
            if depth < 0:  # </worksheet>
                break
        elif empty:
            if depth == 0:
                found.append((local, match.start(), match.end()))
        else:
            if depth == 0:
                start, name = match.start(), local
            depth += 1
    return found


_LINK = re.compile(rb"<(?:\w+:)?hyperlink\b[^>]*?/>|<(?:\w+:)?hyperlink\b[^>]*?>.*?</(?:\w+:)?hyperlink>", re.S)


def edit_hyperlinks(tail: bytes, prefix: bytes, keep: Callable[[int, int], int | None],
                    new: list[tuple[str, str, str]]) -> bytes:
    """The tail with its hyperlinks filtered (`keep(row, col)` gives the new row or None to drop
    the link) and `new` ones (ref, location, display) added."""
    elements = top_elements(tail)
    current = next(((s, e) for name, s, e in elements if name == b"hyperlinks"), None)
    links: list[bytes] = []
    if current is not None:
        for link in _LINK.findall(tail[current[0]:current[1]]):
            ref = dict(_ATTR.findall(link[:link.index(b">")])).get(b"ref", b"")
            m = _REF.fullmatch(ref)
            if m is None:
                links.append(link)  # a range link: not one the toolkit makes, kept
                continue
            row = keep(int(m.group(2)), col_number(m.group(1)))
            if row is not None:
                links.append(link if row == int(m.group(2)) else
                             link.replace(b'ref="' + ref + b'"', b'ref="' + m.group(1) + str(row).encode() + b'"'))
    p = prefix.decode()
    for ref, location, display in new:
        links.append(f'<{p}hyperlink ref="{ref}" location="{escape_attr(location)}" display="{escape_attr(display)}"/>'.encode())
    block = (b"<" + prefix + b"hyperlinks>" + b"".join(links) + b"</" + prefix + b"hyperlinks>") if links else b""
    if current is not None:
        return tail[:current[0]] + block + tail[current[1]:]
    if not block:
        return tail
    at = next((s for name, s, _ in elements if name in _AFTER_HYPERLINKS), None)
    if at is None:
        at = tail.rindex(b"</")  # before </worksheet>
    return tail[:at] + block + tail[at:]


def has_element(part: bytes, *names: str) -> bool:
    return any(re.search(rb"<(?:\w+:)?" + n.encode() + rb"\b", part) for n in names)


def dimension(head: bytes, last_row: int, last_col: int) -> bytes:
    """The head with its <dimension> ending at `last_row` and at least at `last_col`."""
    match = re.search(rb'(<(?:\w+:)?dimension\b[^>]*?\sref=")([^"]*)(")', head)
    if match is None:
        return head
    old = match.group(2).decode().split(":")
    start = old[0] if _REF.fullmatch(old[0].encode()) else "A1"
    end = _REF.fullmatch(old[-1].encode())
    if end:
        last_col = max(last_col, col_number(end.group(1)))
    ref = f"{start}:{letters(max(last_col, 1))}{max(last_row, 1)}"
    return head[:match.start(2)] + ref.encode() + head[match.end(2):]


def iter_runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for r in sorted(rows):
        if runs and runs[-1][0] + runs[-1][1] == r:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((r, 1))
    return runs
