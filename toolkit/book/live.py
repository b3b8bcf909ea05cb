"""`Edits` applied to the workbook open in Excel, through xlwings (the ribbon buttons).

The same edits as the file applier (`writeback`), resolved the same way (columns by their header
through `address`, Check rows built once by `edits.show_findings`); only the final write differs:
whole ranges instead of XML. Excel's own rules need two extra cares here: a text starting with
"=", "+", "-" or "@" is written into a text-formatted cell so Excel does not take it for a
formula, and rows cannot be deleted in the open book (that is done on the file).
"""

from __future__ import annotations

import contextlib
from typing import Sequence

from toolkit import layout
from toolkit.book import address
from toolkit.book.edits import HIGHLIGHT, Edits, SheetEdits, cell_value, sheet_of

MAX_ROW = 1048576
MAX_COL = 16384
FORMULA_START = ("=", "+", "-", "@")


def show_findings(book, findings) -> None:
    """Rewrite the Check sheet (with a link to each cell) and move the highlights to the new cells."""
    apply(book, Edits().show_findings(findings))


def apply(book, edits: Edits) -> None:
    """Write `edits` into the open book: one write per run of adjacent edited cells of a column."""
    if edits.deleted:
        raise ValueError("deleting rows is done on the file, not in the open workbook")
    old_targets: list[tuple[str, str]] = []
    for name, changes in edits.of_sheets().items():
        sheet = _sheet(book, name)
        old_targets += _apply_sheet(sheet, changes, name == layout.CHECK.name and edits.highlight is not None)
    if edits.settings:
        _apply_settings(book, edits.settings)
    if edits.highlight is not None:
        _highlight(book, old_targets, None)
        _highlight(book, edits.highlight, HIGHLIGHT)


def _sheet(book, name: str):
    actual = address.find_sheet([s.name for s in book.sheets], name)
    if actual is not None:
        return book.sheets[actual]
    if sheet_of(name) not in layout.OUTPUT_SHEETS or sheet_of(name).placeholder:
        from toolkit.book.writeback import WriteBackError

        raise WriteBackError(f"The workbook has no sheet named {name!r} (renamed or deleted?).")
    with _refused(None, name):
        sheet = book.sheets.add(name, after=book.sheets[len(book.sheets) - 1])
    with _refused(sheet.range((1, 1))):
        sheet.range((1, 1)).value = [c.header for c in sheet_of(name).columns]
    return sheet


