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
from typing import Callable, Iterator

from toolkit import layout
from toolkit.errors import UserError

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
CHUNK = 1 << 18  # a write-back holds a few blocks at once (read, cut, rewritten): 1 MB ones took 4 MB more


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
    return b"<" + prefix + b'c r="' + ref.encode() + b'"' + cell_rest(prefix, style, value)


def cell_rest(prefix: bytes, style: int, value) -> bytes:
    """A <c> element after its reference: its style, type and value (the same for a column of
    cells given one value)."""
    p = prefix.decode()
    s = f' s="{style}"' if style else ""
    if value is None:
        return f'{s}/>'.encode()
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() or "\n" in value else ""
        return f'{s} t="inlineStr"><{p}is><{p}t{space}>{escape_text(value)}</{p}t></{p}is></{p}c>'.encode()
    if isinstance(value, (dt.date, dt.datetime)):
        return f'{s}><{p}v>{serial(value)}</{p}v></{p}c>'.encode()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return f'{s}><{p}v>{number_text(value)}</{p}v></{p}c>'.encode()
    return cell_rest(prefix, style, str(value))


# ---- cells --------------------------------------------------------------------------------------

CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
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


_R_LETTERS = re.compile(rb'\sr="([A-Z]{1,3})')
STYLE_ATTR = re.compile(rb'\ss="(\d+)"')
_COLS: dict[bytes, int] = {}


def _col_of(letters_: bytes) -> int:
    col = _COLS.get(letters_)
    if col is None:
        col = _COLS[letters_] = col_number(letters_)
    return col


class Cell:
    """A <c> element: its column and bytes; attributes parsed only when asked for."""

    __slots__ = ("col", "head", "body", "raw")

    def __init__(self, col: int, head: bytes, body: bytes | None, raw: bytes):
        self.col, self.head, self.body, self.raw = col, head, body, raw

    @property
    def attrs(self) -> dict[bytes, bytes]:
        return dict(ATTR.findall(self.head))

    @property
    def style(self) -> int:
        match = STYLE_ATTR.search(self.head)
        return int(match.group(1)) if match else 0

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
        if not self.body:
            return False
        match = _FORMULA.search(self.body)
        if match is None:
            return False
        attrs = dict(ATTR.findall(match.group(1)))
        return attrs.get(b"t") in (b"shared", b"array") and b":" in attrs.get(b"ref", b"")

    def with_style(self, style: int) -> bytes:
        end = self.raw.index(b">")
        if self.raw[end - 1:end] == b"/":
            end -= 1
        tag = self.raw[:end]
        new = f' s="{style}"'.encode() if style else b""
        tag = STYLE_ATTR.sub(b"", tag) + new
        return tag + self.raw[end:]


def parse_cells(body: bytes) -> tuple[list[Cell], bytes]:
    """The cells of a row's content in order, and whatever else it holds (an extLst)."""
    cells: list[Cell] = []
    col = 0
    rest = []
    last = 0
    for match in CELL.finditer(body):
        if match.start() != last:
            rest.append(body[last:match.start()])
        last = match.end()
        head = match.group(1)
        ref = _R_LETTERS.search(head)
        col = _col_of(ref.group(1)) if ref else col + 1
        cells.append(Cell(col, head, match.group(2), match.group(0)))
    if last != len(body):
        rest.append(body[last:])
    extra = b"".join(rest).strip() if rest else b""
    return cells, extra


