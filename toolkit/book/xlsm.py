"""The macro workbook (.xlsm): template sheets + Start sheet + xlwings.conf + VBA + ribbon.

Built in three steps (see shared/reference/excel-build.md §5): openpyxl writes the sheets, `vba`
writes vbaProject.bin from the .bas sources, and a zip post-processing step adds the VBA part, the
ribbon part and their relationships and content types. Never re-save the result with openpyxl
alone: it drops the ribbon relationship; `apply_ribbon()` restores it after such a save.
"""

from __future__ import annotations

import io
import os
import re
import sys
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import openpyxl.styles

from toolkit import resources
from toolkit.book import template, vba

START_SHEET = "Start"
CONF_SHEET = "xlwings.conf"  # xlwings.bas reads PROJECT_NAME & ".conf"
BAS_MODULES = ("LedgerExport.bas",)
RIBBON_FILE = "customUI14.xml"

RIBBON_PART = "customUI/customUI14.xml"
RIBBON_REL_TYPE = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
RIBBON_NS = "http://schemas.microsoft.com/office/2009/07/customui"
VBA_PART = "xl/vbaProject.bin"
VBA_REL_TYPE = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaProject"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


# ---- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    label: str
    on_action: str
    lines: tuple[str, ...]  # the supertip's lines: what it does / what it writes


def ribbon_xml() -> bytes:
    return (resources.workbook_dir() / RIBBON_FILE).read_bytes()


def ribbon_buttons(xml: bytes | None = None) -> list[Button]:
    """The ribbon's buttons in order; the Start sheet explains them from the same text."""
    root = ET.fromstring(xml or ribbon_xml())
    return [Button(b.get("label", ""), b.get("onAction", ""),
                   tuple(line.strip() for line in b.get("supertip", "").split("\n") if line.strip()))
            for b in root.iter(f"{{{RIBBON_NS}}}button")]


def xlwings_bas() -> str:
    """The standalone xlwings VBA module of the installed xlwings (BSD-3, header kept)."""
    import xlwings

    return (Path(xlwings.__file__).parent / "xlwings.bas").read_text(encoding="cp1252")


def our_modules() -> list[vba.Module]:
    return [vba.standard_module((resources.workbook_dir() / name).read_text(encoding="cp1252"))
            for name in BAS_MODULES]


def vba_modules(sheet_code_names: list[str]) -> list[vba.Module]:
    """ThisWorkbook, one document module per sheet, our modules, then xlwings."""
    docs = [vba.Module("ThisWorkbook", "", "document")]
    docs += [vba.Module(name, "", "document") for name in sheet_code_names]
    return docs + our_modules() + [vba.standard_module(xlwings_bas())]


# ---- sheets -------------------------------------------------------------------------------------


def conf_rows(python_executable: str) -> list[tuple[str, object]]:
    """The xlwings.conf sheet: keys in column A from A1 without gaps (xlwings reads down to the
    first empty cell), values in column B."""
    return [
        ("INTERPRETER_WIN", python_executable),
        ("INTERPRETER_MAC", python_executable),
        ("PYTHONPATH", ""),
        # Text, not a boolean: VBA turns a boolean into a localised word (e.g. "Onwaar").
        ("ADD_WORKBOOK_TO_PYTHONPATH", "false"),
        ("CONDA PATH", ""),
        ("CONDA ENV", ""),
        ("UDF MODULES", ""),
        ("DEBUG UDFS", False),
        ("USE UDF SERVER", False),
        ("SHOW CONSOLE", False),
    ]


CONF_NOTE = (
    "Settings of xlwings, the bridge between this workbook's buttons and Python. "
    "INTERPRETER_WIN / INTERPRETER_MAC is the Python that runs the toolkit: change it if Python "
    "moved, or rebuild the workbook with `ledger-export workbook new`."
)


def fill_conf_sheet(ws, python_executable: str) -> None:
    rows = conf_rows(python_executable)
    for row, (key, value) in enumerate(rows, start=1):
        ws.cell(row=row, column=1, value=key)
        ws.cell(row=row, column=2, value=value).number_format = "@" if isinstance(value, str) else "General"
    ws.cell(row=len(rows) + 2, column=1, value=CONF_NOTE)
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 60
    # Technical keys, no tab for them: very hidden (the README's "In Excel" section says how to
    # show it: Visual Basic editor, the sheet's Visible property).
    ws.sheet_state = "veryHidden"
    template.print_setup(ws, title_rows=None)


START_TITLE = "Ledger Export Toolkit"
START_INTRO = (
    "Fill the sheets (Settings first), then use the buttons of the 'Ledger export' ribbon tab, "
    "from left to right. If the tab does nothing, enable macros (File > Info > Enable Content).",
)


def start_lines() -> list[tuple[str, str]]:
    """(column A, column B) rows of the Start sheet: a title, then each button with two lines."""
    rows = [(START_TITLE, "")] + [(line, "") for line in START_INTRO] + [("", "")]
    for button in ribbon_buttons():
        label = button.label.replace("\u2026", "...")
        lines = button.lines or ("",)
        rows.append((label, lines[0]))
        rows += [("", line) for line in lines[1:]]
        rows.append(("", ""))
    return rows


