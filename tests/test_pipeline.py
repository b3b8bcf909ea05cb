"""One pipeline: `check` and `export` reach the same verdict on every workbook, because they run
the same plan; nothing in the period is left out without a word; no import cycle in toolkit/."""

from __future__ import annotations

import ast
import datetime as dt
import json
import shutil
from pathlib import Path

import openpyxl

from toolkit import cli, layout

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


# ---- workbooks with one planted problem each (edited with openpyxl, found by header) -------------


def _column(ws, header: str) -> int:
    for cell in ws[1]:
        if cell.value == header:
            return cell.column
    raise KeyError(header)


def _set(ws, row: int, header: str, value) -> None:
    ws.cell(row=row, column=_column(ws, header), value=value)


def _setting(wb, label: str, value) -> None:
    ws = wb[layout.SETTINGS_SHEET]
    row = next(c.row for c in ws["A"] if c.value == label)
    ws.cell(row=row, column=2, value=value)


def _lines_of(wb, number: str) -> list[int]:
    ws = wb[layout.INVOICE_LINES.name]
    col = _column(ws, "Invoice number")
    return [r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=col).value == number]


def _duplicate_numbers(wb):
    ws = wb[layout.CUSTOMERS.name]
    _set(ws, 2, "Accounting customer number", "100500")
    _set(ws, 3, "Accounting customer number", "100500")


def _start_below_numbers_in_use(wb):
    _set(wb[layout.CUSTOMERS.name], 2, "Accounting customer number", "100001")
    _setting(wb, "Customer number start", 100000)


def _invalid_number(wb):
    _set(wb[layout.CUSTOMERS.name], 2, "Accounting customer number", "12 34/5")


def _unreadable_date(wb):
    _set(wb[layout.INVOICES.name], 5, "Date", "31/02/2026")


def _missing_invoices_sheet(wb):
    del wb[layout.INVOICES.name]


def _header_below_row_10(wb):
    wb[layout.INVOICES.name].insert_rows(1, 12)


def _zero_document(wb):
    number = wb[layout.INVOICES.name].cell(row=3, column=1).value
    for row in _lines_of(wb, number):
        _set(wb[layout.INVOICE_LINES.name], row, "Unit price", 0)


def _error_outside_the_period(wb):
    ws = wb[layout.INVOICES.name]
    _set(ws, 2, "Date", dt.datetime(2025, 12, 15))
    number = ws.cell(row=2, column=1).value
    _set(wb[layout.INVOICE_LINES.name], _lines_of(wb, number)[0], "Ledger account", None)


def _manual_numbers_missing(wb):
    _setting(wb, "Customer numbers", "manage manually")


def _unknown_package(wb):
    _setting(wb, "Accounting package", "nosuch")


PLANTED = [_duplicate_numbers, _start_below_numbers_in_use, _invalid_number, _unreadable_date,
           _missing_invoices_sheet, _header_below_row_10, _zero_document, _error_outside_the_period,
           _manual_numbers_missing, _unknown_package]


def _workbooks(tmp_path: Path) -> list[Path]:
    books = [SAMPLES / "demo.xlsx", SAMPLES / "mistakes.xlsx"]
    for plant in PLANTED:
        wb = openpyxl.load_workbook(SAMPLES / "demo.xlsx")
        plant(wb)
        path = tmp_path / f"{plant.__name__.strip('_')}.xlsx"
        wb.save(path)
        books.append(path)
    return books


