"""The sample workbook exports to every package exactly as its golden files, byte for byte.

Refresh on purpose only: `python samples/make_samples.py --golden`, then read the diff.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

from toolkit import layout, sample
from toolkit import spec as specs
from toolkit.book import template

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
_spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
make_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_samples)


def test_sample_workbooks_are_what_the_script_makes(tmp_path):
    """samples/*.xlsx are generated, not edited by hand: regenerating gives the same bytes."""
    settings, tables = sample.demo()
    template.save_template(tmp_path / "demo.xlsx", {**tables, layout.SETTINGS_SHEET: settings})
    settings, tables, _ = sample.mistakes()
    template.save_template(tmp_path / "mistakes.xlsx", {**tables, layout.SETTINGS_SHEET: settings})
    for name in ("demo.xlsx", "mistakes.xlsx"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), f"run samples/make_samples.py ({name})"


@pytest.mark.parametrize("folder", list(make_samples.GOLDEN_SETS))
@pytest.mark.parametrize("package", [s.id for s in specs.list_specs()])
def test_export_matches_golden_files(package, folder, tmp_path):
    """golden/: the demo as it is. golden-gross-then-discount/: the bytes every export had before
    the Rounding setting existed, reproduced by switching only that setting."""
    golden = SAMPLES / folder / package
    files = make_samples.golden_export(package, tmp_path, make_samples.GOLDEN_SETS[folder])
    assert sorted(p.name for p in golden.iterdir()) == [name for name, _ in files]
    for name, data in files:
        expected = (golden / name).read_bytes()
        if data != expected:
            diff = difflib.unified_diff(expected.decode("latin-1").splitlines(), data.decode("latin-1").splitlines(),
                                        f"golden/{package}/{name}", "exported", lineterm="", n=1)
            pytest.fail("\n".join(list(diff)[:40]))


@pytest.mark.parametrize("folder", list(make_samples.GOLDEN_SETS))
def test_every_package_has_golden_files(folder):
    assert {p.name for p in (SAMPLES / folder).iterdir()} == {s.id for s in specs.list_specs()}


def test_check_reports_the_planted_mistakes_and_nothing_else():
    from toolkit.app.check import check

    *_, planted = sample.mistakes()
    found = {(f.code, f.sheet, f.cell) for f in check(SAMPLES / "mistakes.xlsx")}
    assert found == planted
    assert check(SAMPLES / "demo.xlsx") == []
