"""Write-back keeps what it does not change: text boxes, images, comments, charts, custom XML,
the VBA project and the ribbon survive byte for byte; values are text, never formulas; what
cannot be kept is refused; a failing disk leaves the workbook as it was."""

from __future__ import annotations

import datetime as dt
import errno
import re
import struct
import zipfile
import zlib
from decimal import Decimal
from xml.etree import ElementTree

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment

from badfiles import zip_of
from toolkit import layout
from toolkit.book import template, writeback, xlsm
from toolkit.book.read import read_workbook
from toolkit.book.writeback import Edits, WriteBackError, write_back

# Invoices columns by key (the layout adds columns; letters are not fixed)
EXPORTED = layout.column_letter(layout.INVOICES.keys.index("exported_in"))
DESCRIPTION = layout.column_letter(layout.INVOICES.keys.index("description"))

NOW = dt.datetime(2026, 2, 1, 9, 30, 0)
INVOICES = [["F%d" % n, "invoice", dt.date(2026, 1, n), None, "C1", None, None, "Work"] for n in range(1, 6)]
DRAWING_NS = ('xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
              'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"')
TEXT_BOX = (
    f'<xdr:twoCellAnchor {DRAWING_NS}><xdr:from><xdr:col>12</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>1</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>'
    '<xdr:to><xdr:col>15</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>5</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
    '<xdr:sp macro="" textlink=""><xdr:nvSpPr><xdr:cNvPr id="20" name="TextBox 1"/><xdr:cNvSpPr txBox="1"/></xdr:nvSpPr>'
    '<xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="1828800" cy="731520"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr>'
    '<xdr:txBody><a:bodyPr/><a:lstStyle/><a:p><a:r><a:t>Remember: invoices of January go to the accountant</a:t></a:r></a:p></xdr:txBody>'
    '</xdr:sp><xdr:clientData/></xdr:twoCellAnchor>')
PICTURE = (
    f'<xdr:oneCellAnchor {DRAWING_NS}><xdr:from><xdr:col>12</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>7</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>'
    '<xdr:ext cx="952500" cy="952500"/><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="21" name="Logo"/><xdr:cNvPicPr/></xdr:nvPicPr>'
    '<xdr:blipFill><a:blip xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:embed="rIdLogo"/>'
    '<a:stretch><a:fillRect/></a:stretch></xdr:blipFill><xdr:spPr><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr>'
    '</xdr:pic><xdr:clientData/></xdr:oneCellAnchor>')
CUSTOM_XML = b'<?xml version="1.0" encoding="UTF-8"?><company-data xmlns="urn:example:crm"><id>42</id></company-data>'


def png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def rich_workbook(path):
    """The template with a chart and a comment on Invoices (openpyxl), then a text box, a picture
    and a custom XML part added by hand, as Excel would store them."""
    wb = template.build_template({"Invoices": INVOICES, "Customers": [["C1", "Alpha"]]})
    ws = wb["Invoices"]
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=6), titles_from_data=True)
    ws.add_chart(chart, "M12")
    ws["B3"].comment = Comment("Check this one with the customer", "Ann")
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    drawing = next(n for n in parts if n.startswith("xl/drawings/drawing") and n.endswith(".xml"))
    rels = drawing.replace("drawings/", "drawings/_rels/") + ".rels"
    end = parts[drawing].rindex(b"</")
    parts[drawing] = parts[drawing][:end] + (TEXT_BOX + PICTURE).encode() + parts[drawing][end:]
    parts[rels] = parts[rels].replace(b"</Relationships>", b'<Relationship Id="rIdLogo" Type="http://schemas.'
                                      b'openxmlformats.org/officeDocument/2006/relationships/image" Target="../media/logo.png"/>'
                                      b"</Relationships>")
    parts["xl/media/logo.png"] = png()
    parts["customXml/item1.xml"] = CUSTOM_XML
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdCustom" Type="http://schemas.openxmlformats.org/officeDocument/'
        b'2006/relationships/customXml" Target="../customXml/item1.xml"/></Relationships>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"<Default ", b'<Default Extension="png" ContentType="image/png"/><Default ', 1)
    path.write_bytes(zip_of(parts))
    return path


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        return {n: z.read(n) for n in z.namelist()}


