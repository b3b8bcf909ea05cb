"""The workbook template, built from `toolkit.layout` (the only place a sheet or column is declared).

`build_template()` returns an openpyxl Workbook: a Settings sheet, one Excel table per table and
output sheet, with dropdowns, input messages, formats, widths and a frozen header row, and the
Customer import paste area.
`save_template()` writes it as a reproducible .xlsx (same inputs, same bytes).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Iterable, Mapping

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from toolkit import layout

CREATOR = "Ledger Export Toolkit"
# Fixed document timestamps: the build must not depend on the clock.
FIXED_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

# Dropdowns and input messages cover this many rows; the table grows beyond it without them.
VALIDATION_LAST_ROW = 5000
# A paste area is formatted as text over this many columns (A:Z), wider than any customer list.
PASTE_AREA_COLUMNS = 26

NUMBER_FORMATS = {
    "date": "yyyy-mm-dd",
    "decimal": "#,##0.00",
    # "General", not "0.##": Excel shows 21 as "21." with "0.##"; General shows 21 and 5.5.
    "percent": "General",
    "int": "0",
    # Text format keeps account numbers, postal codes and phone numbers as typed (leading zeros).
    "code": "@",
    "text": "@",
    "choice": "@",
    "bool": "@",
}

INPUT_TABLE_STYLE = "TableStyleMedium2"
OUTPUT_TABLE_STYLE = "TableStyleLight1"
OUTPUT_FILL = PatternFill("solid", fgColor="F2F2F2")
HEADER_FONT = Font(bold=True)

# Excel's limits on data validation texts.
PROMPT_MAX = 255
PROMPT_TITLE_MAX = 32
LIST_FORMULA_MAX = 255


def cell_value(value):
    """A Python value as the workbook stores it: booleans as the yes/no of the dropdowns."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return value


def _dropdown(choices: Iterable[str]) -> DataValidation:
    formula = '"' + ",".join(choices) + '"'
    if len(formula) > LIST_FORMULA_MAX or any("," in c or '"' in c for c in choices):
        raise ValueError(f"choice list too long or not representable in a dropdown: {formula}")
    return DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
                          errorTitle="Not in the list", error="Pick a value from the dropdown.")


def _validation(choices: tuple[str, ...], title: str, help_text: str) -> DataValidation | None:
    """Dropdown for closed lists and/or an input message for help text; None when neither."""
    if not choices and not help_text:
        return None
    dv = _dropdown(choices) if choices else DataValidation(allow_blank=True)
    if help_text:
        dv.showInputMessage = True
        dv.promptTitle = title[:PROMPT_TITLE_MAX]
        dv.prompt = help_text[:PROMPT_MAX]
    return dv


def _add_validation(ws: Worksheet, dv: DataValidation | None, sqref: str) -> None:
    if dv is not None:
        dv.add(sqref)
        ws.add_data_validation(dv)


def _header(ws: Worksheet, headers: Iterable[str]) -> None:
    for col, text in enumerate(headers, start=1):
        ws.cell(row=1, column=col, value=text)


def build_settings_sheet(ws: Worksheet, values: Mapping[str, object] | None = None) -> None:
    """Setting / Value / Help rows, one per `layout.SETTINGS`, with defaults (or `values`); keys of
    `values` that are no setting become extra rows (label, value) below them."""
    values = values or {}
    _header(ws, layout.SETTINGS_HEADERS)
    for cell in ws[1]:
        cell.font = HEADER_FONT
    for row, setting in enumerate(layout.SETTINGS, start=2):
        value = values.get(setting.key, setting.default)
        ws.cell(row=row, column=1, value=setting.label)
        value_cell = ws.cell(row=row, column=2, value=cell_value(value))
        value_cell.number_format = NUMBER_FORMATS.get(setting.type, "General")
        ws.cell(row=row, column=3, value=setting.help).alignment = Alignment(wrap_text=False)
        _add_validation(ws, _validation(setting.choices, setting.label, setting.help), f"B{row}")
    # Rows that are no general setting (a package's parameters, labelled as the spec labels them).
    extra = [(label, value) for label, value in values.items() if label not in layout.SETTINGS_BY_KEY]
    for row, (label, value) in enumerate(extra, start=len(layout.SETTINGS) + 2):
        ws.cell(row=row, column=1, value=label)
        ws.cell(row=row, column=2, value=cell_value(value))
    ws.freeze_panes = "A2"
    for letter, width in zip("ABC", (28, 28, 90)):
        ws.column_dimensions[letter].width = width


def table_ref(sheet: layout.Sheet, n_rows: int, n_columns: int | None = None) -> str:
    """The table's range: header plus data rows; an empty table keeps one empty row (Excel needs it)."""
    last_col = layout.column_letter((n_columns or len(sheet.columns)) - 1)
    return f"A1:{last_col}{1 + max(n_rows, 1)}"


