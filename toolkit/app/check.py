"""`check` and the Validate button: the export's plan, shown.

They run exactly what `export` runs up to the files (validation, selection, customer numbering,
accounting, rendering) and report every finding, so whatever the export would refuse, they show
first. Errors on documents the export would not carry are reported too (they block nothing).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from toolkit.app.export import ExportPlan, ExportRequest, Progress, _quiet, plan_export
from toolkit.model import Finding


def plan_check(workbook: Path, package: str | None = None, period_from: dt.date | None = None,
               period_to: dt.date | None = None, out_dir: Path | None = None, read_from: Path | None = None,
               progress: Progress = _quiet) -> ExportPlan:
    return plan_export(ExportRequest(workbook, package, period_from, period_to, out_dir, read_from=read_from), progress)


def check(workbook: Path, package: str | None = None, **options) -> list[Finding]:
    """Every finding of the workbook, for its package (or `package`) and period."""
    return plan_check(workbook, package, **options).findings
