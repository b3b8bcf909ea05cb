"""A workbook file as a zip of parts: read parts, change a few, write every other one byte for byte.

Unchanged members are copied compressed, exactly as they are (no inflate, no deflate), which keeps
whatever the toolkit does not understand (drawings, text boxes, charts, comments, custom XML,
the VBA project and the ribbon) and is why a write-back costs only the parts it changes.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from typing import BinaryIO
from xml.etree import ElementTree as ET

from toolkit.book.sheetxml import SheetXmlError, escape_attr

REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
OFFICE_DOCUMENT = DOC_REL + "/officeDocument"
WORKSHEET_REL = DOC_REL + "/worksheet"
TABLE_REL = DOC_REL + "/table"
STYLES_REL = DOC_REL + "/styles"
STRINGS_REL = DOC_REL + "/sharedStrings"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
TABLE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
NEW_PART_TIME = (1980, 1, 1, 0, 0, 0)
_LIMIT = 0xFFFFFFFF
# zlib level of the parts written anew. On a sheet part of 10-250 MB of XML, level 2 deflates 4-5
# times faster than zlib's default 6 (0.06 s against 0.31 s per 10 MB) for a part 20-25 % bigger
# (about 5 % of the whole workbook); level 1 is no faster and 12 % bigger. Excel reads any level.
LEVEL = 2


def rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


class Package:
    """The parts of a workbook file; `changed` holds new contents (bytes, or a Deflated member)."""

    def __init__(self, path):
        self.path = path
        self.zip = zipfile.ZipFile(path)
        self.infos = self.zip.infolist()
        for info in self.infos:
            if info.flag_bits & 0x1:
                raise SheetXmlError(f"{info.filename} is encrypted inside the workbook: it cannot be changed safely.")
        self.names = {i.filename for i in self.infos}
        self.changed: dict[str, bytes | Deflated] = {}
        self.workbook = self._workbook_part()
        xml = self.read(self.workbook)
        if b"purl.oclc.org/ooxml" in xml[:2000]:
            raise SheetXmlError("The workbook is saved as 'Strict Open XML Spreadsheet': save it as an ordinary "
                                "Excel Workbook (.xlsx or .xlsm) and try again.")
        self.sheets = self._sheets(xml)

    def close(self) -> None:
        self.zip.close()

    def has(self, name: str) -> bool:
        return name in self.changed or name in self.names

    def read(self, name: str) -> bytes:
        content = self.changed.get(name)
        if isinstance(content, bytes):
            return content
        return self.zip.read(name)

    def open(self, name: str) -> BinaryIO:
        content = self.changed.get(name)
        if isinstance(content, bytes):
            return io.BytesIO(content)
        return self.zip.open(name)

    def rels(self, part: str) -> list[tuple[str, str, str]]:
        """(id, type, target part) of a part's relationships (internal targets resolved)."""
        name = rels_name(part)
        if not self.has(name):
            return []
        found = []
        for rel in ET.fromstring(self.read(name)).iter(f"{{{REL_NS}}}Relationship"):
            target = rel.get("Target", "")
            if rel.get("TargetMode") != "External":
                target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(posixpath.dirname(part), target))
            found.append((rel.get("Id", ""), rel.get("Type", ""), target))
        return found

    def related(self, part: str, rel_type: str) -> list[str]:
        return [target for _, kind, target in self.rels(part) if kind == rel_type]

    def _workbook_part(self) -> str:
        for _, kind, target in self.rels(""):
            if kind.endswith("/officeDocument"):
                return target
        raise SheetXmlError("The file has no workbook part: it is not an Excel workbook.")

    def _sheets(self, xml: bytes) -> dict[str, str]:
        targets = {rel_id: target for rel_id, _, target in self.rels(self.workbook)}
        sheets = {}
        for sheet in ET.fromstring(xml).iter(f"{{{MAIN}}}sheet"):
            target = targets.get(sheet.get(f"{{{DOC_REL}}}id"))
            if target:
                sheets[sheet.get("name")] = target
        return sheets

    # ---- adding a sheet ---------------------------------------------------------------------

    def add_sheet(self, name: str, sheet_xml: bytes, table_xml: bytes | None) -> str:
        """A new worksheet (and its table) at the end of the workbook; returns its part name."""
        part = _free_name(self, "xl/worksheets/sheet{}.xml")
        rel_id = _free_id(self.read(rels_name(self.workbook)))
        if table_xml is not None:
            table = _free_name(self, "xl/tables/table{}.xml")
            self.changed[table] = table_xml
            self.changed[rels_name(part)] = _rels_xml([("rId1", TABLE_REL, "../tables/" + posixpath.basename(table))])
            self._content_type(table, TABLE_TYPE)
        self.changed[part] = sheet_xml
        self._content_type(part, WORKSHEET_TYPE)
        self.changed[rels_name(self.workbook)] = _add_rel(self.read(rels_name(self.workbook)), rel_id, WORKSHEET_REL,
                                                          posixpath.relpath(part, posixpath.dirname(self.workbook)))
        self.changed[self.workbook] = _add_sheet_entry(self.read(self.workbook), name, rel_id)
        if self.has("docProps/app.xml"):
            self.changed["docProps/app.xml"] = _app_titles(self.read("docProps/app.xml"), name)
        self.sheets[name] = part
        return part

    def _content_type(self, part: str, content_type: str) -> None:
        xml = self.read("[Content_Types].xml")
        entry = f'<Override PartName="/{part}" ContentType="{content_type}"/>'.encode()
        at = xml.rindex(b"</")
        self.changed["[Content_Types].xml"] = xml[:at] + entry + xml[at:]

    def table_ids(self) -> tuple[set[int], set[str]]:
        """The ids and (folded) names of every table of the workbook: a new table needs new ones."""
        ids, names = set(), set()
        for name in sorted(self.names | set(self.changed)):
            if name.startswith("xl/tables/") and name.endswith(".xml"):
                head = self.read(name)[:4000]
                match = re.search(rb'<(?:\w+:)?table\b[^>]*?\sid="(\d+)"', head)
                if match:
                    ids.add(int(match.group(1)))
                for attr in re.findall(rb'\s(?:name|displayName)="([^"]*)"', head[:head.find(b">", head.find(b"<table")) + 1] if b"<table" in head else b""):
                    names.add(attr.decode().casefold())
        return ids, names

    # ---- writing ------------------------------------------------------------------------------

    def write(self, out: BinaryIO) -> None:
        """Every member into `out`: changed ones with their new content, the others copied raw."""
        entries = []
        order = [i.filename for i in self.infos] + [n for n in self.changed if n not in self.names]
        infos = {i.filename: i for i in self.infos}
        with open(self.path, "rb") as source:
            for name in order:
                offset = out.tell()
                if name in self.changed:
                    content = self.changed[name]
                    member = content if isinstance(content, Deflated) else Deflated.of(content)
                    info = infos.get(name)
                    when = info.date_time if info else NEW_PART_TIME
                    attr = info.external_attr if info else 0o644 << 16
                    header = _local_header(name, 8, when, member.crc, member.size, member.usize)
                    out.write(header)
                    member.copy_to(out)
                    entries.append((name, 8, when, member.crc, member.size, member.usize, attr, offset))
                else:
                    info = infos[name]
                    out.write(_local_header(name, info.compress_type, info.date_time, info.CRC,
                                            info.compress_size, info.file_size))
                    _copy_raw(source, info, out)
                    entries.append((name, info.compress_type, info.date_time, info.CRC, info.compress_size,
                                    info.file_size, info.external_attr, offset))
        start = out.tell()
        for name, method, when, crc, size, usize, attr, offset in entries:
            encoded, flags = _name(name)
            dostime, dosdate = _dos(when)
            out.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, dostime, dosdate, crc, size,
                                  usize, len(encoded), 0, 0, 0, 0, attr, offset) + encoded)
        end = out.tell()
        if end > _LIMIT or len(entries) > 0xFFFF:
            raise SheetXmlError("The workbook would be larger than 4 GB: it cannot be written.")
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), end - start, start, 0))


