"""Benchmark: the default command end to end on a big workbook, against a bare read of the same file.

    python benchmarks/bench_export.py [--invoices 100000] [--package winbooks | --package fec,sie | --package all] [--repeat 3]

The workbook is built from the real template (`workbook new`: every sheet, table, style and
validation), then 100,000 invoices x 5 lines are added through the toolkit's own write-back, then
it is made what a user's workbook is once Excel has saved it (`excel_saved`: every row holds its
computed columns' formulas and results; 1.6 GB of sheet XML at 100,000 invoices, against 0.3 GB
as the toolkit writes it: `--workbook template` measures that one). In one run it measures, as
medians of --repeat runs:
  - `ledger-export export COPY` as a user runs it: a fresh process timed from start to end
    (interpreter start and imports included), write-back included; the same with
    `--no-write-back`; and `ledger-export check`; each with its peak memory (VmHWM, plus the most
    its child processes held together, sampled every 250 ms), and each run as a ratio to a bare
    python-calamine read of every sheet of the same file made just before it,
  - and once, in a fresh process, each stage with its time and its own peak memory: imports,
    read, validate, plan (select, number, account, render), commit (files + register), write-back
    (as ratios to a bare read made at the start).
`--package all` runs every shipped package (PACKAGES); DATEV on a copy with its customer numbers.
Targets (issue 14): export with write-back <= 2.5x the bare read and <= 1 GB; check <= 1.5x.
The generated workbooks are cached in benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from toolkit import layout, sample  # noqa: E402

# Every shipped package: `all` runs each on the same workbook (DATEV on its adapted copy, see
# `workbook_for`). Peppol BIS 3 writes one e-invoice per document to a company or a private person
# with a Peppol ID (the others are left out with a warning): about 70 % of the benchmark's.
PACKAGES = ("winbooks", "bob50", "exact-globe", "datev", "fec", "sie", "csv-journal", "peppol-bis3")


def generate(path: Path, invoices: int, lines_per_invoice: int = 5) -> None:
    """The demo company from the template, its invoices replaced by `invoices` random ones."""
    from toolkit.book import template
    from toolkit.book.edits import Edits
    from toolkit.book.writeback import write_back

    settings, tables = sample.demo()
    tables = {name: rows for name, rows in tables.items() if name not in (layout.INVOICES.name, layout.INVOICE_LINES.name)}
    settings.update(period_from=dt.date(2026, 1, 1), period_to=dt.date(2026, 12, 31))
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})

    invoice_rows, line_rows = random_rows([row[0] for row in tables[layout.CUSTOMERS.name][1:]], invoices, lines_per_invoice)
    write_back(path, Edits().append_rows(layout.INVOICES.name, invoice_rows).append_rows(layout.INVOICE_LINES.name, line_rows),
               keep_backups=0)
    for backup in path.parent.glob(f"{path.stem}.backup-*"):
        backup.unlink()


def workbook(cache: Path, invoices: int, kind: str = "excel-saved") -> Path:
    """The cached benchmark workbook: `template` as the toolkit writes it (the computed columns'
    formulas in the tables' first row only, no results), or `excel-saved` as a user's file is
    once Excel has saved it (`excel_saved`)."""
    cache.mkdir(exist_ok=True)
    path = cache / f"bench-template-{invoices}-v3.xlsx"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        generate(path, invoices)
    if kind == "template":
        return path
    saved = cache / f"bench-excel-saved-{invoices}-v2.xlsx"
    if not saved.exists():
        print(f"generating {saved.name} ...", file=sys.stderr, flush=True)
        excel_saved(path, saved)
    return saved


# A data row's cells, and a cell's column and the rest of its opening tag.
_ROW = re.compile(rb'<row r="(\d+)"([^>]*)>(.*?)</row>', re.S)
_CELL = re.compile(rb'<c r="([A-Z]+)\d+"')


def excel_saved(source: Path, target: Path) -> None:
    """`source` as Excel saves it once the user has typed its rows: every data row of Invoices and
    Invoice lines holds its computed columns' formulas (a table's calculated column: Excel writes
    the whole formula in each cell, structured references are never shared formulas) with their
    results (what the toolkit computes, so Validate finds no difference). The rows are streamed:
    the Invoice lines part is ~1.5 GB at 100,000 invoices."""
    import zipfile

    from toolkit.accounting import ZERO, line_vat, sheet_amounts, typed_negative
    from toolkit.book.read import read_workbook
    from toolkit.book.survey import survey

    wb = read_workbook(source)
    customers = {c.customer_id: c for c in wb.customers}
    results: dict[layout.Sheet, dict[int, dict]] = {layout.INVOICES: {}, layout.INVOICE_LINES: {}}
    for invoice in wb.invoices:
        groups, amounts = sheet_amounts(invoice, wb.settings)
        sign = -1 if typed_negative(invoice) else 1
        net, vat = sign * sum((g.base for g in groups), ZERO), sign * sum((g.vat for g in groups), ZERO)
        customer = customers.get(invoice.customer_id)
        results[layout.INVOICES][invoice.where.row] = {
            "customer_name": customer.name if customer else "", "net": net, "vat": vat, "total": net + vat,
            "customer_number": customer.accounting_number if customer else ""}
        for line, amount in zip(invoice.lines, amounts):
            line_net = sign * amount.net
            tax = line_vat(line_net, line.vat_rate)
            results[layout.INVOICE_LINES][line.where.row] = {"net": line_net, "vat": tax, "total": line_net + tax}
    parts = {survey(source).sheets[sheet.name].part: sheet for sheet in results}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target.with_suffix(".partial"), "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/workbook.xml":  # Excel calculated it: it saves no request to calculate on load
                data = data.replace(b' fullCalcOnLoad="1"', b"")
            if info.filename not in parts:
                zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                continue
            sheet = parts[info.filename]
            member = zipfile.ZipInfo(info.filename, info.date_time)
            member.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(member, "w", force_zip64=True) as out:
                _with_results(data, sheet, results[sheet], out)
    target.with_suffix(".partial").rename(target)


def _with_results(data: bytes, sheet: layout.Sheet, results: dict[int, dict], out) -> None:
    """The sheet part with each row of `results` holding its computed cells: the first data row's
    formula (as the template wrote it) and the row's result."""
    computed = [c.key for c in sheet.columns if c.computed]
    letters = {key: layout.column_letter(sheet.keys.index(key)) for key in computed}
    formulas = {}  # key -> the first data row's cell attributes and formula
    first = _ROW.search(data, data.index(b'<row r="2"'))
    for key, letter in letters.items():
        found = re.search(rb'<c r="%s2"([^>]*)><f>(.*?)</f>' % letter.encode(), first.group(3), re.S)
        formulas[key] = (found.group(1), found.group(2))
    at, batch = 0, []
    for row in _ROW.finditer(data):
        number = int(row.group(1))
        values = results.get(number)
        if values is None:
            continue
        cells = {m.group(1).decode(): m.start() for m in _CELL.finditer(row.group(3))}
        body = row.group(3)
        bounds = sorted(cells.values()) + [len(body)]
        by_column = {col: body[start:bounds[bounds.index(start) + 1]] for col, start in cells.items()}
        for key, letter in letters.items():
            attributes, formula = formulas[key]
            value = values[key]
            if isinstance(value, str):
                value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                by_column[letter] = b'<c r="%s%d"%s t="str"><f>%s</f><v>%s</v></c>' % (
                    letter.encode(), number, attributes, formula, value.encode())
            else:
                by_column[letter] = b'<c r="%s%d"%s><f>%s</f><v>%s</v></c>' % (
                    letter.encode(), number, attributes, formula, str(value).encode())
        batch += [data[at:row.start()], b'<row r="%d"%s>' % (number, row.group(2)),
                  *(by_column[col] for col in sorted(by_column, key=lambda c: (len(c), c))), b"</row>"]
        at = row.end()
        if len(batch) > 40_000:
            out.write(b"".join(batch))
            batch.clear()
    batch.append(data[at:])
    out.write(b"".join(batch))


