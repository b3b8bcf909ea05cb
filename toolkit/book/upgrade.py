"""`workbook upgrade`: a user's data moved into a freshly built workbook of this version.

Cells are carried as they are (found by their headers, not re-typed), so an upgrade never loses or
"corrects" what the user wrote; the Check sheet and the Customer import paste area start empty.
The old file is kept as a backup beside the new one.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree as ET

from toolkit import layout
from toolkit.book import address, lists, template
from toolkit.book.package import Package
from toolkit.book.read import Grid, WorkbookError
from toolkit.book.writeback import backup_name, check_writable, copy_backup, followed
from toolkit.values import clean_text

CARRIED = layout.TABLE_SHEETS + (layout.EXPORT_LOG,)


def _raw_table(grid: Grid, sheet: layout.Sheet, dropped: list[str]) -> list[list]:
    actual = grid.find_sheet(sheet.name)
    if actual is None:
        return []
    rows = grid.rows(actual)
    header, positions = address.find_header(rows, sheet)
    if header is None:
        if any(v not in ("", None) for row in rows for v in row):  # rows the rebuild would lose without a word
            raise WorkbookError(f"The '{actual}' sheet has no header row the toolkit recognises (such as "
                                f"'{sheet.columns[0].header}'), so its rows cannot be carried into the new workbook: "
                                "give its columns their headers back (as in a new workbook), then upgrade again. "
                                "Nothing was changed.")
        return []
    known = set(positions.values())
    dropped += [f"{sheet.name}: column '{v}'" for i, v in enumerate(rows[header]) if v not in ("", None) and i not in known]
    carried = []
    totals = grid.totals_rows(actual)  # a table's Total Row sums the records; the new table has none
    for index, row in enumerate(rows[header + 1:], start=header + 1):
        if index in totals:
            continue
        values = [row[positions[key]] if key in positions and positions[key] < len(row) else None for key in sheet.keys]
        if any(v not in ("", None) for v in values):
            carried.append([None if v == "" else v for v in values])
    return carried


def _raw_settings(grid: Grid) -> dict[str, object]:
    actual = grid.find_sheet(layout.SETTINGS_SHEET)
    if actual is None:
        return {}
    values = {}
    for row in grid.rows(actual)[1:]:
        if row and isinstance(row[0], str) and row[0].strip():
            label = clean_text(row[0])
            value = row[1] if len(row) > 1 and row[1] != "" else None
            setting = address.setting_for(label)
            values[setting.key if setting else label] = value
    return values


def _move_vat_codes(grid: Grid, data: dict, dropped: list[str]) -> None:
    """The old 'Package VAT code' column of VAT rules becomes rows of the VAT codes sheet for the
    package in Settings (one row per regime, rate and code: rules that differ only by date share it)."""
    legacy = layout.Sheet(layout.VAT_RULES.name, None, layout.VAT_RULES.columns + (layout.VAT_RULES_LEGACY_CODE,))
    rows = _raw_table(grid, legacy, [])
    column = f"{legacy.name}: column '{layout.VAT_RULES_LEGACY_CODE.header}'"
    package = data[layout.SETTINGS_SHEET].get("package") or layout.SETTINGS_BY_KEY["package"].default
    rate, regime, code = (legacy.keys.index(k) for k in ("rate", "regime", "vat_code"))
    moved = []
    for row in rows:
        entry = [package, row[regime], row[rate], None, row[code]]
        if row[code] not in (None, "") and entry not in moved:
            moved.append(entry)
    if column in dropped:
        dropped.remove(column)
    data[layout.VAT_CODES.name] = moved + list(data.get(layout.VAT_CODES.name) or [])


_CUSTOM_PROPERTIES = "docProps/custom.xml"
# Parts a user adds in Excel that a rebuilt workbook does not have (the template makes none of them).
_ADDED_PARTS = (("xl/comments", "comments (notes)"), ("xl/threadedComments/", "comments (notes)"),
                ("xl/drawings/drawing", "pictures, shapes, text boxes or charts"), ("xl/charts/", "charts"),
                ("xl/media/", "pictures, shapes, text boxes or charts"),
                ("xl/pivotTables/", "pivot tables"), ("xl/pivotCache/", "pivot tables"),
                ("xl/slicers/", "slicers"), ("xl/slicerCaches/", "slicers"),
                ("xl/timelines/", "timelines"), ("xl/timelineCaches/", "timelines"),
                ("xl/externalLinks/", "links to other workbooks"), ("customXml/", "custom XML data"),
                (_CUSTOM_PROPERTIES, "custom document properties (a sensitivity label, your organisation's fields)"),
                ("xl/ctrlProps/", "form controls or ActiveX controls"), ("xl/activeX/", "form controls or ActiveX controls"),
                ("xl/embeddings/", "embedded objects"), ("xl/connections.xml", "data connections and queries"),
                ("xl/queryTables/", "data connections and queries"), ("xl/model/", "a data model (Power Pivot)"),
                ("xl/richData/", "pictures in cells"), ("xl/chartsheets/", "chart sheets"),
                ("xl/dialogsheets/", "dialog sheets"))
# Parts the rebuilt workbook has (or Excel makes again from it): nothing of the user's own is lost
# with them. (Their content is: the sheets' cells are carried; the rest is named above or below.)
_REBUILT_PARTS = ("[Content_Types].xml", "_rels/", "docProps/", "customUI/", "xl/_rels/", "xl/workbook.xml",
                  "xl/styles.xml", "xl/theme/", "xl/worksheets/", "xl/tables/", "xl/sharedStrings.xml",
                  "xl/calcChain.xml", "xl/vbaProject", "xl/printerSettings/", "xl/metadata.xml", "xl/persons/",
                  "xl/drawings/")
# The names the template defines: the dropdowns' lists (toolkit.book.lists), the print titles; Excel's filter ranges.
_OWN_NAMES = {source.name for source in lists.COLUMN_LISTS.values()} | {"_xlnm.Print_Titles", "_xlnm._FilterDatabase"}


def _parts_not_rebuilt(archive: zipfile.ZipFile) -> list[str]:
    """What the parts of `archive` hold that the rebuilt workbook will not: the known kinds by name,
    any other by its folder (an add-in's or a later Excel's part must not go without a word)."""
    lost = []
    for name in archive.namelist():
        if name == _CUSTOM_PROPERTIES and b"property" not in archive.read(name):
            continue  # LibreOffice writes the part empty
        what = next((what for prefix, what in _ADDED_PARTS if name.startswith(prefix)), None)
        if what is None and not name.startswith(_REBUILT_PARTS):
            what = f"other content of the file ({name.rsplit('/', 1)[0] + '/' if '/' in name else name})"
        if what is not None:
            lost.append(what)
    return list(dict.fromkeys(lost))


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _names_and_protection(path: Path) -> list[str]:
    """The workbook's named ranges and print areas of the user's own, and its sheet and structure
    protection: the rebuilt workbook has the template's names and no protection."""
    book = Package(path)
    try:
        root = ET.fromstring(book.read(book.workbook))
        sheets = [sheet.get("name") for sheet in root.iterfind("m:sheets/m:sheet", _NS)]
        lost = []
        for name in root.iterfind("m:definedNames/m:definedName", _NS):
            label, local = name.get("name") or "", name.get("localSheetId")
            if label in _OWN_NAMES:
                continue
            scope = sheets[int(local)] if local and local.isdigit() and int(local) < len(sheets) else None
            if label == "_xlnm.Print_Area" and scope:
                lost.append(f"the print area of '{scope}'")
            elif not label.startswith("_xlnm."):
                lost.append(f"the named range '{label}'" + (f" (of the sheet '{scope}')" if scope else ""))
        protection = root.find("m:workbookProtection", _NS)
        if protection is not None and any(v in ("1", "true") for v in (protection.get("lockStructure"), protection.get("lockWindows"))):
            lost.append("the protection of the workbook's structure (protect it again: Review > Protect Workbook)")
        for name, part in book.sheets.items():
            with book.open(part) as stream:
                if _protected(stream):
                    lost.append(f"the protection of the sheet '{name}' (protect it again: Review > Protect Sheet)")
        return lost
    finally:
        book.close()


