"""A big sheet parsed as two halves at once (toolkit.book.halves) gives exactly the rows one parse of
the whole sheet gives, or nothing (the reader then parses it whole): compared here with calamine's
own parse of the same bytes, on sheets built to put odd things where the cut falls."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
import python_calamine

from external import soffice_convert
from toolkit.book import halves
from toolkit.book.read import forget_grid, read_workbook

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SHEET = "Invoice lines"


@pytest.fixture(autouse=True)
def split_everything(monkeypatch, tmp_path):
    monkeypatch.setattr(halves, "SPLIT_BYTES", 0)  # the samples are small: split them all the same
    monkeypatch.setattr(halves.tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    yield
    assert list((tmp_path / "temp").iterdir()) == []  # the halves' files are gone


def _whole(data: bytes, sheet: str = SHEET) -> list[list]:
    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet).to_python(
        skip_empty_area=False)


def _with_rows(rows_xml: bytes, tail: bytes = b"", parts: dict | None = None) -> bytes:
    """demo.xlsx with the Invoice lines sheet's rows replaced by `rows_xml` (and `tail` after them),
    and `parts` changed: {name: function of the part's bytes (b"" when new)}."""
    source = zipfile.ZipFile(SAMPLES / "demo.xlsx")
    lines = "xl/worksheets/sheet7.xml"
    xml = source.read(lines)
    head = xml[:xml.index(b"<sheetData>") + len(b"<sheetData>")]
    rest = xml[xml.index(b"</sheetData>"):]
    changes = {lines: lambda _: head + rows_xml + tail + rest, **(parts or {})}
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


def _halves(data: bytes) -> list[list] | None:
    return halves.rows(data, SHEET, "xl/worksheets/sheet7.xml")


def test_the_samples_lines_are_the_same_read_in_halves():
    for name in ("demo.xlsx", "mistakes.xlsx"):
        data = (SAMPLES / name).read_bytes()
        part = zipfile.ZipFile(io.BytesIO(data))
        assert "xl/worksheets/sheet7.xml" in part.namelist()
        rows = _halves(data)
        assert rows is not None and rows == _whole(data), name


def test_a_second_half_narrower_further_right_and_after_blank_rows_is_placed_as_the_whole_sheet_has_it():
    # Odd rows only (every row follows a blank one); past the first few, nothing in columns A and
    # E: the cut falls among those, so the second half starts after a blank row, at column B.
    top = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n), ("C", "text"), ("E", 1.5)) for n in range(1, 40, 2))
    bottom = b"".join(_row(n, ("B", n), ("C", "later")) for n in range(41, 400, 2))
    data = _with_rows(top + bottom)
    rows = _halves(data)
    whole = _whole(data)
    assert rows == whole and len(rows) == 399 and rows[1] == [""] * 5 and rows[300] == ["", 301.0, "later", "", ""]


