"""Two parts of the spec vocabulary: the export period a package accepts (`period`, e.g. one fiscal
year per file) and typed columns (`columns` items with a `kind`, so text-only quoting leaves empty
number columns unquoted)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import replace

import pytest

from test_render import batch, rendered, text_file
from toolkit import spec as specs
from toolkit.model import Settings, Where

D = dt.date
BASE = {
    "id": "p", "name": "Pkg", "description": "", "countries": [], "format_version": "1",
    "parameters": [
        {"name": "fy_start", "label": "Fiscal year start", "type": "date", "help": "WJ-Beginn"},
        {"name": "fy_month", "label": "Fiscal year month", "type": "integer", "min": 1, "max": 12, "help": ""},
        {"name": "closing", "label": "Closing date", "type": "date", "help": ""},
        {"name": "text", "label": "Text", "type": "string", "help": ""},
    ],
    "files": [text_file([{"collection": "documents", "fields": [{"name": "n", "source": "document.number"}]}])],
}


def spec(tmp_path, period) -> specs.Spec:
    data = copy.deepcopy(BASE)
    data["period"] = period
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return specs.load_spec(path)


def messages(spec_, params, start, end, settings=None):
    return [f.message for f in specs.period_findings(spec_, params, start, end, settings)]


def test_a_spec_without_period_accepts_any_period(tmp_path):
    plain = replace(spec(tmp_path, {"fiscal_year_end": "closing"}), period={})
    assert specs.period_findings(plain, {}, D(2025, 12, 1), D(2026, 1, 31)) == []
    assert specs.period_findings(plain, {}, None, None) == []


def test_fiscal_year_start_date_holds_the_period(tmp_path):
    s = spec(tmp_path, {"fiscal_year_start": "fy_start", "reason": "One batch per fiscal year."})
    params = {"fy_start": D(2026, 1, 1)}
    assert messages(s, params, D(2026, 1, 1), D(2026, 12, 31)) == []
    assert messages(s, params, D(2026, 3, 1), D(2026, 3, 31)) == []
    across = specs.period_findings(s, params, D(2026, 12, 1), D(2027, 1, 31))
    assert len(across) == 1 and across[0].code == "period.fiscal_year" and across[0].is_error
    assert "01/12/2026 to 31/01/2027" in across[0].message
    assert "01/01/2026 to 31/12/2026" in across[0].message and "One batch per fiscal year." in across[0].message
    # a stale start (last year's) is refused too: the period is not in that fiscal year
    assert messages(s, {"fy_start": D(2025, 1, 1)}, D(2026, 1, 1), D(2026, 3, 31))
    # a fiscal year from 1 July
    assert messages(s, {"fy_start": D(2025, 7, 1)}, D(2026, 1, 1), D(2026, 6, 30)) == []
    assert messages(s, {"fy_start": D(2025, 7, 1)}, D(2026, 6, 1), D(2026, 7, 31))


def test_fiscal_year_start_month_checks_the_boundary_only(tmp_path):
    s = spec(tmp_path, {"fiscal_year_start": "fy_month"})
    assert messages(s, {"fy_month": 1}, D(2026, 1, 1), D(2026, 12, 31)) == []
    assert messages(s, {"fy_month": 1}, D(2026, 12, 1), D(2027, 1, 1))
    assert messages(s, {"fy_month": 7}, D(2025, 7, 1), D(2026, 6, 30)) == []
    assert messages(s, {"fy_month": 7}, D(2026, 1, 1), D(2026, 7, 1))
    assert messages(s, {"fy_month": 7}, D(2026, 7, 1), D(2027, 6, 30)) == []


def test_fiscal_year_end_date(tmp_path):
    s = spec(tmp_path, {"fiscal_year_end": "closing"})
    params = {"closing": D(2026, 12, 31)}
    assert messages(s, params, D(2026, 1, 1), D(2026, 3, 31)) == []
    assert messages(s, params, D(2025, 12, 31), D(2026, 3, 31))
    assert messages(s, {"closing": D(2024, 2, 29)}, D(2023, 3, 1), D(2024, 2, 29)) == []  # a leap day


def test_no_period_or_no_parameter_value(tmp_path):
    s = spec(tmp_path, {"fiscal_year_start": "fy_start"})
    settings = Settings(where={"period_from": Where("Settings", 8, {"value": "B"})})
    [finding] = specs.period_findings(s, {"fy_start": D(2026, 1, 1)}, None, D(2026, 3, 31), settings)
    assert (finding.sheet, finding.cell) == ("Settings", "B8") and "needs an export period" in finding.message
    assert specs.period_findings(s, {"fy_start": None}, D(2025, 1, 1), D(2026, 3, 31)) == []  # resolve_params says it


def test_the_finding_points_at_period_to(tmp_path):
    s = spec(tmp_path, {"fiscal_year_start": "fy_start"})
    settings = Settings(where={"period_to": Where("Settings", 9, {"value": "B"})})
    [finding] = specs.period_findings(s, {"fy_start": D(2026, 1, 1)}, D(2026, 1, 1), D(2027, 3, 31), settings)
    assert finding.cell == "B9" and "'Fiscal year start'" in finding.message


@pytest.mark.parametrize("period, expected", [
    ({"fiscal_year_start": "nope"}, r"\$\.period\.fiscal_year_start: no parameter 'nope'"),
    ({"fiscal_year_start": "text"}, r"'text' is a string parameter; expected date or integer"),
    ({"fiscal_year_end": "fy_month"}, r"'fy_month' is a integer parameter; expected date"),
    ({"fiscal_year_end": "closing", "extra": 1}, r"unknown key 'extra'"),
    ({}, r"\$\.period"),
    ({"reason": "a reason alone"}, r"\$\.period: .* is not valid under any of the given schemas"),
])
def test_bad_period_rules_are_spec_errors(tmp_path, period, expected):
    with pytest.raises(specs.SpecError, match=expected):
        spec(tmp_path, period)


# ---- typed columns ------------------------------------------------------------------------------


def test_empty_number_columns_stay_unquoted_under_text_only_quoting(tmp_path):
    file = {**text_file([{"collection": "documents", "fields": [
                {"name": "Belegfeld", "source": "document.number"},
                {"name": "Umsatz", "source": "document.total", "format": {"type": "decimal", "places": 2}}]}]),
            "layout": {"kind": "delimited", "delimiter": ";", "quoting": "text-only"},
            "columns": ["Umsatz", {"name": "Kurs", "kind": "number"}, {"name": "Text"}, {"name": "Datum", "kind": "date"},
                        {"name": "Belegfeld", "kind": "text"}, {"name": "Sperre", "kind": "boolean"}],
            "header": [{"column_names": True}]}
    assert rendered(tmp_path, file, b=batch()).split("\n") == [
        '"Umsatz";"Kurs";"Text";"Datum";"Belegfeld";"Sperre"',
        '1310.00;;"";;"F2024-001";',
        '106.00;;"";;"CN-7";',
    ]


def test_a_column_object_needs_a_name_and_a_known_kind(tmp_path):
    for column, expected in (({"kind": "number"}, "'name' is a required property"),
                             ({"name": "x", "kind": "money"}, r"columns\[0\]\.kind: 'money' is not one of")):
        file = {**text_file([{"collection": "documents", "fields": []}]), "columns": [column]}
        path = tmp_path / "t.json"
        path.write_text(json.dumps({**BASE, "files": [file]}), encoding="utf-8")
        with pytest.raises(specs.SpecError, match=expected):
            specs.load_spec(path)
