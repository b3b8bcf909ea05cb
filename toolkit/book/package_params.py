"""The chosen package's own settings on the Settings sheet: which rows, their help and values.

A package spec declares parameters (DATEV's consultant number, FEC's SIREN); the Settings sheet
shows the chosen package's ones below the general settings, each with its help and allowed
values. Values of other packages' parameters are kept in hidden rows, so changing back loses
nothing; `workbook upgrade` lays the rows out again for the package then chosen.
"""

from __future__ import annotations

from functools import cache

from toolkit import spec as specs

NUMBER_FORMATS = {"date": "yyyy-mm-dd", "integer": "0", "string": "@", "choice": "@", "boolean": "@"}


@cache
def _shipped() -> dict[str, specs.Spec]:
    return {spec.id: spec for spec in specs.list_specs()}


def package_ids() -> list[str]:
    return sorted(_shipped())


def shipped_spec(package) -> specs.Spec | None:
    """The shipped spec of a package id; None for anything else (empty, a path, a typo)."""
    return _shipped().get(str(package or "").strip().lower())


def section_title(spec: specs.Spec) -> str:
    return f"Settings of {spec.name}"


def is_section_title(label) -> bool:
    return str(label).strip() in {section_title(spec) for spec in _shipped().values()}


def help_text(param: specs.Parameter) -> str:
    """The parameter's help, with what it must be."""
    parts = ["Required." if param.required and param.default is None and not param.default_setting else ""]
    parts.append(param.help)
    if param.choices:
        parts.append("Allowed: " + ", ".join(param.choices) + ".")
    elif param.min is not None or param.max is not None:
        low, high = param.min, param.max
        parts.append(f"Allowed: {low} to {high}." if low is not None and high is not None
                     else f"Allowed: at least {low}." if low is not None else f"Allowed: at most {high}.")
    elif param.type == "date":
        parts.append("A date, e.g. 2026-01-01.")
    if param.default is not None:
        parts.append(f"Empty = {param.default}.")
    return " ".join(p for p in parts if p)


def take(values: dict, param: specs.Parameter):
    """Remove and return the value `values` holds for `param` (by label or name, any case);
    the spec's default when none (nothing when the default is another setting's value)."""
    wanted = {param.label.casefold(), param.name.casefold()}
    for key in list(values):
        if str(key).strip().casefold() in wanted:
            return values.pop(key)
    return param.default


def other_packages_labels(chosen: specs.Spec | None) -> set[str]:
    """Folded labels and names of the parameters of every shipped package but `chosen`."""
    own = {p.label.casefold() for p in chosen.parameters} if chosen else set()
    return {text.casefold() for spec in _shipped().values() if spec is not chosen
            for p in spec.parameters for text in (p.label, p.name)} - own