def test_shared_strings_dates_and_the_1904_date_system_survive_the_cut():
    """The parts calamine reads on opening go with each half: cells pointing into the shared
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
    split, whole = _halves(data), _whole(data)
    assert split == whole and whole[4][0] == "INV-5" and isinstance(whole[4][1], dt.date)
    plain = _with_rows(rows, parts={name: change for name, change in changes.items() if name != "xl/workbook.xml"})
    assert _whole(plain)[4][1] != whole[4][1]  # the workbook's date system reached both halves


@pytest.mark.parametrize("opener, closer", [(b"<!-- ", b" -->"), (b"<![CDATA[", b"]]>"), (b"<?note ", b"?>")])
def test_a_cut_inside_a_comment_cdata_or_instruction_reads_the_sheet_whole(opener, closer):
    """The cut falls on a row inside the construct: the first half is left unclosed, calamine refuses it."""
    top = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 30))
    hidden = b"".join(_row(n, ("A", f"HIDDEN-{n}"), ("B", n)) for n in range(30, 60))
    bottom = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(60, 65))
    data = _with_rows(top + opener + hidden + closer + bottom)
    assert _halves(data) is None


def test_rows_ending_before_the_middle_read_the_sheet_whole():
    """A row after the rows' end (in a hostile file's extension data) is never where the cut goes."""
    rows = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 5))
    stray = b"<extLst><ext>" + b"".join(_row(n, ("A", "STRAY")) for n in range(5, 80)) + b"</ext></extLst>"
    data = _with_rows(rows, b"</sheetData>" + stray + b"<sheetData>")
    assert _halves(data) is None


def test_a_sheet_without_numbered_rows_is_read_whole():
    top = b"".join(_row(n, ("A", f"INV-{n}")) for n in range(1, 50)).replace(b'<row r="', b'<row spans="1:1" x="')
    assert _halves(_with_rows(top)) is None


def test_the_reader_reads_the_same_workbook_with_and_without_halves(monkeypatch):
    split = read_workbook(SAMPLES / "mistakes.xlsx")
    monkeypatch.setattr(halves, "SPLIT_BYTES", 1 << 60)
    whole = read_workbook(SAMPLES / "mistakes.xlsx")
    assert split.lines == whole.lines and split.invoices == whole.invoices and split.findings == whole.findings


def test_halves_left_by_a_stopped_command_are_swept_once_an_hour_old(tmp_path):
    import os
    import time

    old, recent = tmp_path / "temp" / "ledger-export-half-old.xlsx", tmp_path / "temp" / "ledger-export-half-new.xlsx"
    mine = tmp_path / "temp" / "someone-else.xlsx"
    for path in (old, recent, mine):
        path.write_bytes(b"PK")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    os.utime(mine, (time.time() - 7200, time.time() - 7200))
    assert _halves((SAMPLES / "demo.xlsx").read_bytes()) is not None
    assert not old.exists() and recent.exists() and mine.exists()
    recent.unlink(), mine.unlink()  # the fixture checks the halves' own files are gone


def test_the_reader_writes_the_halves_while_the_survey_looks_the_file_over(monkeypatch):
    from toolkit.book import survey as survey_module

    events = []
    start, inflate = halves.Writer.start, survey_module._inflate_all
    monkeypatch.setattr(halves.Writer, "start", lambda self: (events.append("halves"), start(self)))
    monkeypatch.setattr(survey_module, "_inflate_all", lambda *a: (events.append("survey inflates"), inflate(*a)))
    parsed = []
    monkeypatch.setattr(halves, "_joined", lambda *a: parsed.append(a) or _real_joined(*a))
    workbook = read_workbook(SAMPLES / "demo.xlsx")
    assert events == ["halves", "survey inflates"] and len(parsed) == 1 and workbook.lines


_real_joined = halves._joined


def test_a_file_refused_by_the_survey_leaves_no_halves(tmp_path):
    """A value far outside a table is found after the halves were begun: they go with the refusal."""
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    data = _with_rows(b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 200)) + far)
    book = tmp_path / "far.xlsx"
    book.write_bytes(data)
    from toolkit.book.read import WorkbookError
    with pytest.raises(WorkbookError, match="XFD1048576"):
        read_workbook(book)


def test_rows_out_of_order_across_the_cut_read_the_sheet_whole():
    """A row numbered among the first half's comes after the cut: calamine merges it into its row
    when it parses the whole sheet, so the halves are not used."""
    top = b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(1, 60))
    late = _row(5, ("C", "late")) + b"".join(_row(n, ("A", f"INV-{n}"), ("B", n)) for n in range(60, 62))
    data = _with_rows(top + late)
    assert _halves(data) is None
    assert _whole(data)[4][:3] == ["INV-5", 5.0, "late"]


@pytest.mark.needs("soffice")
def test_a_workbook_saved_by_another_spreadsheet_program_reads_the_same_in_halves(tmp_path, monkeypatch):
    """LibreOffice writes shared strings, styles and rows its own way."""
    saved = soffice_convert(SAMPLES / "demo.xlsx", "xlsx", tmp_path / "calc")
    assert "xl/sharedStrings.xml" in zipfile.ZipFile(saved).namelist()
    joined = []
    monkeypatch.setattr(halves, "_joined", lambda *a: joined.append(1) or _real_joined(*a))
    split = read_workbook(saved)
    forget_grid()
    monkeypatch.setattr(halves, "SPLIT_BYTES", 1 << 60)
    whole = read_workbook(saved)
    assert joined == [1] and split.lines and split.findings == whole.findings
    assert split.lines == whole.lines and split.invoices == whole.invoices and split.customers == whole.customers
