"""A workbook file looked over before python-calamine reads it.

calamine trusts its input: a zip bomb is inflated whole, one valued cell at XFD1048576 makes it
allocate the sheet's full rectangle (a 512 GB request, then an abort no Python code can catch),
and a damaged file raises a different exception type for every kind of damage. So the file is
read once into memory (calamine then reads those same bytes: a file replaced or deleted meanwhile
changes nothing), recognised (an old .xls, an encrypted workbook, an .ods, a CSV or a web page with
an Excel name), its zip directory checked against the limits (`toolkit.book.limits`), and every part
inflated once while counting, so a part that inflates past its declared size is refused as it
happens. Sheet parts are scanned on the way for the last valued cell (the rectangle calamine will
allocate) and for the cells with a percent number format (calamine gives values, not formats:
Excel stores `10%` as 0.1, and the reader must know it was typed as a percent).

Every refusal is a `WorkbookError`: one line that names the file, what is wrong and what to do.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from xml.etree import ElementTree

from toolkit import layout
from toolkit.book import limits as _limits
from toolkit.errors import UserError

CHUNK = 1 << 20  # inflated bytes per piece
STEP = 1 << 16  # stored bytes fed to the inflater at a time (more makes it copy its leftovers)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # the stream of an encrypted OOXML file
SAVE_AS = "open it in Excel and save it as an Excel Workbook (.xlsx), then try again"
DAMAGED = ("restore it from a backup, or open it in Excel (which offers to repair it) and save it again")
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384  # Excel's own sheet size

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


class WorkbookError(UserError):
    """The file cannot be read as a workbook at all (missing, not .xlsx/.xlsm, damaged, too big)."""


@dataclass
class SheetFacts:
    name: str
    part: str
    # At least the last row and column (1-based) holding a value, 0 when the sheet is empty: the
    # rectangle calamine allocates is no larger.
    rows: int = 0
    columns: int = 0
    percent: set[tuple[int, int]] = field(default_factory=set)  # (row0, col0) of percent-formatted cells
    last_row_tag: int = 0  # the number of the part's last <row> (the sheet's length, in an ordinary file)
    errors: bool = False  # the part holds t="e": cells with an Excel error (#N/A), which calamine reads as ""
    # The (row0, col0) of its formula cells, in a workbook that holds no trustworthy results (see
    # `Survey.uncalculated`); empty otherwise.
    formulas: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Survey:
    data: bytes  # the file's bytes, for calamine to read
    sheets: dict[str, SheetFacts]  # by sheet name; empty for a file that is not a zip workbook
    is_zip: bool = True
    date1904: bool = False  # dates count from 1904 (an Excel for Mac option), not from 1900
    # The workbook asks to be calculated when opened (calcPr fullCalcOnLoad): written by a program
    # that does not calculate (openpyxl, XlsxWriter, this toolkit), its formulas hold no result, or
    # a placeholder (XlsxWriter writes 0), never what Excel will show. Excel saves without it
    # (ECMA-376: once loaded and calculated, the application sets fullCalcOnLoad to false).
    uncalculated: bool = False


def survey(path: str | Path, limits: _limits.Limits | None = None, spreadsheet_only: bool = False,
           ahead: Callable[[bytes, dict[str, str]], dict[str, Callable[[bytes], None]]] | None = None) -> Survey:
    """The file read and checked; raises `WorkbookError` for anything calamine should not see.
    `spreadsheet_only`: also let through the formats calamine reads besides .xlsx/.xlsm (an .xls
    or .ods customer list), checked only for size. `ahead(data, {sheet name: part})` is called
    once the zip directory has passed the limits and the sheets are known, before the parts are
    inflated: the reader starts work on a big sheet there (toolkit.book.pieces), never handing
    calamine anything before the survey has passed the whole file. It returns {part: hand}: each
    such part is handed over as it is inflated, `hand(piece)` for every piece of it, then
    `hand(b"")` once all of it has inflated to its declared size (not when it is refused)."""
    limits = limits or _limits.current()
    path = Path(path)
    data = _read(path, limits)
    if not data.startswith(b"PK"):
        if spreadsheet_only and data.startswith(OLE_MAGIC) and ENCRYPTED not in data:
            return Survey(data, {}, is_zip=False)
        raise WorkbookError(_not_a_zip(path, data))
    archive = _open_zip(path, data)
    infos = archive.infolist()
    _check_directory(path, infos, limits)
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        if spreadsheet_only and ("content.xml" in names or "xl/workbook.bin" in names):
            _inflate_all(path, data, infos, {})  # counted, for the limits
            return Survey(data, {}, is_zip=False)
        raise WorkbookError(_not_a_workbook(path, archive, names))
    parts = {i.filename: i for i in infos}
    sheets, date1904, uncalculated = _sheet_parts(path, data, parts)
    handed = ahead(data, sheets) if ahead is not None and not date1904 else {}
    percent_styles = _percent_styles(path, data, parts, sheets)
    facts = {part: SheetFacts(name, part) for name, part in sheets.items() if part in parts}
    scanners = {part: _SheetScan(fact, percent_styles, limits, uncalculated) for part, fact in facts.items()}
    _inflate_all(path, data, infos, scanners, handed)
    for part, scan in scanners.items():
        scan.finish(path, data, parts[part])
    return Survey(data, {f.name: f for f in facts.values()}, date1904=date1904, uncalculated=uncalculated)


# ---- what the file is ---------------------------------------------------------------------------


def existing_file(path: str | Path) -> Path:
    """The path, when it names a file (the command line checks its arguments with this)."""
    path = Path(path)
    try:
        folder, file = path.is_dir(), path.is_file()
    except OSError as exc:  # a name too long for the file system ... (is_file answers False to the usual ones)
        raise WorkbookError(f"{path} cannot be looked up ({exc.strerror or exc}): check the name and the folder.") from None
    if folder:
        raise WorkbookError(f"{path} is a folder, not a file: give the path of the .xlsx or .xlsm file.")
    if not file:
        if path.is_symlink():
            raise WorkbookError(f"{path} is a link that leads to no file (or to itself): give the workbook's own path.")
        raise WorkbookError(f"{path}: no such file (moved, renamed or deleted?): check the name and the folder.")
    return path


def _read(path: Path, limits: _limits.Limits) -> bytes:
    try:
        existing_file(path)
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise WorkbookError(f"{path} is {size / _limits.MB:,.1f} MB, larger than the toolkit reads "
                                f"({_limits.how_to_raise('file_bytes', limits)}).")
        with path.open("rb") as handle:  # in pieces: read(n) would reserve all n bytes up front
            pieces, left = [], limits.file_bytes + 1
            while left > 0 and (piece := handle.read(min(left, CHUNK))):
                pieces.append(piece)
                left -= len(piece)
            data = b"".join(pieces)
    except FileNotFoundError:
        raise WorkbookError(f"{path} disappeared while it was being read (moved or deleted?): check the name "
                            "and the folder, then try again.") from None
    except PermissionError:
        raise WorkbookError(f"{path} cannot be opened: permission denied. Check that you may read the file "
                            "(and that no other program holds it locked), then try again.") from None
    except OSError as exc:
        raise WorkbookError(f"{path} cannot be read ({exc.strerror or exc}): check the file and the disk, then try again.") from None
    if len(data) > limits.file_bytes:
        raise WorkbookError(f"{path} grew past the size the toolkit reads while it was read "
                            f"({_limits.how_to_raise('file_bytes', limits)}).")
    if not data:
        raise WorkbookError(f"{path} is empty (0 bytes), not a workbook: {DAMAGED.split(', or')[0]}, "
                            "or create a new one with `ledger-export workbook new`.")
    return data


SPREADSHEET_STARTS = (b"PK", OLE_MAGIC)  # a zip (.xlsx, .ods), an old Excel file (.xls)


def looks_like_text(head: bytes) -> bool:
    """A file's first bytes are text (a CSV?): neither a zip nor an old Excel file, and no zero
    byte among them (UTF-16 text has some: its reader tells it by its byte order mark)."""
    return not head.startswith(SPREADSHEET_STARTS) and b"\0" not in head


def _not_a_zip(path: Path, data: bytes) -> str:
    if data.startswith(OLE_MAGIC):
        if ENCRYPTED in data:
            return (f"{path} is protected with a password, so it cannot be read: open it in Excel, remove the password "
                    "(File > Info > Protect Workbook > Encrypt with Password, empty the box), save, and try again.")
        return f"{path} is in the old Excel 97-2003 format (.xls), which the toolkit does not read: {SAVE_AS}."
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%pdf"):
        return f"{path} is a PDF document, not an Excel workbook: give the path of the .xlsx or .xlsm file."
    if head.startswith(b"<") and (b"<html" in head or b"<!doctype html" in head or b"<table" in head):
        return f"{path} is a web page (HTML), not an Excel workbook: {SAVE_AS}."
    if head.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in data[:8192]:
        return f"{path} is an Excel 2003 XML spreadsheet, which the toolkit does not read: {SAVE_AS}."
    if looks_like_text(data[:4096]):
        return (f"{path} is a text file (CSV?), not an Excel workbook: {SAVE_AS}. "
                "A customer list in CSV can be imported with `ledger-export customers import`.")
    return f"{path} is not an Excel workbook (.xlsx or .xlsm), or it is damaged: {DAMAGED}."


def _open_zip(path: Path, data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # BadZipFile, but also struct and value errors on a mangled directory
        return _raise(f"{path} is damaged: it is not a complete workbook ({exc}); it may have been cut off while "
                      f"copying or saving. {DAMAGED[0].upper()}{DAMAGED[1:]}.")


def _not_a_workbook(path: Path, archive: zipfile.ZipFile, names: set[str]) -> str:
    try:
        mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except Exception:
        mimetype = b""
    if b"opendocument.spreadsheet" in mimetype:
        return f"{path} is an OpenDocument spreadsheet (.ods), which the toolkit does not read: {SAVE_AS}."
    if "xl/workbook.bin" in names:
        return f"{path} is an Excel binary workbook (.xlsb), which the toolkit does not read: {SAVE_AS}."
    if "word/document.xml" in names or "ppt/presentation.xml" in names:
        return f"{path} is a Word or PowerPoint file, not an Excel workbook: give the path of the .xlsx or .xlsm file."
    if any(n.lower() == "xl/workbook.xml" for n in names) or any(n.startswith("xl/") for n in names):
        return f"{path} is damaged: its workbook part (xl/workbook.xml) is missing. {DAMAGED[0].upper()}{DAMAGED[1:]}."
    return f"{path} is a zip file, but not an Excel workbook (it has no xl/workbook.xml): give the path of the .xlsx or .xlsm file."


def _raise(message: str):
    raise WorkbookError(message)


# ---- the zip directory and the inflating ----------------------------------------------------------


def _check_directory(path: Path, infos: list[zipfile.ZipInfo], limits: _limits.Limits) -> None:
    if len(infos) > limits.members:
        raise WorkbookError(f"{path} holds {len(infos):,} parts, more than any workbook "
                            f"({_limits.how_to_raise('members', limits)}).")
    declared, seen = 0, set()
    for info in infos:
        if info.filename in seen:  # which copy would calamine read? Excel never writes a part twice
            raise WorkbookError(_damaged(path, info.filename, "the file holds it twice"))
        seen.add(info.filename)
        if info.flag_bits & 1:
            raise WorkbookError(f"{path} is an encrypted zip file, not a workbook Excel saved: {SAVE_AS}.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise WorkbookError(f"{path}: the part {info.filename} is compressed in a way Excel never uses "
                                f"(method {info.compress_type}): {SAVE_AS}.")
        declared += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor and ratio > limits.compression_ratio:
            raise WorkbookError(_bomb(path, f"its part {info.filename} would inflate {ratio:,.0f} times", "compression_ratio", limits))
    if declared > limits.uncompressed_bytes:
        raise WorkbookError(_bomb(path, f"it would take {declared / _limits.MB:,.0f} MB once unpacked", "uncompressed_bytes", limits))


def _bomb(path: Path, what: str, key: str, limits: _limits.Limits) -> str:
    return (f"{path} was refused: {what}, more than a real workbook ({_limits.how_to_raise(key, limits)}). "
            "If you did not expect a file this large, it may be damaged or hostile (a zip bomb): do not open it.")


def _inflate(path: Path, data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """One part's bytes, inflated piece by piece from the file's own bytes, stopped the moment
    it would pass its declared size (a lying directory is how a zip bomb gets past size checks)."""
    header = data[info.header_offset:info.header_offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise WorkbookError(_damaged(path, info.filename, "its entry is missing"))
    start = info.header_offset + _LOCAL_HEADER.size + header[26] + (header[27] << 8) + header[28] + (header[29] << 8)
    stored = memoryview(data)[start:start + info.compress_size]
    if len(stored) < info.compress_size:
        raise WorkbookError(_damaged(path, info.filename, "the file ends inside it"))
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise WorkbookError(_damaged(path, info.filename, "its sizes disagree"))
        for at in range(0, len(stored), CHUNK):
            yield bytes(stored[at:at + CHUNK])
        return
    inflater = zlib.decompressobj(-15)
    produced, at = 0, 0
    try:
        while not inflater.eof:
            if inflater.unconsumed_tail:
                piece = inflater.unconsumed_tail
            elif at < len(stored):
                piece, at = stored[at:at + STEP], at + STEP
            else:
                break
            out = inflater.decompress(piece, CHUNK)
            produced += len(out)
            if produced > info.file_size:
                raise WorkbookError(f"{path} was refused: its part {info.filename} inflates past the size its zip "
                                    "directory declares, which only a damaged or hostile file (a zip bomb) does. "
                                    "Do not open it; ask whoever sent it for a normal copy.")
            if out:
                yield out
    except zlib.error as exc:
        raise WorkbookError(_damaged(path, info.filename, f"its data is corrupt: {exc}")) from None
    if not inflater.eof or produced != info.file_size:
        raise WorkbookError(_damaged(path, info.filename, "its data is incomplete"))


def _damaged(path: Path, part: str, what: str) -> str:
    return f"{path} is damaged: the part {part} cannot be unpacked ({what}). {DAMAGED[0].upper()}{DAMAGED[1:]}."


def _whole(path: Path, data: bytes, info: zipfile.ZipInfo) -> bytes:
    return b"".join(_inflate(path, data, info))


def _inflate_all(path: Path, data: bytes, infos: list[zipfile.ZipInfo], scanners: dict,
                 handed: dict[str, Callable[[bytes], None]] | None = None) -> None:
    """Every part inflated once (counted against its declared size); sheets are scanned on the way,
    and the parts in `handed` handed over (see `survey`)."""
    handed = handed or {}
    for info in infos:
        scan, hand = scanners.get(info.filename), handed.get(info.filename)
        first = True
        for piece in _inflate(path, data, info):
            if first and info.filename.endswith((".xml", ".rels")) and _DOCTYPE.search(piece[:4096]):
                raise WorkbookError(f"{path} was refused: its part {info.filename} declares a DOCTYPE, which Excel "
                                    f"never writes (a way to attack XML readers). {SAVE_AS[0].upper()}{SAVE_AS[1:]}.")
            first = False
            if hand is not None:  # first: the writer cuts it while the scan looks it over
                hand(piece)
            if scan is not None:
                scan.feed(piece)
        if hand is not None:
            hand(b"")


_DOCTYPE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)


# ---- workbook, relationships and styles ----------------------------------------------------------


def _xml(path: Path, data: bytes, info: zipfile.ZipInfo):
    raw = _whole(path, data, info)
    if _DOCTYPE.search(raw[:4096]):
        raise WorkbookError(f"{path} was refused: its part {info.filename} declares a DOCTYPE, which Excel never "
                            f"writes (a way to attack XML readers). {SAVE_AS[0].upper()}{SAVE_AS[1:]}.")
    try:
        return ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise WorkbookError(_damaged(path, info.filename, f"its XML is malformed: {exc}")) from None


def _sheet_parts(path: Path, data: bytes, parts: dict[str, zipfile.ZipInfo]) -> tuple[dict[str, str], bool, bool]:
    """{sheet name: part name} from the workbook and its relationships; whether the workbook
    counts its dates from 1904; whether it asks to be calculated when opened."""
    workbook = _xml(path, data, parts["xl/workbook.xml"])
    properties = workbook.find("m:workbookPr", _NS)
    date1904 = properties is not None and (properties.get("date1904") or "").strip().lower() in ("1", "true")
    calculation = workbook.find("m:calcPr", _NS)
    uncalculated = calculation is not None and (calculation.get("fullCalcOnLoad") or "").strip().lower() in ("1", "true")
    rels_info = parts.get("xl/_rels/workbook.xml.rels")
    if rels_info is None:
        raise WorkbookError(_damaged(path, "xl/_rels/workbook.xml.rels", "it is missing"))
    rels = _xml(path, data, rels_info)
    target = {r.get("Id"): r.get("Target") or "" for r in rels.findall("rel:Relationship", _NS)}
    sheets = {}
    for sheet in workbook.findall("m:sheets/m:sheet", _NS):
        ref = target.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        part = ref.lstrip("/") if ref.startswith("/") else f"xl/{ref}"
        name = sheet.get("name") or ""
        if ref and part not in parts:
            raise WorkbookError(_damaged(path, part, f"the sheet '{name}' points at it, but it is missing"))
        sheets[name] = part
    return sheets, date1904, uncalculated


# Excel's built-in percent formats: 9 = 0%, 10 = 0.00%.
_BUILTIN_PERCENT = {9, 10}
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def is_percent_format(code: str) -> bool:
    """A number format code that shows the value times 100 with a % sign ("%" inside quotes,
    after a backslash or in brackets is literal text)."""
    return "%" in _FORMAT_LITERALS.sub("", code)


def _percent_styles(path: Path, data: bytes, parts: dict[str, zipfile.ZipInfo], sheets: dict) -> frozenset[str]:
    """The `s` values (cell style indexes, as text) whose number format is a percent."""
    info = parts.get("xl/styles.xml")
    if info is None:
        return frozenset()
    styles = _xml(path, data, info)
    percent_ids = set(_BUILTIN_PERCENT)
    for fmt in styles.findall("m:numFmts/m:numFmt", _NS):
        if is_percent_format(fmt.get("formatCode") or ""):
            try:
                percent_ids.add(int(fmt.get("numFmtId") or -1))
            except ValueError:
                pass
    found = set()
    for index, xf in enumerate(styles.findall("m:cellXfs/m:xf", _NS)):
        try:
            if int(xf.get("numFmtId") or 0) in percent_ids and index:
                found.add(str(index))
        except ValueError:
            pass
    return frozenset(found)


# ---- sheets ----------------------------------------------------------------------------------


# A cell opening that is not a plain narrow cell (`<c r="A1` .. `<c r="Z999999`): a column past Z,
# a row past 999,999, or attributes in another order. Plain cells are all an ordinary sheet has, so
# this pattern rarely matches; where it does, the tag is looked at. (Rows matter only to cells
# without a reference, which are odd cells too.)
_ODD_CELL = re.compile(rb'<c(?! r="[A-Z]\d{1,6}")[\s/>]')
_REF = re.compile(rb'\sr="([A-Za-z]+)(\d+)"')
_ROW_REF = re.compile(rb'\sr="(\d+)"')
_PREFIXED_ROOT = re.compile(rb"<\w+:worksheet\b")
# The exact walk, for a sheet whose cells do not all carry a reference (calamine then counts them).
_TAG = re.compile(rb"<(?:\w+:)?(row|c|f)\b([^>]*)>")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c\b([^>]*)>")
_STYLE = re.compile(rb'\ss="(\d+)"')


# Past this many percent styles the alternation of their numbers takes seconds to compile (64,000,
# Excel's limit of cell formats, took 6 s): any style is matched then, and the scan keeps theirs.
_MANY_STYLES = 500


@functools.lru_cache(maxsize=4)
def _percent_pattern(styles: frozenset[str]) -> re.Pattern | None:
    """What finds the cells whose style is one of `styles` (compiled once per workbook, not per
    sheet): the alternation of their numbers, or `_STYLE` when they are many."""
    if not styles:
        return None
    if len(styles) > _MANY_STYLES:
        return _STYLE
    return re.compile(rb'\ss="(?:' + b"|".join(s.encode() for s in sorted(styles)) + rb')"')


_PLAIN_REF = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')  # a cell tag as Excel writes it: its reference first


@functools.lru_cache(maxsize=1024)
def _column(letters: bytes) -> int:
    return column_number(letters)


def column_number(letters: bytes | str) -> int:
    number = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.upper().decode("ascii"):
        number = number * 26 + ord(ch) - 64
    return number


def _pieces(path: Path, data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A part inflated in pieces that end after a '>', so no tag is cut in two."""
    carry = b""
    for piece in _inflate(path, data, info):
        text = carry + piece
        cut = text.rfind(b">") + 1
        if cut == 0 and len(text) < 16 * CHUNK:
            carry = text
            continue
        text, carry = (text[:cut], text[cut:]) if cut else (text, b"")
        yield text
    if carry:
        yield carry


