"""A corpus of bad workbooks and files, built on the fly from the demo workbook (no binaries in the
repository): damaged zips, the wrong kind of file, hostile files (zip bombs, a cell at
XFD1048576, DOCTYPEs), each with the words its one-line refusal must contain. `FINDINGS` are
workbooks that read, but hold a cell the check must report (and nothing may crash on).
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from toolkit import layout

# The template writes the sheets in the layout's order: sheetN.xml is the N-th.
LINES = f"xl/worksheets/sheet{layout.ALL_SHEETS.index(layout.INVOICE_LINES.name) + 1}.xml"  # the demo's Invoice lines
SETTINGS = f"xl/worksheets/sheet{layout.ALL_SHEETS.index(layout.SETTINGS_SHEET) + 1}.xml"
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def rezip(data: bytes, change: Callable[[str, bytes], bytes | None] | None = None, add: dict | None = None,
          method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The zip `data` with each part passed through `change` (None drops it) and `add`ed parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", method) as dst:
        for info in src.infolist():
            part = src.read(info.filename)
            part = change(info.filename, part) if change else part
            if part is not None:
                dst.writestr(info.filename, part)
        for name, part in (add or {}).items():
            dst.writestr(name, part)
    return out.getvalue()


def edit(part_name: str, fn: Callable[[bytes], bytes]):
    return lambda name, part: fn(part) if name == part_name else part


def drop(part_name: str):
    return lambda name, part: None if name == part_name else part


def replace_in(part_name: str, old: bytes, new: bytes):
    def fn(part: bytes) -> bytes:
        assert old in part, (part_name, old)
        return part.replace(old, new, 1)
    return edit(part_name, fn)


def append_rows(part_name: str, rows: bytes):
    return replace_in(part_name, b"</sheetData>", rows + b"</sheetData>")


def cell(ref: str, value: bytes) -> callable:
    """Replace the value of the demo's cell `ref` on Invoice lines by the raw XML `value` (`<v>..`)."""
    def fn(part: bytes) -> bytes:
        start = part.index(f'<c r="{ref}"'.encode())
        end = part.index(b"</c>", start) + 4
        tag_end = part.index(b">", start)
        opening = part[start:tag_end + 1]
        opening = opening.replace(b' t="inlineStr"', b"").replace(b' t="n"', b"")
        if value.startswith(b"<is>"):
            opening = opening[:-1] + b' t="inlineStr">'
        return part[:start] + opening + value + b"</c>" + part[end:]
    return edit(LINES, fn)


