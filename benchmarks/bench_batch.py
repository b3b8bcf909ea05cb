"""Benchmark: a bookkeeping office's month-end run, `ledger-export export FOLDER --jobs N`.

    python benchmarks/bench_batch.py [--workbooks 20] [--invoices 5000] [--jobs 1 2]

Builds --workbooks copies of a workbook with --invoices x 5 lines as Excel saves it (bench_export's
builder; --workbook template: as the toolkit writes it), then times the whole batch (the command as a user runs it: one process, start to end,
every workbook exported and written back) with each --jobs value on fresh copies, with the time
of bare reads of all the workbooks in the same run for comparison.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_export import bare_read, compiled, workbook  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workbooks", type=int, default=20)
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workbook", choices=("excel-saved", "template"), default="excel-saved",
                        help="as Excel saves a user's file (default), or as the toolkit writes it (see bench_export.py)")
    args = parser.parse_args()
    compiled()
    source = workbook(HERE / ".cache", args.invoices, args.workbook)
    reads = args.workbooks * statistics.median(bare_read(source) for _ in range(3))
    print(f"{args.workbooks} workbooks of {args.invoices:,} invoices x 5 lines; bare reads of all: {reads:.1f} s")
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory() as work:
            office = Path(work) / "office"
            office.mkdir()
            for n in range(args.workbooks):
                shutil.copy(source, office / f"client-{n:02d}.xlsx")
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "toolkit", "export", str(office), "--jobs", str(jobs)],
                                  capture_output=True, text=True, cwd=HERE.parent)
            seconds = time.perf_counter() - t0
            if done.returncode or f"{args.workbooks} workbook(s): {args.workbooks} done" not in done.stdout:
                raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
            print(f"--jobs {jobs}: {seconds:.1f} s ({seconds / args.workbooks:.2f} s per workbook, {seconds / reads:.2f}x the bare "
                  "reads)", flush=True)


if __name__ == "__main__":
    main()
