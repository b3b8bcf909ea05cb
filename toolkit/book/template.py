"""The workbook template, built from `toolkit.layout` (the only place a sheet or column is declared).

`build_template()` returns an openpyxl Workbook: a Settings sheet, one Excel table per table and
output sheet, with dropdowns, input messages, formats, widths and a frozen header row, and the
Customer import paste area.
`save_template()` writes it as a reproducible .xlsx (same inputs, same bytes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Iterable, Mapping

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableFormula, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from toolkit import layout
from toolkit.errors import UserError
from toolkit.book import formulas, lists, package_params

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
    "datetime": "yyyy-mm-dd hh:mm",
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
# Numbers right-aligned with a one-character margin, so a number is not glued to a left-aligned
# code in the next column ("30 400100").
NUMBER_TYPES = ("int", "decimal", "percent", "date", "datetime")
NUMBER_ALIGNMENT = Alignment(horizontal="right", indent=1)
# Header text plus the table's filter button (about three characters wide).
FILTER_BUTTON_WIDTH = 4


def header_width(text: str, width: float = 0) -> float:
    """A column width that shows `text` in bold next to its filter button (and at least `width`)."""
    return max(width, round(len(text) * 1.1) + FILTER_BUTTON_WIDTH)


def print_setup(ws: Worksheet, title_rows: str | None = "1:1") -> None:
    """Landscape, one page wide (as many pages long as needed), the header row on every page."""
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    if title_rows:
        ws.print_title_rows = title_rows

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


def _sheet_list(source: lists.Source) -> DataValidation:
    """A dropdown fed by another sheet. It warns rather than refuses: the other sheet may simply
    not have the row yet (Validate reports what is still missing)."""
    return DataValidation(type="list", formula1=source.name, allow_blank=True, showErrorMessage=True,
                          errorStyle="warning", errorTitle="Not in the list", error=source.error)


def _computed() -> DataValidation:
    """A computed column: typing over its formula asks first (a warning, so nobody is locked
    out); Excel checks typed entries only, never the formulas the workbook fills in."""
    return DataValidation(type="custom", formula1="FALSE", allow_blank=True, showErrorMessage=True,
                          errorStyle="warning", errorTitle="Computed column",
                          error="This column is computed by a formula. Typing here replaces the formula "
                                "(Validate will report it). To restore it, copy a cell of this column "
                                "from another row.")


def _validation(choices: tuple[str, ...], title: str, help_text: str,
                base: DataValidation | None = None) -> DataValidation | None:
    """Dropdown for closed lists (or `base`) and/or an input message for help text; None when
    neither."""
    if not choices and not help_text and base is None:
        return None
    dv = base or (_dropdown(choices) if choices else DataValidation(allow_blank=True))
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
    """Setting / Value / Help rows, one per `layout.SETTINGS`, with defaults (or `values`), then
    the chosen package's own parameters (`values` by label or name, else the spec's default), with
    their help and allowed values. Other keys of `values` become rows below them: those that are
    another package's parameters hidden (kept for a change back), the rest shown."""
    values = dict(values or {})
    chosen = None
    _header(ws, layout.SETTINGS_HEADERS)
    for cell in ws[1]:
        cell.font = HEADER_FONT
    for row, setting in enumerate(layout.SETTINGS, start=2):
        value = values.pop(setting.key, setting.default)
        ws.cell(row=row, column=1, value=setting.label)
        value_cell = ws.cell(row=row, column=2, value=cell_value(value))
        value_cell.number_format = NUMBER_FORMATS.get(setting.type, "General")
        ws.cell(row=row, column=3, value=setting.help).alignment = Alignment(wrap_text=False)
        if setting.key == "package":
            chosen = value
            dv = _validation((), setting.label, setting.help, _package_list())
        else:
            dv = _validation(setting.choices, setting.label, setting.help)
        _add_validation(ws, dv, f"B{row}")
    row = len(layout.SETTINGS) + 2
    package = package_params.shipped_spec(chosen)
    if package is not None:
        ws.cell(row=row, column=1, value=package_params.section_title(package)).font = HEADER_FONT
        row += 1
        for param in package.parameters:
            value = package_params.take(values, param)
            ws.cell(row=row, column=1, value=param.label)
            cell = ws.cell(row=row, column=2, value=cell_value(value))
            cell.number_format = package_params.NUMBER_FORMATS.get(param.type, "General")
            help_text = package_params.help_text(param)
            ws.cell(row=row, column=3, value=help_text)
            choices = param.choices or (layout.YES_NO if param.type == "boolean" else ())
            _add_validation(ws, _validation(choices, param.label, help_text), f"B{row}")
            row += 1
    others = package_params.other_packages_labels(package)
    for label, value in values.items():  # no general setting, no parameter of the chosen package
        if package_params.is_section_title(label):  # an older layout's section row: laid out anew
            continue
        ws.cell(row=row, column=1, value=label)
        ws.cell(row=row, column=2, value=cell_value(value))
        if str(label).strip().casefold() in others:
            ws.row_dimensions[row].hidden = True
        row += 1
    ws.freeze_panes = "A2"
    for letter, width in zip("ABC", (28, 28, 90)):
        ws.column_dimensions[letter].width = width
    print_setup(ws)


def _package_list() -> DataValidation:
    """The shipped package ids; a warning only, since a path to one's own spec file is allowed."""
    ids = package_params.package_ids()
    return DataValidation(type="list", formula1='"' + ",".join(ids) + '"', allow_blank=True,
                          showErrorMessage=True, errorStyle="warning", errorTitle="Not a shipped package",
                          error="Pick a package from the list (or give the path of your own spec file).")


