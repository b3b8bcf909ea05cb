"""What every operation on a workbook starts from: where its exports go and what they recorded."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from toolkit.app.register import Register
from toolkit.errors import UserError
from toolkit.model import Settings, Workbook


def output_root(settings: Settings, book: Path, out_dir: Path | None = None) -> Path:
    """--out, else the Settings' output folder (relative to the workbook), else '<name>-exports'
    beside the workbook. `book` is the workbook's own path (not the copy Excel saved to read)."""
    book = Path(book).resolve()
    if out_dir:
        return Path(out_dir)
    if settings.output_folder:
        return book.parent / settings.output_folder
    return book.parent / f"{book.stem}-exports"


def company_key(wb: Workbook) -> str:
    """Register entries are keyed by company: several workbooks may share one output folder."""
    return wb.settings.company_vat or wb.settings.company_name


def history(wb: Workbook, root: Path) -> list[dict]:
    """The committed exports of this workbook's company, oldest first."""
    return Register(root).entries(company_key(wb))


def now() -> dt.datetime:
    """The export time; SOURCE_DATE_EPOCH pins it for reproducible builds and golden tests."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        if not epoch.isdigit() or int(epoch) > 253402300799:  # up to 9999-12-31
            raise UserError(f"The environment variable SOURCE_DATE_EPOCH={epoch!r} must be seconds since "
                            "1970-01-01 UTC (a whole number), or be unset.")
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).replace(tzinfo=None)
    return dt.datetime.now().replace(microsecond=0)
