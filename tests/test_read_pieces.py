"""A big sheet parsed in pieces (toolkit.book.pieces) gives exactly the rows one parse of the whole
sheet gives, or raises Unusable (the reader then parses it whole): compared here with calamine's own
parse of the same bytes, on sheets built to put odd things where the cuts fall. And the reader,
which makes each piece into records as it comes, makes the records and findings (in their order)
that one pass over the whole sheet makes."""

from __future__ import annotations

import datetime as dt
import io
import struct
import threading
import zipfile
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
import python_calamine

from external import soffice_convert
from toolkit import layout
from toolkit.book import pieces, read
from toolkit.book.read import forget_grid, read_workbook
from toolkit.model import Where

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SHEET = "Invoice lines"
PART = "xl/worksheets/sheet7.xml"
PERCENT_STYLE = 15  # the style `_with_rows` adds to the demo's 15: a percent format


@pytest.fixture(autouse=True)
def split_everything(monkeypatch, tmp_path):
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 0)  # the samples are small: split them all the same
    monkeypatch.setattr(pieces.tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    forget_grid()
    yield
    forget_grid()
    assert list((tmp_path / "temp").iterdir()) == []  # the pieces' files are gone


def _whole(data: bytes, sheet: str = SHEET) -> list[list]:
    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet).to_python(
        skip_empty_area=False)


def _with_rows(rows_xml: bytes, tail: bytes = b"", parts: dict | None = None) -> bytes:
    """demo.xlsx with the Invoice lines sheet's rows replaced by `rows_xml` (and `tail` after them),
    a percent style added (PERCENT_STYLE), and `parts` changed: {name: function of the part's bytes
    (b"" when new)}."""
    source = zipfile.ZipFile(SAMPLES / "demo.xlsx")
    xml = source.read(PART)
    head = xml[:xml.index(b"<sheetData>") + len(b"<sheetData>")]
    rest = xml[xml.index(b"</sheetData>"):]
    styles = {"xl/styles.xml": lambda xml: xml.replace(b'<cellXfs count="15">', b'<cellXfs count="16">').replace(
        b"</cellXfs>", b'<xf numFmtId="9" fontId="0" fillId="0" borderId="0" applyNumberFormat="1" xfId="0" /></cellXfs>')}
    changes = {PART: lambda _: head + rows_xml + tail + rest, **styles, **(parts or {})}
    names = source.namelist() + [name for name in changes if name not in source.namelist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in names:
            content = source.read(name) if name in source.namelist() else b""
            target.writestr(name, changes[name](content) if name in changes else content)
    return out.getvalue()


def _row(number: int, *cells: tuple[str, object]) -> bytes:
    xml = []
    for column, value in cells:
        if isinstance(value, str):
            xml.append(f'<c r="{column}{number}" t="inlineStr"><is><t>{value}</t></is></c>')
        else:
            xml.append(f'<c r="{column}{number}"><v>{value}</v></c>')
    return f'<row r="{number}">{"".join(xml)}</row>'.encode()


def _pieces(data: bytes, count: int = 2, sheet: str = SHEET, part: str = PART) -> list[list[list]] | None:
    """The sheet's pieces (`count` of them), None when they are unusable."""
    size = zipfile.ZipFile(io.BytesIO(data)).getinfo(part).file_size
    with mock.patch.object(pieces, "PIECE_BYTES", max(1, size // count)):
        writer = pieces.Writer(data, part)
    assert writer.count == count
    writer.start()
    try:
        return list(pieces.Pieces(writer, sheet))
    except pieces.Unusable:
        return None


def _joined(parts: list[list[list]]) -> list[list]:
    """The pieces as one parse of the whole sheet gives them: every row padded with "" to the widest."""
    width = max((len(row) for piece in parts for row in piece), default=0)
    return [row + [""] * (width - len(row)) for piece in parts for row in piece]


@pytest.mark.parametrize("count", [2, 3, 7, 16])
def test_the_samples_lines_are_the_same_read_in_pieces(count):
    for name in ("demo.xlsx", "mistakes.xlsx"):
        data = (SAMPLES / name).read_bytes()
        assert PART in zipfile.ZipFile(io.BytesIO(data)).namelist()
        parts = _pieces(data, count)
        assert parts is not None and len(parts) == count and _joined(parts) == _whole(data), name


@pytest.mark.parametrize("count", [2, 5])
def test_a_later_piece_narrower_further_right_and_after_blank_rows_is_placed_as_the_whole_sheet_has_it(count):
    # Odd rows only (every row follows a blank one); past the first few, nothing in columns A and
    # E: the cuts fall among those, so later pieces start after a blank row, at column B.
    top = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n), ("C", "text"), ("E", 1.5)) for n in range(1, 40, 2))
    bottom = b"".join(_row(n, ("B", n), ("C", "later")) for n in range(41, 400, 2))
    data = _with_rows(top + bottom)
    parts, whole = _pieces(data, count), _whole(data)
    assert [] in parts[1]  # a row without cells between two pieces
    assert _joined(parts) == whole and len(whole) == 399 and whole[1] == [""] * 5 and whole[300] == ["", 301.0, "later", "", ""]


