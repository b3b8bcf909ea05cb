"""Reading a workbook file into the model, with python-calamine.

Columns are found by their header (the user may reorder, hide or add columns); every record keeps
its sheet, row and column letters so findings point at cells. What cannot be read becomes a
finding, never an exception: only a file that is not a workbook at all raises `WorkbookError`.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
from itertools import compress
from operator import itemgetter
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

import python_calamine

from toolkit import collector, layout
from toolkit.book.limits import Limits
from toolkit.book.survey import DAMAGED, WorkbookError, survey
from toolkit.layout import Sheet
from toolkit.book import address
from toolkit.book.pieces import Pieces, Unusable, Writer
from toolkit.book.package import TABLE_REL, Package
from toolkit.book import limits as _limits
from toolkit.model import (
    SHOWN,
    Customer,
    Finding,
    Invoice,
    InvoiceLine,
    LedgerAccount,
    Settings,
    VatCode,
    VatRule,
    Where,
    Workbook,
    error,
    warning,
)
from toolkit.values import FLOAT_LIMIT, Invalid, clean_text, excel_number, fold_header, parse_decimal, parsed_in_bulk, parser_for

HEADER_SEARCH_ROWS = address.HEADER_SEARCH_ROWS


# python-calamine reads the dates of a 1904 workbook a day late, and a date typed as a serial
# number would be four years early: none of its dates can be trusted, so the file is refused.
DATE_1904 = ("{path} uses the 1904 date system (an option of Excel for Mac), whose dates the toolkit cannot read "
             "reliably. In Excel, open File > Options > Advanced and, under 'When calculating this workbook', clear "
             "'Use 1904 date system'; Excel then shows every date four years and one day earlier, so correct the "
             "dates (or paste them again), save, and try again.")


class Grid:
    """The cells of one workbook file: calamine's fast values plus the cells holding Excel errors.

    The file is surveyed first (`toolkit.book.survey`: refused when damaged, hostile or beyond the
    limits) and calamine reads the surveyed bytes. calamine reads error cells (#N/A, #REF!) as
    empty strings, so they are recovered from the XML of the sheets the survey saw holding any:
    an error must be a finding, not a blank.
    """

    def __init__(self, path: str | Path, limits: Limits | None = None, in_pieces: tuple[str, ...] = ()):
        """`in_pieces`: sheets to write in pieces while the rest of the file is surveyed, for
        `read_ahead` to parse (toolkit.book.pieces): the reader's Invoices and Invoice lines."""
        self.path = Path(path)
        self._errors: dict[str, dict[tuple[int, int], str]] = {}  # by sheet, looked up on first use
        self._ahead: dict[str, _ReadAhead | Pieces] = {}
        self._writers: dict[str, Writer] = {}  # by sheet: pieces being written, not yet read ahead
        self._last: Pieces | None = None  # the sheet read ahead in pieces last
        try:
            self.survey = survey(self.path, limits, ahead=self._writing(in_pieces) if in_pieces else None)
            if self.survey.date1904:
                raise WorkbookError(DATE_1904.format(path=self.path))
            try:
                self.book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(self.survey.data))
                self.sheet_names = list(self.book.sheet_names)
            except BaseException as exc:  # calamine raises several unrelated types (a panic, too) for a bad file
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                if _has_part(self.survey.data, "xl/macrosheets/"):  # a sound file calamine cannot open: repairing is no cure
                    raise WorkbookError(f"{self.path} holds an Excel 4.0 macro sheet, which cannot be read: move that sheet "
                                        f"to another workbook (or delete it), save, and try again.") from None
                raise WorkbookError(f"{self.path} cannot be read as an Excel workbook ({_first_line(exc)}): {DAMAGED}.") from None
        except BaseException:
            self.drop_ahead()  # a refused file: its pieces are not written on, nor kept
            raise

    def _writing(self, wanted: tuple[str, ...]):
        def start(data: bytes, sheets: dict[str, str]) -> dict[str, Callable[[bytes], None]]:
            handed = {}  # {part: the writer the survey hands its bytes to}
            for sheet in wanted:
                name = next((n for n in sheets if fold_header(n) == fold_header(sheet)), None)
                writer = Writer(data, sheets.get(name), handed=True)
                if writer.wanted and writer.info.filename not in handed:  # two sheets on one part (hostile): one writer
                    writer.start()
                    self._writers[name] = writer
                    handed[writer.info.filename] = writer.hand
            return handed
        return start

    def find_sheet(self, name: str) -> str | None:
        """The sheet's actual name, matched without case and surrounding spaces."""
        wanted = fold_header(name)
        for actual in self.sheet_names:
            if fold_header(actual) == wanted:
                return actual
        return None

    def read_ahead(self, sheet: str, whole: bool = True) -> None:
        """Start reading the sheet in the background: python-calamine parses a sheet without
        holding the GIL, so the biggest sheet is parsed on the second core while the others are
        read and made into records; a big one in pieces, two at a time (toolkit.book.pieces),
        after the pieces of the sheet read ahead before it: read ahead in the order they are read.
        `whole`: a sheet too small for pieces too (else it is parsed when read, by the reader's
        thread). `pieces(sheet)` (or `rows(sheet)`) then takes its rows."""
        if sheet in self._ahead:
            return
        facts = self.survey.sheets.get(sheet)
        writer = self._writers.pop(sheet, None)
        if writer is None and facts is not None:
            writer = Writer(self.survey.data, facts.part)
            if writer.wanted:
                writer.start()
        if writer is not None and writer.wanted:
            self._ahead[sheet] = self._last = Pieces(writer, sheet, after=self._last)
        elif whole:
            self._ahead[sheet] = _ReadAhead(self.survey.data, sheet)

    def drop_ahead(self) -> None:
        """Let go of the sheets read ahead and not taken, and of pieces written and not parsed."""
        for ahead in self._ahead.values():
            if isinstance(ahead, Pieces):
                ahead.stop()
        self._ahead.clear()
        self._last = None
        for writer in self._writers.values():
            writer.discard()
        self._writers.clear()

    def pieces(self, sheet: str) -> Iterator[list[list]]:
        """The sheet's rows from A1 in consecutive pieces, as `Pieces` gives them when the
        sheet is read ahead in pieces; else one piece, its rows as `rows` gives them. Raises
        `Unusable` (before or after some pieces were given): `rows` then reads it whole."""
        ahead = self._ahead.get(sheet)
        if isinstance(ahead, Pieces):
            del self._ahead[sheet]
            return iter(ahead)
        return iter([self.rows(sheet)])

    def rows(self, sheet: str, nrows: int | None = None) -> list[list]:
        """The sheet's rows from A1, as a rectangle (at most `nrows` of them)."""
        ahead = self._ahead.pop(sheet, None) if nrows is None else None
        if isinstance(ahead, Pieces):  # read whole: after pieces that could not be used
            ahead.stop()
            ahead = None
        try:
            if ahead is not None:
                return ahead.result()
            return self.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=nrows)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise WorkbookError(f"{self.path}: the sheet '{sheet}' cannot be read ({_first_line(exc)}): {DAMAGED}.") from None

    def percent_cells(self, sheet: str) -> set[tuple[int, int]]:
        """{(row0, col0)} of the sheet's cells with a percent number format."""
        facts = self.survey.sheets.get(sheet)
        return facts.percent if facts else set()

    def totals_rows(self, sheet: str) -> set[int]:
        """0-based rows of the sheet that are an Excel table's Total Row (Table Design > Total Row):
        a SUBTOTAL line, not a record."""
        facts = self.survey.sheets.get(sheet)
        return _totals_rows(self.survey.data, facts.part) if facts else set()

    def errors(self, sheet: str) -> dict[tuple[int, int], str]:
        """{(row0, col0): '#N/A'} for the sheet's error cells; in a workbook whose formulas hold no
        result (`Survey.uncalculated`), its formula cells too, as NOT_CALCULATED: calamine reads
        them as empty (or as the placeholder their writer put), which is not what Excel shows."""
        if sheet not in self._errors:
            facts = self.survey.sheets.get(sheet)
            cells = _error_cells(self.survey.data, facts.part) if facts and facts.errors else {}
            if facts and facts.formulas:
                cells = {**dict.fromkeys(facts.formulas, NOT_CALCULATED), **cells}
            self._errors[sheet] = cells
        return self._errors[sheet]


