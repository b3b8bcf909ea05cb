"""Regenerate the sample workbooks and, on purpose only, the golden export files.

    python samples/make_samples.py            # demo.xlsx and mistakes.xlsx
    python samples/make_samples.py --golden   # also refresh the golden export files from demo.xlsx

samples/golden/<package>/ is the demo as it is; samples/golden-gross-then-discount/<package>/ is the
demo with its Rounding setting switched to "gross then discount" (the toolkit's only rule before
the setting existed, so these are the bytes every export had before). The golden files are what the tests compare exports with, byte for byte: refresh them only when a
change of output is intended, and read the diff before committing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from toolkit import layout, sample  # noqa: E402
from toolkit.spec import list_specs
from toolkit.book import template

# Exports made for the golden files are dated 2026-04-02 09:00 UTC, so they are reproducible.
GOLDEN_EPOCH = int(dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.timezone.utc).timestamp())
# Golden folder -> the demo's Settings changed for it.
GOLDEN_SETS = {"golden": {}, "golden-gross-then-discount": {"rounding": "gross then discount"}}


def write_samples() -> None:
    settings, tables = sample.demo()
    template.save_template(HERE / "demo.xlsx", {**tables, layout.SETTINGS_SHEET: settings})
    settings, tables, _ = sample.mistakes()
    template.save_template(HERE / "mistakes.xlsx", {**tables, layout.SETTINGS_SHEET: settings})


def golden_export(package: str, out: Path, changes: dict | None = None) -> list[tuple[str, bytes]]:
    """Export the demo workbook, its Settings changed by `changes`, to `package` as of
    GOLDEN_EPOCH; returns (name, bytes) per file."""
    from toolkit.app.export import ExportRequest, run_export

    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "demo.xlsx"
        if changes or package in sample.ADAPTED:
            settings, tables = sample.demo(package)
            template.save_template(book, {**tables, layout.SETTINGS_SHEET: {**settings, **changes}})
        else:
            shutil.copy(HERE / "demo.xlsx", book)
        old = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(GOLDEN_EPOCH)
        try:
            result = run_export(ExportRequest(book, package=package, out_dir=out))
        finally:
            if old is None:
                del os.environ["SOURCE_DATE_EPOCH"]
            else:
                os.environ["SOURCE_DATE_EPOCH"] = old
        if result.status != "written":
            raise SystemExit(f"{package}: {result.message}\n" + "\n".join(f.message for f in result.findings if f.is_error))
        return [(p.name, p.read_bytes()) for p in sorted(result.folder.iterdir())]


def write_golden() -> None:
    for folder, changes in GOLDEN_SETS.items():
        for spec in list_specs():
            with tempfile.TemporaryDirectory() as tmp:
                files = golden_export(spec.id, Path(tmp), changes)
            target = HERE / folder / spec.id
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for name, data in files:
                (target / name).write_bytes(data)
            print(f"{folder}/{spec.id}: {', '.join(name for name, _ in files)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--golden", action="store_true", help="also refresh the golden export files")
    args = parser.parse_args()
    write_samples()
    print("samples/demo.xlsx, samples/mistakes.xlsx written")
    if args.golden:
        write_golden()
