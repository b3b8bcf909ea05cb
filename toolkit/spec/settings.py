"""A spec meets the workbook's Settings: its parameters typed from the sheet, its period rule checked."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from toolkit.layout import SETTINGS_SHEET
from toolkit.model import Finding, Settings, Where
from toolkit.spec.load import Spec
from toolkit.spec.params import convert, is_empty


def resolve_params(spec: Spec, settings: Settings) -> tuple[dict[str, Any], list[Finding]]:
    """The spec's parameters typed from the Settings sheet, with defaults; problems as findings.

    A parameter's row is found by its label or its name, case-insensitively. Empty rows fall back to
    `default_setting` (a general setting), then `default`.
    """
    rows = {str(k).strip().casefold(): (k, v) for k, v in settings.extra.items()}
    values: dict[str, Any] = {}
    findings: list[Finding] = []
    for param in spec.parameters:
        label, raw = rows.get(param.label.casefold()) or rows.get(param.name.casefold()) or (param.label, None)
        where = settings.cell(label)
        if is_empty(raw) and param.default_setting:
            raw = getattr(settings, param.default_setting)
        if is_empty(raw):
            raw = param.default
        if is_empty(raw):
            if param.required:
                findings.append(_param_finding("param.missing", where, f"{spec.name}: the setting '{param.label}' is required. {param.help}"))
            values[param.name] = "" if param.type in ("string", "choice") else None
            continue
        value, problem = convert(param, raw)
        if problem:
            findings.append(_param_finding("param.invalid", where, f"{spec.name}: '{param.label}' {problem}. {param.help}"))
            value = None
        values[param.name] = value
    return values, findings


def _param_finding(code: str, where: Where, message: str) -> Finding:
    cell = where.cell("value") if where.row else ""
    return Finding(code, "error", SETTINGS_SHEET, cell, message)


# ---- the export period ---------------------------------------------------------------------------


def period_findings(spec: Spec, params: Mapping[str, Any], period_from: dt.date | None, period_to: dt.date | None,
                    settings: Settings | None = None) -> list[Finding]:
    """What the spec's `period` demands of the export period (e.g. one fiscal year), as findings.

    The fiscal year comes from a parameter: `fiscal_year_start` (a date: the 12 months from it; an
    integer 1-12: years start on the 1st of that month) or `fiscal_year_end` (a date: the 12 months
    ending on it). A parameter without a value gives no finding here: `resolve_params` reports it.
    """
    rule = spec.period
    if not rule:
        return []
    where = (settings.where if settings is not None else {})
    reason = f" {rule['reason']}" if rule.get("reason") else ""
    if period_from is None or period_to is None:
        missing = "period_from" if period_from is None else "period_to"
        return [_period_finding(where.get(missing), f"{spec.name} needs an export period ('Period from' and 'Period to'): "
                                f"it checks that the period lies within one fiscal year.{reason}")]
    findings = []
    for key in ("fiscal_year_start", "fiscal_year_end"):
        name = rule.get(key)
        value = params.get(name) if name else None
        if value is None or value == "":
            continue
        param = spec.parameter(name)
        if isinstance(value, dt.date):
            first, last = (value, _add_years(value, 1) - dt.timedelta(days=1)) if key == "fiscal_year_start" else \
                (_add_years(value, -1) + dt.timedelta(days=1), value)
            if first <= period_from and period_to <= last:
                continue
            detail = f"the fiscal year set by '{param.label}' ({value:%d/%m/%Y}) runs from {first:%d/%m/%Y} to {last:%d/%m/%Y}"
        else:  # the month fiscal years start in
            month = int(value)
            start_year = period_from.year if period_from.month >= month else period_from.year - 1
            first = dt.date(start_year, month, 1)
            last = _add_years(first, 1) - dt.timedelta(days=1)
            if period_to <= last:
                continue
            detail = f"fiscal years start on the 1st of month {month} ('{param.label}'), so this one ends on {last:%d/%m/%Y}"
        findings.append(_period_finding(
            where.get("period_to"),
            f"{spec.name} cannot export {period_from:%d/%m/%Y} to {period_to:%d/%m/%Y}: the period must lie within one "
            f"fiscal year, and {detail}. Export each fiscal year separately (or correct '{param.label}').{reason}"))
    return findings


def _period_finding(where: Where | None, message: str) -> Finding:
    cell = where.cell("value") if where is not None and where.row else ""
    return Finding("period.fiscal_year", "error", SETTINGS_SHEET, cell, message)


def _add_years(day: dt.date, years: int) -> dt.date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
