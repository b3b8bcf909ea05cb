"""Write-back of cell edits block by block: the quick way for blocks whose changed rows each get
a new text (`_SheetPatch._quick_block`, the "Exported in" of an export) makes the same bytes as
the general way (`_emit`: Row's find or parse, apply and render), whatever the rows look like
and wherever the blocks of the sheet part are cut."""

from __future__ import annotations

import re
import zipfile

import pytest

from badfiles import zip_of
from toolkit import layout
from toolkit.book import sheetxml, template, writeback
from toolkit.book.package import Package
from toolkit.book.writeback import Edits, WriteBackError, write_back

COL = layout.INVOICES.keys.index("exported_in") + 1  # 13 ("M") today
EXPORTED, NEXT = layout.column_letter(COL - 1), layout.column_letter(COL)
FAR = layout.column_letter(len(layout.INVOICES.columns) + 1)  # past the template's dimension


def cell(ref: str, style: int = 2, text: str | None = None) -> str:
    if text is None:
        return f'<c r="{ref}" s="{style}"/>'
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t>{text}</t></is></c>'


def row(n: int, *cells: str, attrs: str = "") -> str:
    return f'<row r="{n}"{attrs}>{"".join(cells)}</row>'


E = EXPORTED
ROWS = [
    row(2, cell("A2", text="F1"), cell(f"{E}2", 9), cell(f"{NEXT}2", 9)),  # as the template writes it
    row(3, cell("A3", text="F2"), cell(f"{E}3", 9), attrs=' spans="1:19"'),  # Excel's spans, wider than the row
    row(4, cell("A4", text="F3"), cell(f"{E}4", 9, "OLD-EXPORT")),  # exported before: overwritten
    row(5, cell("A5", text="F4"), cell(f"{NEXT}5", 9)),  # no cell in the column: one is inserted
    row(6, cell("A6", text="F5"), cell("J6", 2, f'says r="{E}6" in its text'), cell(f"{E}6", 9)),
    '<row r="7"><c r="A7" s="2" t="inlineStr"><is><t>F6</t></is></c><c s="9"/></row>',  # a cell without reference
    '<row r="8"/>',  # an empty row
    row(9, cell("A9", text="F8"), f'<c r="{E}9" s="9"><f>1+1</f><v>2</v></c>'),  # a plain formula is overwritten
    row(11, cell("A11", text="F10"), cell(f"{E}11", 9)),  # row 10 is missing: created
    f'<row r="12"><c r="A12" s="2"/> <c r="{E}12" s="9"/>\n</row>',  # whitespace between cells
    row(13, cell("A13", text="unchanged"), cell(f"{E}13", 9)),
    row(14, cell("B14", text="F13"), cell(f"{E}14", 11), attrs=' spans="2:3" ht="20" customHeight="1"'),
    f'<row spans="1:19" r="15"><c r="A15" s="2"/><c r="{E}15" s="9"/></row>',  # its number not first
    f'<row><c r="A16" s="2"/><c r="{E}16" s="9"/></row>',  # no number: the row after 15
    row(17, cell("A17", text="F16"), cell(f"{E}17", 9), cell(f"{FAR}17", 2)),  # past the dimension's last column
    row(18, cell(f"{E}18", 9)),  # the changed cell is the row's only one
]
CHANGED = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 20]  # 20: past the last row
QUICK = [r for r in ROWS if re.match(r'<row r="(2|3|4|6|9|12|13|14|17|18)"', r)]  # rows the quick way takes
QUICK_CHANGED = [2, 3, 4, 6, 9, 12, 14, 17, 18]


def workbook(path, rows: list[str], between: str = "") -> None:
    template.save_template(path, {"Customers": [["C1", "Alpha"]]})
    book = Package(path)
    part = book.sheets[layout.INVOICES.name]
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    book.close()
    header = re.search(rb'<row r="1".*?</row>', parts[part], re.S).group(0).decode()
    body = between.join([header, *rows])
    parts[part] = re.sub(rb"<sheetData>.*?</sheetData>|<sheetData/>", lambda _: f"<sheetData>{body}</sheetData>".encode(),
                         parts[part], count=1, flags=re.S)
    path.write_bytes(zip_of(parts))


def invoices_part(path) -> bytes:
    book = Package(path)
    try:
        return book.read(book.sheets[layout.INVOICES.name])
    finally:
        book.close()


def exported(rows, value="20260201-093000-winbooks") -> Edits:
    edits = Edits()
    for n in rows:
        edits.set(layout.INVOICES.name, n, "exported_in", value)
    return edits


def written(tmp_path, name, rows, edits, monkeypatch, chunk, general, between=""):
    path = tmp_path / f"{name}.xlsx"
    workbook(path, rows, between)
    with monkeypatch.context() as m:
        m.setattr(sheetxml, "CHUNK", chunk)
        if general:
            m.setattr(writeback._SheetPatch, "_quick_block", lambda self, *args: None)
        write_back(path, edits)
    return invoices_part(path)