def build_table_sheet(ws: Worksheet, sheet: layout.Sheet, rows: Iterable[Iterable] = ()) -> None:
    """One Excel table named `sheet.table` with the layout's columns, formats and validations."""
    _header(ws, (c.header for c in sheet.columns))
    n_rows = 0
    for n_rows, values in enumerate(rows, start=1):
        for col, value in enumerate(values, start=1):
            ws.cell(row=1 + n_rows, column=col, value=cell_value(value))
    for index, column in enumerate(sheet.columns):
        letter = layout.column_letter(index)
        dim = ws.column_dimensions[letter]
        dim.width = column.width
        # Column-level style: applies to rows typed later without writing 5000 styled cells.
        dim.number_format = NUMBER_FORMATS.get(column.type, "General")
        if column.output:
            dim.fill = OUTPUT_FILL
        for row in range(2, 2 + n_rows):
            cell = ws.cell(row=row, column=index + 1)
            cell.number_format = dim.number_format
            if column.output:
                cell.fill = OUTPUT_FILL
        # No dropdown on output columns: the toolkit fills them, nobody picks a value there.
        dv = _validation(() if column.output else column.choices, column.header, column.help)
        _add_validation(ws, dv, f"{letter}2:{letter}{VALIDATION_LAST_ROW}")
    all_output = all(c.output for c in sheet.columns)
    table = Table(displayName=sheet.table, ref=table_ref(sheet, n_rows))
    table.tableStyleInfo = TableStyleInfo(
        name=OUTPUT_TABLE_STYLE if all_output else INPUT_TABLE_STYLE, showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A2"


def build_paste_sheet(ws: Worksheet, sheet: layout.Sheet, rows: Iterable[Iterable] = ()) -> None:
    """A paste area: the placeholder header in A1, its help as the input message of A1 and A2
    (where a list without headers goes), and no table, since the paste brings its own columns.
    `rows` are written as if pasted at A1."""
    placeholder = sheet.placeholder
    ws.cell(row=1, column=1, value=placeholder.header).font = HEADER_FONT
    # Text format: customer numbers and postal codes pasted from another program keep their
    # leading zeros (Excel pastes text into text cells as it is).
    for index in range(PASTE_AREA_COLUMNS):
        ws.column_dimensions[layout.column_letter(index)].number_format = NUMBER_FORMATS["text"]
    _add_validation(ws, _validation((), sheet.name, placeholder.help), "A1:A2")
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            ws.cell(row=r, column=c, value=cell_value(value))
    ws.freeze_panes = "A2"


def build_template(sample: Mapping[str, object] | None = None) -> Workbook:
    """The workbook of `toolkit.layout`, empty or filled with `sample`.

    `sample` maps a sheet name to a list of rows (values in layout column order), and
    `layout.SETTINGS_SHEET` to a dict setting key -> value.
    """
    sample = dict(sample or {})
    unknown = set(sample) - set(layout.ALL_SHEETS)
    if unknown:
        raise KeyError(f"sample names sheets the layout does not have: {sorted(unknown)}")
    wb = Workbook()
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    settings_ws = wb.active
    settings_ws.title = layout.SETTINGS_SHEET
    build_settings_sheet(settings_ws, sample.get(layout.SETTINGS_SHEET))
    for sheet in layout.TABLE_SHEETS + layout.OUTPUT_SHEETS:
        build = build_paste_sheet if sheet.placeholder else build_table_sheet
        build(wb.create_sheet(sheet.name), sheet, sample.get(sheet.name, ()))
    return wb


# ---- reproducible packages ----------------------------------------------------------------------

_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def repack(data: bytes, replace: Mapping[str, bytes | None] | None = None,
           pin_modified: bool = True) -> bytes:
    """Rewrite an OOXML zip reproducibly: fixed timestamps, `[Content_Types].xml` first, other
    parts in name order, and (`pin_modified`) the core properties' modified time fixed, since
    openpyxl stamps "now".

    `replace` maps part names to new bytes (added when missing) or None (removed).
    """
    replace = dict(replace or {})
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    for name, content in replace.items():
        if content is None:
            parts.pop(name, None)
        else:
            parts[name] = content
    if pin_modified and "docProps/core.xml" in parts:
        stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        parts["docProps/core.xml"] = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>",
                                                   parts["docProps/core.xml"])
    order = sorted(parts, key=lambda n: (n != "[Content_Types].xml", n))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, parts[name])
    return out.getvalue()


def workbook_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def write_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write next to the target, then rename: no half-written workbook if anything fails."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_template(path: str | os.PathLike, sample: Mapping[str, object] | None = None) -> Path:
    """Write the template (.xlsx) to `path`, reproducibly; returns the path."""
    return write_atomically(path, repack(workbook_bytes(build_template(sample))))
