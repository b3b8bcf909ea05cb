"""What every operation on a workbook starts from: where its exports go and what they recorded."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from toolkit.app.register import Register
from toolkit.errors import UserError
from toolkit.model import Settings, Workbook


def output_root(settings: Settings | None, book: Path, out_dir: Path | None = None) -> Path:
    """--out, else the Settings' output folder (relative to the workbook), else '<name>-exports'
    beside the workbook, a backup's name without its stamp (`settings` may be None when `out_dir`
    is given). `book` is the workbook's own path (not the copy Excel saved to read). A file where
    the folder should be is refused."""
    book = Path(book).resolve()
    if out_dir:
        _not_windows(str(out_dir), "--out", "give a folder of this computer")
        root = Path(out_dir)
    elif settings.output_folder:
        folder = settings.output_folder
        _not_windows(folder, "Output folder on Settings",
                     "type a folder of this computer there, or empty it to export beside the workbook")
        # '~/Exports', '%USERPROFILE%\\Exports' (Windows), '$HOME/Exports': as the user means them
        root = book.parent / Path(os.path.expandvars(folder)).expanduser()
    else:
        root = book.parent / f"{_COPY_STAMP.sub('', book.stem)}-exports"
    try:
        is_file = root.exists() and not root.is_dir()
    except OSError as exc:  # a name too long for the file system, a folder that cannot be looked into
        raise UserError(f"The export folder {root} cannot be used ({exc.strerror or exc}): choose another output "
                        f"folder (--out, or Output folder on Settings).") from None
    if is_file:
        raise UserError(f"The export folder {root} is a file, not a folder: choose another output folder "
                        f"(--out, or Output folder on Settings).")
    return root


def is_backup(path: Path) -> bool:
    """A copy the toolkit made of a workbook (a write-back's backup, an upgrade's)."""
    return bool(_COPY_STAMP.search(Path(path).stem))


def _not_windows(folder: str, named: str, advice: str) -> None:
    """A Windows path on another system is refused: it would be a folder named 'C:\\Users\\...' or
    '\\\\server\\...' in the current folder or beside the workbook."""
    if os.name != "nt" and _WINDOWS_PATH.match(folder):
        raise UserError(f"{named} is a Windows path ({folder}), and this computer is not Windows: {advice}.")


# A backup the toolkit made (NAME.backup-YYYYmmdd-HHMMSS[-n], NAME.before-upgrade-...) exports into
# its workbook's folder, whose register knows what the workbook exported since: a folder of its own
# let it book again every document exported after the backup was made.
_COPY_STAMP = re.compile(r"\.(?:backup|before-upgrade)-\d{8}-\d{6}(?:-\d+)?$")
_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]|\\\\")  # C:\... or \\server\share


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