@pytest.mark.parametrize("count", [2, 6])
def test_shared_strings_dates_and_the_1904_date_system_survive_the_cuts(count):
    """The parts calamine reads on opening go with each piece: cells pointing into the shared
    strings, dates (a number with a date style) in the workbook's date system."""
    strings = [f"INV-{n}" for n in range(37)]
    sst = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{0}" uniqueCount="{0}">'
           .format(len(strings)) + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>").encode()
    rows = b"".join(f'<row r="{n}"><c r="A{n}" t="s"><v>{n % 37}</v></c><c r="B{n}" s="4"><v>{45000 + n % 60}</v></c>'
                    f'<c r="C{n}"><v>{n * 1.25}</v></c></row>'.encode() for n in range(1, 400))
    changes = {
        "xl/sharedStrings.xml": lambda _: sst,
        "xl/workbook.xml": lambda xml: xml.replace(b"<workbookPr />", b'<workbookPr date1904="1" />'),
        "xl/_rels/workbook.xml.rels": lambda xml: xml.replace(b"</Relationships>", (
            b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/sharedStrings" /></Relationships>'))}
    data = _with_rows(rows, parts=changes)
    parts, whole = _pieces(data, count), _whole(data)
    assert _joined(parts) == whole and whole[4][0] == "INV-5" and isinstance(whole[4][1], dt.date)
    plain = _with_rows(rows, parts={name: change for name, change in changes.items() if name != "xl/workbook.xml"})
    assert _whole(plain)[4][1] != whole[4][1]  # the workbook's date system reached every piece


@pytest.mark.parametrize("opener, closer", [(b"<!-- ", b" -->"), (b"<![CDATA[", b"]]>"), (b"<?note ", b"?>")])
def test_a_cut_inside_a_comment_cdata_or_instruction_reads_the_sheet_whole(opener, closer):
    """The cut falls on a row inside the construct: the first piece is left unclosed, calamine refuses it."""
    top = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 30))
    hidden = b"".join(_row(n, ("A", f"HIDDEN-{n}"), ("B", n)) for n in range(30, 60))
    bottom = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(60, 65))
    data = _with_rows(top + opener + hidden + closer + bottom)
    assert _pieces(data) is None


def test_rows_ending_before_the_middle_read_the_sheet_whole():
    """A row after the rows' end (in a hostile file's extension data) is never where a cut goes."""
    rows = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 5))
    stray = b"<extLst><ext>" + b"".join(_row(n, ("A", "STRAY")) for n in range(5, 80)) + b"</ext></extLst>"
    data = _with_rows(rows, b"</sheetData>" + stray + b"<sheetData>")
    assert _pieces(data) is None


def test_a_sheet_without_numbered_rows_is_read_whole():
    top = b"".join(_row(n, ("A", f"INV-{n}")) for n in range(1, 50)).replace(b'<row r="', b'<row spans="1:1" x="')
    assert _pieces(_with_rows(top)) is None


