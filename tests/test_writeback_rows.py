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
@pytest.mark.parametrize("piece", [1 << 20, 1])  # the rewritten rows deflated ~1 MB at a time, or one by one
def test_rows_of_every_kind_among_them(tmp_path, monkeypatch, chunk, between, piece):
    monkeypatch.setattr(writeback._SheetPatch, "QUICK_ROWS", 1)
    monkeypatch.setattr(writeback._Rows, "PIECE", piece)
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


def test_a_column_of_rows_writes_what_a_cell_per_row_writes(tmp_path, monkeypatch):
    """set_rows (one ColumnEdit) and set per row make the same sheet, edits of the same rows
    around it included: a later edit of a cell wins, another column of a row joins it (the rows
    of a ColumnEdit share one dict, which no later edit may change for the others)."""
    rows = [row(n, cell(f"A{n}", text=f"F{n}"), cell(f"{E}{n}", 9), cell(f"{NEXT}{n}", 9)) for n in range(2, 30)]

    def edits(column: bool) -> Edits:
        made = Edits().set(layout.INVOICES.name, 3, "exported_in", "BEFORE")
        if column:
            made.set_rows(layout.INVOICES.name, range(2, 25), "exported_in", "EXP-1")
        else:
            for n in range(2, 25):
                made.set(layout.INVOICES.name, n, "exported_in", "EXP-1")
        return (made.set(layout.INVOICES.name, 5, "exported_in", "LATER")
                .set(layout.INVOICES.name, 6, "einvoice_in", "EINV-6")
                .set_rows(layout.INVOICES.name, [], "exported_in", "NONE"))

    assert edits(True).of_sheets()[layout.INVOICES.name].cells == edits(False).of_sheets()[layout.INVOICES.name].cells
    column = written(tmp_path, "column", rows, edits(True), monkeypatch, 1 << 20, False)
    assert column == written(tmp_path, "cells", rows, edits(False), monkeypatch, 1 << 20, False)
    found = dict(re.findall(rb'<row r="(\d+)"[^>]*>(.*?)</row>', column, re.S))
    assert b"<t>LATER</t>" in found[b"5"] and b"<t>EXP-1</t>" not in found[b"5"]
    assert b"<t>EXP-1</t>" in found[b"3"] and b"BEFORE" not in column
    assert b"<t>EXP-1</t>" in found[b"6"] and b"<t>EINV-6</t>" in found[b"6"] and b"EINV-6" not in found[b"7"]
    assert b"<t>EXP-1</t>" in found[b"24"] and b"EXP-1" not in found[b"25"] and b"NONE" not in column
    assert not Edits().set_rows(layout.INVOICES.name, [], "exported_in", "NONE"), "no rows: no edit"


def test_crc32_combine_is_the_crc_of_the_joined_bytes():
    import os
    import zlib

    for first, second in [(b"", b""), (b"a", b""), (b"", b"b"), (b"head", b"rows" * 1000), (os.urandom(3), os.urandom(70001))]:
        assert writeback.crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


def test_the_rewritten_rows_are_not_held_in_memory(tmp_path, monkeypatch):
    """The sheet part is deflated as its rows are made, its head (whose <dimension> is known
    last) put in front afterwards: the write-back of an export needs memory for its edits and
    the deflated part, not for the rewritten rows (holding them until the head was known took
    more than the sheet's size, ~56 MB at 100,000 invoices)."""
    import tracemalloc

    def peak_and_size(n: int) -> tuple[int, int]:
        path = tmp_path / f"Company-{n}.xlsx"
        workbook(path, [row(r, cell(f"A{r}", text=f"2026-{r:06d}"), cell(f"B{r}", text="invoice"), cell(f"{E}{r}", 9),
                            cell(f"{NEXT}{r}", 9), *(cell(f"{layout.column_letter(c)}{r}", 11) for c in range(COL + 1, COL + 6)))
                        for r in range(2, n + 2)])
        edits = Edits().set_rows(layout.INVOICES.name, range(2, n + 2), "exported_in", "20260201-093000-winbooks")
        tracemalloc.start()
        try:
            write_back(path, edits)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        part = invoices_part(path)
        assert part.count(b"<t>20260201-093000-winbooks</t>") == n
        assert f'<dimension ref="A1:{layout.column_letter(len(layout.INVOICES.columns) - 1)}{n + 1}"'.encode() in part
        return peak, len(part)

    monkeypatch.setattr(sheetxml, "CHUNK", 1 << 16)  # the part read in small blocks: what they take stays small
    (small_peak, small), (big_peak, big) = peak_and_size(5000), peak_and_size(25000)
    # per row: the edits' and the ops' index and the deflated part, about half the row's bytes
    # (holding the rewritten rows took 2.6 times them)
    assert big_peak - small_peak < big - small, (small_peak, big_peak, small, big)