class _ReadAhead(threading.Thread):
    """One sheet's rows read by a thread of its own, from a calamine workbook of its own (one
    calamine workbook parses one sheet at a time: a second caller gets 'Already borrowed')."""

    def __init__(self, data: bytes, sheet: str):
        super().__init__(name=f"read {sheet}", daemon=True)  # never keeps a stopped command alive
        self.data, self.sheet = data, sheet
        self.rows: list[list] | None = None
        self.failure: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(self.data))
            self.rows = book.get_sheet_by_name(self.sheet).to_python(skip_empty_area=False)
        except BaseException as exc:  # handed to the reader, which words it
            self.failure = exc
        finally:
            self.data = None

    def result(self) -> list[list]:
        self.join()
        if self.failure is not None:
            raise self.failure
        rows, self.rows = self.rows, None
        return rows


def _has_part(data: bytes, prefix: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(name.startswith(prefix) for name in archive.namelist())
    except Exception:
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _error_cells(data: bytes, part: str) -> dict[tuple[int, int], str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read(part)
        cells = {}
        for ref, text in _ERROR_CELL.findall(xml):
            row, col = _cell_index(ref.decode())
            cells[(row, col)] = text.decode() or "#ERROR"
        return cells
    except Exception:  # the survey passed the file; calamine reports what is wrong with it
        return {}


def _totals_rows(data: bytes, part: str) -> set[int]:
    try:
        book = Package(io.BytesIO(data))  # its relationships, targets resolved as the write-back resolves them
        rows = set()
        for table in book.related(part, TABLE_REL):
            if not book.has(table):
                continue
            head = book.read(table)[:2000]
            count, ref = _TOTALS.search(head), _REF.search(head)
            if count and ref and int(count.group(1)) > 0:
                bottom = _cell_index(ref.group(1).decode().split(":")[-1].replace("$", ""))[0]
                rows.update(range(bottom - int(count.group(1)) + 1, bottom + 1))
        return rows
    except Exception:  # the survey passed the file; a table part it cannot make sense of hides no row
        return set()


_TOTALS = re.compile(rb'<(?:\w+:)?table\b[^>]*?\stotalsRowCount="(\d+)"')
_REF = re.compile(rb'<(?:\w+:)?table\b[^>]*?\sref="([A-Z$]+[0-9$]+:[A-Z$]+[0-9$]+)"')
_ERROR_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>]*?t="e"[^>]*>(?:<f[^>]*>.*?</f>|<f[^>]*/>)?<v>([^<]*)</v>', re.S)


def _cell_index(ref: str) -> tuple[int, int]:
    letters = ref.rstrip("0123456789")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(ref[len(letters):]) - 1, col - 1


# ---- tables ------------------------------------------------------------------------------------


class Table:
    """One table sheet, column by column: `values[key]` lists the parsed cells of that column
    (None where empty, invalid or absent), aligned with `wheres`, one per non-blank row."""

    def __init__(self, sheet: Sheet, wheres: list[Where], values: dict[str, list]):
        self.sheet = sheet
        self.wheres = wheres
        self.values = values

    def column(self, key: str) -> list:
        return self.values.get(key) or [None] * len(self.wheres)


class _Bad(str):
    """A cell that did not parse; the text says why."""


def _parse_column(raw: list, parse, distinct: set | None = None, memo: dict | None = None) -> tuple[list, set]:
    """The parsed column and the types it holds. Each distinct value is parsed once: columns
    repeat their values (codes, rates, choices), and 600,000 rows make per-cell parsing the
    reader's main cost; the common values (numbers and plain text) are parsed in bulk. `memo`:
    the values parsed so far ({value: parsed}), for a column that comes in pieces."""
    distinct = set(raw) if distinct is None else distinct
    # True == 1 would share a memo entry with 1.0 (and False with 0): a column that may hold a
    # bool (some distinct value equals 1 or 0) is looked over for one.
    if (1 in distinct or 0 in distinct) and bool in set(map(type, raw)):
        parsed = [_parse_one(parse, v) for v in raw]
        return parsed, set(map(type, parsed))
    memo = {} if memo is None else memo
    new = distinct - memo.keys() if memo else distinct
    if new:
        bulk = parsed_in_bulk(parse, new)
        memo.update(bulk)
        if len(bulk) < len(new):
            for value in new - bulk.keys():
                memo[value] = _parse_one(parse, value)
    parsed = list(map(memo.__getitem__, raw))
    # The types over the parsed cells, not over the distinct values: a type per cell is cheap, a
    # second lookup of each distinct value in a big memo is not (0.3 s of a 500,000-price column).
    return parsed, set(map(type, parsed))


def _parse_one(parse, value):
    try:
        return parse(value)
    except Invalid as exc:
        return _Bad(exc)


def read_table(grid: Grid, sheet: Sheet, findings: list[Finding]) -> Table:
    actual = grid.find_sheet(sheet.name)
    if (missing := _missing(grid, actual, sheet.name, f"with its header row: {', '.join(c.header for c in sheet.columns)}")):
        findings.append(missing)
        return Table(sheet, [], {})
    try:
        table, found = _table(grid, actual, sheet, grid.pieces(actual))
    except Unusable:  # a piece calamine refused, or pieces that do not fit together
        table, found = _table(grid, actual, sheet, iter([grid.rows(actual)]))
    findings += found
    return table


def _table(grid: Grid, actual: str, sheet: Sheet, pieces: Iterator[list[list]]) -> tuple[Table, list[Finding]]:
    """The table and its findings from the sheet's rows, which come in consecutive pieces from A1
    (`Grid.pieces`: one, but for a big sheet read ahead). Each piece is made into columns as it
    comes, while the next is still parsed; the findings are made once every row is in, in the
    order one pass over the whole sheet makes them (a piece found unusable starts it over)."""
    findings: list[Finding] = []
    rows = next(pieces)
    header_row, positions = find_header(rows, sheet)
    if header_row is None:
        findings.append(
            Finding("sheet.header.missing", "error", sheet.name, "A1",
                    f"No header row found on '{sheet.name}': the first row must name the columns "
                    f"({', '.join(c.header for c in sheet.columns)}).")
        )
        return Table(sheet, [], {}), findings
    letters = {key: layout.column_letter(pos) for key, pos in positions.items()}
    header = rows[header_row]
    errors, totals = grid.errors(actual), grid.totals_rows(actual)
    if NOT_CALCULATED in errors.values():  # a formula counts where the table is typed, not in its computed columns
        typed = {positions[col.key] for col in sheet.columns if col.key in positions and not col.computed}
        errors = {cell: text for cell, text in errors.items() if text != NOT_CALCULATED or cell[1] in typed}
    percent = grid.percent_cells(actual)
    columns = [_Column(col, positions[col.key], percent) for col in sheet.columns if col.key in positions]
    first = header_row + 1
    width = max(map(len, rows[header_row:]))
    body = rows[first:]
    right = len(header)  # the sheet's width: its widest piece's
    del rows  # from here on only the table's own rows are held, and they go as soon as the columns are taken
    kept: list[int] = []
    wheres: list[Where] = []
    while True:
        piece_kept = _kept_rows(body, first, width, errors, totals)
        data = body if len(piece_kept) == len(body) else [body[i - first] for i in piece_kept]
        piece_wheres = Where.many(sheet.name, [i + 1 for i in piece_kept], letters)
        rectangular = min(map(len, data), default=width) == width
        raws = [_cells(data, column.pos, width, rectangular) for column in columns]
        first += len(body)
        del body, data  # the piece's rows go as soon as its columns are taken
        for column in columns:
            column.add(raws.pop(0), piece_kept, piece_wheres)
        kept += piece_kept
        wheres += piece_wheres
        body = next(pieces, None)  # waits for the next piece to be parsed
        if body is None:
            break
        width = max(map(len, body), default=0)
        right = max(right, width)
    for col in sheet.columns:
        if col.required and col.key not in positions:
            findings.append(
                Finding("sheet.column.missing", "error", sheet.name, f"{layout.column_letter(right)}{header_row + 1}",
                        f"Column '{col.header}' is missing on '{sheet.name}': add it to the header row.")
            )
    for key, places in address.duplicate_headers(header, sheet).items():
        cells = [f"{layout.column_letter(pos)}{header_row + 1}" for pos in places]
        findings.append(
            Finding("sheet.column.duplicate", "error", sheet.name, cells[1],
                    f"Column '{sheet.column(key).header}' is on '{sheet.name}' {len(cells)} times ({', '.join(cells)}): "
                    f"only {cells[0]} would be read. Delete the other one, or rename its header.")
        )
    values = {column.col.key: column.finish(kept, wheres, errors, findings) for column in columns}
    return Table(sheet, wheres, values), findings


def _kept_rows(body: list[list], first: int, width: int, errors: dict, totals: set[int]) -> list[int]:
    """The 0-based rows of `body` (its first is row `first`) that are records."""
    # Blank rows in the middle are normal: skip rows whose every cell is empty (calamine pads
    # rows to the sheet's width, so one comparison per row finds them), unless they hold an error
    blank = [""] * width
    kept = list(compress(range(first, first + len(body)), map(blank.__ne__, body)))
    # ... and the Total Row of an Excel table, which sums the records and is none of them
    if totals:
        kept = [r for r in kept if r not in totals]
    error_rows = {r for r, _ in errors if first <= r < first + len(body) and r not in totals}
    if error_rows - set(kept):
        kept = sorted(error_rows.union(kept))
    return kept


def _cells(data: list[list], pos: int, width: int, rectangular: bool) -> list:
    """The cells of column `pos` of the rows `data` (as wide as `width`)."""
    if pos >= width:  # a piece whose cells end left of the column: "" as calamine pads a whole sheet
        return [""] * len(data)
    return list(map(itemgetter(pos), data)) if rectangular else [r[pos] if pos < len(r) else None for r in data]


class _Column:
    """One column of a table, its cells parsed as its rows come in pieces (each distinct value
    once for the whole column); its findings made once all are in, as one pass would make them."""

    def __init__(self, col, pos: int, percent_cells: set[tuple[int, int]]):
        self.col, self.pos = col, pos
        self.parse = parser_for(col.type, col.choices)
        self.percent_rows = {row for row, c in percent_cells if c == pos} if col.type == "percent" else set()
        self.parsed: list = []
        self.kinds: set[type] = set()
        self.memo: dict = {}
        self.controls: list[Finding] = []  # the warnings on control characters, in row order
        self.shown = col.computed and self.parse is parse_decimal  # Net, VAT, Total: see `_shown_cells`

    def add(self, raw: list, kept: list[int], wheres: list[Where]) -> None:
        if self.shown:
            parsed, kinds = _shown_cells(raw)
            self.parsed = self.parsed + parsed if self.parsed else parsed
            self.kinds |= kinds
            return
        distinct = None
        if self.percent_rows:
            raw = _as_percents(raw, kept, self.percent_rows)
        elif self.col.type in TEXT_TYPES:
            raw, distinct = _without_controls(raw, wheres, self.col, self.controls)
        parsed, kinds = _parse_column(raw, self.parse, distinct, self.memo)
        if self.parsed:
            self.parsed += parsed
        else:
            self.parsed = parsed
        self.kinds |= kinds

    def finish(self, kept: list[int], wheres: list[Where], errors: dict, findings: list[Finding]) -> list:
        """The parsed column; its findings added to `findings`."""
        findings += self.controls
        _column_findings(self.col, self.pos, kept, wheres, self.parsed, self.kinds, errors, findings)
        self.memo = {}
        return self.parsed


def _shown_cells(raw: list) -> tuple[list, set]:
    """A computed amount column, parsed: each number kept as the float its cell holds, anything
    else parsed as a decimal cell is (text, a number out of range: then a finding, as for any
    cell). A workbook saved by Excel shows a result in every row, nearly all of them distinct
    (1.5 million at 100,000 invoices): the toolkit only compares them with its own figures
    (`toolkit.computed`, as floats where they are equal; `values.shown_amount` gives the Decimal)."""
    if raw.count("") == len(raw):  # no results (a file the toolkit or another program wrote)
        return [None] * len(raw), {type(None)}
    parsed = list(raw)
    for n in [n for n, value in enumerate(raw) if type(value) is not float or not -FLOAT_LIMIT < value < FLOAT_LIMIT]:
        value = raw[n]
        parsed[n] = None if value == "" else _parse_one(parse_decimal, value)
    return parsed, set(map(type, parsed))


def _as_percents(raw: list, kept: list[int], rows: set[int]) -> list:
    """Excel stores `10%` as 0.1 with a percent format; the column holds the number of percents
    (`rows`: the 0-based rows of the column's cells with a percent format)."""
    raw = list(raw)
    for n, row in enumerate(kept):
        value = raw[n]
        if row in rows and type(value) in (float, int):
            raw[n] = percents(value)
    return raw


def percents(fraction: float | int) -> Decimal | float:
    """0.1 shown as 10% -> Decimal(10); 0.055 -> Decimal('5.5') (through the float's 15 digits,
    never float arithmetic). NaN and infinity stay as they are, for the parser to refuse."""
    if fraction != fraction or fraction in (float("inf"), float("-inf")):
        return fraction
    number = excel_number(fraction) * 100
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


# Control characters (C0 but tab, line feed and carriage return; DEL; C1) are invisible, break the
# XML of some packages' files and mean nothing in a name or a description: removed, and said so.
# So are the invisible marks pasted from web pages and other programs: zero-width space, word
# joiner, byte order mark, and the direction marks and overrides (U+200E/F, U+202A-E, U+2066-9):
# in an invoice number or a customer id they made "2026-0001" differ from the 2026-0001 it shows,
# and in a text they can reverse what the accountant's package displays.
TEXT_TYPES = ("text", "code", "choice")
_C0_C1 = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
INVISIBLE = "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
CONTROL = re.compile(f"[{_C0_C1}{INVISIBLE}]")
_C0_C1_ONLY = re.compile(f"[{_C0_C1}]")


def _has_control(text: str) -> bool:
    """Whether CONTROL would find something, at the cost of the C0 and C1 expression alone on a whole
    column (the marks in the class slow it by half): `in` looks for the marks, and answers at once
    for text that Python stores one byte a character, as it does Latin-1 text."""
    return _C0_C1_ONLY.search(text) is not None or any(mark in text for mark in INVISIBLE)


def _without_controls(raw: list, wheres: list[Where], col, findings: list[Finding]) -> tuple[list, set]:
    """The column without control characters, and its distinct values (for the parser's memo)."""
    distinct = set(raw)
    if not _has_control("\n".join(v for v in distinct if type(v) is str)):
        return raw, distinct
    dirty = {v for v in distinct if type(v) is str and CONTROL.search(v)}
    raw = list(raw)
    for n, value in enumerate(raw):
        if value in dirty:
            raw[n] = CONTROL.sub("", value)
            findings.append(warning("cell.control_characters", wheres[n], col.key, control_message(col.header, value)))
    return raw, set(raw)


def missing_sheet(name: str, restore: str) -> str:
    return f"The sheet '{name}' is missing (renamed or deleted?). {restore}"


def _missing(grid: Grid, actual: str | None, name: str, content: str) -> Finding | None:
    """The error when the sheet `name` is not there to read (`actual`: the sheet found under its
    name): missing, or a chart sheet of that name, which calamine reads as an empty sheet."""
    if actual is None:
        return Finding("sheet.missing", "error", name, "", missing_sheet(name, f"Restore it {content}."))
    facts = grid.survey.sheets.get(actual)
    if facts is not None and facts.part.startswith("xl/chartsheets/"):
        return Finding("sheet.missing", "error", name, "",
                       f"'{actual}' is a chart sheet, not the sheet of that name: rename the chart sheet (right-click "
                       f"its tab, Rename), then restore the sheet '{name}' {content}.")
    return None


NOT_CALCULATED = "(not calculated)"  # an error cell's text: a formula whose result the file does not hold


def excel_error(label: str, text: str) -> str:
    if text == NOT_CALCULATED:
        return (f"{label} is a formula whose result is not in the file: the program that wrote it leaves "
                f"the calculation to Excel. Open the workbook in Excel and save it (or type the value), then "
                f"try again.")
    return f"{label} holds the Excel error {text}: fix the formula or type the value."


def control_message(label: str, value: str) -> str:
    codes = ", ".join(dict.fromkeys(f"U+{ord(ch):04X}" for ch in CONTROL.findall(value)))
    return (f"{label} held invisible control characters ({codes}), often pasted from another program; they "
            f"were removed from what is exported. Retype the cell to make this warning go away.")


def _column_findings(col, pos, kept, wheres, parsed, kinds, errors, findings) -> None:
    """Findings for a parsed column (`kinds`: the types it holds): Excel error cells, unreadable
    values, missing required ones."""
    if errors:
        row_index = {row: n for n, row in enumerate(kept)}
        for (row, cell_pos), text in errors.items():
            n = row_index.get(row)
            if cell_pos == pos and n is not None:
                parsed[n] = None
                kinds.add(type(None))
                findings.append(error("cell.error", wheres[n], col.key, excel_error(col.header, text)))
    if _Bad in kinds:
        for n, value in enumerate(parsed):
            if type(value) is _Bad:
                findings.append(error(f"cell.invalid.{col.type}", wheres[n], col.key, f"{col.header}: {value}."))
                parsed[n] = None
    if col.required and type(None) in kinds:
        errored = {(r, p) for r, p in errors if p == pos}
        for n, value in enumerate(parsed):
            if value is None and (kept[n], pos) not in errored:
                findings.append(error("cell.required", wheres[n], col.key, f"{col.header} is required: fill it in."))


def find_header(rows: list[list], sheet: Sheet) -> tuple[int | None, dict[str, int]]:
    return address.find_header(rows, sheet)


# ---- settings ----------------------------------------------------------------------------------


def read_settings(grid: Grid, findings: list[Finding]) -> Settings:
    actual = grid.find_sheet(layout.SETTINGS_SHEET)
    if (missing := _missing(grid, actual, layout.SETTINGS_SHEET, "with a row per setting, its label in column A and its value in column B")):
        findings.append(missing)
        return Settings()
    values, where, extra = {}, {}, {}
    rows_of: dict[str, int] = {}  # folded label -> the 1-based row of its value
    errors = grid.errors(actual)
    for index, row in enumerate(grid.rows(actual)):
        if not row or not isinstance(row[0], str) or not row[0].strip():
            continue
        label = clean_text(row[0])
        if fold_header(label) in (fold_header(layout.SETTINGS_HEADERS[0]),):
            continue
        raw = row[1] if len(row) > 1 else None
        cell = Where(layout.SETTINGS_SHEET, index + 1, {"value": "B"})
        if raw is not None and raw != "":  # a label twice with two values: which one is meant?
            folded = fold_header(label)
            if folded in rows_of:
                findings.append(error("settings.duplicate", cell, "value",
                                      f"Setting '{label}' is on row {rows_of[folded]} and again on row {index + 1}, each "
                                      f"with a value: only one can count. Delete one of the two rows."))
                continue
            rows_of[folded] = index + 1
        if isinstance(raw, str) and CONTROL.search(raw):
            findings.append(warning("cell.control_characters", cell, "value", control_message(label, raw)))
            raw = CONTROL.sub("", raw)
        setting = address.setting_for(label)
        if (index, 1) in errors:
            findings.append(error("cell.error", cell, "value", excel_error(label, errors[(index, 1)])))
            continue
        if setting is None:
            extra[label] = raw if not isinstance(raw, str) else clean_text(raw)
            where[label] = cell
            continue
        where[setting.key] = cell
        try:
            value = parser_for(setting.type, setting.choices)(raw)
        except Invalid as exc:
            findings.append(error(f"cell.invalid.{setting.type}", cell, "value", f"{setting.label}: {exc}."))
            continue
        if value is not None:
            values[setting.key] = value
    if "rounding" not in where:
        values["rounding"] = layout.ROUNDING_BEFORE_SETTING
        findings.append(Finding("settings.rounding.absent", "warning", layout.SETTINGS_SHEET, "", ROUNDING_ABSENT))
    for setting in layout.SETTINGS:
        if setting.key not in values and setting.default is not None:
            values[setting.key] = setting.default
        if setting.required and values.get(setting.key) in (None, ""):
            cell = where.get(setting.key)
            findings.append(Finding("settings.missing", "error", layout.SETTINGS_SHEET, cell.cell("value") if cell else "",
                                    f"Setting '{setting.label}' is required: {setting.help}" if cell else
                                    f"Settings has no row '{setting.label}' (renamed or deleted?), which is required: add "
                                    f"it, the label in column A and the value in column B. {setting.help}"))
    return Settings(**values, extra=extra, where=where)


ROUNDING_ABSENT = (f"Settings has no row 'Rounding' (a workbook of an earlier version): amounts are rounded "
                   f"'{layout.ROUNDING_BEFORE_SETTING}', as that version did. Run `ledger-export workbook upgrade` "
                   f"to add the row (it keeps this convention); choose another there only for a new period.")


# ---- the workbook ------------------------------------------------------------------------------


def _shown(net, vat, total) -> tuple:
    """The computed amounts a row shows, in SHOWN order (None where its cell shows none); () for
    a row without any (a file openpyxl wrote holds formulas without results). A tuple, not a dict:
    600,000 rows of a workbook Excel saved hold them (some 70 MB less at once)."""
    if net is None and vat is None and total is None:
        return ()
    return (net, vat, total)


def _shown_column(table: Table) -> list[tuple]:
    """`_shown` of every row; at once for the usual table whose computed columns are all empty."""
    net, vat, total = (table.column(k) for k in SHOWN)
    if net.count(None) == vat.count(None) == total.count(None) == len(table.wheres):
        return [()] * len(table.wheres)
    return list(map(_shown, net, vat, total))


def _or(column: list, default) -> list:
    """`value or default` for every value; `all` (at C speed) finds the usual column without an
    empty value, which is kept as it is."""
    return column if all(column) else [value or default for value in column]


_opened: tuple[Path, object, Grid] | None = None  # (resolved path, limits, Grid): the last file opened


def open_grid(path: str | Path, in_pieces: tuple[str, ...] = ()) -> Grid:
    """The workbook at `path`, surveyed and opened once per command: recovery, the plan and the
    customer steps that follow read it through one Grid. The Grid is reused only while the file
    holds exactly the bytes it was opened from, under the same limits. `in_pieces`: see Grid."""
    global _opened
    where, rules = Path(path).resolve(), _limits.current()
    if _opened is not None and _opened[:2] == (where, rules):
        grid = _opened[2]
        try:
            if where.stat().st_size == len(grid.survey.data) and where.read_bytes() == grid.survey.data:
                return grid
        except OSError:
            pass  # gone or unreadable now: Grid() says so
    forget_grid()
    grid = Grid(path, rules, in_pieces)
    _opened = (where, rules, grid)
    return grid


def forget_grid() -> None:
    """Let the last opened file go (its bytes and calamine's copy: 50-75 MB at 100,000 invoices):
    an export, once it has read the workbook, does not read the file again."""
    global _opened
    if _opened is not None:
        _opened[2].drop_ahead()
    _opened = None


MAX_PAYMENT_DAYS = 3650  # ten years: more is a typing accident (and 3,000,000 days is past any date)


def _payment_terms(table: Table, findings: list[Finding]) -> None:
    """Payment terms are 0 to MAX_PAYMENT_DAYS days; others are a finding on their cell and are
    dropped (1e9 days made the due date overflow with a traceback; -5 made it precede the invoice)."""
    terms = table.values.get("payment_terms")
    if not terms or all(days is None or 0 <= days <= MAX_PAYMENT_DAYS for days in terms):
        return
    header = layout.CUSTOMERS.column("payment_terms").header
    for n, days in enumerate(terms):
        if days is not None and not 0 <= days <= MAX_PAYMENT_DAYS:
            findings.append(error("cell.invalid.int", table.wheres[n], "payment_terms",
                                  f"{header}: expected 0 to {MAX_PAYMENT_DAYS} days, found {days}."))
            terms[n] = None


def read_workbook(path: str | Path) -> Workbook:
    with collector.paused():  # the records live as long as the command (toolkit.collector says why)
        workbook = _read_workbook(path)
        collector.exempt()
    return workbook


# The sheets `read_workbook` reads in pieces (toolkit.book.pieces), cut while the file is surveyed:
# whoever opens the file first for a whole read (an export's recovery) names them to `open_grid`.
BIG_SHEETS = (layout.INVOICES.name, layout.INVOICE_LINES.name)


def _read_workbook(path: str | Path) -> Workbook:
    # The two big sheets are parsed in the background, in the order they are read (Invoices first);
    # Invoices only when big enough for pieces (three parses at once would hold more memory).
    grid = open_grid(path, in_pieces=BIG_SHEETS)
    for name in BIG_SHEETS:
        if (actual := grid.find_sheet(name)) is not None:
            grid.read_ahead(actual, whole=name == layout.INVOICE_LINES.name)
    findings: list[Finding] = []
    try:
        settings = read_settings(grid, findings)
        tables = {sheet.name: read_table(grid, sheet, findings) for sheet in layout.TABLE_SHEETS if sheet is not layout.VAT_CODES}
    finally:
        grid.drop_ahead()  # a read stopped by a damaged sheet does not keep the rows read ahead
    vat_codes = read_vat_codes(grid, settings, tables, findings)

    def columns(sheet: Sheet, *keys: str) -> zip:
        table = tables[sheet.name]
        return zip(table.wheres, *(table.column(k) for k in keys))

    accounts = tuple(
        LedgerAccount(account, name or "", kind, active is not False, where)
        for where, account, name, kind, active in columns(layout.LEDGER_ACCOUNTS, "account", "name", "kind", "active")
        if account
    )
    vat_rules = tuple(
        VatRule(rate, regime, start, end, account or "", where)
        for where, rate, regime, start, end, account in columns(layout.VAT_RULES, "rate", "regime", "valid_from", "valid_to", "revenue_account")
    )
    _payment_terms(tables[layout.CUSTOMERS.name], findings)
    customers = tuple(
        Customer(cid or "", name or "", kind or "company", vat or "", street or "", postal or "", city or "",
                 (country or "").upper(), peppol or "", (language or "").upper(), email or "", phone or "", terms,
                 number or "", source or "", batch or "", where)
        for where, cid, name, kind, vat, street, postal, city, country, peppol, language, email, phone, terms, number, source, batch
        in columns(layout.CUSTOMERS, "customer_id", "name", "kind", "vat_number", "street", "postal_code", "city", "country",
                   "peppol_id", "language", "email", "phone", "payment_terms", "accounting_number", "number_source", "import_batch")
    )
    zero = Decimal(0)
    # Lines and invoices are many: each is made by one C-level map over the parsed columns (the
    # classes' positional fields, in order).
    table = tables[layout.INVOICE_LINES.name]
    column = table.column
    lines = tuple(map(
        InvoiceLine, _or(column("invoice_number"), ""), column("line"), _or(column("description"), ""),
        column("quantity"), column("unit_price"), _or(column("discount_pct"), zero), column("vat_rate"),
        _or(column("vat_regime"), "domestic"), _or(column("ledger_account"), ""), _or(column("account_source"), ""),
        table.wheres, _shown_column(table)))
    by_invoice = defaultdict(list)
    for line in lines:
        by_invoice[line.invoice_number].append(line)
    table = tables[layout.INVOICES.name]
    column = table.column
    numbers = _or(column("number"), "")
    invoices = tuple(map(
        Invoice, numbers, column("doc_type"), column("date"), _or(column("customer_id"), ""), column("due_date"),
        map(str.upper, _or(column("currency"), "EUR")), _or(column("payment_reference"), ""),
        _or(column("description"), ""), _or(column("discount_pct"), zero), _or(column("credited_invoice"), ""),
        _or(column("buyer_reference"), ""), _or(column("exported_in"), ""), _or(column("einvoice_in"), ""),
        [tuple(by_invoice.get(number, ())) for number in numbers], table.wheres, column("total_as_issued"),
        _shown_column(table)))
    return Workbook(str(path), settings, accounts, vat_rules, customers, invoices, lines, tuple(findings), vat_codes)


def read_vat_codes(grid: Grid, settings: Settings, tables: dict, findings: list[Finding]) -> tuple[VatCode, ...]:
    """The VAT codes sheet; and, from a workbook of an earlier version, the old 'Package VAT code'
    column of VAT rules, read as codes for the Settings' package (what `workbook upgrade` moves),
    with a warning to upgrade. A workbook without the sheet keeps the packages' own codes."""
    legacy = Sheet(layout.VAT_RULES.name, None, layout.VAT_RULES.columns + (layout.VAT_RULES_LEGACY_CODE,))
    old = read_table(grid, legacy, []) if grid.find_sheet(legacy.name) else None
    codes = []
    if old is not None and "vat_code" in old.values:
        tables[layout.VAT_RULES.name] = old
        for where, rate, regime, code in zip(old.wheres, *(old.column(k) for k in ("rate", "regime", "vat_code"))):
            if code and (regime, rate, code) not in {(c.regime, c.rate, c.code) for c in codes}:  # rules by date
                codes.append(VatCode(settings.package, regime or "", rate, "", code, where))
        findings.append(warning(
            "workbook.upgrade.vat_codes", old.wheres[0] if old.wheres else Where(legacy.name, 1), "vat_code",
            f"VAT rules still has the column 'Package VAT code' of an earlier version: its codes are used for the "
            f"package in Settings ({settings.package}) only. Run `ledger-export workbook upgrade` to move them to the "
            f"VAT codes sheet."))
    if grid.find_sheet(layout.VAT_CODES.name) is None:
        if old is None or "vat_code" not in old.values:
            findings.append(warning("sheet.vat_codes.missing", Where(layout.VAT_CODES.name, 0), None,
                                    "The sheet 'VAT codes' is missing: the packages' own VAT codes apply. Run "
                                    "`ledger-export workbook upgrade` to add it."))
        return tuple(codes)
    table = read_table(grid, layout.VAT_CODES, findings)
    codes += [VatCode(package or "", regime or "", rate, doc_type or "", code or "", where)
              for where, package, regime, rate, doc_type, code
              in zip(table.wheres, *(table.column(k) for k in ("package", "regime", "rate", "doc_type", "code")))
              if package and code]
    return tuple(codes)
