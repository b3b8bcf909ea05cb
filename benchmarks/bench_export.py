"""Benchmark: a workbook of 100,000 invoices x 5 lines, timed stage by stage against a bare read.

    python benchmarks/bench_export.py [--invoices 100000] [--package winbooks]

In one run it times a bare python-calamine read of the same file (the baseline), then the
toolkit's read, checks, accounting, rendering and the whole export (a fresh process, so its peak
memory is its own). Target: the whole export within 2.5x the bare read. The generated workbook is
cached in benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from toolkit import layout, sample  # noqa: E402


def generate(path: Path, invoices: int, lines_per_invoice: int = 5) -> None:
    """The demo company's settings, accounts, rules and customers, with many invoices (write-only
    openpyxl: the plain template builder is too slow for 600,000 rows)."""
    import openpyxl

    settings, tables = sample.demo()
    rng = random.Random(7)
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet(layout.SETTINGS_SHEET)
    ws.append(list(layout.SETTINGS_HEADERS))
    settings.update(period_from=dt.date(2026, 1, 1), period_to=dt.date(2026, 12, 31))
    for setting in layout.SETTINGS:
        ws.append([setting.label, settings.pop(setting.key, None)])
    for label, value in settings.items():  # the packages' parameters
        ws.append([label, value])
    for sheet in (layout.LEDGER_ACCOUNTS, layout.VAT_RULES, layout.CUSTOMERS):
        ws = book.create_sheet(sheet.name)
        ws.append([c.header for c in sheet.columns])
        for row in tables[sheet.name]:
            ws.append(row)
    customers = [row[0] for row in tables[layout.CUSTOMERS.name] if row[7] == "BE"]
    inv_ws = book.create_sheet(layout.INVOICES.name)
    inv_ws.append([c.header for c in layout.INVOICES.columns])
    line_ws = book.create_sheet(layout.INVOICE_LINES.name)
    line_ws.append([c.header for c in layout.INVOICE_LINES.columns])
    start = dt.date(2026, 1, 1)
    products = [(21, "700000"), (6, "700060"), (12, "700120"), (0, "700010")]
    for n in range(1, invoices + 1):
        number = f"2026-{n:06d}"
        day = start + dt.timedelta(days=n * 364 // invoices)
        credit = n % 25 == 0
        inv_ws.append([number, "credit note" if credit else "invoice", day, None, rng.choice(customers),
                       "EUR", None, f"Invoice {number}", None, None, None])
        for line in range(1, lines_per_invoice + 1):
            rate, account = rng.choice(products)
            line_ws.append([number, line, "Services", rng.randint(1, 9), rng.randint(100, 99999) / 100,
                            rng.choice((None, None, 5)), rate, "domestic", account, "manual"])
    book.save(path)


def bare_read(path: Path) -> float:
    import python_calamine

    t0 = time.perf_counter()
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - t0


def stages(path: Path, package: str) -> dict[str, float]:
    from toolkit import checks
    from toolkit.spec import load_spec, render, resolve_params
    from toolkit.accounting import build_document
    from toolkit.model import Batch
    from toolkit.book.read import read_workbook
    from toolkit.vatrules import RuleBook

    times = {}
    t0 = time.perf_counter()
    wb = read_workbook(path)
    times["read"] = time.perf_counter() - t0
    spec = load_spec(package)
    t0 = time.perf_counter()
    findings = checks.check_workbook(wb) + checks.check_package(wb, spec.accounts, spec.vat_code)
    times["checks"] = time.perf_counter() - t0
    assert not any(f.is_error for f in findings), [f for f in findings if f.is_error][:3]
    t0 = time.perf_counter()
    customers = {c.customer_id: c for c in wb.customers}
    rules = RuleBook(wb.vat_rules)
    vat_code = functools.cache(spec.vat_code)
    documents = tuple(build_document(i, customers[i.customer_id], wb.settings, rules, vat_code) for i in wb.invoices)
    times["accounting"] = time.perf_counter() - t0
    params, _ = resolve_params(spec, wb.settings)
    batch = Batch("bench", dt.datetime(2026, 12, 31), wb.settings.period_from, wb.settings.period_to, wb.settings,
                  params, documents, tuple(customers.values()), ())
    t0 = time.perf_counter()
    rendered = render(spec, batch)
    times["render"] = time.perf_counter() - t0
    times["output MB"] = sum(len(data) for _, data in rendered.files) / 1e6
    return times


def whole_export(path: Path, package: str) -> tuple[float, float]:
    """The CLI's export in a fresh process: (seconds, peak MB)."""
    with tempfile.TemporaryDirectory() as out:
        code = (
            "import resource, sys, time; from pathlib import Path;"
            "from toolkit.app.export import ExportRequest, run_export;"
            "t0 = time.perf_counter();"
            f"r = run_export(ExportRequest(Path({str(path)!r}), package={package!r}, out_dir=Path({out!r})));"
            "t = time.perf_counter() - t0;"
            "assert r.status == 'written', r.message;"
            "print(t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE.parent)
        if done.returncode:
            raise SystemExit(done.stderr)
        seconds, peak = done.stdout.split()
        return float(seconds), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--package", default="winbooks")
    args = parser.parse_args()
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    path = cache / f"bench-{args.invoices}-v2.xlsx"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        generate(path, args.invoices)
    baseline = min(bare_read(path) for _ in range(2))
    times = stages(path, args.package)
    export_seconds, peak = whole_export(path, args.package)
    report = {"invoices": args.invoices, "lines": args.invoices * 5, "package": args.package,
              "bare calamine read s": round(baseline, 2), **{f"{k} s" if k != "output MB" else k: round(v, 2) for k, v in times.items()},
              "whole export s": round(export_seconds, 2), "whole export / bare read": round(export_seconds / baseline, 2),
              "whole export peak MB": round(peak)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