@contextlib.contextmanager
def _refused(rng, sheet_name: str | None = None):
    """Excel refuses to change the locked cells of a protected sheet, part of a merged cell, or
    the sheets of a protected workbook: the user gets the sheet, the cells and Excel's own words
    (pywin32 puts them third in its error's details), not a COM error code."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - COM and appscript raise their own kinds
        from toolkit.book.writeback import WriteBackError

        details = exc.args[2] if len(exc.args) > 2 and isinstance(exc.args[2], tuple) else ()
        said = str(details[2]) if len(details) > 2 and details[2] else str(exc)
        where = (f"the sheet '{rng.sheet.name}' at {rng.get_address(False, False)}" if rng is not None
                 else f"the workbook (adding the sheet '{sheet_name}')")
        raise WriteBackError(
            f"Excel refused to change {where}: {said.strip()} If the sheet (or the workbook's structure) is "
            "protected, unprotect it (Review > Unprotect Sheet, or Protect Workbook); unmerge merged cells "
            "there; then press the button again.") from None


def _apply_sheet(sheet, changes: SheetEdits, read_old_targets: bool) -> list[tuple[str, str]]:
    declared = changes.sheet
    header, columns = _columns(sheet, declared, changes.keys())
    old_targets = []
    for key in {k for values in changes.cells.values() for k in values}:
        values = {row: cell_value(v[key]) for row, v in changes.cells.items() if key in v}
        for top, run in _runs(values):
            _write_column(sheet, top, columns[key], run)
    if changes.replaced is not None:
        last = _last_row(sheet, columns)
        if last > header:
            if read_old_targets:
                s, c = columns["sheet"], columns["cell"]
                old = sheet.range((header + 1, min(s, c)), (last, max(s, c))).options(ndim=2).value
                s, c = (0, c - s) if s < c else (s - c, 0)
                old_targets = [(r[s], r[c]) for r in old if isinstance(r[s], str) and isinstance(r[c], str)]
            # Contents, links and formats of the sheet's own columns only: cells of the user's
            # beside them (their own sheet of that name) stay.
            for first, run in _runs(dict.fromkeys(columns.values())):
                block = sheet.range((header + 1, first), (last, first + len(run) - 1))
                with _refused(block):
                    block.clear()
        _write_rows(sheet, declared, columns, header + 1, changes.replaced)
        for index, target in enumerate(changes.links or ()):
            if target:
                cell = sheet.range((header + 1 + index, columns[changes.link_key]))
                with _refused(cell):
                    cell.add_hyperlink(target, str(changes.replaced[index][declared.keys.index(changes.link_key)] or ""))
    if changes.appended:
        first = max(_last_row(sheet, columns), header, max(changes.cells, default=0)) + 1
        _write_rows(sheet, declared, columns, first, changes.appended)
    return old_targets


def _write_rows(sheet, declared: layout.Sheet, columns: dict[str, int], first: int, rows: list[list]) -> None:
    """Rows (values in layout order) from row `first`, each value under its header."""
    for index, key in enumerate(declared.keys):
        values = [cell_value(row[index]) if index < len(row) else None for row in rows]
        if key in columns and not declared.column(key).computed and any(v is not None for v in values):
            _write_column(sheet, first, columns[key], values)


def _write_column(sheet, top: int, col: int, values: list) -> None:
    block = sheet.range((top, col), (top + len(values) - 1, col))
    with _refused(block):
        for offset, value in enumerate(values):
            if isinstance(value, str) and value.lstrip(" \t\r\n").startswith(FORMULA_START):
                sheet.range((top + offset, col)).number_format = "@"  # text, never a formula
        if len(values) == 1:
            block.value = values[0]
        else:
            block.options(transpose=True).value = values


def _runs(values: dict[int, object]) -> list[tuple[int, list]]:
    """{row: value} as runs of adjacent rows: (first row, values); columns likewise."""
    runs: list[tuple[int, list]] = []
    for row in sorted(values):
        if runs and runs[-1][0] + len(runs[-1][1]) == row:
            runs[-1][1].append(values[row])
        else:
            runs.append((row, [values[row]]))
    return runs


def _columns(sheet, declared: layout.Sheet, add: Sequence[str] = ()) -> tuple[int, dict[str, int]]:
    """(1-based header row, layout key -> 1-based column). Keys of `add` that are missing get
    their header right of every value on the sheet (`address.placed_columns`)."""
    width = max(sheet.range((r, MAX_COL)).end("left").column for r in range(1, address.header_search_rows(declared) + 1))
    top = sheet.range((1, 1), (address.header_search_rows(declared), width)).options(ndim=2).value
    index, positions = address.find_header(top, declared)
    header = (index or 0) + 1
    found = {key: pos + 1 for key, pos in positions.items()}
    added = address.placed_columns(found, add, _right_edge(sheet)) if address.missing_columns(found, add) else {}
    for key, col in added.items():
        with _refused(sheet.range((header, col))):
            sheet.range((header, col)).value = declared.column(key).header
    return header, {**found, **added}


def _right_edge(sheet) -> int:
    """The last column holding a value. Excel's used range may be wider (formatted cells count),
    so its values are read, once, in bulk."""
    used = sheet.used_range
    rows = used.options(ndim=2).value
    last = max((i for row in rows for i, v in enumerate(row, 1) if v not in (None, "")), default=0)
    return used.column + last - 1 if last else 0


def _last_row(sheet, columns: dict[str, int]) -> int:
    """The last row with a value in one of the layout columns (1 when there is none)."""
    return max([1] + [sheet.range((MAX_ROW, col)).end("up").row for col in columns.values()])


def _apply_settings(book, values: dict[str, object]) -> None:
    sheet = _sheet_or_error(book, layout.SETTINGS_SHEET)
    last = sheet.range((MAX_ROW, 1)).end("up").row
    labels = sheet.range((1, 1), (last, 1)).options(ndim=1).value
    rows: dict[str, int] = {}
    for n, label in enumerate(labels if isinstance(labels, list) else [labels], 1):
        setting = address.setting_for(label)
        if setting is not None:
            rows.setdefault(setting.key, n)
    for key, value in values.items():
        setting = layout.SETTINGS_BY_KEY[key]
        row = rows.get(key)
        if row is None:
            row = last = last + 1
            with _refused(sheet.range((row, 1), (row, 3))):
                sheet.range((row, 1)).value = setting.label
                if setting.help:
                    sheet.range((row, 3)).value = setting.help
        _write_column(sheet, row, 2, [cell_value(value)])


def _sheet_or_error(book, name: str):
    actual = address.find_sheet([s.name for s in book.sheets], name)
    if actual is None:
        from toolkit.book.writeback import WriteBackError

        raise WriteBackError(f"The workbook has no sheet named {name!r} (renamed or deleted?).")
    return book.sheets[actual]


def _highlight(book, cells, color) -> None:
    """Colour (or, with None, uncolour) cells; clearing leaves cells another colour alone."""
    names = {s.name: s.name for s in book.sheets}
    for sheet_name, cell in cells:
        actual = address.find_sheet(names, str(sheet_name or ""))
        if actual is None or address.split_ref(cell) is None:
            continue
        rng = book.sheets[actual].range(str(cell).replace("$", ""))
        if color is None and rng.color != HIGHLIGHT:
            continue
        with _refused(rng):
            rng.color = color