class Row:
    """A <row> element being changed. Cells are found and spliced in the row's bytes, the others
    left as they are; only a row whose cells lack references (or use a namespace prefix) is parsed
    into `Cell`s."""

    __slots__ = ("number", "open", "body", "prefix", "_cells", "_extra", "_plain", "_found")

    def __init__(self, number: int, element: bytes | None, prefix: bytes):
        self.number, self.prefix = number, prefix
        self._cells: list[Cell] | None = None
        self._extra = b""
        self._plain: bool | None = None
        self._found: tuple[int, re.Match | None] | None = None
        if element is None:
            self.open, self.body = b"<" + prefix + b'row r="' + str(number).encode() + b'">', b""
            return
        end = element.index(b">")
        if element[end - 1:end] == b"/":
            self.open, self.body = element[:end - 1].rstrip() + b">", b""
        else:
            self.open, self.body = element[:end + 1], element[end + 1:element.rindex(b"</")]

    @property
    def cells(self) -> list[Cell]:
        if self._cells is None:
            self._cells, self._extra = parse_cells(self.body)
        return self._cells

    def _fast(self) -> bool:
        """Whether the row can be spliced without parsing it: every cell starts `<c r="` (its
        reference first, as every program that writes xlsx puts it), so the cell of a column is
        found by its reference (a `<` cannot occur in text)."""
        if self._plain is None:
            self._plain = not self.prefix and referenced(self.body)
        return self._plain and self._cells is None

    def _find(self, col: int) -> re.Match | None:
        if self._found is not None and self._found[0] == col:
            return self._found[1]
        at = self.body.find(b'<c r="' + letter_bytes(col) + str(self.number).encode() + b'"')
        match = None if at < 0 else CELL.match(self.body, at)
        self._found = (col, match)
        return match

    def cell(self, col: int) -> Cell | None:
        if self._fast():
            match = self._find(col)
            return Cell(col, match.group(1), match.group(2), match.group(0)) if match else None
        for cell in self.cells:
            if cell.col == col:
                return cell
        return None

    def put(self, col: int, raw: bytes) -> None:
        """Set the bytes of the cell in `col` (replacing it or inserting it in column order)."""
        if self._fast():
            body = self.body
            match = self._find(col)
            self._found = None
            if match is not None:
                self.body = body[:match.start()] + raw + body[match.end():]
                return
            at = next((m.start() for m in _CELL_REF.finditer(body) if _col_of(m.group(1)) > col), None)
            if at is None:
                ext = body.find(b"<extLst")
                at = ext if ext >= 0 else len(body)
            self.body = body[:at] + raw + body[at:]
            return
        cell = Cell(col, b"", None, raw)
        cols = [c.col for c in self.cells]
        at = bisect.bisect_left(cols, col)
        if at < len(cols) and cols[at] == col:
            self.cells[at] = cell
        else:
            self.cells.insert(at, cell)

    def last_col(self) -> int:
        if self._cells is None:
            return edge_col(self.body, self.body.rfind(b"<c "))
        return self._cells[-1].col if self._cells else 0

    def render(self, number: int) -> bytes:
        digits = str(number).encode()
        tag = self.open
        if number != self.number:
            tag = _ROW_NUMBER.sub(lambda m: m.group(1) + digits + b'"', tag, count=1)
        if self._cells is None:
            body = self.body
            if number != self.number:
                body = _CELL_NUMBER.sub(lambda m: m.group(1) + digits + b'"', body)
            if b"spans=" in tag:
                tag = fit_spans(tag, body, 0, len(body))
            return tag + body + b"</" + self.prefix + b"row>"
        if self._cells and b"spans=" in tag:
            spans = f' spans="{self._cells[0].col}:{self._cells[-1].col}"'.encode()
            tag = _SPANS.sub(lambda m: spans, tag, count=1)
        if number != self.number:
            cells = b"".join(_CELL_NUMBER.sub(lambda m: m.group(1) + digits + b'"', c.raw, count=1) for c in self._cells)
        else:
            cells = b"".join(c.raw for c in self._cells)
        return tag + cells + self._extra + b"</" + self.prefix + b"row>"


def edge_col(body: bytes, at: int) -> int:
    """The column of an unparsed row body's cell starting at `at` (-1: none). Unparsed means every
    cell is a `<c ` with its reference (`Row._fast`), so find/rfind give the first and last cell
    without a regular expression over the whole row."""
    match = _CELL_REF.match(body, at) if at >= 0 else None
    return _col_of(match.group(1)) if match else 0