@pytest.mark.parametrize("count, late", [(2, 200), (5, 120)])
def test_rows_out_of_order_across_a_cut_read_the_sheet_whole(count, late):
    """A row numbered among an earlier piece's comes after a cut: calamine merges it into its row
    when it parses the whole sheet, so the pieces are not used."""
    rows = [_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 250)]
    rows.insert(late, _row(5, ("C", "late")))
    data = _with_rows(b"".join(rows))
    assert _pieces(data, count) is None
    assert _whole(data)[4][:3] == ["INV-5", 5.0, "late"]


def test_a_first_piece_too_short_to_hold_every_row_searched_for_the_header_reads_the_sheet_whole():
    """Rows long enough that the first cut comes at row 4, and the header on row 7: pieces would
    look for it in the first piece's three rows only."""
    long = "x" * 20000
    rows = b"".join(_row(n, ("A", long)) for n in range(1, 4)) + b"".join(_row(n, ("A", f"INV-{n}")) for n in range(7, 100))
    data = _with_rows(rows)
    assert _pieces(data) is None


def test_a_sheet_without_a_header_reads_the_same_and_leaves_no_pieces(tmp_path, monkeypatch):
    """The reader stops after the first piece (no header row): the others are not kept."""
    data = _with_rows(b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 400)))
    book = tmp_path / "headless.xlsx"
    book.write_bytes(data)
    split = read_workbook(book)
    forget_grid()
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 1 << 60)
    whole = read_workbook(book)
    assert "sheet.header.missing" in {f.code for f in split.findings} and split.findings == whole.findings