def sheet_part(path, name):
    from toolkit.book.package import Package

    book = Package(path)
    try:
        return book.sheets[name]
    finally:
        book.close()


def test_text_box_picture_comment_chart_and_custom_xml_survive(tmp_path):
    path = rich_workbook(tmp_path / "Rich.xlsx")
    before = members(path)
    invoices = sheet_part(path, "Invoices")
    assert b"<xdr:sp " in before[next(n for n in before if n.startswith("xl/drawings/drawing"))]
    edits = (Edits().set("Invoices", 2, "exported_in", "EXP-1").set("Invoices", 4, "exported_in", "EXP-1")
             .append_rows("Export log", [["EXP-1", "2026-02-01 09:30", "winbooks", "x", 2, 1, "ACT.txt", "ab"]])
             .show_findings([]))
    write_back(path, edits, now=NOW)
    after = members(path)
    changed = {n for n in before if before[n] != after.get(n)}
    # the two edited sheets (the empty Check sheet rewritten empty is the same bytes)
    assert {invoices, sheet_part(path, "Export log")} <= changed <= {invoices, sheet_part(path, "Export log"),
                                                                  sheet_part(path, "Check")}
    for name in before:  # the drawing with its text box, picture and chart, the comments, the media
        if name.startswith(("xl/drawings/", "xl/charts/", "xl/media/", "xl/comments", "customXml/")):
            assert after[name] == before[name], name
    assert set(after) == set(before)  # nothing added, nothing lost
    # the sheet keeps its references to the drawing (chart, picture, text box) and the comments
    for element in (rb"<drawing\b[^>]*/>", rb"<legacyDrawing\b[^>]*/>"):
        assert re.findall(element, before[invoices]) == re.findall(element, after[invoices]) != []
    assert after["customXml/item1.xml"] == CUSTOM_XML
    wb = openpyxl.load_workbook(path)
    assert wb["Invoices"][f"{EXPORTED}2"].value == "EXP-1" and wb["Invoices"][f"{EXPORTED}4"].value == "EXP-1"
    assert wb["Invoices"]["B3"].comment.text == "Check this one with the customer"
    assert [r.exported_in for r in read_workbook(path).invoices] == ["EXP-1", "", "EXP-1", "", ""]


def test_a_built_xlsm_keeps_vba_ribbon_and_relationships(tmp_path):
    path = tmp_path / "Company.xlsm"
    xlsm.build_xlsm(path, {"Invoices": INVOICES})
    before = members(path)
    write_back(path, Edits().set("Invoices", 2, "exported_in", "EXP-9").show_findings([]), now=NOW)
    after = members(path)
    for name in ("xl/vbaProject.bin", xlsm.RIBBON_PART, "_rels/.rels", "[Content_Types].xml",
                 "xl/_rels/workbook.xml.rels", "xl/workbook.xml", "xl/styles.xml"):
        assert after[name] == before[name], name


def test_values_are_text_never_formulas(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES, "Customers": [["C1", "Alpha"]]})
    hostile = ['=HYPERLINK("http://evil.example","click")', "+1+2", "@SUM(A1)", "-3+4", "\t=1+1"]
    edits = Edits().append_rows("Customers", [[f"C{n}", text] for n, text in enumerate(hostile, 2)])
    edits.set("Invoices", 2, "description", "=1+1")
    write_back(path, edits, now=NOW)
    wb = openpyxl.load_workbook(path)
    names = [c.value for c in wb["Customers"]["B"][2:7]]
    assert names == hostile
    assert all(c.data_type == "s" for c in wb["Customers"]["B"][2:7])
    assert wb["Invoices"][f"{DESCRIPTION}2"].value == "=1+1" and wb["Invoices"][f"{DESCRIPTION}2"].data_type == "s"
    assert [c.name for c in read_workbook(path).customers][1:] == [h.strip() for h in hostile]