def patch_member(data: bytes, name: str, **fields) -> bytes:
    """Patch the local header and the central directory entry of one member (crc, sizes, flags,
    method), the way a hostile or damaged file would carry them."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    local = archive.getinfo(name).header_offset
    central = archive.start_dir
    data = bytearray(data)
    while True:  # walk the central directory to the member's entry
        name_len, extra_len, comment_len = struct.unpack_from("<3H", data, central + 28)
        if bytes(data[central + 46:central + 46 + name_len]) == name.encode():
            break
        central += 46 + name_len + extra_len + comment_len
    offsets_local = {"flags": (6, "<H"), "method": (8, "<H"), "crc": (14, "<L"), "compressed": (18, "<L"), "size": (22, "<L")}
    offsets_central = {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<L"), "compressed": (20, "<L"), "size": (24, "<L")}
    for key, value in fields.items():
        for base, table in ((local, offsets_local), (central, offsets_central)):
            at, fmt = table[key]
            struct.pack_into(fmt, data, base + at, value)
    return bytes(data)


def compressed_span(data: bytes, name: str) -> tuple[int, int]:
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    header = data[info.header_offset:info.header_offset + 30]
    start = info.header_offset + 30 + struct.unpack("<H", header[26:28])[0] + struct.unpack("<H", header[28:30])[0]
    return start, start + info.compress_size


def fake_ole(*streams: str) -> bytes:
    """The start of an OLE compound file (what .xls and encrypted workbooks are) naming `streams`."""
    body = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    for name in streams:
        body += name.encode("utf-16-le") + bytes(64 - 2 * len(name)) + bytes(64)
    return bytes(body + bytes(4096))


def bomb_lying_sizes(demo: bytes) -> bytes:
    """A sheet part whose directory declares a tenth of what it inflates to."""
    padded = rezip(demo, edit(LINES, lambda p: p.replace(b"<sheetData>", b"<sheetData>" + b" " * 5_000_000, 1)))
    info = zipfile.ZipFile(io.BytesIO(padded)).getinfo(LINES)
    return patch_member(padded, LINES, size=info.file_size // 10)


def flip_middle(demo: bytes) -> bytes:
    start, end = compressed_span(demo, LINES)
    data = bytearray(demo)
    middle = (start + end) // 2
    for i in range(middle, middle + 40):
        data[i] ^= 0x5A
    return bytes(data)


def bad_crc(demo: bytes) -> bytes:
    info = zipfile.ZipFile(io.BytesIO(demo)).getinfo(LINES)
    return patch_member(demo, LINES, crc=info.CRC ^ 0xFFFF)


def empty_zip() -> bytes:
    out = io.BytesIO()
    zipfile.ZipFile(out, "w").close()
    return out.getvalue()


def zip_of(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, part in parts.items():
            z.writestr(name, part)
    return out.getvalue()


def xl4_macro_sheet(demo: bytes) -> bytes:
    """An Excel 4.0 macro sheet beside the others (legacy macros): a sound file python-calamine cannot open."""
    data = rezip(demo, replace_in("xl/workbook.xml", b"</sheets>", b'<sheet name="Macro1" sheetId="21" r:id="rId91"/></sheets>'))
    data = rezip(data, replace_in("xl/_rels/workbook.xml.rels", b"</Relationships>",
                                  b'<Relationship Type="http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet" '
                                  b'Target="macrosheets/sheet1.xml" Id="rId91" /></Relationships>'))
    return rezip(data, replace_in("[Content_Types].xml", b"</Types>", b'<Override PartName="/xl/macrosheets/sheet1.xml" '
                                  b'ContentType="application/vnd.ms-excel.macrosheet+xml"/></Types>'),
                 add={"xl/macrosheets/sheet1.xml": b'<xm:macrosheet xmlns="' + NS_MAIN.encode() + b'" xmlns:xm='
                      b'"http://schemas.microsoft.com/office/excel/2006/main"><sheetData><row r="1"><c r="A1"><f>HALT()</f>'
                      b'</c></row></sheetData></xm:macrosheet>'})


LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;'
          b'&lol;&lol;&lol;&lol;">]>')


@dataclass(frozen=True)
class Bad:
    name: str
    build: Callable[[bytes], bytes] | None  # demo bytes -> file bytes; None: see `kind`
    says: str  # words the one-line message must hold
    suffix: str = ".xlsx"
    env: dict = field(default_factory=dict)  # limits lowered for the case
    kind: str = "file"  # file | missing | folder

    def make(self, demo: bytes, folder: Path) -> Path:
        path = folder / f"{self.name}{self.suffix}"
        if self.kind == "folder":
            path.mkdir()
        elif self.kind == "file":
            path.write_bytes(self.build(demo))
        return path


REFUSED = [
    Bad("missing", None, "no such file", kind="missing"),
    Bad("folder", None, "is a folder", kind="folder"),
    Bad("empty", lambda d: b"", "is empty"),
    Bad("plain_text", lambda d: b"hello, this is not a workbook\n", "not an Excel workbook"),
    Bad("csv_renamed", lambda d: "Number;Name;VAT\n100001;Brouwerij;BE0477472701\n".encode(), "text file (CSV?)"),
    Bad("csv_utf16_renamed", lambda d: "Number;Name\n1;A\n".encode("utf-16"), "not an Excel workbook"),
    Bad("html_renamed", lambda d: b"<html><body><table><tr><td>1</td></tr></table></body></html>", "web page"),
    Bad("pdf_renamed", lambda d: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    Bad("spreadsheetml_2003", lambda d: b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>', "Excel 2003 XML"),
    Bad("random_binary", lambda d: bytes(range(256)) * 64, "not an Excel workbook"),
    Bad("old_xls", lambda d: fake_ole("Workbook", "SummaryInformation"), "97-2003", suffix=".xls"),
    Bad("old_xls_renamed", lambda d: fake_ole("Book"), "97-2003"),
    Bad("encrypted", lambda d: fake_ole("EncryptionInfo", "EncryptedPackage"), "password"),
    Bad("ods", lambda d: zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}), "OpenDocument", suffix=".ods"),
    Bad("ods_renamed", lambda d: zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}), "OpenDocument"),
    Bad("xlsb_renamed", lambda d: zip_of({"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\x00" * 10}), ".xlsb"),
    Bad("docx_renamed", lambda d: zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}), "Word"),
    Bad("zip_of_notes", lambda d: zip_of({"notes.txt": b"hello"}), "not an Excel workbook"),
    Bad("empty_zip", lambda d: empty_zip(), "not an Excel workbook"),
    Bad("no_workbook_xml", lambda d: rezip(d, drop("xl/workbook.xml")), "xl/workbook.xml"),
    Bad("no_workbook_rels", lambda d: rezip(d, drop("xl/_rels/workbook.xml.rels")), "workbook.xml.rels"),
    Bad("no_sheet_part", lambda d: rezip(d, drop(LINES)), LINES.rsplit("/", 1)[1]),
    Bad("malformed_workbook_xml", lambda d: rezip(d, edit("xl/workbook.xml", lambda p: p[: len(p) // 2])), "malformed"),
    Bad("malformed_rels", lambda d: rezip(d, edit("xl/_rels/workbook.xml.rels", lambda p: p.replace(b"/>", b">", 3))), "malformed"),
    Bad("malformed_styles", lambda d: rezip(d, edit("xl/styles.xml", lambda p: p[:-20])), "malformed"),
    Bad("malformed_sheet_cut", lambda d: rezip(d, edit(LINES, lambda p: p[: len(p) // 2])), "Invoice lines"),
    Bad("malformed_sheet_tags", lambda d: rezip(d, replace_in(LINES, b'<row r="3">', b'<row r="3"><c r="A3"><<v>1</v></row>')), "Invoice lines"),
    Bad("malformed_shared_strings", lambda d: rezip(
        d, replace_in("xl/_rels/workbook.xml.rels", b"</Relationships>",
                      b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
                      b'Target="sharedStrings.xml" Id="rId99" /></Relationships>'),
        add={"xl/sharedStrings.xml": b'<sst xmlns="' + NS_MAIN.encode() + b'" count="1"><si><t>open'}), "cannot be read"),
    Bad("truncated_half", lambda d: d[: len(d) // 2], "damaged"),
    Bad("truncated_tail", lambda d: d[:-10], "damaged"),
    Bad("truncated_directory", lambda d: d[: d.rindex(b"PK\x01\x02") + 10], "damaged"),
    Bad("bad_crc", bad_crc, "checksum"),
    Bad("corrupt_deflate", flip_middle, "damaged"),
    Bad("zip_bomb_part", lambda d: rezip(d, add={"xl/media/image1.png": bytes(60_000_000)}), "zip bomb"),
    Bad("zip_bomb_sheet", lambda d: rezip(d, edit(LINES, lambda p: p.replace(b"<sheetData>", b"<sheetData>" + b" " * 60_000_000, 1))), "zip bomb"),
    Bad("zip_bomb_lying_sizes", bomb_lying_sizes, "inflates past the size"),
    Bad("too_much_unpacked", lambda d: rezip(d, add={"xl/media/noise.bin": os.urandom(1_500_000)}, method=zipfile.ZIP_STORED),
        "LEDGER_EXPORT_MAX_UNCOMPRESSED_MB", env={"LEDGER_EXPORT_MAX_UNCOMPRESSED_MB": "1"}),
    Bad("too_many_parts", lambda d: d, "LEDGER_EXPORT_MAX_ZIP_PARTS", env={"LEDGER_EXPORT_MAX_ZIP_PARTS": "20"}),
    Bad("file_too_large", lambda d: rezip(d, add={"xl/media/noise.bin": os.urandom(1_200_000)}),
        "LEDGER_EXPORT_MAX_FILE_MB", env={"LEDGER_EXPORT_MAX_FILE_MB": "1"}),
    Bad("sheet_past_limit", lambda d: d, "LEDGER_EXPORT_MAX_SHEET_CELLS", env={"LEDGER_EXPORT_MAX_SHEET_CELLS": "100"}),
    Bad("cell_at_xfd1048576", lambda d: rezip(d, append_rows(LINES, b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')), "XFD1048576"),
    Bad("cell_past_excel_columns", lambda d: rezip(d, append_rows(LINES, b'<row r="150"><c r="AAAA150"><v>1</v></c></row>')), "Ctrl+End"),
    Bad("cell_past_excel_rows", lambda d: rezip(d, append_rows(LINES, b'<row r="99999999"><c r="A99999999"><v>1</v></c></row>')), "99999999"),
    Bad("cell_far_attributes_reordered", lambda d: rezip(d, append_rows(LINES, b'<row r="1048576"><c s="0" r="XFD1048576"><v>1</v></c></row>')), "XFD1048576"),
    Bad("cell_far_without_reference", lambda d: rezip(d, append_rows(LINES, b'<row r="99999999"><c><v>1</v></c></row>')), "Ctrl+End"),
    Bad("cells_wide_without_reference", lambda d: rezip(d, append_rows(LINES, b'<row r="1048000">' + b"<c><v>1</v></c>" * 100 + b"</row>")), "Ctrl+End"),
    Bad("doctype_workbook", lambda d: rezip(d, edit("xl/workbook.xml", lambda p: LAUGHS + p)), "DOCTYPE"),
    Bad("doctype_sheet", lambda d: rezip(d, edit(LINES, lambda p: LAUGHS + p)), "DOCTYPE"),
    Bad("encrypted_zip_part", lambda d: patch_member(d, LINES, flags=1), "encrypted zip"),
    Bad("bzip2_part", lambda d: rezip(d, method=zipfile.ZIP_BZIP2), "compressed in a way"),
    Bad("xl4_macro_sheet", xl4_macro_sheet, "Excel 4.0 macro sheet"),
]


@dataclass(frozen=True)
class Finding:
    name: str
    build: Callable[[bytes], bytes]
    code: str  # the one finding the cell gets
    cell: str  # sheet!cell
    severity: str = "error"


FINDINGS = [
    Finding("price_1e999999_text", lambda d: rezip(d, cell("E2", b"<is><t>1E999999</t></is>")), "cell.invalid.decimal", "Invoice lines!E2"),
    Finding("price_1e999999_number", lambda d: rezip(d, cell("E2", b"<v>1E999999</v>")), "cell.invalid.decimal", "Invoice lines!E2"),
    Finding("price_nan", lambda d: rezip(d, cell("E2", b"<v>NaN</v>")), "cell.invalid.decimal", "Invoice lines!E2"),
    Finding("quantity_minus_infinity", lambda d: rezip(d, cell("D2", b"<v>-inf</v>")), "cell.invalid.decimal", "Invoice lines!D2"),
    Finding("vat_rate_fraction", lambda d: rezip(d, cell("G2", b"<v>0.21</v>")), "line.vat_rate.fraction", "Invoice lines!G2"),
    # quantity x unit price past any amount: its VAT needed more digits than Decimal's context (a traceback)
    Finding("line_amount_past_any_amount", lambda d: rezip(rezip(d, cell("D2", b"<v>999999999999999</v>")),
                                                           cell("E2", b"<v>999999999999999</v>")),
            "line.amount.too_large", "Invoice lines!D2"),
    Finding("discount_far_past_100_on_a_big_line", lambda d: rezip(rezip(d, cell("D2", b"<v>99999999999</v>")),
                                                                   cell("F2", b"<v>-99999999999999</v>")),
            "discount.range", "Invoice lines!F2"),
    Finding("vat_rate_far_past_100_on_a_big_line", lambda d: rezip(rezip(d, cell("D2", b"<v>99999999999</v>")),
                                                                   cell("G2", b"<v>99999999999999</v>")),
            "line.vat_rule.missing", "Invoice lines!G2"),
    Finding("control_characters", lambda d: rezip(d, cell("C2", b"<is><t>Grafisch\x07 ontwerp\x1b</t></is>")),
            "cell.control_characters", "Invoice lines!C2", "warning"),
]