def _reads(path: Path, monkeypatch, counts=(2, 7, 16)):
    """The workbook read whole, then in `counts` pieces: (whole, [split...]), and how many pieces
    each split read of Invoice lines was made of."""
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 1 << 60)
    whole = read_workbook(path)
    forget_grid()
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 0)
    size = zipfile.ZipFile(path).getinfo(PART).file_size
    given, iterate = [], pieces.Pieces.__iter__

    def counted(self):
        for piece in iterate(self):
            given.append(self.sheet)
            yield piece
    monkeypatch.setattr(pieces.Pieces, "__iter__", counted)
    splits = []
    for count in counts:
        monkeypatch.setattr(pieces, "PIECE_BYTES", size // count)
        splits.append(read_workbook(path))
        forget_grid()
    return whole, splits, given.count(SHEET)


def _same(a, b) -> bool:
    """The same records (repr tells Decimal('1') from Decimal('1.0')) and findings, in order."""
    return repr((a.lines, a.invoices, a.findings)) == repr((b.lines, b.invoices, b.findings))


def test_the_reader_reads_the_samples_the_same_whole_and_in_pieces(monkeypatch):
    for name in ("demo.xlsx", "mistakes.xlsx"):
        whole, splits, given = _reads(SAMPLES / name, monkeypatch)
        assert given >= 2 + 7 + 16 and all(_same(split, whole) for split in splits), name
        assert whole.findings or name == "demo.xlsx"


def _odd_lines(last: int = 400) -> bytes:
    """Invoice lines rows 2..`last` with something odd every few rows, so that every piece holds
    some: blank rows (styled empty cells, empty text), row numbers skipped and rows without cells
    (between two pieces, as well), Excel errors (one in an otherwise blank row), invisible marks,
    values that do not parse, required values missing, percent-formatted rates, bools and whole
    numbers in one column; and a Total Row last."""
    rows = []
    for n in range(2, last):
        kind = n % 11
        if kind == 0:
            rows.append(f'<row r="{n}"><c r="A{n}" s="2" /><c r="C{n}" t="inlineStr"><is><t></t></is></c></row>'.encode())
            continue
        if kind == 1:
            rows.append(f'<row r="{n}" spans="1:13" />'.encode())
            continue
        if kind == 2:
            continue  # no row at all
        if kind == 3 and n % 2:
            rows.append(f'<row r="{n}"><c r="D{n}" t="e"><v>#N/A</v></c></row>'.encode())
            continue
        cells = [("A", f"2026-{n % 37:04d}" + ("\u200b" if kind == 4 else "")), ("B", n % 5 + 1),
                 ("C", f"Line {n % 13}"), ("D", "abc" if kind == 5 else (n % 7 + 1)), ("E", round(n * 1.37, 2)),
                 ("G", 21)]
        if kind == 6:
            cells[1] = ("B", "TRUE")
        if kind == 7:
            cells.pop(0)  # no invoice number
        row = _row(n, *cells)
        if kind == 6:
            row = row.replace(f'<c r="B{n}" t="inlineStr"><is><t>TRUE</t></is></c>'.encode(), f'<c r="B{n}" t="b"><v>1</v></c>'.encode())
        if kind == 8:
            row = row.replace(f'<c r="G{n}"><v>21</v></c>'.encode(), f'<c r="F{n}" s="{PERCENT_STYLE}"><v>0.05</v></c><c r="G{n}" s="{PERCENT_STYLE}"><v>0.06</v></c>'.encode())
        if kind == 9 and n < 200:  # wider rows, in the first half only: later pieces end left of the table's last columns
            row = row.replace(f'<c r="E{n}">'.encode(), f'<c r="E{n}" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="Z{n}">'.encode())
        rows.append(row)
    rows.append(f'<row r="{last}"><c r="A{last}" t="inlineStr"><is><t>Total</t></is></c>'
                f'<c r="D{last}"><f>SUBTOTAL(109,InvoiceLines[Quantity])</f><v>300</v></c></row>'.encode())
    return b"".join(rows)


def test_the_reader_reads_odd_rows_the_same_whole_and_in_pieces(tmp_path, monkeypatch):
    """Whatever falls at or near a cut, the records, their cells and the findings are those one
    pass over the whole sheet makes, in the same order."""
    header = zipfile.ZipFile(SAMPLES / "demo.xlsx").read(PART)
    header = header[header.index(b'<row r="1"'):header.index(b'<row r="2"')]
    table = {"xl/tables/table6.xml": lambda xml: xml.replace(b'ref="A1:M147" headerRowCount="1"',
                                                             b'ref="A1:M400" headerRowCount="1" totalsRowCount="1"')}
    book = tmp_path / "odd.xlsx"
    book.write_bytes(_with_rows(header + _odd_lines(), parts=table))
    whole, splits, given = _reads(book, monkeypatch)
    codes = {f.code for f in whole.findings if f.sheet == SHEET}
    assert {"cell.error", "cell.control_characters", "cell.invalid.decimal", "cell.required"} <= codes
    assert given >= 2 + 7 + 16 and all(_same(split, whole) for split in splits)
    assert "Total" not in {line.invoice_number for line in whole.lines}
    assert any(line.vat_rate == 6 and line.discount_pct == 5 for line in whole.lines)


def test_a_piece_refused_after_others_were_made_into_records_reads_the_sheet_whole(tmp_path, monkeypatch):
    """A comment that opens late in the sheet and closes further on: the pieces before it are made
    into records, then one is refused; the reader starts the sheet over, read whole."""
    header = zipfile.ZipFile(SAMPLES / "demo.xlsx").read(PART)
    header = header[header.index(b'<row r="1"'):header.index(b'<row r="2"')]
    rows = _odd_lines(400)
    at, end = rows.index(b'<row r="250"'), rows.index(b'<row r="370"')
    book = tmp_path / "comment.xlsx"
    book.write_bytes(_with_rows(header + rows[:at] + b"<!-- " + rows[at:end] + b" -->" + rows[end:]))
    tables = []
    monkeypatch.setattr(read, "_table", lambda grid, actual, *a: tables.append(actual) or real_table(grid, actual, *a))
    whole, (split,), given = _reads(book, monkeypatch, counts=(7,))
    assert _same(split, whole) and 1 < given < 7 and tables.count(SHEET) == 3  # whole, then pieces and whole again


real_table = read._table


def test_a_column_parsed_in_pieces_is_parsed_as_a_whole_column_is():
    """Each distinct value is parsed once for the whole column (one memo across pieces); a bool
    among whole numbers, text to clean, invisible marks and values that do not parse give the
    values and findings one pass gives."""
    cells = [1.0, True, 0.0, False, 2.5, "", " x ", "x", "x\u200b", "abc", 1.0, dt.date(2026, 1, 5), "1", 0.0, "21%", 21.0, -0.0]
    rows = list(range(10, 10 + len(cells)))
    wheres = Where.many(SHEET, [r + 1 for r in rows], {"c": "C"})
    for col in layout.INVOICE_LINES.columns + layout.INVOICES.columns:
        whole_findings, whole = [], read._Column(col, 2, {(10, 2), (14, 2)})
        whole.add(list(cells), rows, wheres)
        expected = repr(whole.finish(rows, wheres, {}, whole_findings))
        for cut in range(1, len(cells)):
            split_findings, split = [], read._Column(col, 2, {(10, 2), (14, 2)})
            split.add(cells[:cut], rows[:cut], wheres[:cut])
            split.add(cells[cut:], rows[cut:], wheres[cut:])
            assert repr(split.finish(rows, wheres, {}, split_findings)) == expected, (col.key, cut)
            assert split_findings == whole_findings, (col.key, cut)
    assert Decimal(1) in read._parse_column([1.0, True], read.parser_for("decimal"))[0]


def test_pieces_left_by_a_stopped_command_are_swept_once_an_hour_old(tmp_path):
    import os
    import time

    old, recent = tmp_path / "temp" / "ledger-export-piece-old.xlsx", tmp_path / "temp" / "ledger-export-piece-new.xlsx"
    earlier = tmp_path / "temp" / "ledger-export-half-old.xlsx"  # named as an earlier version named them
    mine = tmp_path / "temp" / "someone-else.xlsx"
    for path in (old, recent, earlier, mine):
        path.write_bytes(b"PK")
    for path in (old, earlier, mine):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    assert _pieces((SAMPLES / "demo.xlsx").read_bytes()) is not None
    assert not old.exists() and not earlier.exists() and recent.exists() and mine.exists()
    recent.unlink(), mine.unlink()  # the fixture checks the pieces' own files are gone


def test_the_reader_writes_the_pieces_while_the_survey_looks_the_file_over(monkeypatch):
    from toolkit.book import survey as survey_module

    events = []
    start, inflate = pieces.Writer.start, survey_module._inflate_all
    monkeypatch.setattr(pieces.Writer, "start", lambda self: (events.append("pieces"), start(self)))
    monkeypatch.setattr(survey_module, "_inflate_all", lambda *a: (events.append("survey inflates"), inflate(*a)))
    made, init = [], pieces.Pieces.__init__
    monkeypatch.setattr(pieces.Pieces, "__init__", lambda self, *a, **k: (made.append(self), init(self, *a, **k))[1])
    parsed = []  # (sheet, whether every piece of Invoices was parsed or being parsed then)

    def parse(path, sheet, whole_top):
        parsed.append((sheet, made[0].all_taken.is_set()))
        return real_parse(path, sheet, whole_top)
    monkeypatch.setattr(pieces, "_parse", parse)
    workbook = read_workbook(SAMPLES / "demo.xlsx")
    # Invoices and Invoice lines, parsed in the order they are read: a piece of Invoice lines only
    # once every piece of Invoices is taken
    assert events == ["pieces", "pieces", "survey inflates"] and workbook.lines
    sheets = [sheet for sheet, _ in parsed]
    assert made[0].sheet == "Invoices" and sheets.count("Invoices") == 2 and sheets.count(SHEET) == 2 and len(sheets) == 4
    assert all(taken for sheet, taken in parsed if sheet == SHEET)


real_parse = pieces._parse


def test_a_file_refused_by_the_survey_leaves_no_pieces(tmp_path):
    """A value far outside a table is found after the pieces were begun: they go with the refusal."""
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    data = _with_rows(b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 200)) + far)
    book = tmp_path / "far.xlsx"
    book.write_bytes(data)
    from toolkit.book.read import WorkbookError
    with pytest.raises(WorkbookError, match="XFD1048576"):
        read_workbook(book)


