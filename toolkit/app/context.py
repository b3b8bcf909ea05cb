"""What every operation on a workbook starts from: where its exports go and what they recorded."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from toolkit.app.register import Register
from toolkit.errors import UserError
from toolkit.model import Settings, Workbook


def output_root(settings: Settings | None, book: Path, out_dir: Path | None = None) -> Path:
    """--out, else the Settings' output folder (relative to the workbook), else '<name>-exports'
    beside the workbook (`settings` may be None when `out_dir` is given). `book` is the workbook's
    own path (not the copy Excel saved to read). A file where the folder should be is refused."""
    book = Path(book).resolve()
    if out_dir:
        root = Path(out_dir)
    elif settings.output_folder:
        root = book.parent / settings.output_folder
    else:
        root = book.parent / f"{book.stem}-exports"
    if root.exists() and not root.is_dir():
        raise UserError(f"The export folder {root} is a file, not a folder: choose another output folder "
                        f"(--out, or Output folder on Settings).")
    return root


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
