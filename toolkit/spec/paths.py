"""Source paths: what a spec may read from the accounting output, and the kind of value it gets.

Paths are resolved against the model's dataclasses only: a path never names anything but a field or
property of a known model class, a declared parameter or an index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from decimal import Decimal
from functools import cache
from typing import Any, Mapping

from toolkit import model
from toolkit.spec.params import Parameter

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
    "line": model.EInvoiceLine,  # an e-invoice's lines (document.einvoice, e-invoice packages)
    "vat_category": model.EInvoiceCategory,
}
HIDDEN = frozenset({"where", "invoice", "extra", "params", "settings", "documents", "postings", "vat_groups",
                    "revenue_groups", "customers", "accounts", "lines", "vat_categories"})
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