def fit_spans(tag: bytes, body: bytes, start: int, end: int) -> bytes:
    """A row's open tag with its spans from the first to the last cell of its unparsed body
    (body[start:end]); as it is when the row has no cell."""
    first = edge_col(body, body.find(b"<c ", start, end))
    if not first:
        return tag
    spans = f' spans="{first}:{edge_col(body, body.rfind(b"<c ", start, end))}"'.encode()
    return _SPANS.sub(lambda m: spans, tag, count=1)


# A cell that does not start `<c r="`: without a reference, or with another attribute first.
_UNREFERENCED = re.compile(rb'<c(?:[>/]|\s(?!r="))')


def referenced(data: bytes) -> bool:
    """Whether every cell in `data` (rows, or a row's body) starts `<c r="`, as every program
    that writes xlsx puts it: a cell is then found by its reference (a `<` cannot occur in
    text). One regular expression over the data, a third of the time of counting."""
    return _UNREFERENCED.search(data) is None


_LETTERS: dict[int, bytes] = {}


def letter_bytes(col: int) -> bytes:
    """`letters` as bytes (1 -> b"A"), remembered: asked for every changed cell."""
    found = _LETTERS.get(col)
    if found is None:
        found = _LETTERS[col] = letters(col).encode()
    return found


_CELL_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*?\sr="([A-Z]{1,3})\d+"')


def cell_style(element: bytes, ref: bytes) -> int | None:
    """The style of the cell `ref` (b"K5") in a row element, None when the row has no such cell."""
    at = element.find(b' r="' + ref + b'"')
    if at < 0:
        return None
    start, end = element.rfind(b"<", 0, at), element.find(b">", at)
    match = STYLE_ATTR.search(element, start, end)
    return int(match.group(1)) if match else 0


_ROW_NUMBER = re.compile(rb'(\sr=")\d+"')
_SPANS = re.compile(rb'\sspans="[^"]*"')
_CELL_NUMBER = re.compile(rb'(\sr="[A-Z]{1,3})\d+"')


_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_A1 = re.compile(rb"(?<![A-Za-z0-9_.\[])\$?[A-Za-z]{1,3}\$?[0-9]+(?![0-9(\]])")


def movable(element: bytes) -> bool:
    """Whether a row can move to another row number as it is: its formulas (if any) name no
    cell by its row (structured references like Invoices[[#This Row],[Net]] follow the row;
    A1 references, shared and array formulas do not)."""
    if b"<f" not in element and b":f" not in element:
        return True
    for attrs, text in _FORMULA_TEXT.findall(element):
        if b"shared" in attrs or b"array" in attrs or b"ref=" in attrs:
            return False
        if _A1.search(re.sub(rb"&quot;.*?&quot;|\".*?\"", b"", text or b"")):
            return False
    return True


def renumber_row(element: bytes, number: int) -> bytes:
    """A row element moved to another row number (its cells' references with it)."""
    if not movable(element):
        raise SheetXmlError("a formula with cell references would move to another row")
    element = re.sub(rb'(<(?:\w+:)?row\b[^>]*?\sr=")\d+(")', rb"\g<1>" + str(number).encode() + rb"\2", element, count=1)
    return re.sub(rb'(<(?:\w+:)?c\b[^>]*?\sr="[A-Z]{1,3})\d+(")', rb"\g<1>" + str(number).encode() + rb"\2", element)


# ---- shared strings -----------------------------------------------------------------------------


class SharedStrings:
    """The shared string table, read only as far as the highest index asked for (a header of a
    late sheet may be string 200,000 of an Excel-saved workbook: a regular expression per <si>
    gets there in a fraction of a second, an XML parser does not)."""

    def __init__(self, opener: Callable[[], object] | None):
        self._opener = opener
        self.items: list[str] = []
        self._found: Iterator[re.Match] | None = None
        self._done = opener is None

    def __getitem__(self, index: int) -> str:
        if len(self.items) <= index and not self._done:
            if self._found is None:
                with self._opener() as stream:
                    self._data = stream.read()
                self._found = _SI.finditer(self._data)
            for match in self._found:
                self.items.append(_si_text(match.group(1) or b""))
                if len(self.items) > index:
                    break
            else:
                self._done = True
                self._data = b""
        return self.items[index] if index < len(self.items) else ""


