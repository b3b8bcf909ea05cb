"""Package specs: load a JSON spec, validate it, resolve its parameters, look up its VAT codes.

A spec is data from anyone: it is validated by `package_specs/schema.json` (JSON Schema Draft
2020-12) and then checked for what a schema cannot say (source paths, parameter names, file names,
regular expressions), by compiling it once with `toolkit.spec.render.compile_spec`. A bad spec raises
`SpecError` naming the file, the JSON path and what was expected; no traceback reaches the user.

Source paths are resolved against the model's dataclasses only (see `path_type`): a path never
names anything but a field or property of a known model class, a declared parameter or an index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import jsonschema

from toolkit.errors import UserError
from toolkit import model
from toolkit.layout import SETTINGS_SHEET
from toolkit.model import Finding, Settings, Where
from toolkit.resources import specs_dir

SCHEMA_FILE = "schema.json"


class SpecError(UserError):
    """A package spec that cannot be used; the message says where and why."""


# ---- loading -----------------------------------------------------------------------------------


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


@dataclass(eq=False)
class Spec:
    id: str
    name: str
    description: str
    countries: tuple[str, ...]
    format_version: str
    parameters: tuple[Parameter, ...]
    customer_numbers: Mapping[str, Any]  # pattern, min_length, max_length, min, max
    accounts: Mapping[str, Any]  # pattern, min_length, max_length
    files: Sequence[Mapping[str, Any]]  # as in the JSON; render.compile_spec compiles them
    path: Path
    raw: Mapping[str, Any] = field(repr=False)
    period: Mapping[str, Any] = field(default_factory=dict)  # fiscal_year_start / _end, reason
    _vat_codes: dict = field(default_factory=dict, repr=False)
    compiled: Any = field(default=None, repr=False)  # set by render.compile_spec

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def vat_code(self, regime: str, rate: Decimal, doc_type: str) -> str | None:
        """The package's VAT code, or None when its table has no row for this combination.

        The most specific row wins: an exact rate beats a row without rate, an exact document type
        beats a row without one.
        """
        codes = self._vat_codes
        for key in ((regime, rate, doc_type), (regime, rate, None), (regime, None, doc_type), (regime, None, None)):
            code = codes.get(key)
            if code is not None:
                return code
        return None

    @property
    def file_names(self) -> list[str]:
        return [f["name"] for f in self.files]


def load_spec(id_or_path: str | Path) -> Spec:
    """A shipped spec by its id, or any spec file by path."""
    path = _spec_path(id_or_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid JSON ({exc})") from None
    _validate(data, path)
    spec = _build(data, path)
    from toolkit.spec import render  # the compiler is the second, semantic validation

    render.compile_spec(spec)
    return spec


def list_specs() -> list[Spec]:
    """Every spec shipped in package_specs/, by id."""
    specs = [load_spec(p) for p in sorted(specs_dir().glob("*.json")) if p.name != SCHEMA_FILE]
    return sorted(specs, key=lambda s: s.id)


def _spec_path(id_or_path: str | Path) -> Path:
    text = str(id_or_path)
    if isinstance(id_or_path, Path) or text.endswith(".json") or "/" in text or "\\" in text:
        return Path(id_or_path)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", text):
        raise SpecError(f"{text!r} is not a package id (lower-case letters, digits and '-')")
    path = specs_dir() / f"{text}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in specs_dir().glob("*.json") if p.name != SCHEMA_FILE))
        raise SpecError(f"no package spec {text!r}; known packages: {known}")
    return path


@cache
def schema() -> dict:
    return json.loads((specs_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def json_path(parts: Sequence[str | int]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _validate(data: Any, path: Path) -> None:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"{json_path(list(at))}: {message}" for at, message in (_explain(e) for e in errors[:10])]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise SpecError(f"{path}: does not match the package spec schema:\n  " + "\n  ".join(lines) + more)


def _explain(error: jsonschema.ValidationError) -> tuple[list, str]:
    """(JSON path, readable message) of a schema error, looking inside oneOf alternatives."""
    at = list(error.absolute_path)
    if error.validator == "oneOf":
        alternatives = [s.get("required") for s in error.validator_value]
        if all(isinstance(a, list) and len(a) == 1 for a in alternatives):  # a field's source kinds
            return at, "needs exactly one of " + ", ".join(a[0] for a in alternatives)
    if error.validator == "oneOf" and error.context:
        branches: dict[int, list] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        fitting = [errs for errs in branches.values() if not any(_misses_branch(e) for e in errs)]
        if len(fitting) == 1:
            deepest = max(fitting[0], key=lambda e: len(e.absolute_path))
            return _explain(deepest)
        return at, "expected one of the allowed forms: " + "; ".join(_form(s) for s in error.validator_value)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return at, f"unknown key {', '.join(map(repr, extra))} (allowed: {', '.join(allowed)})"
    if error.validator == "enum":
        return at, f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "type":
        return at, f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    return at, error.message


def _misses_branch(error: jsonschema.ValidationError) -> bool:
    """An error saying the instance is not this alternative at all (wrong `type` tag, missing key)."""
    return (error.validator == "const" and list(error.relative_path) == ["type"]) or (
        error.validator == "required" and not error.relative_path
    )


def _form(subschema: Mapping) -> str:
    if "$ref" in subschema:
        return subschema["$ref"].rsplit("/", 1)[-1]
    props = subschema.get("properties", {})
    tag = props.get("type", {}).get("const")
    return f"type {tag!r}" if tag else "{" + ", ".join(subschema.get("required", props)) + "}"


def _build(data: Mapping, path: Path) -> Spec:
    params = tuple(_parameter(p, i, path) for i, p in enumerate(data.get("parameters", [])))
    seen: set[str] = set()
    for i, p in enumerate(params):
        if p.name in seen:
            raise SpecError(f"{path}: {json_path(['parameters', i, 'name'])}: parameter {p.name!r} is declared twice")
        seen.add(p.name)
    for key in ("customer_numbers", "accounts"):
        pattern = data.get(key, {}).get("pattern")
        if pattern is not None:
            check_regex(pattern, path, [key, "pattern"])
    spec = Spec(
        id=data["id"],
        name=data["name"],
        description=data["description"],
        countries=tuple(data["countries"]),
        format_version=data["format_version"],
        parameters=params,
        customer_numbers=dict(data.get("customer_numbers", {})),
        accounts=dict(data.get("accounts", {})),
        files=data["files"],
        path=path,
        raw=data,
        period=dict(data.get("period", {})),
    )
    for key, kinds in (("fiscal_year_start", ("date", "integer")), ("fiscal_year_end", ("date",))):
        name = spec.period.get(key)
        if name is None:
            continue
        param = spec.parameter(name)
        if param is None:
            raise SpecError(f"{path}: {json_path(['period', key])}: no parameter {name!r} is declared in `parameters`")
        if param.type not in kinds:
            raise SpecError(f"{path}: {json_path(['period', key])}: {name!r} is a {param.type} parameter; "
                            f"expected {' or '.join(kinds)}")
    for i, row in enumerate(data.get("vat_codes", [])):
        key = (row["regime"], row.get("rate"), row.get("doc_type"))
        if key in spec._vat_codes:
            raise SpecError(f"{path}: {json_path(['vat_codes', i])}: a second row for {key[0]}"
                            f" / rate {key[1] if key[1] is not None else 'any'} / {key[2] or 'any document type'}")
        spec._vat_codes[key] = row["code"]
    return spec


def _parameter(p: Mapping, i: int, path: Path) -> Parameter:
    at = ["parameters", i]
    if p.get("pattern"):
        check_regex(p["pattern"], path, at + ["pattern"])
    if p["type"] == "choice" and not p.get("choices"):
        raise SpecError(f"{path}: {json_path(at)}: a choice parameter needs `choices`")
    setting = p.get("default_setting", "")
    if setting and setting not in {f.name for f in dataclasses.fields(Settings)} - {"extra", "where"}:
        raise SpecError(f"{path}: {json_path(at + ['default_setting'])}: {setting!r} is not a general setting")
    param = Parameter(
        name=p["name"], label=p["label"], type=p["type"], help=p["help"], default=p.get("default"),
        default_setting=setting, required=p.get("required", False), pattern=p.get("pattern", ""),
        choices=tuple(p.get("choices", ())), min=p.get("min"), max=p.get("max"),
    )
    if param.default is not None:
        value, problem = _convert(param, param.default)
        if problem:
            raise SpecError(f"{path}: {json_path(at + ['default'])}: the default {problem}")
    return param


def check_regex(pattern: str, path: Path, at: list) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise SpecError(f"{path}: {json_path(at)}: not a valid regular expression ({exc})") from None


# ---- parameters ---------------------------------------------------------------------------------


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
        if _is_empty(raw) and param.default_setting:
            raw = getattr(settings, param.default_setting)
        if _is_empty(raw):
            raw = param.default
        if _is_empty(raw):
            if param.required:
                findings.append(_param_finding("param.missing", where, f"{spec.name}: the setting '{param.label}' is required. {param.help}"))
            values[param.name] = "" if param.type in ("string", "choice") else None
            continue
        value, problem = _convert(param, raw)
        if problem:
            findings.append(_param_finding("param.invalid", where, f"{spec.name}: '{param.label}' {problem}. {param.help}"))
            value = None
        values[param.name] = value
    return values, findings


def _param_finding(code: str, where: Where, message: str) -> Finding:
    cell = where.cell("value") if where.row else ""
    return Finding(code, "error", SETTINGS_SHEET, cell, message)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _convert(param: Parameter, raw: Any) -> tuple[Any, str]:
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
    if isinstance(raw, float):  # Excel hands numbers over as floats; their shortest text is exact
        return Decimal(repr(raw))
    return Decimal(str(raw).strip())


def _text(raw: Any) -> str:
    """Setting values as text; whole numbers typed in Excel (14.0) read as '14'."""
    if isinstance(raw, (float, Decimal)) and raw == int(raw):
        return str(int(raw))
    return str(raw).strip()


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


# ---- source paths -------------------------------------------------------------------------------

# What each scope name holds during rendering. Collections (tuples) and raw input (where, invoice,
# extra, params) are not reachable by a path: specs read the accounting output, nothing else.
SCOPE_TYPES: dict[str, type] = {
    "batch": model.Batch,
    "settings": model.Settings,
    "document": model.Document,
    "posting": model.Posting,
    "vat_group": model.VatGroup,
    "revenue_group": model.RevenueGroup,
    "customer": model.Customer,
    "account": model.LedgerAccount,
}
HIDDEN = frozenset({"where", "invoice", "extra", "params", "settings", "documents", "postings", "vat_groups",
                    "revenue_groups", "customers", "accounts", "lines"})
# Value kinds a path can have, by Python type.
KINDS = {str: "text", Decimal: "decimal", int: "integer", bool: "boolean", dt.date: "date", dt.datetime: "datetime"}
PARAM_KINDS = {"string": "text", "choice": "text", "integer": "integer", "decimal": "decimal",
               "boolean": "boolean", "date": "date"}


@cache
def _attributes(cls: type) -> dict[str, Any]:
    """Public fields and properties of a model class with their types."""
    hints = typing.get_type_hints(cls, vars(model))
    attrs = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    for name, member in vars(cls).items():
        if isinstance(member, property):
            attrs[name] = typing.get_type_hints(member.fget, vars(model)).get("return", str)
    return {k: v for k, v in attrs.items() if not k.startswith("_") and k not in HIDDEN}


def _unwrap(tp: Any) -> Any:
    """`X | None` -> X."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1 else tp


