"""Exactly once, nothing lost: exports run in separate processes that race each other or are killed
mid-commit, then the next run's recovery. After each round, whatever happened:

  - every document is in at most one committed export (exactly one once the next run is done);
  - every committed export's files exist with their recorded SHA-256, and no visible export
    folder or temporary file is left that the register does not account for;
  - the workbook carries every committed export: its Export log row, "Exported in".

The processes are forked from the test (the toolkit already imported: a round takes a fraction of
a second), each one a real separate process with its own locks and file handles.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from toolkit import cli, layout
from toolkit.app import register as reg
from toolkit.app.register import Register
from toolkit.book.read import read_workbook

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CRASHED = 70  # the exit status of a process that "died" at the injected step
FORK = multiprocessing.get_context("fork") if sys.platform != "win32" else None

pytestmark = pytest.mark.skipif(FORK is None, reason="forks processes (POSIX)")


def _run(argv: list[str], output: str, crash_step: str | None = None, nth: int = 1, start=None) -> None:
    """A process running `ledger-export ARGV`, dying (os._exit) at the nth `crash_step` of the
    commit, or at the write-back's final rename ('write-back')."""
    with open(output, "w") as out:
        sys.stdout = sys.stderr = out
        if crash_step == "write-back":
            book = Path(argv[1]).resolve()
            for name in ("replace", "rename"):
                real = getattr(os, name)

                def dying(src, dst, *args, _real=real, **kwargs):
                    if Path(dst).resolve() == book:
                        out.flush()
                        os._exit(CRASHED)
                    return _real(src, dst, *args, **kwargs)

                setattr(os, name, dying)
        elif crash_step:
            from toolkit.app import transaction

            seen = []

            def reached(step: str) -> None:
                seen.append(step)
                if step == crash_step and seen.count(step) == nth:
                    out.flush()
                    os._exit(CRASHED)

            transaction.reached = reached
        if start is not None:
            start.wait(10)
        try:
            code = cli.main(argv)
        except BaseException:  # noqa: BLE001 - a traceback is what the tests look for
            traceback.print_exc()
            code = 99
        out.flush()
    os._exit(code)


def _process(argv, output, **kwargs):
    return FORK.Process(target=_run, args=(argv, str(output)), kwargs=kwargs)


def assert_consistent(book: Path, outputs=()) -> list[dict]:
    """The invariants; returns the committed exports."""
    root = book.parent / "demo-exports"
    for output in outputs:
        text = Path(output).read_text()
        assert "Traceback" not in text, text
    committed = Register(root).entries()
    carried = Counter(number for entry in committed for number in entry["documents"])
    assert all(n == 1 for n in carried.values()), [d for d, n in carried.items() if n > 1]
    count, problems = reg.check(root)
    assert problems == [] and count == len(committed)
    assert not list(book.parent.glob(".demo.*tmp")), "a temporary file of the workbook was left"
    ws = openpyxl.load_workbook(book, read_only=True)[layout.EXPORT_LOG.name]
    logged = [row[0] for row in ws.iter_rows(min_row=2, values_only=True) if row and row[0]]
    assert sorted(logged) == sorted(e["id"] for e in committed)  # no Export log row lost or doubled
    owner = {number: entry["id"] for entry in committed for number in entry["documents"]}
    for invoice in read_workbook(book).invoices:
        assert invoice.exported_in == owner.get(invoice.number, ""), invoice.number
    return committed


def all_documents(book: Path) -> set[str]:
    return {i.number for i in read_workbook(book).invoices}


@pytest.mark.parametrize("overlap", [False, True])
def test_two_exports_started_together(demo, tmp_path, overlap):
    """Ten rounds of two processes exporting the same workbook at the same moment: the same
    period (the second finds nothing new), or overlapping periods (both write, no document twice)."""
    args = ([["--to", "2026-02-20"], ["--from", "2026-02-01"]] if overlap else [[], []])
    written = 0
    for round_ in range(5):
        book = tmp_path / f"round{round_}" / "demo.xlsx"
        book.parent.mkdir()
        shutil.copy(demo, book)
        start = FORK.Event()
        outputs = [book.parent / f"out{n}.txt" for n in (1, 2)]
        racers = [_process(["export", str(book), *a], out, start=start) for a, out in zip(args, outputs)]
        for p in racers:
            p.start()
        start.set()
        for p in racers:
            p.join(60)
        assert [p.exitcode for p in racers] in ([0, 0], [0, 2], [2, 0]), [o.read_text() for o in outputs]
        committed = assert_consistent(book, outputs)
        written += len(committed)
        assert len({e["id"] for e in committed}) == len(committed)
        if overlap and all(p.exitcode == 0 for p in racers):
            assert set().union(*(e["documents"] for e in committed)) == all_documents(book)
    assert written >= 5


STEPS = [("pending", 1), ("file", 1), ("file", 2), ("staged", 1), ("visible", 1), ("committed", 1), ("write-back", 1)]


@pytest.mark.parametrize("step, nth", STEPS)
def test_killed_at_each_step_of_the_commit_then_recovered(demo, step, nth):
    crashed = _process(["export", str(demo)], demo.parent / "crash.txt", crash_step=step, nth=nth)
    crashed.start()
    crashed.join(60)
    assert crashed.exitcode == CRASHED, (demo.parent / "crash.txt").read_text()
    root = demo.parent / "demo-exports"
    status = Register(root).load().status
    assert list(status.values()) == (["pending"] if step in ("pending", "file", "staged", "visible") else ["committed"])
    if step == "write-back":  # the new workbook was written beside it, not yet moved into place
        assert list(demo.parent.glob(".demo.*.xlsx.tmp"))

    assert cli.main(["export", str(demo)]) == 0  # the next run recovers, then exports what is left
    committed = assert_consistent(demo)
    assert set().union(*(e["documents"] for e in committed)) == all_documents(demo)
    assert len(committed) == 1  # either the interrupted export counts, or the rerun made the only one
    statuses = Register(root).load().status
    assert sorted(statuses.values()) == (["committed", "failed"] if step in ("pending", "file", "staged") else ["committed"])


def test_killed_at_random_moments(demo, tmp_path):
    """SIGKILL at a random moment of an export (reading, rendering, committing, writing back),
    thirteen times; the deterministic steps above make twenty."""
    started = time.perf_counter()
    probe = tmp_path / "probe" / "demo.xlsx"
    probe.parent.mkdir()
    shutil.copy(demo, probe)
    timed = _process(["export", str(probe)], probe.parent / "out.txt")
    began = time.perf_counter()
    timed.start()
    timed.join(60)
    duration = time.perf_counter() - began
    rounds = random.Random(11)
    for round_ in range(13):
        book = tmp_path / f"kill{round_}" / "demo.xlsx"
        book.parent.mkdir()
        shutil.copy(demo, book)
        victim = _process(["export", str(book)], book.parent / "out.txt")
        victim.start()
        time.sleep(rounds.uniform(0, duration))
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(60)
        assert cli.main(["export", str(book)]) == 0
        committed = assert_consistent(book)
        assert set().union(*(e["documents"] for e in committed)) == all_documents(book)
    assert time.perf_counter() - started < 120
