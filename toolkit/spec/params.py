"""A spec's parameters: their declaration and how a Settings value is typed into one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from toolkit.model import Settings
from toolkit.spec.errors import json_path
from toolkit.values import excel_number

TYPES = ("string", "integer", "decimal", "boolean", "choice", "date")


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    type: str  # string | integer | decimal | boolean | choice | date
    help: str
    default: Any = None
    default_setting: str = ""
    required: bool = False
    pattern: str = ""
    choices: tuple[str, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None


def regex_problem(pattern: str) -> str:
    """Why `pattern` is not a regular expression; "" when it is one."""
    try:
        re.compile(pattern)
        return ""
    except re.error as exc:
        return f"not a valid regular expression ({exc})"


def parameter(p: Mapping, at: list, note: Callable[[str, str], None]) -> Parameter:
    """The declaration at `at` (schema-valid JSON); what is wrong with it goes to note(json path, message)."""
    if p.get("pattern") and (problem := regex_problem(p["pattern"])):
        note(json_path(at + ["pattern"]), problem)
    if p["type"] == "choice" and not p.get("choices"):
        note(json_path(at), "a choice parameter needs `choices`")
    setting = p.get("default_setting", "")
    if setting and setting not in {f.name for f in dataclasses.fields(Settings)} - {"extra", "where"}:
        note(json_path(at + ["default_setting"]), f"{setting!r} is not a general setting")
    param = Parameter(
        name=p["name"], label=p["label"], type=p["type"], help=p["help"], default=p.get("default"),
        default_setting=setting, required=p.get("required", False), pattern=p.get("pattern", ""),
        choices=tuple(p.get("choices", ())), min=p.get("min"), max=p.get("max"),
    )
    if param.default is not None and not (param.pattern and regex_problem(param.pattern)):
        _, problem = convert(param, param.default)
        if problem:
            note(json_path(at + ["default"]), f"the default {problem}")
    return param


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def convert(param: Parameter, raw: Any) -> tuple[Any, str]:
    """(typed value, "") or (None, what is wrong)."""
    kind = param.type
    try:
        if kind == "boolean":
            text = str(raw).strip().casefold()
            if isinstance(raw, bool) or text in _BOOL:
                return (raw if isinstance(raw, bool) else _BOOL[text]), ""
            return None, f"must be yes or no, not {raw!r}"
        if kind == "date":
            if isinstance(raw, dt.datetime):
                return raw.date(), ""
            if isinstance(raw, dt.date):
                return raw, ""
            return dt.date.fromisoformat(str(raw).strip()), ""
        if kind in ("integer", "decimal"):
            number = _number(raw)
            if kind == "integer" and number != number.to_integral_value():
                return None, f"must be a whole number, not {raw!r}"
            if param.min is not None and number < Decimal(param.min):
                return None, f"must be at least {param.min}, not {raw!r}"
            if param.max is not None and number > Decimal(param.max):
                return None, f"must be at most {param.max}, not {raw!r}"
            return (int(number) if kind == "integer" else number), ""
        text = _text(raw)
        if kind == "choice":
            match = next((c for c in param.choices if c.casefold() == text.casefold()), None)
            if match is None:
                return None, f"must be one of {', '.join(param.choices)}, not {text!r}"
            text = match
        if param.pattern and not re.fullmatch(param.pattern, text):
            return None, f"{text!r} does not have the expected form ({param.pattern})"
        return text, ""
    except (ValueError, InvalidOperation, TypeError):
        return None, f"is not a valid {kind}: {raw!r}"


_BOOL = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False, "y": True, "n": False}


def _number(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, float):  # Excel hands numbers over as floats: read as it shows them
        if not math.isfinite(raw):
            raise ValueError
        return excel_number(raw)
    return Decimal(str(raw).strip())


def _text(raw: Any) -> str:
    """Setting values as text; whole numbers typed in Excel (14.0) read as '14'."""
    if isinstance(raw, (float, Decimal)) and raw == int(raw):
        return str(int(raw))
    return str(raw).strip()
