"""Where the data shipped with the toolkit lives: package specs and workbook sources.

Installed, they are the packages `toolkit.package_specs` and `toolkit.workbook` inside the wheel;
in a source checkout they are the folders `package_specs/` and `workbook/` beside `toolkit/`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder(package: str, checkout_name: str) -> Path:
    checkout = Path(__file__).resolve().parent.parent / checkout_name
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files(package)))


def specs_dir() -> Path:
    return _folder("toolkit.package_specs", "package_specs")


def workbook_dir() -> Path:
    return _folder("toolkit.workbook", "workbook")