# ---- the survey hands the big parts' bytes to the writers ----------------------------------------

INVOICES_PART = "xl/worksheets/sheet6.xml"


def _lines_header() -> bytes:
    xml = zipfile.ZipFile(SAMPLES / "demo.xlsx").read(PART)
    return xml[xml.index(b'<row r="1"'):xml.index(b'<row r="2"')]


def _many_lines(last: int = 30_000) -> bytes:
    """Invoice lines rows 2..`last` (some MB of XML: the survey inflates it in many pieces)."""
    return b"".join(_row(n, ("A", f"2026-{n // 5:06d}"), ("B", n % 5 + 1), ("C", f"Line {n % 13}"), ("D", n % 7 + 1),
                         ("E", n % 997 / 4), ("G", 21)) for n in range(2, last))


def _declaring(data: bytes, part: str, size: int) -> bytes:
    """The zip `data` with the size `part` inflates to declared as `size`, in its local header and
    in the zip directory (a lying directory: how a zip bomb passes size checks)."""
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(part)
    struct.pack_into("<L", out, info.header_offset + 22, size)
    entry = out.rindex(part.encode()) - 46  # the directory comes after the parts
    assert out[entry:entry + 4] == b"PK\x01\x02"
    struct.pack_into("<L", out, entry + 24, size)
    return bytes(out)