def _errors_printed(text: str) -> set[str]:
    """Finding ids of the error lines `print_findings` writes: '  error   E13    code   message'."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("  error ")}


def _outside_rows(path: Path) -> set[tuple[str, int]]:
    """Invoice and line rows of documents dated outside the Settings' period: an export never
    carries them, so their errors do not block it (read here with openpyxl, not the toolkit)."""
    wb = openpyxl.load_workbook(path)
    if layout.INVOICES.name not in wb.sheetnames:
        return set()
    settings = {r[0]: r[1] for r in wb[layout.SETTINGS_SHEET].iter_rows(values_only=True) if r[0]}
    start, end = settings["Period from"], settings["Period to"]
    ws = wb[layout.INVOICES.name]
    outside = set()
    for row in range(2, ws.max_row + 1):
        day = ws.cell(row=row, column=3).value
        if isinstance(day, dt.datetime) and not (start <= day <= end):
            outside.add((layout.INVOICES.name, row))
            number = ws.cell(row=row, column=1).value
            outside.update((layout.INVOICE_LINES.name, r) for r in _lines_of(wb, number))
    return outside


def test_check_and_export_agree_on_every_workbook(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    verdicts = {}
    for book in _workbooks(tmp_path):
        check_code = cli.main(["check", str(book), "--json"])
        found = json.loads(capsys.readouterr().out)
        outside = _outside_rows(book)
        expected = {f["code"] for f in found if f["severity"] == "error" and (f["sheet"], f["row"]) not in outside}

        export_code = cli.main(["export", str(book), "--out", str(tmp_path / f"{book.stem}-out"), "--no-write-back"])
        refused = _errors_printed(capsys.readouterr().out)

        assert check_code == (1 if any(f["severity"] == "error" for f in found) else 0), book.name
        assert export_code == (1 if expected else 0), (book.name, expected)
        assert refused == expected, book.name
        verdicts[book.stem] = export_code
    # The planted problems that must stop an export do; the others do not.
    assert verdicts == {
        "demo": 0, "mistakes": 1, "duplicate_numbers": 1, "start_below_numbers_in_use": 0, "invalid_number": 1,
        "unreadable_date": 1, "missing_invoices_sheet": 1, "header_below_row_10": 1, "zero_document": 1,
        "error_outside_the_period": 0, "manual_numbers_missing": 1, "unknown_package": 1,
    }


def test_an_unreadable_date_blocks_instead_of_leaving_the_invoice_out(tmp_path, capsys):
    [book] = [b for b in _workbooks(tmp_path) if b.stem == "unreadable_date"]
    assert cli.main(["export", str(book), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "C5" in out and "cell.invalid.date" in out and not (tmp_path / "out").exists()


def test_a_document_of_zero_is_refused_not_dropped(tmp_path, capsys):
    [book] = [b for b in _workbooks(tmp_path) if b.stem == "zero_document"]
    assert cli.main(["export", str(book), "--out", str(tmp_path / "out")]) == 1
    assert "document.zero" in capsys.readouterr().out and not (tmp_path / "out").exists()


def test_dry_run_writes_nothing(tmp_path, capsys):
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    before = book.read_bytes()
    assert cli.main(["export", str(book), "--dry-run"]) == 0
    assert "Dry run, nothing written: 64 document(s) to export: ACT.txt, CSF.txt." in capsys.readouterr().out
    assert book.read_bytes() == before and not (tmp_path / "demo-exports").exists()


# ---- the preview ---------------------------------------------------------------------------------


def _journal_sums(path: Path) -> tuple[dict, dict]:
    """Debit and credit per account, and receivable (debit - credit on 400000) per journal, read
    from a csv-journal export file with the csv module."""
    import csv
    from collections import defaultdict
    from decimal import Decimal

    per_account = defaultdict(lambda: [Decimal(0), Decimal(0)])
    per_journal = defaultdict(Decimal)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            debit = Decimal(row["Debit"].replace(",", ".") or 0)
            credit = Decimal(row["Credit"].replace(",", ".") or 0)
            per_account[row["Account"]][0] += debit
            per_account[row["Account"]][1] += credit
            if row["Account"] == "400000":
                per_journal[row["Journal"]] += debit - credit
    return dict(per_account), dict(per_journal)


def test_preview_totals_equal_the_export_files_and_then_say_exported(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    out = tmp_path / "out"
    assert cli.main(["preview", str(book), "--package", "csv-journal", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    documents = [l for l in text.splitlines() if l.startswith("  2026-") or l.startswith("  CN2026-")]
    assert len(documents) == 64 and all(l.endswith("new") for l in documents)

    assert cli.main(["export", str(book), "--package", "csv-journal", "--out", str(out)]) == 0
    capsys.readouterr()
    [journal] = out.glob("*/journal-*.csv")
    per_account, per_journal = _journal_sums(journal)

    def amounts(line: str) -> list:
        from decimal import Decimal
        return [Decimal(a.replace(",", "")) for a in line.split()[1:4]]

    section = text.split("Total per account (debit, credit, balance):\n")[1].split("Total per VAT code")[0]
    shown = {l.split()[0]: amounts(l) for l in section.splitlines()}
    assert {a: v[:2] for a, v in shown.items()} == {a: list(v) for a, v in per_account.items()}
    journals = text.split("Total per journal:\n")[1].split("Total per account")[0]
    assert {l.split()[0]: amounts(l)[2] for l in journals.splitlines()} == per_journal

    assert cli.main(["preview", str(book), "--package", "csv-journal", "--out", str(out)]) == 0
    after = capsys.readouterr().out
    documents = [l for l in after.splitlines() if l.startswith("  2026-") or l.startswith("  CN2026-")]
    assert len(documents) == 64 and all("exported in 20260402-090000-csv-journal" in l for l in documents)
    assert "Nothing new to export" in after
# ---- structure ----------------------------------------------------------------------------------


def _imports(path: Path, package: str) -> set[str]:
    """The toolkit modules `path` imports (at any depth, also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolkit"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("toolkit"))
    return found


def test_no_import_cycle_in_toolkit():
    root = ROOT / "toolkit"
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {name: {m for m in _imports(path, name) if m in modules and m != name} for name, path in modules.items()}
    assert len(graph) > 40 and "toolkit.app.export" in graph["toolkit.cli"], "the import scan is stale"
    state: dict[str, int] = {}
    cycles = []

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_an_export_opens_the_workbook_once(tmp_path, monkeypatch, capsys):
    """Recovery (which reads the Settings and the Export log) and the plan read one Grid."""
    from toolkit.book import read

    opened = []

    class Counted(read.Grid):
        def __init__(self, path, *args):
            opened.append(Path(path).name)
            super().__init__(path, *args)

    monkeypatch.setattr(read, "Grid", Counted)
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book), "--package", "csv-journal"]) == 0
    assert opened == ["demo.xlsx"]
    opened.clear()  # the second export: the register has an entry, so recovery reads the Export log
    assert cli.main(["export", str(book)]) == 0
    assert opened == ["demo.xlsx"]
    capsys.readouterr()


def test_the_peppol_preview_names_the_documents_it_does_not_write(capsys):
    assert cli.main(["preview", str(SAMPLES / "demo.xlsx"), "--package", "peppol-bis3"]) == 0
    documents = [l for l in capsys.readouterr().out.splitlines() if l.startswith(("  2026-", "  CN2026-"))]
    skipped = [l for l in documents if "not written by this package: a private person" in l]
    assert len(documents) == 64 and len(skipped) == 25 and not any("exported in ?" in l for l in documents)
