"""Reading a workbook file into the model, with python-calamine.

Columns are found by their header (the user may reorder, hide or add columns); every record keeps
its sheet, row and column letters so findings point at cells. What cannot be read becomes a
finding, never an exception: only a file that is not a workbook at all raises `WorkbookError`.
"""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import python_calamine

from toolkit import layout
from toolkit.layout import Sheet
from toolkit.model import (
    Customer,
    Finding,
    Invoice,
    InvoiceLine,
    LedgerAccount,
    Settings,
    VatRule,
    Where,
    Workbook,
    error,
)
from toolkit.values import Invalid, clean_text, fold_header, parser_for

HEADER_SEARCH_ROWS = 10


class WorkbookError(Exception):
    """The file cannot be read as a workbook at all (missing, not .xlsx/.xlsm, damaged)."""


class Grid:
    """The cells of one workbook file: calamine's fast values plus the cells holding Excel errors.

    calamine reads error cells (#N/A, #REF!) as empty strings, so they are recovered from the
    sheet XML in one pass (only when the file has any): an error must be a finding, not a blank.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise WorkbookError(f"{self.path}: no such file")
        try:
            self.book = python_calamine.CalamineWorkbook.from_path(str(self.path))
        except Exception as exc:  # calamine raises several unrelated types for a bad file
            raise WorkbookError(f"{self.path}: cannot be read as an Excel workbook ({exc})") from None
        self.sheet_names = list(self.book.sheet_names)
        self._errors = _error_cells(self.path) if self.path.suffix.lower() in (".xlsx", ".xlsm") else {}

    def find_sheet(self, name: str) -> str | None:
        """The sheet's actual name, matched without case and surrounding spaces."""
        wanted = fold_header(name)
        for actual in self.sheet_names:
            if fold_header(actual) == wanted:
                return actual
        return None

    def rows(self, sheet: str) -> list[list]:
        return self.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)

    def errors(self, sheet: str) -> dict[tuple[int, int], str]:
        """{(row0, col0): '#N/A'} for the sheet's error cells."""
        return self._errors.get(sheet, {})


def _error_cells(path: Path) -> dict[str, dict[tuple[int, int], str]]:
    try:
        with zipfile.ZipFile(path) as archive:
            targets = _sheet_parts(archive)
            found: dict[str, dict[tuple[int, int], str]] = {}
            for sheet, part in targets.items():
                data = archive.read(part)
                if b't="e"' not in data:
                    continue
                cells = {}
                for ref, text in _ERROR_CELL.findall(data):
                    row, col = _cell_index(ref.decode())
                    cells[(row, col)] = text.decode() or "#ERROR"
                found[sheet] = cells
            return found
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        return {}


_ERROR_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>]*?t="e"[^>]*>(?:<f[^>]*>.*?</f>|<f[^>]*/>)?<v>([^<]*)</v>', re.S)
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", _NS)}
    parts = {}
    for sheet in workbook.findall("m:sheets/m:sheet", _NS):
        ref = target.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        parts[sheet.get("name")] = ref.lstrip("/") if ref.startswith("/") else f"xl/{ref}"
    return parts


def _cell_index(ref: str) -> tuple[int, int]:
    letters = ref.rstrip("0123456789")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(ref[len(letters):]) - 1, col - 1


# ---- tables ------------------------------------------------------------------------------------


class Table:
    """The records of one table sheet: dicts by column key, each with its `Where`."""

    def __init__(self, sheet: Sheet, records: list[tuple[Where, dict]], columns: dict[str, str]):
        self.sheet = sheet
        self.records = records
        self.columns = columns  # key -> column letter, for the columns present


def read_table(grid: Grid, sheet: Sheet, findings: list[Finding]) -> Table:
    actual = grid.find_sheet(sheet.name)
    if actual is None:
        findings.append(
            Finding("sheet.missing", "error", sheet.name, "",
                    f"The sheet '{sheet.name}' is missing (renamed or deleted?). "
                    f"Restore it with its header row: {', '.join(c.header for c in sheet.columns)}.")
        )
        return Table(sheet, [], {})
    rows = grid.rows(actual)
    header_row, positions = _find_header(rows, sheet)
    if header_row is None:
        findings.append(
            Finding("sheet.header.missing", "error", sheet.name, "A1",
                    f"No header row found on '{sheet.name}': the first row must name the columns "
                    f"({', '.join(c.header for c in sheet.columns)}).")
        )
        return Table(sheet, [], {})
    columns = {key: layout.column_letter(pos) for key, pos in positions.items()}
    for col in sheet.columns:
        if col.required and col.key not in positions:
            findings.append(
                Finding("sheet.column.missing", "error", sheet.name, f"{layout.column_letter(len(rows[header_row]))}{header_row + 1}",
                        f"Column '{col.header}' is missing on '{sheet.name}': add it to the header row.")
            )
    plan = [(col.key, positions[col.key], parser_for(col.type, col.choices), col) for col in sheet.columns if col.key in positions]
    errors = grid.errors(actual)
    blank = dict.fromkeys(sheet.keys)
    records = []
    for index in range(header_row + 1, len(rows)):
        row = rows[index]
        if not any(v != "" and v is not None for v in row) and not _row_has_error(errors, index):
            continue  # blank rows in the middle are normal
        where = Where(sheet.name, index + 1, columns)
        values = dict(blank)
        width = len(row)
        for key, pos, parse, col in plan:
            raw = row[pos] if pos < width else None
            if raw == "" and (index, pos) in errors:
                findings.append(error("cell.error", where, key,
                                      f"{col.header} holds the Excel error {errors[(index, pos)]}: fix the formula or type the value."))
                values[key] = None
                continue
            try:
                value = values[key] = parse(raw)
            except Invalid as exc:
                findings.append(error(f"cell.invalid.{col.type}", where, key, f"{col.header}: {exc}."))
                continue
            if value is None and col.required:
                findings.append(error("cell.required", where, key, f"{col.header} is required: fill it in."))
        records.append((where, values))
    return Table(sheet, records, columns)