_SI = re.compile(rb"<(?:\w+:)?si>(.*?)</(?:\w+:)?si>|<(?:\w+:)?si/>", re.S)


def _si_text(body: bytes) -> str:
    if body.startswith(b"<t>") and body.endswith(b"</t>") and body.count(b"<") == 2:  # the usual <si><t>text</t></si>
        raw = body[3:-4]
        return unescape(raw) if b"&" in raw or b"_x" in raw else raw.decode("utf-8")
    if b"<rPh" in body or b":rPh" in body:
        body = _RPH.sub(b"", body)
    texts = _T.findall(body)
    raw = texts[0] if len(texts) == 1 else b"".join(texts)
    if b"&" in raw or b"_x" in raw:
        return unescape(raw)
    return raw.decode("utf-8")


# ---- the part, row by row -----------------------------------------------------------------------

_ROOT = re.compile(rb"<(\w+:)?worksheet\b")


class SheetStream:
    """head, then `blocks()` or `rows()`, then `tail` (after </sheetData>)."""

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
        """(row number, element) for every row."""
        number = 0
        for block in self.blocks():
            for number, element in rows_in(block, self.prefix, self.name, number):
                yield number, element

    def blocks(self) -> Iterator[bytes]:
        """The rows in blocks of whole rows (about CHUNK bytes each, as they are in the part, the
        whitespace between them too): a caller that changes a few rows finds them in a block with
        bytes.find and copies the rest as it is, never splitting it into rows."""
        if self.empty:
            return
        open_row, end_data = b"<" + self.prefix + b"row", b"</" + self.prefix + b"sheetData"
        buf, searched = self._buf, 0
        while True:
            end = buf.find(end_data, searched)
            if end >= 0:
                if end:
                    yield buf[:end]
                tail = [buf[buf.index(b">", end) + 1:]]
                while chunk := self.stream.read(CHUNK):
                    tail.append(chunk)
                self.tail = b"".join(tail)
                return
            searched = max(len(buf) - len(end_data), 0)
            chunk = b"" if self._eof else self.stream.read(CHUNK)
            if not chunk:
                for _ in rows_in(buf, self.prefix, self.name, 0):  # raises for a row cut short or what is no row
                    pass
                raise SheetXmlError(f"The sheet part {self.name} ends inside its rows: the file is damaged.")
            cut = buf.rfind(open_row)  # the last row may be cut short: it goes with the next block
            if cut > 0:
                yield buf[:cut]
                buf, searched = buf[cut:], max(searched - cut, 0)
            buf += chunk


def rows_in(block: bytes, prefix: bytes, name: str, number: int) -> Iterator[tuple[int, bytes]]:
    """(row number, element) of the rows of a block of whole rows; `number` is the row before
    (a row without a number is the next one)."""
    open_row, close_row = b"<" + prefix + b"row", b"</" + prefix + b"row>"
    pos, size = 0, len(block)
    while True:
        while pos < size and block[pos] in b" \t\r\n":
            pos += 1
        if pos == size:
            return
        if not block.startswith(open_row, pos):
            raise SheetXmlError(f"The sheet part {name} holds something other than rows in its sheetData.")
        gt = block.find(b">", pos)
        end = -1
        if gt >= 0:
            if block[gt - 1] == 47:  # "/>": an empty row
                end = gt + 1
            else:
                end = block.find(close_row, gt)
                if end >= 0:
                    end += len(close_row)
        if end < 0:
            raise SheetXmlError(f"The sheet part {name} ends inside a row: the file is damaged.")
        element = block[pos:end]
        match = ROW_NUMBER.match(element)
        number = int(match.group(1)) if match else number + 1
        yield number, element
        pos = end


ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d+)"')


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
        a = dict(ATTR.findall(attrs))
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
            ref = dict(ATTR.findall(link[:link.index(b">")])).get(b"ref", b"")
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
