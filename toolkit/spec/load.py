"""Find, read and validate package specs; list the shipped ones.

A spec is data from anyone. It is validated by `package_specs/schema.json` (JSON Schema Draft
2020-12), then checked for what a schema cannot say (parameters, period rule, VAT codes here; source
paths, formats and file names by the compiler). Every problem is collected with its JSON path and
raised together in one `SpecError`; no traceback reaches the user.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import jsonschema

from toolkit.resources import specs_dir
from toolkit.spec.compile import compile_files
from toolkit.spec.errors import Problem, SpecError, json_path
from toolkit.spec.params import Parameter, parameter, regex_problem
from toolkit.spec.plans import CompiledSpec

SCHEMA_FILE = "schema.json"
ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,39}"  # as the schema's `id` pattern


@dataclass(frozen=True, eq=False)
class Spec:
    id: str
    name: str
    description: str
    countries: tuple[str, ...]
    format_version: str
    stream: str  # bookkeeping | einvoice: what an export of this package counts as (see app.export)
    parameters: tuple[Parameter, ...]
    customer_numbers: Mapping[str, Any]  # as declared: pattern, min_length, max_length, length, min, max
    accounts: Mapping[str, Any]  # as declared: pattern, min_length, max_length (a number or {param})
    period: Mapping[str, Any]  # fiscal_year_start / _end, reason
    vat_codes: Mapping[tuple, str]  # (regime, rate or None, doc type or None) -> code
    path: Path
    plans: CompiledSpec
    document_numbers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # keep (all | digits), unique (per journal)

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def vat_code(self, regime: str, rate: Decimal, doc_type: str) -> str | None:
        """The package's VAT code, or None when its table has no row for this combination.

        The most specific row wins: an exact rate beats a row without rate, an exact document type
        beats a row without one.
        """
        codes = self.vat_codes
        for key in ((regime, rate, doc_type), (regime, rate, None), (regime, None, doc_type), (regime, None, None)):
            code = codes.get(key)
            if code is not None:
                return code
        return None

    def customer_number_rules(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The customer number rules for these parameter values: `length` and `starts_with`
        bounds made concrete (pattern, min_length, max_length, min, max). A parameter without a
        value (reported by `resolve_params`) drops the rules that need it."""
        rules = {k: v for k, v in self.customer_numbers.items() if k not in ("length", "min", "max")}
        length = self.customer_numbers.get("length")
        if isinstance(length, Mapping):
            value = params.get(length["param"])
            length = value + length.get("add", 0) if isinstance(value, int) else None
        if length is not None:
            rules["min_length"] = rules["max_length"] = length
        for key, fill in (("min", "0"), ("max", "9")):
            bound = self.customer_numbers.get(key)
            if isinstance(bound, Mapping):
                digits = bound["starts_with"]
                bound = int(digits.ljust(length, fill)) if length is not None and len(digits) <= length else None
            if bound is not None:
                rules[key] = bound
        return rules

    def account_rules(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The ledger account rules for these parameter values: a `max_length` given as {param}
        becomes that parameter's value (DATEV: a G/L account has at most Sachkontenlänge digits;
        a longer number is a personal account). Without a value (reported by `resolve_params`)
        that bound is dropped."""
        rules = dict(self.accounts)
        bound = rules.get("max_length")
        if isinstance(bound, Mapping):
            value = params.get(bound["param"])
            if isinstance(value, int):
                rules["max_length"] = value
                rules["max_length_from"] = self.parameter(bound["param"]).label
            else:
                del rules["max_length"]
        return rules

    @property
    def file_names(self) -> list[str]:
        return [f.name for f in self.plans.files]


def load_spec(id_or_path: str | Path) -> Spec:
    """A shipped spec by its id, or any spec file by path; SpecError listing every problem."""
    path = _spec_path(id_or_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise SpecError([f"cannot be read ({exc.strerror or exc})"], path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpecError([f"not valid JSON ({exc})"], path) from None
    _validate(data, path)
    return _build(data, path)


def list_specs() -> list[Spec]:
    """Every spec shipped in package_specs/, by id."""
    specs = [load_spec(p) for p in sorted(specs_dir().glob("*.json")) if p.name != SCHEMA_FILE]
    return sorted(specs, key=lambda s: s.id)


def _spec_path(id_or_path: str | Path) -> Path:
    text = str(id_or_path)
    if isinstance(id_or_path, Path) or text.endswith(".json") or "/" in text or "\\" in text:
        return Path(id_or_path)
    if not re.fullmatch(ID_PATTERN, text):
        raise SpecError([f"{text!r} is not a package id (up to 40 lower-case letters, digits and '-')"])
    path = specs_dir() / f"{text}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in specs_dir().glob("*.json") if p.name != SCHEMA_FILE))
        raise SpecError([f"no package spec {text!r}; known packages: {known}"])
    return path


@cache
def schema() -> dict:
    return json.loads((specs_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _validate(data: Any, path: Path) -> None:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        problems = [Problem(json_path(list(at)), message) for at, message in (_explain(e) for e in errors)]
        raise SpecError(problems, path, heading="does not match the package spec schema")


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
    """The Spec of schema-valid JSON, compiled; SpecError with every problem found."""
    problems: list[Problem] = []

    def note(at: str, message: str) -> None:
        problems.append(Problem(at, message))

    params = tuple(parameter(p, ["parameters", i], note) for i, p in enumerate(data.get("parameters", [])))
    seen: set[str] = set()
    for i, p in enumerate(params):
        if p.name in seen:
            note(json_path(["parameters", i, "name"]), f"parameter {p.name!r} is declared twice")
        seen.add(p.name)
    by_name = {p.name: p for p in params}
    for key in ("customer_numbers", "accounts"):
        pattern = data.get(key, {}).get("pattern")
        if pattern is not None and (problem := regex_problem(pattern)):
            note(json_path([key, "pattern"]), problem)
    numbers = data.get("customer_numbers", {})
    length = numbers.get("length")
    if isinstance(length, Mapping):
        param = by_name.get(length["param"])
        if param is None or param.type != "integer":
            note(json_path(["customer_numbers", "length", "param"]),
                 f"{length['param']!r} is not an integer parameter declared in `parameters`")
    bound = data.get("accounts", {}).get("max_length")
    if isinstance(bound, Mapping):
        param = by_name.get(bound["param"])
        if param is None or param.type != "integer":
            note(json_path(["accounts", "max_length", "param"]),
                 f"{bound['param']!r} is not an integer parameter declared in `parameters`")
    for key in ("min", "max"):
        if isinstance(numbers.get(key), Mapping) and length is None:
            note(json_path(["customer_numbers", key]), "`starts_with` needs the rule's `length`")
    period = data.get("period", {})
    for key, kinds in (("fiscal_year_start", ("date", "integer")), ("fiscal_year_end", ("date",))):
        name = period.get(key)
        if name is None:
            continue
        param = by_name.get(name)
        if param is None:
            note(json_path(["period", key]), f"no parameter {name!r} is declared in `parameters`")
        elif param.type not in kinds:
            note(json_path(["period", key]), f"{name!r} is a {param.type} parameter; expected {' or '.join(kinds)}")
    vat_codes: dict[tuple, str] = {}
    for i, row in enumerate(data.get("vat_codes", [])):
        key = (row["regime"], row.get("rate"), row.get("doc_type"))
        if key in vat_codes:
            note(json_path(["vat_codes", i]), f"a second row for {key[0]} / rate {key[1] if key[1] is not None else 'any'}"
                 f" / {key[2] or 'any document type'}")
        vat_codes[key] = row["code"]
    plans, compile_problems = compile_files(data["files"], params)
    problems += compile_problems
    if problems:
        raise SpecError(problems, path)
    return Spec(
        id=data["id"],
        name=data["name"],
        description=data["description"],
        countries=tuple(data["countries"]),
        format_version=data["format_version"],
        stream=data.get("stream", "bookkeeping"),
        parameters=params,
        customer_numbers=MappingProxyType(dict(data.get("customer_numbers", {}))),
        accounts=MappingProxyType(dict(data.get("accounts", {}))),
        period=MappingProxyType(dict(period)),
        vat_codes=MappingProxyType(vat_codes),
        path=path,
        plans=plans,
        document_numbers=MappingProxyType(dict(data.get("document_numbers", {}))),
    )