def fill_start_sheet(ws) -> None:
    bold = openpyxl.styles.Font(bold=True)
    for row, (a, b) in enumerate(start_lines(), start=1):
        if a:
            ws.cell(row=row, column=1, value=a).font = bold if b else openpyxl.styles.Font()
        if b:
            ws.cell(row=row, column=2, value=b)
    ws["A1"].font = openpyxl.styles.Font(bold=True, size=16)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 110
    # Printed / exported to PDF one page wide, so each explanation stays on one line.
    template.print_setup(ws, title_rows=None)


def build_workbook(sample: Mapping[str, object] | None, python_executable: str):
    """The openpyxl workbook of the .xlsm (sheets and code names; no VBA yet)."""
    wb = template.build_template(sample)
    fill_start_sheet(wb.create_sheet(START_SHEET, 0))
    fill_conf_sheet(wb.create_sheet(CONF_SHEET), python_executable)
    wb.active = 0
    for i, ws in enumerate(wb.worksheets):
        ws.sheet_view.tabSelected = i == 0  # else Excel opens with two sheets grouped
        ws.sheet_properties.codeName = f"Sheet{i + 1}"
    wb.code_name = "ThisWorkbook"
    return wb


# ---- package post-processing --------------------------------------------------------------------


def _add_relationship(rels_xml: bytes, rel_id: str, rel_type: str, target: str) -> bytes:
    """`rels_xml` with exactly one relationship of `rel_type` to `target` (idempotent)."""
    ET.register_namespace("", RELS_NS)
    root = ET.fromstring(rels_xml)
    for rel in list(root):
        if rel.get("Type") == rel_type and rel.get("Target", "").lstrip("/") == target:
            root.remove(rel)
    used = {rel.get("Id") for rel in root}
    while rel_id in used:
        rel_id += "x"
    ET.SubElement(root, f"{{{RELS_NS}}}Relationship", Id=rel_id, Type=rel_type, Target=target)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


_EMPTY_RELS = f'<Relationships xmlns="{RELS_NS}"/>'.encode()


def _macro_content_types(ct_xml: bytes) -> bytes:
    """Workbook part declared macro-enabled and `.bin` parts declared as VBA projects."""
    text = ct_xml.decode("utf-8").replace(XLSX_MAIN, XLSM_MAIN)
    text = re.sub(r'<Default Extension="bin"[^>]*/>', "", text)
    default = f'<Default Extension="bin" ContentType="{VBA_CONTENT_TYPE}"/>'
    text = re.sub(r"(<Types[^>]*>)", lambda m: m.group(1) + default, text, count=1)
    return text.encode("utf-8")


def _ribbon_parts(parts: Mapping[str, bytes], ribbon: bytes) -> dict[str, bytes]:
    return {
        RIBBON_PART: ribbon,
        "_rels/.rels": _add_relationship(parts.get("_rels/.rels", _EMPTY_RELS), "rIdLedgerUI",
                                         RIBBON_REL_TYPE, RIBBON_PART),
        "[Content_Types].xml": _macro_content_types(parts["[Content_Types].xml"]),
    }


def _read_parts(data: bytes, *names: str) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        present = set(z.namelist())
        return {n: z.read(n) for n in names if n in present}


def xlsm_bytes(sample: Mapping[str, object] | None = None,
               python_executable: str = sys.executable) -> bytes:
    """The .xlsm as bytes; same inputs (and xlwings version), same bytes."""
    wb = build_workbook(sample, python_executable)
    code_names = [ws.sheet_properties.codeName for ws in wb.worksheets]
    data = template.workbook_bytes(wb)
    parts = _read_parts(data, "[Content_Types].xml", "_rels/.rels", "xl/_rels/workbook.xml.rels")
    changes = _ribbon_parts(parts, ribbon_xml())
    changes[VBA_PART] = vba.vba_project_bin(vba_modules(code_names))
    changes["xl/_rels/workbook.xml.rels"] = _add_relationship(
        parts["xl/_rels/workbook.xml.rels"], "rIdVBA", VBA_REL_TYPE, "vbaProject.bin")
    return template.repack(data, changes)


def build_xlsm(path: str | os.PathLike, sample: Mapping[str, object] | None = None,
               python_executable: str = sys.executable) -> Path:
    """Write the macro workbook to `path` (atomically); returns the path."""
    return template.write_atomically(path, xlsm_bytes(sample, python_executable))


def with_ribbon(data: bytes) -> bytes:
    """An .xlsm package (bytes) with its ribbon relationship and macro content types restored.

    Keeps the workbook's own ribbon part when it still has one (it matches the workbook's VBA);
    adds ours otherwise. Idempotent.
    """
    parts = _read_parts(data, "[Content_Types].xml", "_rels/.rels", RIBBON_PART)
    changes = _ribbon_parts(parts, parts.get(RIBBON_PART) or ribbon_xml())
    return template.repack(data, changes, pin_modified=False)


def apply_ribbon(path: str | os.PathLike) -> Path:
    """Give an existing .xlsm its ribbon back after openpyxl re-saved it (idempotent)."""
    path = Path(path)
    return template.write_atomically(path, with_ribbon(path.read_bytes()))