_SHEET_PROTECTION = re.compile(rb"<(?:\w+:)?sheetProtection\b([^>]*)>")
_PROTECTS = re.compile(rb'\ssheet="(?:1|true)"')


def _protected(stream) -> bool:
    """Whether a sheet part holds a sheetProtection that protects (it follows the rows: the part is
    read through, a block at a time, never held whole)."""
    carry = b""
    while block := stream.read(1 << 20):
        text = carry + block
        match = _SHEET_PROTECTION.search(text)
        if match:
            return _PROTECTS.search(match[1]) is not None
        carry = text[-2000:]  # a tag cut by the block's end is whole in the next search
    return False


def _own_sheets(grid: Grid) -> list[str]:
    """The sheets the rebuilt workbook will not have: the user's own."""
    from toolkit.book import formulas, xlsm

    built = {address.fold_header(name) for name in layout.ALL_SHEETS + (formulas.LISTS_SHEET, xlsm.START_SHEET, xlsm.CONF_SHEET)}
    return [name for name in grid.sheet_names if address.fold_header(name) not in built]


def _missing_sheets(grid: Grid, notes: list[str]) -> None:
    """A sheet the rebuild carries that is not there: renamed ('Invoices' -> 'Factures'), its
    rows would be left behind as a sheet of the user's own and the new one built empty, so the
    upgrade stops while the workbook has a sheet of its own; without one, nowhere else can hold
    them, and the sheet is rebuilt empty, said. VAT codes is left out: versions before it lack it."""
    missing = [name for name in (layout.SETTINGS_SHEET,) + tuple(s.name for s in CARRIED if s is not layout.VAT_CODES)
               if grid.find_sheet(name) is None]
    if not missing:
        return
    own = _own_sheets(grid)
    if own:
        sheets = ", ".join(f"'{name}'" for name in missing)
        raise WorkbookError(f"The sheet{'s' if len(missing) > 1 else ''} {sheets} {'are' if len(missing) > 1 else 'is'} "
                            f"missing (renamed or deleted?), and the workbook has sheets the toolkit does not know "
                            f"({', '.join(repr(name) for name in own)}): the rows of a renamed sheet would not be carried "
                            f"into the new workbook. Give the sheet its name back (right-click its tab, Rename) or, if it "
                            f"was deleted, add an empty sheet of that name; then upgrade again. Nothing was changed.")
    notes += [f"The sheet '{name}' was missing: the new workbook has it again, empty." for name in missing]