def _within(seconds: float, call):
    """call(), or a failure when it has not returned within `seconds` (a hang, not a slow test)."""
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_outcome(call)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    kind, value = outcome[0]
    if kind == "raised":
        raise value
    return value


def _outcome(call):
    try:
        return "returned", call()
    except BaseException as exc:
        return "raised", exc


@pytest.fixture
def handed(monkeypatch):
    """[(part, bytes handed)] for every piece the survey hands a writer; the hand-over holds one
    piece at most, so a survey that outruns a writer waits on it at once."""
    monkeypatch.setattr(pieces._HandOver, "LIMIT", 1)
    given, hand = [], pieces.Writer.hand
    monkeypatch.setattr(pieces.Writer, "hand", lambda self, piece: (given.append((self.info.filename, len(piece))), hand(self, piece)))
    return given


def test_the_writers_cut_the_bytes_the_survey_inflated_and_the_reader_reads_the_same(tmp_path, monkeypatch, handed):
    """Invoices and Invoice lines are handed to their writers piece by piece as the survey inflates
    them, then their end (b""); no part is inflated again by the writers. The pieces put together
    are what one parse of the whole sheet gives, and the records and findings are the same."""
    book = tmp_path / "many.xlsx"
    book.write_bytes(_with_rows(_lines_header() + _many_lines(), parts={"xl/tables/table6.xml": lambda xml: xml.replace(
        b'ref="A1:M147"', b'ref="A1:M30000"')}))
    inflated, open_part = [], zipfile.ZipFile.open  # the parts read through Python's zipfile (the writers wrote theirs)
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, mode="r", *a, **k: (
        mode == "r" and inflated.append(getattr(name, "filename", name)), open_part(self, name, mode, *a, **k))[1])
    given = []
    iterate = pieces.Pieces.__iter__
    monkeypatch.setattr(pieces.Pieces, "__iter__", lambda self: (given.append(piece) or piece for piece in iterate(self)))
    split = _within(60, lambda: read_workbook(book))
    size = zipfile.ZipFile(book).getinfo(PART).file_size
    assert [n for part, n in handed if part == PART][-1] == 0 and sum(n for part, n in handed if part == PART) == size
    assert len([1 for part, _ in handed if part == PART]) > 3 and {part for part, _ in handed} == {PART, INVOICES_PART}
    assert PART not in inflated and INVOICES_PART not in inflated
    assert len(given) >= 4 and len(split.lines) == 30_000 - 2
    forget_grid()
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 1 << 60)
    assert _same(split, read_workbook(book))