@pytest.mark.parametrize("chunk", [64, 300, 1 << 20])
@pytest.mark.parametrize("between", ["", "\n  "])
def test_the_quick_way_writes_what_the_general_way_writes(tmp_path, monkeypatch, chunk, between):
    monkeypatch.setattr(writeback._SheetPatch, "QUICK_ROWS", 1)
    made = []
    quick_block = writeback._SheetPatch._quick_block
    monkeypatch.setattr(writeback._SheetPatch, "_quick_block", lambda *args: made.append(quick_block(*args)) or made[-1])
    quick = written(tmp_path, "quick", QUICK, exported(QUICK_CHANGED), monkeypatch, chunk, False, between)
    assert any(made), "the quick way was taken"
    general = written(tmp_path, "general", QUICK, exported(QUICK_CHANGED), monkeypatch, chunk, True, between)
    assert quick == general
    rows = dict(re.findall(rb'<row r="(\d+)"[^>]*>(.*?)</row>', quick, re.S))
    value = b"<t>20260201-093000-winbooks</t>"
    assert all(value in rows[str(n).encode()] for n in QUICK_CHANGED)
    assert value not in rows[b"13"] and b"unchanged" in rows[b"13"]
    assert b'says r="' in rows[b"6"] and b"OLD-EXPORT" not in rows[b"4"]
    assert f'spans="1:{COL}"'.encode() in quick and f'spans="2:{COL}"'.encode() in quick  # rows 3, 14: fitted
    assert f'<dimension ref="A1:{FAR}18"'.encode() in quick  # widened by row 17


@pytest.mark.parametrize("chunk", [64, 300, 1 << 20])
@pytest.mark.parametrize("between", ["", "\n  "])
@pytest.mark.parametrize("in_memory", [1 << 30, 100])  # the rewritten rows kept as pieces, or in a file
def test_rows_of_every_kind_among_them(tmp_path, monkeypatch, chunk, between, in_memory):
    monkeypatch.setattr(writeback._SheetPatch, "QUICK_ROWS", 1)
    monkeypatch.setattr(writeback._Buffer, "LIMIT", in_memory)
    quick = written(tmp_path, "quick", ROWS, exported(CHANGED), monkeypatch, chunk, False, between)
    general = written(tmp_path, "general", ROWS, exported(CHANGED), monkeypatch, chunk, True, between)
    assert quick == general
    rows = dict(re.findall(rb'<row\b[^>]*?\sr="(\d+)"[^>]*>(.*?)</row>', quick, re.S))
    value = b"<t>20260201-093000-winbooks</t>"
    assert all(value in rows[str(n).encode()] for n in CHANGED if n != 16), "every changed row has the value"
    assert f'<row><c r="A16" s="2"/><c r="{E}16" s="9" t="inlineStr"><is>'.encode() + value in quick
    assert f'<dimension ref="A1:{FAR}20"'.encode() in quick


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_a_few_changed_rows_among_many_leave_the_others_byte_for_byte(tmp_path, monkeypatch, chunk):
    rows = [row(n, cell(f"A{n}", text=f"F{n}"), cell(f"{E}{n}", 9), cell(f"{NEXT}{n}", 9)) for n in range(2, 400)]
    edits = exported([5, 6, 7, 200, 399])
    quick = written(tmp_path, "quick", rows, edits, monkeypatch, chunk, False)
    assert quick == written(tmp_path, "general", rows, edits, monkeypatch, chunk, True)
    path = tmp_path / "before.xlsx"
    workbook(path, rows)
    before = invoices_part(path)
    kept = [n for n in range(2, 400) if n not in (5, 6, 7, 200, 399)]
    for n in kept:
        element = re.search(rb'<row r="%d">.*?</row>' % n, before).group(0)
        assert element in quick


def test_a_shared_formula_in_the_column_is_still_refused(tmp_path, monkeypatch):
    rows = [row(2, cell("A2", text="F1"), f'<c r="{E}2" s="9"><f t="shared" ref="{E}2:{E}3" si="0">1+1</f><v>2</v></c>'),
            row(3, cell("A3", text="F2"), f'<c r="{E}3" s="9"><f t="shared" si="0"/><v>2</v></c>')]
    path = tmp_path / "Company.xlsx"
    workbook(path, rows)
    before = path.read_bytes()
    with pytest.raises(WriteBackError, match=f"cell {E}2 holds a formula other cells share"):
        write_back(path, exported([2, 3]))
    assert path.read_bytes() == before


@pytest.mark.parametrize("sheet_data, problem", [
    ('<row r="2"><c r="A2" s="2"/></row><row r="3"><c r="A3"', "ends inside a row"),
    ('<row r="2"><c r="A2" s="2"/></row>', "ends inside its rows"),
    ('<row><c r="A2" s="2"/></row><foo/>', "holds something other than rows"),  # read row by row
])
def test_a_damaged_sheet_part_is_refused_with_what_is_wrong(tmp_path, sheet_data, problem):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Customers": [["C1", "Alpha"]]})
    book = Package(path)
    part = book.sheets[layout.INVOICES.name]
    book.close()
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    xml = parts[part]
    start = xml.index(b"<sheetData")
    parts[part] = xml[:start] + b"<sheetData>" + sheet_data.encode() + (b"" if "other" not in problem else b"</sheetData></worksheet>")
    path.write_bytes(zip_of(parts))
    with pytest.raises(WriteBackError, match=problem):
        write_back(path, exported([2]))