def table_ref(sheet: layout.Sheet, n_rows: int, n_columns: int | None = None) -> str:
    """The table's range: header plus data rows; an empty table keeps one empty row (Excel needs it)."""
    last_col = layout.column_letter((n_columns or len(sheet.columns)) - 1)
    return f"A1:{last_col}{1 + max(n_rows, 1)}"


def build_table_sheet(ws: Worksheet, sheet: layout.Sheet, rows: Iterable[Iterable] = ()) -> None:
    """One Excel table named `sheet.table` with the layout's columns, formats and validations;
    computed columns hold their formula in every row (values given for them are ignored)."""
    _header(ws, (c.header for c in sheet.columns))
    computed = {c.key: formulas.computed_columns()[(sheet.name, c.key)] for c in sheet.columns if c.computed}
    n_rows = 0
    for n_rows, values in enumerate(rows, start=1):
        for col, (column, value) in enumerate(zip(sheet.columns, values), start=1):
            if not column.computed:
                ws.cell(row=1 + n_rows, column=col, value=cell_value(value))
    # Formulas in every data row, the one empty row of an empty table included, so Excel knows the
    # calculated column and fills it into the rows the user adds.
    last_row = 1 + max(n_rows, 1)
    for index, column in enumerate(sheet.columns):
        letter = layout.column_letter(index)
        dim = ws.column_dimensions[letter]
        dim.width = header_width(column.header, column.width)
        # Column-level style: applies to rows typed later without writing 5000 styled cells.
        dim.number_format = NUMBER_FORMATS.get(column.type, "General")
        if column.type in NUMBER_TYPES:
            dim.alignment = NUMBER_ALIGNMENT
        if column.output:
            dim.fill = OUTPUT_FILL
        for row in range(2, (last_row if column.computed else 1 + n_rows) + 1):
            cell = ws.cell(row=row, column=index + 1)
            if column.computed:
                cell.value = computed[column.key]
            cell.number_format = dim.number_format
            if column.type in NUMBER_TYPES:
                cell.alignment = NUMBER_ALIGNMENT
            if column.output:
                cell.fill = OUTPUT_FILL
        source = lists.COLUMN_LISTS.get((sheet.name, column.key))
        if column.computed:
            base = _computed()
        elif source is not None:
            base = _sheet_list(source)
        else:
            base = None
        # No dropdown on output columns: the toolkit fills them, nobody picks a value there.
        dv = _validation(() if column.output else column.choices, column.header, column.help, base)
        _add_validation(ws, dv, f"{letter}2:{letter}{VALIDATION_LAST_ROW}")
    all_output = all(c.output for c in sheet.columns)
    table = Table(displayName=sheet.table, ref=table_ref(sheet, n_rows))
    table.tableStyleInfo = TableStyleInfo(
        name=OUTPUT_TABLE_STYLE if all_output else INPUT_TABLE_STYLE, showRowStripes=True)
    table.tableColumns = [
        TableColumn(id=i, name=c.header, calculatedColumnFormula=(
            TableFormula(attr_text=computed[c.key][1:]) if c.computed else None))
        for i, c in enumerate(sheet.columns, start=1)]
    table.autoFilter = AutoFilter(ref=table.ref)  # openpyxl adds it only to tables it names itself
    ws.add_table(table)
    ws.freeze_panes = "A2"
    print_setup(ws)
    if "severity" in sheet.keys:
        _colour_by_severity(ws, sheet)


SEVERITY_FILLS = {"error": "FFC7CE", "warning": "FFEB9C"}  # Excel's "bad" and "neutral" fills


def _colour_by_severity(ws: Worksheet, sheet: layout.Sheet) -> None:
    """Rows coloured by their Severity (conditional formatting: it follows whatever is written)."""
    letter = layout.column_letter(sheet.keys.index("severity"))
    last = layout.column_letter(len(sheet.columns) - 1)
    for severity, colour in SEVERITY_FILLS.items():
        fill = PatternFill(start_color=colour, end_color=colour, fill_type="solid")
        ws.conditional_formatting.add(f"A2:{last}{VALIDATION_LAST_ROW}",
                                      FormulaRule(formula=[f'${letter}2="{severity}"'], fill=fill))


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
    print_setup(ws)


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
    lists.fill_lists_sheet(wb.create_sheet(formulas.LISTS_SHEET), print_setup)
    lists.add_names(wb)
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
    """Write next to the target, then rename: no half-written workbook if anything fails. A path
    that cannot be written (`workbook new` into a folder that does not exist) is a UserError."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"{path} cannot be written ({_why_not_written(exc)}): {_what_to_do(exc)}; "
                        "nothing was written.") from None
    finally:
        with contextlib.suppress(OSError):  # a name too long for the file system cannot even be looked up
            tmp.unlink(missing_ok=True)
    return path


def _why_not_written(exc: OSError) -> str:
    return {errno.ENOENT: "its folder does not exist", errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.EISDIR: "a folder of that name is there", errno.ENAMETOOLONG: "the name is too long for the file system",
            errno.ENOSPC: "the disk is full"}.get(exc.errno, exc.strerror or str(exc))


def _what_to_do(exc: OSError) -> str:
    return {errno.ENOENT: "create the folder first, or give another path",
            errno.ENOTDIR: "give a path whose folders are folders", errno.EISDIR: "give the name of a file, e.g. Company.xlsx",
            errno.ENAMETOOLONG: "give a shorter name", errno.ENOSPC: "free some space, then try again"}.get(
        exc.errno, "check that its folder exists and can be written, or choose another folder")


def save_template(path: str | os.PathLike, sample: Mapping[str, object] | None = None) -> Path:
    """Write the template (.xlsx) to `path`, reproducibly; returns the path."""
    return write_atomically(path, repack(workbook_bytes(build_template(sample))))
