"""Benchmark: write-back into a workbook of 100,000 invoices x 5 lines built from the real template.

    python benchmarks/bench_writeback.py [--invoices 100000] [--openpyxl]

The workbook is `workbook new --sample`'s (all sheets, tables, styles, validations) with the
invoices and lines written into its Invoices and Invoice lines tables the way Excel stores them
(shared strings, the columns' styles, tables sized to the data). Each stage runs in a fresh
process on a fresh copy, so its time and peak memory are its own:

- bare read: python-calamine reading every sheet (the yardstick of the export benchmarks);
- export write-back: "Exported in" on every invoice and an Export log row (what `export` writes);
- log row only: one Export log row (a write-back in proportion to what changes);
- check --write: 1,000 findings on the Check sheet, their cells highlighted on Invoice lines;
- openpyxl load + save (with --openpyxl): what write-back cost before it patched the zip.

The workbook is cached in benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_export import random_rows  # noqa: E402
from toolkit import layout, sample  # noqa: E402

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def generate(path: Path, invoices: int, lines_per_invoice: int = 5) -> None:
    from toolkit.book import template
    from toolkit.book.package import Package
    from toolkit.book.sheetxml import escape_text, serial

    settings, tables = sample.demo()
    settings.update(period_from=dt.date(2026, 1, 1), period_to=dt.date(2026, 12, 31))
    data = {name: rows for name, rows in tables.items() if name not in (layout.INVOICES.name, layout.INVOICE_LINES.name)}
    seed = tmp = path.with_suffix(".seed.xlsx")
    template.save_template(seed, {**data, layout.SETTINGS_SHEET: settings})
    customers = [row[0] for row in tables[layout.CUSTOMERS.name] if row[7] == "BE"]
    invoice_rows, line_rows = random_rows(customers, invoices, lines_per_invoice,
                                          products=((21, "700000"), (6, "700060"), (12, "700120"), (0, "700010")))
    book = Package(seed)
    with zipfile.ZipFile(seed) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    strings: list[str] = []  # the template writes inline strings; Excel saves a shared string table
    index: dict[str, int] = {}

    def shared(text: str) -> int:
        i = index.get(text)
        if i is None:
            i = index[text] = len(strings)
            strings.append(text)
        return i

    for sheet, rows in ((layout.INVOICES, invoice_rows), (layout.INVOICE_LINES, line_rows)):
        part = book.sheets[sheet.name]
        xml = parts[part]
        styles = {}
        for col in re.findall(rb"<col\b[^>]*>", xml):
            attrs = dict(re.findall(rb'(\w+)="([^"]*)"', col))
            if b"style" in attrs:
                styles[int(attrs[b"min"])] = int(attrs[b"style"])
        header = re.search(rb"<row r=\"1\".*?</row>", xml, re.S).group(0)
        out = io.BytesIO()
        for r, row in enumerate(rows, start=2):
            cells = []
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                ref, s = f"{layout.column_letter(c - 1)}{r}", styles.get(c, 0)
                if isinstance(value, str):
                    cells.append(f'<c r="{ref}" s="{s}" t="s"><v>{shared(value)}</v></c>')
                elif isinstance(value, dt.date):
                    cells.append(f'<c r="{ref}" s="{s}"><v>{serial(value)}</v></c>')
                else:
                    cells.append(f'<c r="{ref}" s="{s}"><v>{value}</v></c>')
            out.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())
        last = f"{layout.column_letter(len(sheet.columns) - 1)}{len(rows) + 1}"
        xml = re.sub(rb"<sheetData>.*?</sheetData>|<sheetData/>", lambda _: b"<sheetData>" + header + out.getvalue() + b"</sheetData>",
                     xml, count=1, flags=re.S)
        parts[part] = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="A1:{last}"'.encode(), xml, count=1)
        for table in book.related(part, "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"):
            parts[table] = re.sub(rb'ref="A1:[A-Z]+\d+"', f'ref="A1:{last}"'.encode(), parts[table])
    book.close()
    sst = "".join(f"<si><t>{escape_text(s)}</t></si>" for s in strings)
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    parts["xl/sharedStrings.xml"] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{MAIN}" '
                                     f'count="{len(strings)}" uniqueCount="{len(strings)}">{sst}</sst>').encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    tmp.unlink()


def _cache_name(invoices: int) -> str:
    """The cached workbook's name, new whenever the layout's columns change."""
    import hashlib

    columns = repr([(s.name, s.keys) for s in layout.TABLE_SHEETS + layout.OUTPUT_SHEETS]).encode()
    return f"writeback-{invoices}-{hashlib.sha1(columns).hexdigest()[:8]}.xlsx"


# ---- stages, each in its own process -------------------------------------------------------------


def stage_bare(path: str) -> None:
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(path)
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python(skip_empty_area=False)


def stage_export(path: str) -> None:
    from toolkit.book.writeback import Edits, write_back

    count = int(re.search(r"writeback-(\d+)", path).group(1))
    rows = range(2, count + 2)  # the generated invoices fill rows 2.. (the export has their rows)
    edits = Edits()
    for row in rows:
        edits.set(layout.INVOICES.name, row, "exported_in", "20261231-120000-winbooks")
    edits.append_rows(layout.EXPORT_LOG.name, [["20261231-120000-winbooks", "2026-12-31 12:00", "winbooks",
                                                "2026-01-01 to 2026-12-31", len(rows), 15, "ACT.txt, CSF.txt", "ab" * 32]])
    return edits, lambda: write_back(path, edits)


def stage_log(path: str) -> None:
    from toolkit.book.writeback import Edits, write_back

    edits = Edits().append_rows(layout.EXPORT_LOG.name, [["X", "2026-12-31 12:00", "winbooks", "p", 1, 1, "ACT.txt", "ab"]])
    return edits, lambda: write_back(path, edits)


def stage_check(path: str) -> None:
    from toolkit.book.writeback import Edits, write_back
    from toolkit.model import Finding

    lines = int(re.search(r"writeback-(\d+)", path).group(1)) * 5
    findings = [Finding("line.account.missing", "error", layout.INVOICE_LINES.name, f"I{2 + n * (lines // 1000)}",
                        "No account.") for n in range(1000)]
    edits = Edits().show_findings(findings)
    return edits, lambda: write_back(path, edits)


def stage_openpyxl(path: str) -> None:
    import openpyxl

    def run():
        wb = openpyxl.load_workbook(path)
        wb["Invoices"]["K2"] = "x"
        wb.save(path)
    return None, run


STAGES = {"bare read": stage_bare, "export write-back": stage_export, "log row only": stage_log,
          "check --write (1,000 findings)": stage_check, "openpyxl load + save": stage_openpyxl}


def child(name: str, path: str) -> None:
    """Run one stage and print its seconds (setup excluded)."""
    import time

    stage = STAGES[name]
    if stage is stage_bare:
        t0 = time.perf_counter()
        stage(path)
    else:
        _, run = stage(path)
        t0 = time.perf_counter()
        run()
    print(time.perf_counter() - t0, _peak_mib())


def _peak_mib() -> float:
    """This process's peak RSS: VmHWM belongs to the process image (ru_maxrss would include the
    parent's size at fork time), so a parent that just generated the workbook does not count."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    except (OSError, AttributeError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, path: Path) -> tuple[float, float]:
    """(seconds, peak MiB) of a stage in a fresh process on a fresh copy of the workbook."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copy(path, copy)
        done = subprocess.run([sys.executable, __file__, "--child", name, str(copy)], capture_output=True, text=True,
                              cwd=HERE.parent)
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stderr}")
        seconds, peak = done.stdout.split()[-2:]
        return float(seconds), float(peak)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the median is reported")
    parser.add_argument("--openpyxl", action="store_true", help="also time openpyxl load + save (slow)")
    args = parser.parse_args()
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    path = cache / _cache_name(args.invoices)
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        generate(path, args.invoices)
    names = [n for n in STAGES if args.openpyxl or n != "openpyxl load + save"]
    report = {"invoices": args.invoices, "lines": args.invoices * 5, "file MB": round(path.stat().st_size / 1e6, 1)}
    bare = None
    for name in names:
        runs = sorted(measure(name, path) for _ in range(1 if name.startswith("openpyxl") else args.repeat))
        seconds, peak = runs[len(runs) // 2]
        bare = bare or seconds
        report[name] = {"s": round(seconds, 2), "x bare read": round(seconds / bare, 2), "peak MiB": round(peak)}
        print(f"{name}: {report[name]}", flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