def _not_rebuilt(path: Path, grid: Grid) -> list[str]:
    """What the user made that the rebuilt workbook will not have: their own sheets, and comments,
    pictures, shapes and charts anywhere, and macros of their own (an upgrade used to drop them
    without a word)."""
    from toolkit.book import xlsm

    lost = [f"sheet '{name}' (a sheet of your own)" for name in _own_sheets(grid)]
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        lost += _parts_not_rebuilt(archive)
        if xlsm.VBA_PART in names:
            lost += _own_code(archive.read(xlsm.VBA_PART))
    return lost + _names_and_protection(path)


def _own_code(project_bin: bytes) -> list[str]:
    """The user's own VBA in the workbook's project: the rebuilt one has only the toolkit's
    modules (LedgerExport, xlwings) and empty workbook and sheet modules."""
    from toolkit.book import vba, xlsm

    ours = {m.name for m in xlsm.vba_modules([]) if m.kind == "standard"}
    try:
        modules = vba.read_modules(project_bin)
    except Exception:  # noqa: BLE001 - any damage: what it held cannot be named, only pointed to
        return ["the VBA project (it could not be read; any macros of your own are in the backup)"]
    lost = []
    for module in modules:
        if module.kind == "standard" and module.name not in ours:
            lost.append(f"VBA module '{module.name}' (macros of your own)")
        elif module.kind != "standard" and _has_code(module.source):
            lost.append(f"VBA code in '{module.name}' (macros of your own)")
    return lost


def _has_code(source: str) -> bool:
    """Whether a module holds more than the attribute and option lines every module starts with."""
    return any(line.strip() and not line.startswith(("Attribute ", "Option ")) for line in source.splitlines())


class Upgraded(NamedTuple):
    path: Path
    backup: Path
    dropped: list[str]  # what could not be carried (still in the backup)
    notes: list[str]  # what the upgrade decided for the user, to be told


def upgrade(path: Path, now: dt.datetime | None = None) -> Upgraded:
    """Rebuild `path` in place, keeping the old file as a backup."""
    from toolkit.book import xlsm

    path = followed(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise WorkbookError(f"{path}: only .xlsx and .xlsm workbooks can be upgraded.")
    check_writable(path)  # not under Excel: its next save would put the old workbook back
    grid = Grid(path)
    notes: list[str] = []
    _missing_sheets(grid, notes)
    dropped: list[str] = []
    data: dict[str, object] = {sheet.name: _raw_table(grid, sheet, dropped) for sheet in CARRIED}
    settings = data[layout.SETTINGS_SHEET] = _raw_settings(grid)
    if "rounding" not in settings:  # the amounts this workbook exported before must not move by a cent
        settings["rounding"] = layout.ROUNDING_BEFORE_SETTING
        notes.append(f"Rounding: set to '{layout.ROUNDING_BEFORE_SETTING}', the rule of the version this workbook "
                     f"came from, so its amounts stay as exported. '{layout.ROUNDINGS[0]}' (the default of new "
                     f"workbooks) is a choice for a new period.")
    _move_vat_codes(grid, data, dropped)
    dropped += _not_rebuilt(path, grid)
    backup = backup_name(path, now or dt.datetime.now(), "before-upgrade")
    copy_backup(path, backup)
    if path.suffix.lower() == ".xlsm":
        xlsm.build_xlsm(path, data)
    else:
        template.save_template(path, data)
    return Upgraded(path, backup, dropped, notes)