def test_pieces_cut_from_the_bytes_handed_are_one_parse_of_the_whole_sheet(tmp_path):
    data = _with_rows(_lines_header() + _many_lines(3000))
    book = tmp_path / "lines.xlsx"
    book.write_bytes(data)
    for count in (2, 7, 16):
        writers = []

        def ahead(_, sheets):
            with mock.patch.object(pieces, "PIECE_BYTES", zipfile.ZipFile(book).getinfo(PART).file_size // count):
                writers.append(pieces.Writer(data, sheets[SHEET], handed=True))
            writers[0].start()
            return {PART: writers[0].hand}
        survey_module.survey(book, ahead=ahead)
        parts = list(pieces.Pieces(writers[0], SHEET))
        assert len(parts) == count and _joined(parts) == _whole(data)


from toolkit.book import survey as survey_module  # noqa: E402


def test_a_piece_is_parsed_as_soon_as_it_is_written():
    """The writer held up before its last piece: the first pieces are parsed and given meanwhile."""
    data = _with_rows(_lines_header() + _many_lines(3000))
    release, made, workbook = threading.Event(), [], pieces._workbook

    def held(paths, opening):
        made.append(1)
        if len(made) == 3:
            assert release.wait(30)
        return workbook(paths, opening)
    size = zipfile.ZipFile(io.BytesIO(data)).getinfo(PART).file_size
    with mock.patch.object(pieces, "_workbook", held), mock.patch.object(pieces, "PIECE_BYTES", size // 3):
        writer = pieces.Writer(data, PART)
        writer.start()
        given = iter(pieces.Pieces(writer, SHEET))
        first = _within(30, lambda: next(given))
        # given while the writer cannot have finished: it is held (or about to be) before its last piece
        assert not release.is_set() and len(made) in (2, 3)
        release.set()
        parts = [first, *_within(30, lambda: list(given))]
    assert len(parts) == 3 and _joined(parts) == _whole(data)


@pytest.mark.parametrize("refusal, pattern", [
    ("a DOCTYPE before both sheets", "declares a DOCTYPE"),
    ("a DOCTYPE after both sheets", "declares a DOCTYPE"),
    ("Invoice lines inflating past their declared size", "inflates past the size"),
])
def test_a_survey_that_refuses_the_file_stops_the_writers_without_hanging(tmp_path, refusal, pattern, handed):
    """Refused before a writer was handed anything, while it waits for more, or once it has all:
    the refusal comes at once and no piece is left (the fixture checks the temporary folder)."""
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>'
    parts = {"xl/theme/theme1.xml": lambda _: doctype} if "before" in refusal else {}
    if "after" in refusal:
        parts = {"xl/worksheets/sheet8.xml": lambda xml: xml.replace(b"<worksheet", b"<!DOCTYPE worksheet><worksheet", 1)}
    data = _with_rows(_lines_header() + _many_lines(), parts=parts)
    if "past" in refusal:
        data = _declaring(data, PART, zipfile.ZipFile(io.BytesIO(data)).getinfo(PART).file_size * 3 // 4)
    book = tmp_path / "refused.xlsx"
    book.write_bytes(data)
    from toolkit.book.read import WorkbookError
    with pytest.raises(WorkbookError, match=pattern):
        _within(30, lambda: read_workbook(book))
    sent = {part for part, _ in handed}
    if "before" in refusal:
        assert not sent
    elif "after" in refusal:
        assert (PART, 0) in handed and (INVOICES_PART, 0) in handed  # each had its whole part
    else:
        assert PART in sent and (PART, 0) not in handed and (INVOICES_PART, 0) in handed  # stopped half way


@pytest.mark.parametrize("failure", ["no row to cut at", "no room for the second piece", "no room for the first piece"])
def test_a_writer_that_fails_leaves_the_sheet_read_whole_and_the_survey_goes_on(tmp_path, monkeypatch, handed, failure):
    """The writer gives up while the survey still has most of the part to hand (one piece waits at
    most): the survey goes on without waiting, and the sheet is read whole, to the same records."""
    book = tmp_path / "many.xlsx"
    book.write_bytes(_with_rows(_lines_header() + _many_lines()))
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 1 << 60)
    whole = read_workbook(book)
    forget_grid()
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 1 << 20)  # Invoice lines only
    if failure == "no row to cut at":
        monkeypatch.setattr(pieces, "_CUT", b'<row x="')
    else:
        made, workbook = [], pieces._workbook

        def full(paths, opening):
            made.append(1)
            if len(made) == (2 if "second" in failure else 1):
                raise OSError(28, "No space left on device")
            return workbook(paths, opening)
        monkeypatch.setattr(pieces, "_workbook", full)
    parsed = []
    monkeypatch.setattr(pieces, "_parse", lambda path, sheet, whole_top: parsed.append(sheet) or real_parse(path, sheet, whole_top))
    split = _within(60, lambda: read_workbook(book))
    assert _same(split, whole) and (PART, 0) in handed
    assert SHEET not in parsed or failure == "no room for the second piece"


def test_two_sheets_on_one_part_are_handed_to_one_writer(tmp_path, handed):
    """A hostile workbook whose Invoices point at the Invoice lines' part: one writer is handed the
    part, the read neither hangs nor differs from a read without pieces."""
    rels = {"xl/_rels/workbook.xml.rels": lambda xml: xml.replace(b'Target="/xl/worksheets/sheet6.xml"',
                                                                   b'Target="/xl/worksheets/sheet7.xml"')}
    book = tmp_path / "shared.xlsx"
    book.write_bytes(_with_rows(_lines_header() + _many_lines(3000), parts=rels))
    split = _within(60, lambda: read_workbook(book))
    assert {part for part, _ in handed} == {PART} and handed.count((PART, 0)) == 1
    forget_grid()
    with mock.patch.object(pieces, "SPLIT_BYTES", 1 << 60):
        assert _same(split, read_workbook(book))


@pytest.mark.needs("soffice")
def test_a_workbook_saved_by_another_spreadsheet_program_reads_the_same_in_pieces(tmp_path, monkeypatch):
    """LibreOffice writes shared strings, styles and rows its own way."""
    saved = soffice_convert(SAMPLES / "demo.xlsx", "xlsx", tmp_path / "calc")
    assert "xl/sharedStrings.xml" in zipfile.ZipFile(saved).namelist()
    parsed = []
    monkeypatch.setattr(pieces, "_parse", lambda path, sheet, whole_top: parsed.append(sheet) or real_parse(path, sheet, whole_top))
    split = read_workbook(saved)
    forget_grid()
    monkeypatch.setattr(pieces, "SPLIT_BYTES", 1 << 60)
    whole = read_workbook(saved)
    assert parsed.count(SHEET) == 2 and split.lines and split.findings == whole.findings
    assert split.lines == whole.lines and split.invoices == whole.invoices and split.customers == whole.customers


def test_an_export_cuts_the_pieces_while_its_recovery_surveys_the_file_and_reads_them(tmp_path, monkeypatch):
    """The export's first look at the file (its recovery, which reads the Settings) is the one
    survey of the command: the big sheets are cut into pieces from what it inflates, and the
    read takes those pieces (no second survey, no other writer)."""
    from toolkit import cli
    from toolkit.book import survey as surveys

    book = tmp_path / "demo.xlsx"
    book.write_bytes((SAMPLES / "demo.xlsx").read_bytes())
    made, surveyed = [], []
    init, look = pieces.Writer.__init__, surveys.survey

    def writer(self, data, part, *args, **kwargs):
        made.append((part, kwargs.get("handed", args[0] if args else False)))
        init(self, data, part, *args, **kwargs)

    def survey(path, *args, **kwargs):
        surveyed.append(kwargs.get("ahead") is not None)
        return look(path, *args, **kwargs)
    monkeypatch.setattr(pieces.Writer, "__init__", writer)
    monkeypatch.setattr(read, "survey", survey)
    assert cli.main(["export", str(book), "--no-write-back"]) == 0
    assert surveyed == [True] and len(made) == 2 and all(handed for _, handed in made)
    assert len({part for part, _ in made}) == 2


def test_an_export_that_stops_before_its_read_leaves_no_pieces(tmp_path, capsys):
    """The pieces cut while the recovery surveyed the file are removed when the export stops
    before reading them (here: its output folder cannot be locked); the fixture checks the
    temporary folder is empty."""
    from toolkit import cli
    from toolkit.book.edits import Edits
    from toolkit.book.writeback import write_back

    book = tmp_path / "demo.xlsx"
    book.write_bytes((SAMPLES / "demo.xlsx").read_bytes())
    write_back(book, Edits().set_setting("output_folder", "/proc/1/exports"), keep_backups=0)
    forget_grid()
    assert cli.main(["export", str(book)]) != 0
    assert "Traceback" not in capsys.readouterr().err
    assert list((tmp_path / "temp").iterdir()) == []  # removed by the export, not later
