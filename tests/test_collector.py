"""The cycle collector's policy (toolkit.collector): paused while a workbook is read, documents are
built and a command runs; always switched back to what it was."""

from __future__ import annotations

import gc
from pathlib import Path

from toolkit import cli, collector
from toolkit.book.read import read_workbook

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_pauses_nest_and_restore_what_was_there():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves the outer pause alone
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


def test_the_reader_and_a_command_leave_the_collector_as_they_found_it(monkeypatch):
    seen = []
    assert read_workbook(SAMPLES / "demo.xlsx").invoices and gc.isenabled()
    from toolkit.app import check as check_module

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    original = check_module.plan_export
    monkeypatch.setattr(check_module, "plan_export", spy)
    assert cli.main(["check", str(SAMPLES / "demo.xlsx")]) == 0
    assert seen == [False] and gc.isenabled()
