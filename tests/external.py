"""External programs some tests need (LibreOffice, pdftotext).

A test declares them with `@pytest.mark.needs("soffice", "pdftotext")`. On a machine without
them the test is skipped with the reason and the install command (pytest prints it: `-rs` in
pyproject's addopts). Under CI (the environment variable CI is set) the test runs anyway and
`need()` fails it, so CI cannot go green by skipping.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL = {  # program -> (alternative names, how to install it on Debian/Ubuntu)
    "soffice": (("soffice", "libreoffice"), "apt-get install libreoffice-calc-nogui"),
    "pdftotext": (("pdftotext",), "apt-get install poppler-utils"),
}


def find(tool: str) -> str | None:
    names, _ = INSTALL[tool]
    return next(filter(None, map(shutil.which, names)), None)


def missing_reason(tool: str) -> str:
    return f"{tool} is not installed (install it with: {INSTALL[tool][1]})"


def need(tool: str) -> str:
    """The path of `tool`; a test failure naming the install command when it is missing."""
    path = find(tool)
    if not path:
        pytest.fail(missing_reason(tool) + (" and CI is set" if os.environ.get("CI") else ""))
    return path


def skip_if_missing(items) -> None:
    """Outside CI, mark tests whose `needs` programs are missing as skipped (with the reason)."""
    if os.environ.get("CI"):
        return
    for item in items:
        for mark in item.iter_markers("needs"):
            reasons = [missing_reason(tool) for tool in mark.args if not find(tool)]
            if reasons:
                item.add_marker(pytest.mark.skip(reason="; ".join(reasons) + " (CI not set)"))


def soffice_convert(src: Path, target: str, outdir: Path) -> Path:
    """LibreOffice headless converts `src` (e.g. to "pdf" or "xlsx", recalculating formulas)."""
    soffice = need("soffice")
    home = outdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{home}",
                    "--convert-to", target, "--outdir", str(outdir), str(src)],
                   check=True, timeout=180, capture_output=True,
                   env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    out = outdir / (src.stem + "." + target.split(":")[0])
    assert out.exists(), f"LibreOffice wrote no {out.name}"
    return out