class Deflated:
    """A member's new content, deflated as it is produced (into a spooled file)."""

    def __init__(self, level: int = LEVEL, in_memory: int = 64 << 20):
        """`in_memory`: the deflated bytes kept in memory up to this size, in a temporary file beyond."""
        import tempfile

        self.file = tempfile.SpooledTemporaryFile(max_size=in_memory)
        self._z = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.crc = 0
        self.usize = 0
        self.size = 0

    @classmethod
    def of(cls, data: bytes) -> Deflated:
        member = cls()
        member.write(data)
        member.finish()
        return member

    def write(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.usize += len(data)
        self.file.write(self._z.compress(data))

    def finish(self) -> Deflated:
        self.file.write(self._z.flush())
        self.size = self.file.tell()
        if self.usize > _LIMIT or self.size > _LIMIT:
            raise SheetXmlError("A sheet would be larger than 4 GB: it cannot be written.")
        return self

    def copy_to(self, out: BinaryIO) -> None:
        self.file.seek(0)
        while chunk := self.file.read(1 << 20):
            out.write(chunk)
        self.file.close()


def _name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), 0x800


def _dos(when) -> tuple[int, int]:
    year, month, day, hour, minute, second = when
    return (hour << 11) | (minute << 5) | (second // 2), ((max(year, 1980) - 1980) << 9) | (month << 5) | day


def _local_header(name: str, method: int, when, crc: int, size: int, usize: int) -> bytes:
    encoded, flags = _name(name)
    dostime, dosdate = _dos(when)
    if size > _LIMIT or usize > _LIMIT:
        raise SheetXmlError(f"{name} is larger than 4 GB: the workbook cannot be written.")
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, dostime, dosdate, crc, size, usize,
                       len(encoded), 0) + encoded


