"""Every finding id the toolkit reports is catalogued, with the severity it is reported at."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from toolkit import layout
from toolkit.catalogue import CATALOGUE, title

TOOLKIT = Path(__file__).resolve().parents[1] / "toolkit"
ID = re.compile(r"[a-z_]+(\.[a-z_0-9]+)+")
REPORTERS = {"error": "error", "warning": "warning", "Finding": None, "_finding": None, "_param_finding": "error",
             "warn": "warning", "report": None}  # Finding and report take the severity as their second argument


def _reported() -> list[tuple[str, str | None, str]]:
    """(id, severity or None when not fixed by the call, where) for each literal id in a reporting call."""
    found = []
    for path in TOOLKIT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0]
            if name in REPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str) and ID.fullmatch(first.value):
                severity = REPORTERS[name]
                if name in ("Finding", "report") and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    severity = node.args[1].value
                found.append((first.value, severity, f"{path.name}:{node.lineno}"))
    return found


def test_every_reported_id_is_in_the_catalogue_with_its_severity():
    reported = _reported()
    assert len(reported) > 40, "the scan found too few ids: is the pattern stale?"
    missing = sorted({f"{code} ({where})" for code, _, where in reported if code not in CATALOGUE})
    assert missing == [], "add these ids to toolkit/catalogue.py"
    wrong = sorted(f"{code} reported as {severity} at {where}, catalogued as {CATALOGUE[code].severity}"
                   for code, severity, where in reported
                   if severity and CATALOGUE[code].severity not in (severity, "either"))
    assert wrong == []


def test_every_column_type_has_its_unreadable_value_id():
    types = {c.type for s in layout.TABLE_SHEETS for c in s.columns} | {s.type for s in layout.SETTINGS}
    assert sorted(t for t in types if f"cell.invalid.{t}" not in CATALOGUE) == []


def test_titles_are_plain_words():
    for code, kind in CATALOGUE.items():
        assert kind.severity in ("error", "warning", "either"), code
        assert kind.title and "." not in kind.title and kind.title[0].isupper(), code
    assert title("line.account.missing") == "Ledger account missing"
    assert title("no.such.id") == "no.such.id"
