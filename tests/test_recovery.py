"""Recovery of the workbook: a committed export whose write-back never reached the workbook."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from toolkit import layout
from toolkit.app.export import ExportRequest, run_export
from toolkit.app.recovery import workbook_repair, writing
from toolkit.app.register import Register
from toolkit.book.read import read_workbook
from toolkit.book.writeback import write_back

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    path = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", path)
    return path


def carried(path: Path):
    """What the workbook says about its exports: Exported in, customer numbers, Export log."""
    wb = read_workbook(path)
    log = list(openpyxl.load_workbook(path, read_only=True)[layout.EXPORT_LOG.name].iter_rows(min_row=2, values_only=True))
    return ({i.number: i.exported_in for i in wb.invoices},
            {c.customer_id: (c.accounting_number, c.number_source) for c in wb.customers},
            [row for row in log if any(v is not None for v in row)])


def test_a_workbook_that_missed_its_write_back_is_repaired_as_the_export_would_have(demo, tmp_path):
    twin = tmp_path / "twin" / "demo.xlsx"  # the same export, written back normally, to compare
    twin.parent.mkdir()
    shutil.copy(demo, twin)
    result = run_export(ExportRequest(demo))
    assert result.status == "written" and result.entry["generated_numbers"]
    root = demo.parent / "demo-exports"
    write_back(twin, result.edits)

    with writing(demo) as op:  # the crash came before the write-back: the next operation repairs
        assert op.root == root
        assert len(op.notes) == 1 and result.entry["id"] in op.notes[0] and "64 document(s)" in op.notes[0]
    assert carried(demo) == carried(twin)
    exported, numbers, log = carried(demo)
    assert set(exported.values()) == {result.entry["id"]} and len(log) == 1

    with writing(demo) as op:  # repaired once: nothing more to do
        assert op.notes == []
    assert carried(demo) == carried(twin)


def test_repair_fills_only_empty_cells_and_skips_what_is_not_this_workbooks(demo, tmp_path):
    result = run_export(ExportRequest(demo))
    loaded = Register(demo.parent / "demo-exports").load()
    wb = read_workbook(demo)
    first = min(wb.invoices, key=lambda i: i.where.row)
    customer = next(c for c in wb.customers if c.customer_id in result.entry["generated_numbers"])
    from toolkit.book.writeback import Edits

    write_back(demo, Edits().set(layout.INVOICES.name, first.where.row, "exported_in", "typed by hand")
               .set(layout.CUSTOMERS.name, customer.where.row, "accounting_number", "999"))
    edits, notes = workbook_repair(demo, loaded)
    assert len(notes) == 1 and "63 document(s)" in notes[0]
    write_back(demo, edits)
    exported, numbers, log = carried(demo)
    assert exported[first.number] == "typed by hand" and numbers[customer.customer_id][0] == "999"
    assert len(log) == 1
    # another workbook's exports in the same folder are not this one's to repair
    other = tmp_path / "other.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", other)
    assert workbook_repair(other, loaded) == (Edits(), [])


def test_export_no_write_back_leaves_the_workbook_alone(demo):
    run_export(ExportRequest(demo))
    before = demo.read_bytes()
    with writing(demo, repair_workbook=False) as op:
        assert op.notes == []
    assert demo.read_bytes() == before