def _copy_raw(source: BinaryIO, info: zipfile.ZipInfo, out: BinaryIO) -> None:
    """A member's compressed bytes as they are in the source file."""
    source.seek(info.header_offset)
    header = source.read(30)
    if header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    source.seek(info.header_offset + 30 + name_len + extra_len)
    left = info.compress_size
    while left:
        chunk = source.read(min(left, 1 << 20))
        if not chunk:
            raise zipfile.BadZipFile(f"{info.filename} is cut short")
        out.write(chunk)
        left -= len(chunk)


def _free_name(package: Package, pattern: str) -> str:
    """The first name of `pattern` no part takes. Part names are compared without case (the Open
    Packaging Conventions): sheet1.xml beside a producer's Sheet1.xml is the same part twice, a
    file Excel repairs."""
    taken = {name.casefold() for name in package.names | set(package.changed)}
    n = 1
    while pattern.format(n).casefold() in taken:
        n += 1
    return pattern.format(n)


def _free_id(rels_xml: bytes) -> str:
    taken = set(re.findall(rb'\sId="([^"]*)"', rels_xml))
    n = 1
    while f"rId{n}".encode() in taken:
        n += 1
    return f"rId{n}"


def _rels_xml(rels: list[tuple[str, str, str]]) -> bytes:
    body = "".join(f'<Relationship Id="{i}" Type="{t}" Target="{target}"/>' for i, t, target in rels)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{REL_NS}">'
            f"{body}</Relationships>").encode()


def _add_rel(xml: bytes, rel_id: str, rel_type: str, target: str) -> bytes:
    entry = f'<Relationship Id="{rel_id}" Type="{rel_type}" Target="{target}"/>'.encode()
    at = xml.rindex(b"</")
    return xml[:at] + entry + xml[at:]


def _add_sheet_entry(xml: bytes, name: str, rel_id: str) -> bytes:
    ids = [int(i) for i in re.findall(rb'<(?:\w+:)?sheet\b[^>]*?\ssheetId="(\d+)"', xml)]
    close = re.search(rb"</((?:\w+:)?)sheets>", xml)
    if close is None:
        raise SheetXmlError("The workbook lists no sheets: it cannot be changed safely.")
    prefix = close.group(1).decode()
    declared = re.search(rb'xmlns:(\w+)="' + DOC_REL.encode() + rb'"', xml)
    r = declared.group(1).decode() if declared else "r"
    ns = "" if declared else f' xmlns:r="{DOC_REL}"'
    entry = f'<{prefix}sheet name="{escape_attr(name)}" sheetId="{max(ids, default=0) + 1}" {r}:id="{rel_id}"{ns}/>'
    return xml[:close.start()] + entry.encode() + xml[close.start():]


def _app_titles(xml: bytes, name: str) -> bytes:
    """docProps/app.xml naming the new sheet too; left as it is when its layout is unexpected."""
    count = re.search(rb"(<(?:\w+:)?lpstr>Worksheets</(?:\w+:)?lpstr>\s*</(?:\w+:)?variant>\s*<(?:\w+:)?variant>\s*"
                      rb"<(?:\w+:)?i4>)(\d+)(</)", xml)
    titles = re.search(rb"<(?:\w+:)?TitlesOfParts>\s*<((?:\w+:)?)vector\b[^>]*?\ssize=\"(\d+)\"[^>]*>", xml)
    if count is None or titles is None:
        return xml
    n = int(count.group(2))
    p = titles.group(1)
    items = list(re.finditer(rb"<" + re.escape(p) + rb"lpstr>.*?</" + re.escape(p) + rb"lpstr>", xml[titles.end():], re.S))
    if len(items) < n:
        return xml
    at = titles.end() + (items[n - 1].end() if n else 0)
    entry = b"<" + p + b"lpstr>" + escape_attr(name).encode() + b"</" + p + b"lpstr>"
    xml = xml[:at] + entry + xml[at:]
    size_at = titles.start(2)
    xml = xml[:size_at] + str(int(titles.group(2)) + 1).encode() + xml[titles.end(2):]
    return xml[:count.start(2)] + str(n + 1).encode() + xml[count.end(2):]