def path_type(path: str, scopes: frozenset[str], params: Mapping[str, Parameter]) -> str:
    """The value kind (`text`, `decimal`, ...) of a source path, or ValueError saying why it is not one.

    `scopes` are the scope names available where the path is used (e.g. document, posting, batch).
    """
    parts = path.split(".")
    if any(not p or p.startswith("_") for p in parts):
        raise ValueError(f"{path!r} is not a source path")
    root = parts[0]
    if root == "index" and len(parts) == 1:
        return "integer"
    if root == "params":
        if len(parts) != 2 or parts[1] not in params:
            raise ValueError(f"{path!r}: no parameter {'.'.join(parts[1:])!r} is declared in `parameters`")
        return PARAM_KINDS[params[parts[1]].type]
    if root not in SCOPE_TYPES:
        raise ValueError(f"{path!r}: unknown scope {root!r} (known: {', '.join(sorted(SCOPE_TYPES) + ['params', 'index'])})")
    if root not in scopes:
        raise ValueError(f"{path!r}: {root!r} is not available here (available: {', '.join(sorted(scopes))})")
    tp: Any = SCOPE_TYPES[root]
    for i, name in enumerate(parts[1:], 1):
        attrs = _attributes(tp) if dataclasses.is_dataclass(tp) else {}
        if name not in attrs:
            owner = ".".join(parts[:i])
            known = ", ".join(sorted(attrs)) or "nothing"
            raise ValueError(f"{path!r}: {owner} has no {name!r} (it has: {known})")
        tp = _unwrap(attrs[name])
    if dataclasses.is_dataclass(tp):
        raise ValueError(f"{path!r} names a record, not a value; add one of: {', '.join(sorted(_attributes(tp)))}")
    if tp not in KINDS:
        raise ValueError(f"{path!r} is not a plain value")
    return KINDS[tp]