def test_control_characters_and_spaces_round_trip(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Customers": [["C1", "Alpha"]]})
    text = "  Bell\x07 & <Esc\x1b> _x0041_ \u00e9\u20ac "
    write_back(path, Edits().set("Customers", 2, "street", text), now=NOW)
    wb = read_workbook(path)  # calamine decodes _xHHHH_ as Excel does; the reader then drops the controls
    assert wb.customers[0].street == text.replace("\x07", "").replace("\x1b", "").strip()
    assert ("cell.control_characters", "E2") in [(f.code, f.cell) for f in wb.findings]
    raw = openpyxl.load_workbook(path)["Customers"]["E2"].value  # openpyxl does not: the escapes show
    assert raw == "  Bell_x0007_ & <Esc_x001B_> _x005F_x0041_ \u00e9\u20ac "


def test_numbers_and_dates_get_the_layout_formats(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Customers": [["C1", "Alpha"]]})
    wb = openpyxl.load_workbook(path)
    del wb["Export log"]  # created again by the write-back
    wb.save(path)
    write_back(path, Edits().append_rows("Invoice lines", [["F1", 1, "Work", Decimal("2"), Decimal("12.50"), None, 21]])
               .set_setting("period_from", dt.date(2026, 1, 1)).set_setting("customer_number_start", 200000)
               .append_rows("Export log", [["E", "now", "winbooks", "p", 3]]), now=NOW)
    wb = openpyxl.load_workbook(path)
    lines = wb["Invoice lines"]
    assert lines["E2"].value == 12.5 and lines["E2"].number_format == "#,##0.00"
    assert lines["D2"].value == 2 and lines["A2"].number_format == "@"
    settings = {r[0].value: r[1] for r in wb["Settings"].iter_rows(min_row=2) if r[0].value}
    assert settings["Period from"].value == dt.datetime(2026, 1, 1) and settings["Period from"].number_format == "yyyy-mm-dd"
    assert settings["Customer number start"].value == 200000
    log = wb["Export log"]
    assert log["E2"].value == 3 and log["E2"].number_format == "0" and log["E2"].fill.fgColor.rgb.endswith("F2F2F2")


def test_check_write_links_and_highlights_then_moves_the_highlight(tmp_path):
    from toolkit.model import Finding

    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    first = [Finding("line.account.missing", "error", "Invoices", "C3", "No date."),
             Finding("x.y", "warning", "Invoices", "", "A sheet-wide note.")]
    write_back(path, Edits().show_findings(first), now=NOW)
    wb = openpyxl.load_workbook(path)
    check = wb["Check"]
    assert [c.value for c in check[2]] == ["error", "line.account.missing", "Invoices", "C3",
                                           "Ledger account missing", "No date."]
    assert check["D2"].hyperlink.location == "'Invoices'!C3" and check["D3"].hyperlink is None
    assert check["D2"].font.u == "single"
    assert wb["Invoices"]["C3"].fill.fgColor.rgb.endswith("FFC7CE")
    assert wb["Invoices"]["C3"].number_format == "yyyy-mm-dd"  # the cell keeps its format
    second = [Finding("cell.required", "error", "Invoices", "E4", "Customer id is required.")]
    write_back(path, Edits().show_findings(second), now=NOW + dt.timedelta(seconds=1))
    wb = openpyxl.load_workbook(path)
    assert wb["Invoices"]["C3"].fill.fill_type is None and wb["Invoices"]["C3"].value == dt.datetime(2026, 1, 2)
    assert wb["Invoices"]["E4"].fill.fgColor.rgb.endswith("FFC7CE")
    assert wb["Check"].max_row == 2 and wb["Check"].tables["CheckFindings"].ref == "A1:F2"


def test_a_thousand_row_write_back(tmp_path):
    rows = [["F%04d" % n, "invoice", dt.date(2026, 1, 1) + dt.timedelta(days=n % 300), None, "C1", "EUR", None,
             f"Invoice {n}", None, None, None] for n in range(1, 1001)]
    path = tmp_path / "Thousand.xlsx"
    template.save_template(path, {"Invoices": rows, "Customers": [["C1", "Alpha"]]})
    before = read_workbook(path)
    edits = Edits()
    for n in range(2, 1002, 2):  # every other invoice
        edits.set("Invoices", n, "exported_in", "EXP-1")
    edits.append_rows("Export log", [["EXP-1", "2026-02-01 09:30", "winbooks", "p", 500, 1, "ACT.txt", "ab"]])
    write_back(path, edits, now=NOW)
    after = read_workbook(path)
    assert [i.exported_in for i in after.invoices] == ["EXP-1" if n % 2 else "" for n in range(1, 1001)]
    strip = [(i.number, i.date, i.customer_id, i.description, i.where.row) for i in before.invoices]
    assert [(i.number, i.date, i.customer_id, i.description, i.where.row) for i in after.invoices] == strip
    wb = openpyxl.load_workbook(path)
    last = layout.column_letter(len(layout.INVOICES.columns) - 1)
    assert wb["Invoices"].tables["Invoices"].ref == f"A1:{last}1001"
    assert wb["Invoices"][f"{EXPORTED}2"].fill.fgColor.rgb.endswith("F2F2F2") and wb["Invoices"][f"{EXPORTED}3"].value is None


def test_deleting_rows_under_a_formula_is_refused(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Customers": [["C1", "Alpha"], ["C2", "Beta"], ["C3", "Gamma"]]})
    wb = openpyxl.load_workbook(path)
    wb["Customers"]["P4"] = "=LEN(B4)"  # the user's own formula below the deleted row
    wb.save(path)
    before = path.read_bytes()
    with pytest.raises(WriteBackError, match="Customers.*formula.*the workbook was not changed"):
        write_back(path, Edits().delete_rows("Customers", [2]), now=NOW)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_overwriting_a_shared_formula_is_refused(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    parts = members(path)
    part = sheet_part(path, "Invoices")
    h = DESCRIPTION.encode()
    parts[part] = re.sub(rb'<c r="' + h + rb'2"[^>]*?(/>|>.*?</c>)',
                         b'<c r="' + h + b'2" t="str"><f t="shared" ref="' + h + b'2:' + h + b'3" si="0">B2</f><v>x</v></c>',
                         parts[part], count=1, flags=re.S)
    path.write_bytes(zip_of(parts))
    with pytest.raises(WriteBackError, match=f"{DESCRIPTION}2 holds a formula other cells share"):
        write_back(path, Edits().set("Invoices", 2, "description", "y"), now=NOW)


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EROFS])
def test_a_failing_disk_leaves_the_workbook_and_no_temporary_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    before = path.read_bytes()

    def broken(fd):
        raise OSError(failure, "simulated")

    monkeypatch.setattr(writeback.os, "fsync", broken)
    with pytest.raises(WriteBackError) as caught:
        write_back(path, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    message = str(caught.value)
    assert str(path) in message and "not changed" in message
    assert ("full" in message) if failure == errno.ENOSPC else ("writable" in message)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Company.xlsx"]


def test_read_only_and_vanished_workbooks_are_messages(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    path.chmod(0o444)
    try:
        if not __import__("os").access(path, __import__("os").W_OK):  # root may write anyway
            with pytest.raises(WriteBackError, match="read-only.*the workbook was not changed"):
                write_back(path, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    finally:
        path.chmod(0o644)
    with pytest.raises(WriteBackError, match="does not exist"):
        write_back(tmp_path / "Gone.xlsx", Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)


def test_a_damaged_workbook_is_a_message(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    parts = members(path)
    part = sheet_part(path, "Invoices")
    parts[part] = parts[part][:-400]  # cut short
    path.write_bytes(zip_of(parts))
    with pytest.raises(WriteBackError, match="Invoices"):
        write_back(path, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(WriteBackError, match="cannot be read as an Excel workbook"):
        write_back(path, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)


def test_headers_are_found_below_row_one(tmp_path):
    # The reader accepts a header in the first ten rows; the writer finds the same row.
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    wb = openpyxl.load_workbook(path)
    ws = wb["Invoices"]
    del ws.tables["Invoices"]
    ws.insert_rows(1, 2)
    ws["A1"] = "My company's invoices"
    wb.save(path)
    before = read_workbook(path)
    write_back(path, Edits().set("Invoices", before.invoices[0].where.row, "exported_in", "EXP-1"), now=NOW)
    after = openpyxl.load_workbook(path)["Invoices"]
    assert after[f"{EXPORTED}4"].value == "EXP-1" and after[f"{EXPORTED}3"].value == "Exported in"
    assert [c.value for c in after[3] if c.value].count("Exported in") == 1
    assert read_workbook(path).invoices[0].exported_in == "EXP-1"


TAIL = (b'<sheetProtection sheet="0"/><conditionalFormatting sqref="A2:A9"><cfRule type="duplicateValues" '
        b'priority="1"><extLst><ext xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main" '
        b'uri="{B025F937-C7B1-47D3-B67F-A62EFF666E3E}"><x14:id>{00000000-0001}</x14:id>'
        b'</ext></extLst></cfRule></conditionalFormatting><dataValidations count="1"><dataValidation type="list" '
        b'sqref="A2:A9"><formula1>"error,warning"</formula1></dataValidation></dataValidations>'
        b'<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        b'<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><mc:Choice '
        b'Requires="x14"><controls/></mc:Choice><mc:Fallback/></mc:AlternateContent>')
EXT = (b'<extLst><ext xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main" '
       b'uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}"><x14:conditionalFormattings/></ext></extLst>')


def test_what_follows_the_rows_stays_and_links_go_in_their_place(tmp_path):
    """Conditional formats (with their extLst), validations, mc:AlternateContent, the sheet's
    extLst stay byte for byte; the hyperlinks go between the validations and the page margins."""
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    parts = members(path)
    part = sheet_part(path, "Check")
    xml = parts[part]
    start = xml.index(b"</sheetData>") + len(b"</sheetData>")
    parts[part] = xml[:start] + TAIL + re.search(rb"<tableParts.*?</tableParts>", xml, re.S).group(0) + EXT + b"</worksheet>"
    path.write_bytes(zip_of(parts))
    write_back(path, Edits().replace_rows("Check", [["error", "x", "Invoices", "C3", "m"]], links=["#'Invoices'!C3"]),
               now=NOW)
    after = members(path)[part]
    tail = after[after.index(b"</sheetData>"):]
    assert TAIL.replace(b"<pageMargins", b"<hyperlinks><hyperlink ref=\"D2\" location=\"'Invoices'!C3\" "
                        b"display=\"C3\"/></hyperlinks><pageMargins") in tail
    assert tail.endswith(EXT + b"</worksheet>")
    assert openpyxl.load_workbook(path)["Check"]["D2"].hyperlink.location == "'Invoices'!C3"


def test_check_write_marks_the_bad_cells_like_the_ribbon(tmp_path, capsys):
    import shutil
    from pathlib import Path

    from toolkit import cli

    path = tmp_path / "mistakes.xlsx"
    shutil.copy(Path(__file__).resolve().parents[1] / "samples" / "mistakes.xlsx", path)
    assert cli.main(["check", "--write", str(path)]) == 1
    wb = openpyxl.load_workbook(path)
    lines = wb[layout.INVOICE_LINES.name]
    assert lines["I8"].fill.fgColor.rgb.endswith("FFC7CE")  # line.account.missing, as Validate colours it
    check = wb[layout.CHECK.name]
    linked = [(r[3].value, r[3].hyperlink.location) for r in check.iter_rows(min_row=2) if r[3].hyperlink]
    assert ("I8", "'Invoice lines'!I8") in linked
    assert len(list(tmp_path.glob("mistakes.backup-*.xlsx"))) == 1


def test_a_value_and_a_highlight_on_the_same_cell_both_land(tmp_path):
    from toolkit.model import Finding

    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES})
    edits = Edits().set("Invoices", 3, "description", "Fixed?").show_findings(
        [Finding("x.y", "error", "Invoices", f"{DESCRIPTION}3", "Look again.")])
    write_back(path, edits, now=NOW)
    cell = openpyxl.load_workbook(path)["Invoices"][f"{DESCRIPTION}3"]
    assert cell.value == "Fixed?" and cell.fill.fgColor.rgb.endswith("FFC7CE")


def test_rows_with_structured_reference_formulas_move_with_a_deletion(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Customers": [["C1", "Alpha"], ["C2", "Beta"], ["C3", "Gamma"]]})
    wb = openpyxl.load_workbook(path)
    wb["Customers"]["P4"] = "=LEN(Customers[[#This Row],[Name]])"  # follows its row, wherever it moves
    wb.save(path)
    write_back(path, Edits().delete_rows("Customers", [2]), now=NOW)
    ws = openpyxl.load_workbook(path)["Customers"]
    assert [ws["A2"].value, ws["A3"].value] == ["C2", "C3"]
    assert ws["P3"].value == "=LEN(Customers[[#This Row],[Name]])" and ws["P4"].value is None


def test_which_formulas_can_move():
    from toolkit.book.sheetxml import movable

    assert movable(b'<row r="3"><c r="A3"><v>1</v></c></row>')
    assert movable(b'<row r="3"><c r="B3"><f>SUM(Invoices[[#This Row],[Net]])+VAT21</f></c></row>') is False
    assert movable(b'<row r="3"><c r="B3"><f>Invoices[[#This Row],[Net]]*2</f></c></row>')
    assert movable(b'<row r="3"><c r="B3"><f>IF(A1="x",1,2)</f></c></row>') is False
    assert movable(b'<row r="3"><c r="B3"><f>LEN("B12")</f></c></row>')
    assert movable(b'<row r="3"><c r="B3"><f t="shared" si="0"/></c></row>') is False


def test_a_strict_open_xml_workbook_is_refused_before_an_export_is_written(demo, capsys):
    """Excel's 'Strict Open XML Spreadsheet' reads, but cannot be patched: the export was written and
    recorded, then its workbook update failed ('written and recorded, but ... was not updated')."""
    from badfiles import rezip
    from toolkit import cli

    strict = {b"http://schemas.openxmlformats.org/spreadsheetml/2006/main": b"http://purl.oclc.org/ooxml/spreadsheetml/main",
              b"http://schemas.openxmlformats.org/officeDocument/2006/relationships":
                  b"http://purl.oclc.org/ooxml/officeDocument/relationships"}

    def as_strict(name, part):
        for old, new in strict.items():
            part = part.replace(old, new)
        return part

    demo.write_bytes(rezip(demo.read_bytes(), as_strict))
    before = demo.read_bytes()
    assert cli.main(["export", str(demo)]) == 2
    err = capsys.readouterr().err
    assert "Strict Open XML" in err and "Nothing was exported or recorded" in err and "written and recorded" not in err
    assert demo.read_bytes() == before
    exports = demo.with_name("demo-exports")
    assert not exports.exists() or not any(p.is_dir() for p in exports.iterdir())
    assert cli.main(["export", str(demo), "--no-write-back", "--dry-run"]) == 0  # it reads: only its update is refused


def test_a_created_sheet_takes_a_part_name_no_part_takes_in_another_case(tmp_path):
    """Part names are the same without case (Open Packaging Conventions): beside a producer's
    xl/worksheets/Sheet1.xml the Preview sheet was created as xl/worksheets/sheet1.xml, its table
    as xl/tables/table1.xml beside Table1.xml: the same parts twice, a file Excel repairs."""
    import re

    wb = template.build_template({"Invoices": INVOICES, "Customers": [["C1", "Alpha"]]})
    del wb["Preview"]
    path = tmp_path / "caps.xlsx"
    wb.save(path)

    def capitalised(name: str) -> str:
        return re.sub(r"(worksheets/(?:_rels/)?)sheet(\d)", r"\1Sheet\2", re.sub(r"tables/table(\d)", r"tables/Table\1", name))

    with zipfile.ZipFile(path) as z:
        parts = {capitalised(n): z.read(n) for n in z.namelist()}
    for name, data in parts.items():
        if name.endswith((".rels", ".xml")):
            parts[name] = re.sub(rb"(worksheets/)sheet(\d)", rb"\1Sheet\2", re.sub(rb"tables/table(\d)", rb"tables/Table\1", data))
    path.write_bytes(zip_of(parts))
    write_back(path, Edits().replace_rows("Preview", [["Documents", "F1", None, "Alpha", None, "VF", 1, 0, 1, "new"]]))
    names = members(path)
    folded = [n.casefold() for n in names]
    assert len(folded) == len(set(folded)), sorted(names)
    assert len(names) == len(parts) + 3  # the sheet, its relationships, its table
    assert sheet_part(path, "Preview") in names and openpyxl.load_workbook(path)["Preview"]["B2"].value == "F1"


R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
THREADED = ('<ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"><threadedComment '
            'ref="B3" dT="2026-01-05T10:00:00.00" personId="{11111111-1111-1111-1111-111111111111}" '
            'id="{22222222-2222-2222-2222-222222222222}"><text>Ask Ann</text></threadedComment></ThreadedComments>')
PERSONS = ('<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"><person displayName="Ann" '
           'id="{11111111-1111-1111-1111-111111111111}" userId="ann@example.com" providerId="AD"/></personList>')
X14_DATA_BAR = (
    '<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    '<x14:conditionalFormattings><x14:conditionalFormatting xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:cfRule type="dataBar" id="{33333333-3333-3333-3333-333333333333}"><x14:dataBar minLength="0" maxLength="100">'
    '<x14:cfvo type="autoMin"/><x14:cfvo type="autoMax"/></x14:dataBar></x14:cfRule><xm:sqref>P2:P65</xm:sqref>'
    '</x14:conditionalFormatting></x14:conditionalFormattings></ext></extLst>')
CUSTOM_VIEW = ('<customSheetViews><customSheetView guid="{44444444-4444-4444-4444-444444444444}" scale="90"><pane ySplit="1" '
               'topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
               '</customSheetView></customSheetViews>')


def _dressed(data: bytes, sheets: dict[str, str]) -> bytes:
    """The demo with what a user makes in Excel on each of `sheets` (name -> part): a tab colour,
    sheet protection, a custom view, a text box, a threaded comment with its person, an x14 data
    bar; on the workbook a print area, a named range, structure protection, printer settings."""
    from badfiles import rezip

    import io

    have = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    added = {"xl/persons/person.xml": PERSONS.encode(), "xl/printerSettings/printerSettings1.bin": bytes(range(256))}
    for n, part in enumerate(sheets.values(), 1):
        added[f"xl/drawings/drawing{n}.xml"] = (
            '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
            f'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">{TEXT_BOX.replace(DRAWING_NS, "")}</xdr:wsDr>').encode()
        added[f"xl/threadedComments/threadedComment{n}.xml"] = THREADED.encode()
        rels = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
        if rels not in have:
            added[rels] = (b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>')

    def change(name: str, part: bytes) -> bytes:
        if name == "xl/workbook.xml":
            part = part.replace(b"</definedNames>", b'<definedName name="_xlnm.Print_Area" localSheetId="5">Invoices!$A$1:$J$40'
                                b'</definedName><definedName name="MyRange">Invoices!$A$2:$A$9</definedName></definedNames>')
            return part.replace(b"<workbookProtection />", b'<workbookProtection lockStructure="1"/>')
        if name == "xl/_rels/workbook.xml.rels":
            return part.replace(b"</Relationships>", b'<Relationship Id="rIdPersons" Type="http://schemas.microsoft.com/office/'
                                b'2017/10/relationships/person" Target="persons/person.xml"/></Relationships>')
        for n, sheet in enumerate(sheets.values(), 1):
            if name == sheet:
                part = part.replace(b"<sheetPr>", b'<sheetPr><tabColor rgb="FFFF0000"/>', 1)
                if b"<sheetPr" not in part:
                    part = part.replace(b"<dimension", b'<sheetPr><tabColor rgb="FFFF0000"/></sheetPr><dimension', 1)
                part = part.replace(b"</sheetData>", b'</sheetData><sheetProtection sheet="1" objects="1"/>' + CUSTOM_VIEW.encode(), 1)
                drawing = f'<drawing r:id="rIdD{n}" xmlns:r="{R_NS}"/>'.encode()
                part = part.replace(b"<tableParts", drawing + b"<tableParts", 1) if b"<tableParts" in part else \
                    part.replace(b"</worksheet>", drawing + b"</worksheet>")
                return part.replace(b"</worksheet>", X14_DATA_BAR.encode() + b"</worksheet>")
            if name == sheet.replace("worksheets/", "worksheets/_rels/") + ".rels":
                return part.replace(b"</Relationships>", (
                    f'<Relationship Id="rIdD{n}" Type="{R_NS}/drawing" Target="../drawings/drawing{n}.xml"/><Relationship '
                    f'Id="rIdT{n}" Type="http://schemas.microsoft.com/office/2017/10/relationships/threadedComment" '
                    f'Target="../threadedComments/threadedComment{n}.xml"/></Relationships>').encode())
        return part

    return rezip(rezip(data, add=added), change)


def _rows_apart(xml: bytes) -> bytes:
    """A sheet part without its rows, its dimension and its links (the Check sheet's, to the cells
    of its findings): what a write-back keeps as it was."""
    xml = re.sub(rb"<sheetData>.*</sheetData>|<hyperlinks>.*</hyperlinks>", b"", xml, flags=re.S)
    return re.sub(rb'<dimension ref="[^"]*"', b"<dimension", xml)


@pytest.mark.parametrize("command", [["export"], ["check", "--write"], ["preview", "--write"], ["customers", "assign"]])
def test_every_writing_command_keeps_what_the_user_made_beside_the_rows(demo, command):
    """Each command that writes the workbook changes the rows of the sheets it writes (and their
    tables, the styles of a highlight) and nothing else: tab colours, sheet and workbook protection,
    custom views, text boxes, threaded comments and their persons, x14 data bars, a print area and
    a named range, printer settings stay byte for byte, on the sheets it writes and on the others."""
    from toolkit import cli
    from toolkit.book.package import Package

    book = Package(demo)
    sheets = {name: book.sheets[name] for name in ("Invoices", "Invoice lines", "Customers", "Check", "Preview", "Export log")}
    book.close()
    data = _dressed(demo.read_bytes(), sheets)
    if command[0] == "check":  # a finding, so that the Check sheet is written and a cell highlighted
        data = rezip_lines(data, sheets["Invoice lines"], b'<c r="G2" s="6" t="n"><v>21</v></c>', b'<c r="G2" s="6" t="n"><v>13</v></c>')
    demo.write_bytes(data)
    before = members(demo)
    assert cli.main([command[0], *command[1:2], str(demo), *command[2:]] if command[0] == "customers"
                    else [command[0], str(demo), *command[1:]]) in (0, 1)
    after = members(demo)
    assert set(after) == set(before)
    changed = {n for n in before if after[n] != before[n]}
    assert changed, "the command wrote nothing"
    for name in changed:
        assert name in sheets.values() or name.startswith("xl/tables/") or name == "xl/styles.xml", name
        if name in sheets.values():
            assert _rows_apart(after[name]) == _rows_apart(before[name]), name
    for name, content in after.items():
        if name.endswith((".xml", ".rels")):
            ElementTree.fromstring(content)  # well formed


def rezip_lines(data: bytes, part: str, old: bytes, new: bytes) -> bytes:
    from badfiles import replace_in, rezip

    return rezip(data, replace_in(part, old, new))
