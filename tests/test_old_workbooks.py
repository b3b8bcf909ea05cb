"""A workbook of a version before the Rounding setting keeps the amounts it exported before.

Before the setting existed every line was rounded "gross then discount"; samples/golden-gross-then-
discount/ holds those bytes. A workbook without the Rounding row must export exactly them (with a
warning), and `workbook upgrade` must write that convention into the new row, saying so.
"""

from __future__ import annotations

from pathlib import Path

import importlib.util

import openpyxl
import pytest

from toolkit import layout
from toolkit.app.export import ExportRequest, run_export
from toolkit.book import upgrade
from toolkit.book.read import read_workbook
from toolkit.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
_spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
make_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_samples)


def _without_rounding_row(tmp_path: Path) -> Path:
    path = tmp_path / "old.xlsx"
    wb = openpyxl.load_workbook(SAMPLES / "demo.xlsx")
    ws = wb[layout.SETTINGS_SHEET]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Rounding")
    ws.delete_rows(row)
    wb.save(path)
    return path


@pytest.mark.parametrize("package", ["winbooks", "csv-journal"])
def test_a_workbook_without_the_rounding_row_exports_what_it_exported_before(tmp_path, monkeypatch, package):
    old = _without_rounding_row(tmp_path)
    wb = read_workbook(old)
    assert wb.settings.rounding == "gross then discount"
    [warning] = [f for f in wb.findings if f.code == "settings.rounding.absent"]
    assert warning.severity == "warning" and warning.sheet == layout.SETTINGS_SHEET and "workbook upgrade" in warning.message

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(make_samples.GOLDEN_EPOCH))
    result = run_export(ExportRequest(old, package=package, out_dir=tmp_path / "out"))
    assert result.status == "written", result.message
    before = SAMPLES / "golden-gross-then-discount" / package  # the bytes of the version before the setting
    assert sorted(p.name for p in result.folder.iterdir()) == sorted(p.name for p in before.iterdir())
    for file in before.iterdir():
        assert (result.folder / file.name).read_bytes() == file.read_bytes(), file.name


def test_upgrade_writes_the_old_rule_into_the_new_row_and_tells(tmp_path, capsys):
    old = _without_rounding_row(tmp_path)
    assert main(["workbook", "upgrade", str(old)]) == 0
    out = capsys.readouterr().out
    assert "Rounding: set to 'gross then discount'" in out
    wb = read_workbook(old)
    assert wb.settings.rounding == "gross then discount"
    assert not [f for f in wb.findings if f.code == "settings.rounding.absent"]


def test_upgrade_keeps_a_rounding_the_workbook_has(tmp_path):
    path = tmp_path / "new.xlsx"
    path.write_bytes((SAMPLES / "demo.xlsx").read_bytes())
    done = upgrade.upgrade(path)
    assert done.notes == []
    assert read_workbook(path).settings.rounding == "line net once"
