"""The cell formats of a workbook's styles.xml, read to choose a written cell's style, patched only
to append what is missing.

A written cell keeps the style it had, or takes the style of the cell above it, or its column's:
the user's formatting wins. Only what the layout needs is added on top: the column type's number
format where the style has "General", the grey fill of output columns, the highlight of a bad
cell, the link font of a Check link. Each such combination reuses an existing cellXfs entry when
one is identical, otherwise one is appended (the file's other bytes stay as they were).
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_N = f"{{{MAIN}}}"
BUILTIN_FORMATS = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%",
                   14: "mm-dd-yy", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM",
                   19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "m/d/yy h:mm", 49: "@"}
_BUILTIN_IDS = {code: i for i, code in BUILTIN_FORMATS.items()}
LINK_RGB = "0563C1"
NO_FILL = ""


def _section(xml: bytes, name: str) -> re.Match | None:
    return re.search(rb"<(?:\w+:)?" + name.encode() + rb"\b[^>]*?(?:/>|>.*?</(?:\w+:)?" + name.encode() + rb">)", xml, re.S)


def _children(section: bytes, name: str) -> list[bytes]:
    """The child elements `name` of a section, as their bytes (self-closing or not, not nested)."""
    n = name.encode()
    return re.findall(rb"<(?:\w+:)?" + n + rb"\b(?:[^>]*?/>|[^>]*?>.*?</(?:\w+:)?" + n + rb">)", section, re.S)


def _set_attrs(element: bytes, values: dict[str, str]) -> bytes:
    """The element's opening tag with attributes set (replaced or added)."""
    end = element.index(b">")
    if element[end - 1:end] == b"/":
        end -= 1
    tag, rest = element[:end], element[end:]
    for name, value in values.items():
        pattern = re.compile(rb'\s' + name.encode() + rb'="[^"]*"')
        attr = f' {name}="{value}"'.encode()
        tag = pattern.sub(attr, tag, count=1) if pattern.search(tag) else tag + attr
    return tag + rest