_ERROR_MARK = b't="e"'
_AFTER_NAME = (b">", b"/", b" ", b"\t", b"\r", b"\n")  # what may follow a tag's name (<f>, <f t=...>, <f/>)
_FORMULA_TAG = re.compile(rb"<f[>/ \t\r\n]")


class _SheetScan:
    """The last valued row and column of one sheet part, and its percent-formatted cells.

    An ordinary sheet is only searched for the rare odd cell (past column Z or row 999,999, or
    with its attributes in another order). A sheet with cells that carry no reference (calamine
    then places them by counting) is walked tag by tag in a second pass: slow, but only hostile
    files and unusual generators write those."""

    def __init__(self, facts: SheetFacts, percent_styles: frozenset[str], limits: _limits.Limits,
                 formulas: bool = False):
        self.facts = facts
        self.formulas = formulas  # note the formula cells (a workbook without results: `Survey.uncalculated`)
        self.cell = None  # the reference of the last cell tag scanned (a formula's cell may begin in an earlier piece)
        self.limits = limits
        self.percent_styles = percent_styles
        self._percent = _percent_pattern(percent_styles)
        self.carry = b""
        self.tail = b""  # the last bytes of the previous piece
        self.head = b""  # the part's first 4096 bytes
        self.walk = False  # cells without references were seen: walk the part in `finish`
        self.narrow = False  # some plain cell (column A..Z) was seen
        self.max_row = self.max_col = 0

    def feed(self, piece: bytes) -> None:
        # Error cells are rare: the reader looks for them only in a part found to hold one (the
        # marker may straddle two pieces).
        if not self.facts.errors and (_ERROR_MARK in piece or _ERROR_MARK in self.tail + piece[:4]):
            self.facts.errors = True
        self.tail = (self.tail + piece[-4:])[-4:]  # the last 4 bytes so far, however short the pieces
        if len(self.head) < 4096:  # a root element with a prefix (<x:worksheet>) is walked
            self.head += piece[:4096 - len(self.head)]
            self.walk = self.walk or bool(_PREFIXED_ROOT.search(self.head))
        if self.walk:
            return
        # The piece is looked at up to its last '>' (a tag may go on in the next piece: the rest is
        # carried over), in place: a sheet saved by Excel is 1.5 GB of XML at 100,000 invoices, and
        # copying each megabyte twice (joined to the carry, cut at the '>') took a third of the
        # survey. The carry is joined only to the piece's first tag: what follows the piece's
        # first '>' is a tag's start or text, so no match reaches back over it.
        cut = piece.rfind(b">") + 1
        if cut == 0:
            if len(self.carry) + len(piece) < 16 * CHUNK:
                self.carry += piece
                return
            text, self.carry = self.carry + piece, b""
            self._look(text, 0, len(text))
            return
        start = 0
        if self.carry:
            start = piece.find(b">") + 1
            joint = self.carry + piece[:start]
            self._look(joint, 0, len(joint))
        self._look(piece, start, cut)
        self.carry = piece[cut:]

    def _look(self, text: bytes, start: int, end: int) -> None:
        """Scan text[start:end] (it ends after a '>', or is all there is) and note its last row tag."""
        if not self.walk:
            self._scan(text, start, end)
        last = text.rfind(b'<row r="', start, end)
        if last >= 0:
            digits = _ROW_REF.match(text, last + 4, end)
            if digits:
                self.facts.last_row_tag = int(digits[1])

    def _scan(self, text: bytes, start: int = 0, end: int | None = None) -> None:
        """The odd cells and percent-formatted cells of text[start:end]."""
        end = len(text) if end is None else end
        if not self.narrow and text.find(b'<c r="', start, end) >= 0:
            self.narrow = True
        for match in _ODD_CELL.finditer(text, start, end):
            tag = text[match.start():text.find(b">", match.start(), end) + 1]
            ref = _REF.search(tag)
            if ref is None:
                self.walk = True
                return
            if not tag.endswith(b"/>"):
                self._valued(int(ref[2]), column_number(ref[1]))
        if self.formulas:
            self._formulas(text, start, end)
        if self._percent is not None:
            for match in self._percent.finditer(text, start, end):
                if self._percent is _STYLE and match[1].decode() not in self.percent_styles:
                    continue
                at = text.rfind(b"<", start, match.start())
                if at >= 0 and text.startswith(b"<c", at) and text[at + 2:at + 3].isspace():
                    ref = _REF.search(text, at, text.find(b">", match.end(), end))
                    if ref:
                        self.facts.percent.add((int(ref[2]) - 1, column_number(ref[1]) - 1))

    def _formulas(self, text: bytes, start: int, end: int) -> None:
        """The formula cells of text[start:end]. A lowercase f is rare in a sheet's rows (cell tags,
        numbers, shared-string indexes: none), so each one is found by memchr and looked at: the
        tag <f> is a formula, its cell the last <c before it (a < in a text is written &lt;). Where
        f's are many (formulas' texts, inline strings: a hostile sheet could be all f's), the
        tags are looked for by one regular expression instead of a Python step per f."""
        misses = 0
        at = text.find(b"f", start, end)
        while at >= 0:
            if text[at - 1:at] == b"<" and text[at + 1:at + 2] in _AFTER_NAME:
                self._formula(text, start, at)
            else:
                misses += 1
                if misses > 64:
                    for match in _FORMULA_TAG.finditer(text, at, end):
                        self._formula(text, start, match.start())
                    break
            at = text.find(b"f", at + 1, end)
        self.cell = self._cell_before(text, start, end)

    def _formula(self, text: bytes, start: int, at: int) -> None:
        ref = self._cell_before(text, start, at)
        if ref is not None:
            self.facts.formulas.append((int(ref[2]) - 1, _column(ref[1]) - 1))

    def _cell_before(self, text: bytes, start: int, at: int):
        """The reference of the last cell tag in text[start:at] (a cell's children are no <c...>
        tags), or of the one before the text when it has none."""
        cell = text.rfind(b"<c", start, at)
        if cell < 0 or text[cell + 2:cell + 3] not in _AFTER_NAME:
            return self.cell
        return _PLAIN_REF.match(text, cell) or _REF.search(text, cell, text.find(b">", cell, at) + 1)

    def _valued(self, row: int, col: int) -> None:
        if row > self.max_row:
            self.max_row = row
        if col > self.max_col:
            self.max_col = col

    def _walk(self, path: Path, data: bytes, info: zipfile.ZipInfo) -> None:
        """Every row and cell in order, placed the way calamine places them."""
        self.max_row = self.max_col = 0
        self.facts.percent.clear()
        row, col = -1, -1
        formulas = self.facts.formulas
        formulas.clear()
        for text in _pieces(path, data, info):
            for match in _TAG.finditer(text):
                kind, attrs = match[1], match[2]
                if kind == b"f":
                    if self.formulas:
                        formulas.append((row, col))
                    continue
                if kind == b"row":
                    ref = _ROW_REF.search(attrs)
                    row, col = (int(ref[1]) - 1 if ref else row + 1), -1
                    continue
                ref = _REF.search(attrs)
                if ref:
                    row, col = int(ref[2]) - 1, column_number(ref[1]) - 1
                else:
                    col += 1
                if not attrs.endswith(b"/"):
                    self._valued(row + 1, col + 1)
                style = _STYLE.search(attrs) if self.percent_styles else None
                if style and style[1].decode() in self.percent_styles:
                    self.facts.percent.add((row, col))

    def _last_row(self, path: Path, data: bytes, info: zipfile.ZipInfo) -> int:
        """The exact last valued row, for a wide sheet (a second pass over the part, only then)."""
        last = self.max_row
        for text in _pieces(path, data, info):
            for match in _CELL_TAG.finditer(text):
                attrs = match[1]
                ref = _REF.search(attrs)
                if ref and not attrs.endswith(b"/"):
                    last = max(last, int(ref[2]))
        return last

    def finish(self, path: Path, data: bytes, info: zipfile.ZipInfo) -> None:
        if self.carry and not self.walk:
            self._scan(self.carry)
        facts, limits = self.facts, self.limits
        if self.walk:
            self._walk(path, data, info)
            rows, cols = self.max_row, self.max_col
        else:
            # Plain cells lie within A..Z and rows 1..999,999; the odd ones were measured.
            cols = max(self.max_col, 26 if self.narrow else 0)
            rows = max(self.max_row, 999_999 if self.narrow else 0)
            if rows * cols > limits.sheet_cells:
                rows = self._last_row(path, data, info)
        facts.rows, facts.columns = rows, cols
        if rows > MAX_ROWS or cols > MAX_COLUMNS or rows * cols > limits.sheet_cells:
            raise WorkbookError(
                f"{path}: the sheet '{facts.name}' reaches cell {layout.column_letter(max(cols, 1) - 1)}{rows}, and reading it would take "
                f"{rows * cols:,} cells ({_limits.how_to_raise('sheet_cells', limits)}). Something was typed far "
                f"outside the table: in Excel, press Ctrl+End on that sheet to jump to it, delete the rows and "
                f"columns beyond the table, save, and try again.")