def workbook_for(path: Path, package: str) -> Path:
    """The benchmark workbook as `package` takes it: the same one, or for a package the demo must
    be adapted to (sample.ADAPTED: DATEV's 7-digit debtor numbers) a copy with the demo's
    customer numbers and Settings as `sample.demo(package)` has them (cached beside it)."""
    if package not in sample.ADAPTED:
        return path
    adapted = path.with_name(f"{path.stem}-{package}{path.suffix}")
    if adapted.exists():
        return adapted
    from toolkit.book.edits import Edits
    from toolkit.book.read import open_grid, read_table
    from toolkit.book.writeback import write_back

    settings, tables = sample.demo(package)
    wanted = {row[0]: row for row in tables[layout.CUSTOMERS.name]}
    customers = read_table(open_grid(path), layout.CUSTOMERS, [])
    edits = Edits()
    for where, cid in zip(customers.wheres, customers.column("customer_id")):
        if cid in wanted:
            edits.set(layout.CUSTOMERS.name, where.row, "accounting_number",
                      wanted[cid][layout.CUSTOMERS.keys.index("accounting_number")])
    for key in ("package", "customer_number_start"):
        edits.set_setting(key, settings[key])
    work = adapted.with_name(f".{adapted.name}")
    shutil.copy(path, work)
    write_back(work, edits, keep_backups=0)
    for backup in work.parent.glob(f"{work.stem}.backup-*"):
        backup.unlink()
    work.rename(adapted)
    return adapted