class Styles:
    def __init__(self, xml: bytes | None):
        self.xml = xml
        self.changed = False
        self._derived: dict[tuple, int] = {}
        self._attrs: dict[int, dict[str, int]] = {}
        self.formats: dict[int, str] = dict(BUILTIN_FORMATS)
        self.xfs: list[bytes] = []
        self.fills: list[bytes] = []
        self.fonts: list[bytes] = []
        self._new = {"numFmts": [], "fonts": [], "fills": [], "cellXfs": []}
        if xml is None:
            return
        root = ET.fromstring(xml)
        for fmt in root.iterfind(f"{_N}numFmts/{_N}numFmt"):
            self.formats[int(fmt.get("numFmtId"))] = fmt.get("formatCode", "")
        for name, store in (("cellXfs", self.xfs), ("fills", self.fills), ("fonts", self.fonts)):
            section = _section(xml, name)
            if section is not None:
                store.extend(_children(section.group(0), {"cellXfs": "xf", "fills": "fill", "fonts": "font"}[name]))

    # ---- reading a style ----------------------------------------------------------------------

    def _attr(self, xf: int, name: str, default: int = 0) -> int:
        if not 0 <= xf < len(self.xfs):
            return default
        attrs = self._attrs.get(xf)
        if attrs is None:
            element = self.xfs[xf]
            attrs = self._attrs[xf] = {k.decode(): int(v) for k, v in re.findall(rb'\s(\w+)="(\d+)"', element[:element.index(b">")])}
        return attrs.get(name, default)

    def number_format(self, xf: int) -> str:
        return self.formats.get(self._attr(xf, "numFmtId"), "General")

    def is_date_format(self, xf: int) -> bool:
        fmt_id = self._attr(xf, "numFmtId")
        if 14 <= fmt_id <= 22 or 45 <= fmt_id <= 47:
            return True
        code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", self.number_format(xf)).lower()
        return code not in ("general", "@") and bool(re.search(r"[dmy]", code))

    def fill_rgb(self, xf: int) -> str | None:
        """The solid fill colour (RRGGBB) of a style, NO_FILL without one, None for other fills."""
        fill_id = self._attr(xf, "fillId")
        if not 0 <= fill_id < len(self.fills):
            return NO_FILL
        fill = self.fills[fill_id]
        if b'patternType="solid"' not in fill:
            return NO_FILL if b"patternType" not in fill or b'patternType="none"' in fill else None
        color = re.search(rb'<(?:\w+:)?fgColor\b[^>]*?rgb="([0-9A-Fa-f]{6,8})"', fill)
        return color.group(1).decode()[-6:].upper() if color else None

    # ---- deriving a style ---------------------------------------------------------------------

    def derive(self, base: int, number_format: str | None = None, fill: str | None = None,
               link: bool = False) -> int:
        """`base` with a number format, a solid fill (RRGGBB, NO_FILL for none) or the link font
        set; an identical existing style is reused."""
        if self.xml is None or not self.xfs:
            return base
        base = base if 0 <= base < len(self.xfs) else 0
        key = (base, number_format, fill, link)
        if key in self._derived:
            return self._derived[key]
        attrs: dict[str, str] = {}
        if number_format is not None and self.number_format(base) != number_format:
            attrs.update(numFmtId=str(self._format_id(number_format)), applyNumberFormat="1")
        if fill is not None and self.fill_rgb(base) != fill:
            attrs.update(fillId=str(self._fill_id(fill)), applyFill="1")
        if link:
            attrs.update(fontId=str(self._link_font()), applyFont="1")
        result = base
        if attrs:
            xf = _set_attrs(self.xfs[base], attrs)
            result = self._find_or_add("cellXfs", self.xfs, xf)
        self._derived[key] = result
        return result

    def _find_or_add(self, section: str, store: list[bytes], element: bytes) -> int:
        norm = _normal(element)
        for index, existing in enumerate(store):
            if _normal(existing) == norm:
                return index
        store.append(element)
        self._new[section].append(element)
        self.changed = True
        return len(store) - 1

    def _format_id(self, code: str) -> int:
        for fmt_id, existing in self.formats.items():
            if existing == code:
                return fmt_id
        fmt_id = max([163, *(i for i in self.formats if i >= 164)]) + 1
        self.formats[fmt_id] = code
        self._new["numFmts"].append(f'<numFmt numFmtId="{fmt_id}" formatCode="{_attr_escape(code)}"/>'.encode())
        self.changed = True
        return fmt_id

    def _fill_id(self, rgb: str) -> int:
        if rgb == NO_FILL:
            return 0
        for index in range(len(self.fills)):
            probe = self.fills[index]
            if b'patternType="solid"' in probe and re.search(rb'<(?:\w+:)?fgColor\b[^>]*?rgb="(?:[0-9A-Fa-f]{2})?' + rgb.encode() + rb'"', probe, re.I):
                return index
        fill = (f'<fill><patternFill patternType="solid"><fgColor rgb="FF{rgb}"/><bgColor rgb="FF{rgb}"/>'
                f'</patternFill></fill>').encode()
        return self._find_or_add("fills", self.fills, fill)

    def _link_font(self) -> int:
        base = self.fonts[0] if self.fonts else b"<font/>"
        if base.endswith(b"/>"):
            base = base[:-2] + b"></font>"
        body_start = base.index(b">") + 1
        body = re.sub(rb"<(?:\w+:)?(?:u|color)\b[^>]*?/>", b"", base[body_start:])
        font = base[:body_start] + f'<u/><color rgb="FF{LINK_RGB}"/>'.encode() + body
        return self._find_or_add("fonts", self.fonts, font)

    # ---- the patched part ---------------------------------------------------------------------

    def render(self) -> bytes:
        """styles.xml with the appended entries (counts updated); the rest byte for byte."""
        xml = self.xml
        for section, child in (("fonts", "font"), ("fills", "fill"), ("cellXfs", "xf")):
            new = self._new[section]
            if new:
                xml = _append(xml, section, new, len(getattr(self, {"fonts": "fonts", "fills": "fills", "cellXfs": "xfs"}[section])))
        if self._new["numFmts"]:
            if _section(xml, "numFmts") is not None:
                count = len(_children(_section(xml, "numFmts").group(0), "numFmt")) + len(self._new["numFmts"])
                xml = _append(xml, "numFmts", self._new["numFmts"], count)
            else:
                root = re.search(rb"<(?:\w+:)?styleSheet\b[^>]*>", xml)
                block = (f'<numFmts count="{len(self._new["numFmts"])}">'.encode() + b"".join(self._new["numFmts"])
                         + b"</numFmts>")
                xml = xml[:root.end()] + _prefixed(block, root.group(0)) + xml[root.end():]
        return xml


def _append(xml: bytes, section: str, elements: list[bytes], count: int) -> bytes:
    match = _section(xml, section)
    whole = match.group(0)
    prefix = re.match(rb"<(\w+:)?", whole).group(1) or b""
    body = b"".join(_prefixed(e, whole) for e in elements)
    if whole.endswith(b"/>"):
        new = whole[:-2] + b">" + body + b"</" + prefix + section.encode() + b">"
    else:
        close = whole.rindex(b"</")
        new = whole[:close] + body + whole[close:]
    new = _set_attrs(new, {"count": str(count)})
    return xml[:match.start()] + new + xml[match.end():]


def _prefixed(element: bytes, context: bytes) -> bytes:
    """Elements written in the namespace prefix the part uses (most use none)."""
    prefix = re.match(rb"<(\w+:)?", context).group(1)
    if not prefix:
        return element
    return re.sub(rb"<(/?)(?=[A-Za-z])", rb"<\1" + prefix, element)


def _normal(element: bytes) -> tuple:
    """An element compared without prefix, attribute order or the apply* flags."""
    tag = re.sub(rb"<\w+:", b"<", element)
    attrs = tuple(sorted((k, v) for k, v in re.findall(rb'(\w+)="([^"]*)"', tag[:tag.index(b">")])
                         if not k.startswith(b"apply")))
    return attrs, re.sub(rb"\s+", b"", tag[tag.index(b">"):])


def _attr_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
