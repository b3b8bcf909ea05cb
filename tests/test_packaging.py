"""The wheel carries every Python package and the data the toolkit reads at run time."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_shipped():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "toolkit").rglob("__init__.py")}
    assert found <= shipped
    assert config["package-dir"] == {"toolkit.package_specs": "package_specs", "toolkit.workbook": "workbook"}
    assert config["package-data"]["toolkit.package_specs"] == ["*.json"]