def random_rows(customers: list[str], invoices: int, lines_per_invoice: int = 5,
                products=((21, "700000"), (21, "700120"), (6, "700060"), (12, "700010"))) -> tuple[list, list]:
    """Random invoices (every 25th a credit note) and their lines, as rows in layout order; the
    same every run."""
    rng = random.Random(7)
    start = dt.date(2026, 1, 1)
    invoice_rows, line_rows = [], []
    for n in range(1, invoices + 1):
        number = f"2026-{n:06d}"
        invoice_rows.append(_row(layout.INVOICES, number=number, doc_type="credit note" if n % 25 == 0 else "invoice",
                                 date=start + dt.timedelta(days=n * 365 // (invoices + 1)),
                                 customer_id=rng.choice(customers), currency="EUR", description=f"Invoice {number}"))
        for line in range(1, lines_per_invoice + 1):
            rate, account = rng.choice(products)
            line_rows.append(_row(layout.INVOICE_LINES, invoice_number=number, line=line, description="Services",
                                  quantity=rng.randint(1, 9), unit_price=rng.randint(100, 99999) / 100,
                                  discount_pct=rng.choice((None, None, 5)), vat_rate=rate, vat_regime="domestic",
                                  ledger_account=account, account_source="manual"))
    return invoice_rows, line_rows


def _row(sheet: layout.Sheet, **values) -> list:
    return [values.get(key) for key in sheet.keys]


def compiled() -> None:
    """The toolkit's modules compiled to bytecode once, as an installed copy has them (pip compiles
    at install): the commands then start as on a user's machine, also where PYTHONDONTWRITEBYTECODE
    would have every run compile every module again."""
    import compileall

    compileall.compile_dir(HERE.parent / "toolkit", quiet=1)


def bare_read(path: Path) -> float:
    import python_calamine

    t0 = time.perf_counter()
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - t0


# The child's own peak: VmHWM belongs to the process image (ru_maxrss would count the benchmark
# it was forked from); read as the process ends (the command ends it with os._exit), so interpreter
# start, imports and the whole command count. The command's own child processes (the XML check of
# a big XML file or of many e-invoices) are sampled while it runs (`_children_rss`): ru_maxrss of
# RUSAGE_CHILDREN would not do, Linux keeps a forked child's pre-exec peak (the parent's size).
_PEAK_AT_EXIT = ("import os, re, runpy, sys\n"
                 "end = os._exit\n"
                 "def peak_then_end(code):\n"
                 "    print('BENCH-PEAK', re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read())[1], "
                 "file=sys.__stderr__, flush=True)\n"
                 "    end(code)\n"
                 "os._exit = peak_then_end\n"
                 "sys.argv = ['ledger-export', *{argv!r}]\n"
                 "runpy.run_module('toolkit', run_name='__main__', alter_sys=True)\n")


def _children_rss(pid: int) -> int:
    """The resident memory (kB) of the process's descendants, now (a few hundred small reads: the
    sampling takes ~1 % of a core every 250 ms, not the measured command's time)."""
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # ended meanwhile
                continue
            children[parent].append(entry)
    family, todo, total = [], [str(pid)], 0
    while todo:
        found = children.get(int(todo.pop()), [])
        family += found
        todo += found
    for member in family:
        try:
            with open(f"/proc/{member}/status", "rb") as status:
                total += int(re.search(rb"VmRSS:\s*(\d+)", status.read())[1])
        except (OSError, TypeError):  # ended meanwhile
            pass
    return total


def command(path: Path, args: list[str]) -> tuple[float, float]:
    """`ledger-export ARGS` on a fresh copy of the workbook as a user runs it: a fresh process,
    timed from its start to its end (interpreter start and imports included). (seconds, peak MB:
    the command's own, and the most its child processes held together at a time)"""
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / path.name
        shutil.copy(path, copy)
        argv = [a.replace("{book}", str(copy)) for a in args]
        with open(Path(work) / "out.txt", "w+") as out, open(Path(work) / "err.txt", "w+") as err:
            t0 = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-c", _PEAK_AT_EXIT.format(argv=argv)], stdout=out, stderr=err,
                                       text=True, cwd=HERE.parent)
            children = 0
            while process.poll() is None:
                children = max(children, _children_rss(process.pid))
                time.sleep(0.25)
            seconds = time.perf_counter() - t0
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        peak = next((l.split()[1] for l in stderr.splitlines() if l.startswith("BENCH-PEAK ")), None)
        if process.returncode != 0 or peak is None:  # a blocked export (1) would time nothing worth knowing
            raise SystemExit(f"ledger-export {' '.join(args)} failed ({process.returncode}):\n{stdout[-2000:]}\n"
                             f"{stderr[-2000:]}")
        return seconds, (int(peak) + children) / 1024