def _row_has_error(errors, index) -> bool:
    return bool(errors) and any(r == index for r, _ in errors)


def _find_header(rows: list[list], sheet: Sheet) -> tuple[int | None, dict[str, int]]:
    wanted = {fold_header(c.header): c.key for c in sheet.columns}
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        positions = {}
        for pos, value in enumerate(row):
            key = wanted.get(fold_header(value)) if isinstance(value, str) else None
            if key and key not in positions:
                positions[key] = pos
        if positions:
            return index, positions
    return None, {}


# ---- settings ----------------------------------------------------------------------------------


def read_settings(grid: Grid, findings: list[Finding]) -> Settings:
    actual = grid.find_sheet(layout.SETTINGS_SHEET)
    if actual is None:
        findings.append(Finding("sheet.missing", "error", layout.SETTINGS_SHEET, "",
                                f"The sheet '{layout.SETTINGS_SHEET}' is missing (renamed or deleted?)."))
        return Settings()
    by_label = {}
    for setting in layout.SETTINGS:
        by_label[fold_header(setting.label)] = setting
        by_label[fold_header(setting.key)] = setting
    values, where, extra = {}, {}, {}
    errors = grid.errors(actual)
    for index, row in enumerate(grid.rows(actual)):
        if not row or not isinstance(row[0], str) or not row[0].strip():
            continue
        label = clean_text(row[0])
        if fold_header(label) in (fold_header(layout.SETTINGS_HEADERS[0]),):
            continue
        raw = row[1] if len(row) > 1 else None
        cell = Where(layout.SETTINGS_SHEET, index + 1, {"value": "B"})
        setting = by_label.get(fold_header(label))
        if (index, 1) in errors:
            findings.append(error("cell.error", cell, "value", f"{label} holds the Excel error {errors[(index, 1)]}."))
            continue
        if setting is None:
            extra[label] = raw if not isinstance(raw, str) else clean_text(raw)
            where[label] = cell
            continue
        where[setting.key] = cell
        try:
            value = parser_for(setting.type, setting.choices)(raw)
        except Invalid as exc:
            findings.append(error(f"cell.invalid.{setting.type}", cell, "value", f"{setting.label}: {exc}."))
            continue
        if value is not None:
            values[setting.key] = value
    for setting in layout.SETTINGS:
        if setting.key not in values and setting.default is not None:
            values[setting.key] = setting.default
        if setting.required and values.get(setting.key) in (None, ""):
            cell = where.get(setting.key)
            findings.append(Finding("settings.missing", "error", layout.SETTINGS_SHEET, cell.cell("value") if cell else "",
                                    f"Setting '{setting.label}' is required: {setting.help}"))
    return Settings(**values, extra=extra, where=where)


# ---- the workbook ------------------------------------------------------------------------------


def read_workbook(path: str | Path) -> Workbook:
    grid = Grid(path)
    findings: list[Finding] = []
    settings = read_settings(grid, findings)
    tables = {sheet.name: read_table(grid, sheet, findings) for sheet in layout.TABLE_SHEETS}

    accounts = tuple(
        LedgerAccount(v["account"], v["name"] or "", v["kind"], v["active"] is not False, where)
        for where, v in tables[layout.LEDGER_ACCOUNTS.name].records
        if v["account"]
    )
    vat_rules = tuple(
        VatRule(v["rate"], v["regime"], v.get("valid_from"), v.get("valid_to"), v["revenue_account"] or "", v.get("vat_code") or "", where)
        for where, v in tables[layout.VAT_RULES.name].records
    )
    customers = tuple(
        Customer(
            v["customer_id"] or "", v["name"] or "", v.get("kind") or "company", v.get("vat_number") or "",
            v.get("street") or "", v.get("postal_code") or "", v.get("city") or "",
            (v.get("country") or "").upper(), (v.get("language") or "").upper(), v.get("email") or "",
            v.get("phone") or "", v.get("payment_terms"), v.get("accounting_number") or "",
            v.get("number_source") or "", v.get("import_batch") or "", where,
        )
        for where, v in tables[layout.CUSTOMERS.name].records
    )
    lines = tuple(
        InvoiceLine(
            v["invoice_number"] or "", v.get("line"), v.get("description") or "", v["quantity"], v["unit_price"],
            v.get("discount_pct") or Decimal(0), v["vat_rate"], v.get("vat_regime") or "domestic",
            v.get("ledger_account") or "", v.get("account_source") or "", where,
        )
        for where, v in tables[layout.INVOICE_LINES.name].records
    )
    by_invoice = defaultdict(list)
    for line in lines:
        by_invoice[line.invoice_number].append(line)
    invoices = tuple(
        Invoice(
            v["number"] or "", v["doc_type"], v["date"], v["customer_id"] or "", v.get("due_date"),
            (v.get("currency") or "EUR").upper(), v.get("payment_reference") or "", v.get("description") or "",
            v.get("discount_pct") or Decimal(0), v.get("credited_invoice") or "", v.get("exported_in") or "",
            tuple(by_invoice.get(v["number"] or "", ())), where,
        )
        for where, v in tables[layout.INVOICES.name].records
    )
    return Workbook(str(path), settings, accounts, vat_rules, customers, invoices, lines, tuple(findings))
