"""Benchmark: the default command end to end on a big workbook, against a bare read of the same file.

    python benchmarks/bench_export.py [--invoices 100000] [--package winbooks | --package all] [--repeat 3]

The workbook is built from the real template (`workbook new`: every sheet, table, style and
validation), then 100,000 invoices x 5 lines are added through the toolkit's own write-back. In
one run it measures, as medians of --repeat runs:
  - a bare python-calamine read of every sheet (the baseline the ratios are against),
  - `ledger-export export COPY` as a user runs it (a fresh process, write-back included), with
    `--no-write-back`, and `ledger-export check`, each with its peak memory (max RSS),
  - and once, in this process, each stage: read, validate, plan (select, number, account,
    render), commit (files + register), write-back.
Targets (issue 14): export with write-back <= 2.5x the bare read and <= 1 GB; check <= 1.5x.
The generated workbook is cached in benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
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

PACKAGES = ("winbooks", "bob50", "exact-globe", "datev", "fec", "sie", "csv-journal")


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


def bare_read(path: Path) -> float:
    import python_calamine

    t0 = time.perf_counter()
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - t0


def command(path: Path, args: list[str]) -> tuple[float, float]:
    """`ledger-export ARGS` on a fresh copy of the workbook, in a fresh process: (seconds, peak MB)."""
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / path.name
        shutil.copy(path, copy)
        argv = [a.replace("{book}", str(copy)).replace("{out}", str(Path(work) / "out")) for a in args]
        # VmHWM is this process image's peak (ru_maxrss would include the benchmark it was forked from).
        code = ("import re, sys, time; from toolkit.cli import main;"
                f"t0 = time.perf_counter(); rc = main({argv!r}); t = time.perf_counter() - t0;"
                "peak = int(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read())[1]);"
                "print('BENCH', rc, t, peak / 1024, file=sys.stderr)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE.parent)
        line = next((l for l in done.stderr.splitlines() if l.startswith("BENCH ")), None)
        if line is None or line.split()[1] not in ("0", "1"):
            raise SystemExit(f"ledger-export {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        _, _, seconds, peak = line.split()
        return float(seconds), float(peak)


def stages(path: Path, package: str) -> dict[str, float]:
    """Each stage of the default command once, in this process."""
    from toolkit.app import export
    from toolkit.book.read import read_workbook
    from toolkit.book.writeback import write_back

    times = {}
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / path.name
        shutil.copy(path, copy)
        t0 = time.perf_counter()
        wb = read_workbook(copy)
        times["read"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        export.validate(wb, package, wb.settings.period_from, wb.settings.period_to)
        times["validate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        plan = export.plan_export(export.ExportRequest(copy, package, out_dir=Path(work) / "out"))
        times["plan (read, validate, select, number, account, render)"] = time.perf_counter() - t0
        assert plan.status == "ready", plan.message
        t0 = time.perf_counter()
        result = export.commit(plan)
        times["commit (files, register)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_back(copy, result.edits)
        times["write-back"] = time.perf_counter() - t0
        times["output MB"] = sum(len(data) for _, data in plan.files) / 1e6
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--package", default="winbooks", help="a package id, or 'all'")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-stages", action="store_true", help="skip the in-process stage breakdown")
    args = parser.parse_args()
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    path = cache / f"bench-template-{args.invoices}-v3.xlsx"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        generate(path, args.invoices)

    def median(measure):
        runs = [measure() for _ in range(args.repeat)]
        return statistics.median(r[0] if isinstance(r, tuple) else r for r in runs), max(
            (r[1] for r in runs if isinstance(r, tuple)), default=0)

    baseline, _ = median(lambda: bare_read(path))
    report = {"invoices": args.invoices, "lines": args.invoices * 5, "file MB": round(path.stat().st_size / 1e6, 1),
              "bare calamine read s": round(baseline, 2), "commands": {}}
    for package in PACKAGES if args.package == "all" else (args.package,):
        for label, argv in ((f"export --package {package}", ["export", "{book}", "--package", package, "--out", "{out}"]),
                            (f"export --package {package} --no-write-back",
                             ["export", "{book}", "--package", package, "--out", "{out}", "--no-write-back"])):
            seconds, peak = median(lambda: command(path, argv))
            report["commands"][label] = {"s": round(seconds, 2), "x bare read": round(seconds / baseline, 2), "peak MB": round(peak)}
            print(f"{label}: {seconds:.1f} s = {seconds / baseline:.2f}x, {peak:.0f} MB", file=sys.stderr, flush=True)
    seconds, peak = median(lambda: command(path, ["check", "{book}", "--package", "winbooks" if args.package == "all" else args.package]))
    report["commands"]["check"] = {"s": round(seconds, 2), "x bare read": round(seconds / baseline, 2), "peak MB": round(peak)}
    if not args.no_stages:
        report["stages (s, once)"] = {k: round(v, 2) for k, v in stages(path, "winbooks" if args.package == "all" else args.package).items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