def stages(path: Path, package: str) -> dict:
    """Each stage of the default command once, in a fresh process: {"stages": {stage: {s, peak MB}},
    "output MB": the files' size}."""
    done = subprocess.run([sys.executable, __file__, "--stages-child", str(path), package], capture_output=True,
                          text=True, cwd=HERE.parent)
    if done.returncode:
        raise SystemExit(f"the stages of {package} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def _stages_child(path: Path, package: str) -> None:
    """The stages as the command runs them, each timed and its peak RSS taken (VmHWM, reset before
    each stage through /proc/self/clear_refs). The plan is dropped before the write-back, as the
    command line does."""
    import re

    def peak() -> float:
        return int(re.search(r"VmHWM:\s*(\d+)", Path("/proc/self/status").read_text())[1]) / 1024

    times: dict[str, dict[str, float]] = {}

    def stage(name: str, run):
        Path("/proc/self/clear_refs").write_text("5")
        t0 = time.perf_counter()
        result = run()
        times[name] = {"s": round(time.perf_counter() - t0, 2), "peak MB": round(peak())}
        return result

    t0 = time.perf_counter()
    from toolkit.app import export
    from toolkit.book.read import read_workbook
    from toolkit.book.writeback import write_back

    times["imports"] = {"s": round(time.perf_counter() - t0, 2), "peak MB": round(peak())}
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / path.name
        shutil.copy(path, copy)
        wb = stage("read", lambda: read_workbook(copy))
        stage("validate", lambda: export.validate(wb, package, wb.settings.period_from, wb.settings.period_to))
        del wb
        plan = stage("plan (read again from the cached file, validate, select, number, account, render)",
                     lambda: export.plan_export(export.ExportRequest(copy, package)))
        assert plan.status == "ready", plan.message
        output = sum(len(data) for _, data in plan.files) / 1e6
        result = stage("commit (files, register)", lambda: export.commit(plan))
        edits = result.edits
        plan = result = None
        stage("write-back", lambda: write_back(copy, edits))
    print(json.dumps({"stages": times, "output MB": round(output, 1)}))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--stages-child":
        _stages_child(Path(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--package", default="winbooks", help="a package id, several separated by commas, or 'all'")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-stages", action="store_true", help="skip the stage breakdown")
    parser.add_argument("--workbook", choices=("excel-saved", "template"), default="excel-saved",
                        help="excel-saved (default): every row with its computed columns' formulas and results, as "
                             "Excel saves a user's file; template: as the toolkit writes it, formulas in the first row only")
    args = parser.parse_args()
    compiled()
    path = workbook(HERE / ".cache", args.invoices, args.workbook)
    packages = PACKAGES if args.package == "all" else tuple(args.package.split(","))
    books = {package: workbook_for(path, package) for package in packages}

    def median(measure):
        runs = [measure() for _ in range(args.repeat)]
        return statistics.median(r[0] if isinstance(r, tuple) else r for r in runs), max(
            (r[1] for r in runs if isinstance(r, tuple)), default=0)

    baseline, _ = median(lambda: bare_read(path))
    report = {"invoices": args.invoices, "lines": args.invoices * 5, "workbook": args.workbook,
              "file MB": round(path.stat().st_size / 1e6, 1),
              "bare calamine read s": round(baseline, 2), "commands": {}}

    def measured(label: str, book: Path, argv: list[str]) -> None:
        # Each run is paired with a bare read of the same file just before it: this machine's speed
        # drifts by a third within a long run, and a ratio to a read made minutes earlier drifts too.
        runs = []
        for _ in range(args.repeat):
            bare = bare_read(book)
            runs.append((*command(book, argv), bare))
        seconds = statistics.median(s for s, _, _ in runs)
        ratio = statistics.median(s / bare for s, _, bare in runs)
        peak = max(p for _, p, _ in runs)
        bare = statistics.median(b for _, _, b in runs)
        report["commands"][label] = {"s": round(seconds, 2), "x bare read": round(ratio, 2), "bare read s": round(bare, 2),
                                     "peak MB": round(peak)}
        print(f"{label}: {seconds:.1f} s = {ratio:.2f}x (bare read {bare:.1f} s), {peak:.0f} MB", file=sys.stderr, flush=True)

    for package in packages:
        argv = ["export", "{book}", "--package", package]  # the export folder as a user gets it: beside the workbook
        measured(f"export --package {package}", books[package], argv)
        measured(f"export --package {package} --no-write-back", books[package], argv + ["--no-write-back"])
    first = packages[0]
    measured(f"check --package {first}", books[first], ["check", "{book}", "--package", first])
    if not args.no_stages:
        found = stages(books[first], first)
        report[f"stages of export --package {first} (once, fresh process)"] = {
            name: {**row, "x bare read": round(row["s"] / baseline, 2)} for name, row in found["stages"].items()}
        report["output MB"] = found["output MB"]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
