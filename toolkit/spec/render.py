"""Render a package spec over a Batch: the accounting output -> the bytes of the package's files.

Two stages keep rendering fast: `compile_spec` turns the spec's JSON once into plans (getters,
formatters, checks, all validated with the JSON path of their origin), and `render` binds those
plans to one batch (parameters and batch-level values become constants) and runs closures per
line. Nothing here computes money: values are chosen, formatted and checked.

Text problems are collected, never raised one by one: warnings (`text.truncated`, ...) go into
`Rendered.warnings`; errors (`text.too_long`, `text.unrepresentable`, ...) all together into one
`RenderError`. Each finding names the document (or customer) and the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter, itemgetter
from typing import Any, Callable, Mapping, NamedTuple

from toolkit.model import NOWHERE, Batch, Finding, Where
from toolkit.spec.specs import Spec, SpecError, check_regex, json_path, path_type

# ---- results ------------------------------------------------------------------------------------


@dataclass
class Rendered:
    files: list[tuple[str, bytes]]
    warnings: list[Finding]


class RenderError(Exception):
    def __init__(self, findings: list[Finding]):
        self.findings = findings
        lines = "\n".join(f"  {f.sheet}!{f.cell}: {f.message}" if f.sheet else f"  {f.message}" for f in findings)
        super().__init__(f"{len(findings)} problem(s) prevent the export:\n{lines}")


# ---- fixed vocabularies -------------------------------------------------------------------------

LINE_ENDINGS = {"crlf": "\r\n", "lf": "\n", "cr": "\r"}
XML_ENCODING_NAMES = {"cp1252": "windows-1252", "latin-1": "ISO-8859-1", "iso-8859-15": "ISO-8859-15",
                      "utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp437": "IBM437"}
UNICODE_ENCODINGS = frozenset({"utf-8", "utf-8-sig"})
# Transliterations NFKD cannot find (it only strips accents).
TRANSLITERATIONS = {
    "ß": "ss", "ẞ": "SS", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d",
    "Ł": "L", "ł": "l", "Þ": "Th", "þ": "th", "ı": "i", "€": "EUR", "£": "GBP", "‘": "'", "’": "'", "‚": "'",
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "–": "-", "—": "-", "‐": "-", "−": "-", "…": "...",
    "•": "*", "\u00a0": " ", "\u202f": " ", "™": "TM", "©": "(c)", "®": "(R)", "°": "o",
}
# Where a scope root's findings point: the record that carries the cell.
COLLECTION_SCOPES = {
    "batch": frozenset(),
    "documents": frozenset({"document", "customer"}),
    "postings": frozenset({"document", "customer", "posting"}),
    "vat_groups": frozenset({"document", "customer", "vat_group"}),
    "revenue_groups": frozenset({"document", "customer", "revenue_group"}),
    "customers": frozenset({"customer"}),
    "accounts": frozenset({"account"}),
}
BASE_SCOPES = frozenset({"batch", "settings"})
HOISTED_ROOTS = frozenset({"batch", "settings", "params"})  # constant during one render
NAME_PLACEHOLDERS = {"export_id": "text", "period_from": "date", "period_to": "date", "created_at": "datetime"}
NAME_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z][a-z0-9_]*)?)(?::([^{}]*))?\}")
NESTED_COLLECTIONS = frozenset({"postings", "vat_groups", "revenue_groups"})
MEMO_LIMIT = 200_000  # remembered texts per field and render
RESERVED_NAMES = frozenset({"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10)})


# ---- compiled plans -----------------------------------------------------------------------------


@dataclass
class FieldPlan:
    name: str
    kind: str  # value kind after formatting decides quoting: text | decimal | integer | date | ...
    path: str = ""  # source path ("" for constants)
    getter: Callable | None = None  # ctx -> value (per line)
    hoisted: str = ""  # path resolved once per render (batch., settings., params.)
    constant: Any = None
    is_constant: bool = False
    make_format: Callable = None  # params -> (value -> str)
    textual: bool = True  # runs the text pipeline (replace, encoding, ...)
    text_opts: Mapping = field(default_factory=dict)
    if_empty: str = ""
    max_length: int | None = None
    overflow: str = "truncate-and-warn"
    width: int | None = None
    align: str = "left"
    pad: str = " "
    quote: bool | None = None
    lookup: tuple[str, str, str] | None = None  # collection, key attribute, value attribute
    when: Callable | None = None  # ctx -> bool: the field is empty where it is False


@dataclass
class RecordPlan:
    name: str
    collection: str | None
    nested_in_document: bool
    when: Callable | None
    fields: list[FieldPlan] | None  # None: the record writes no line of its own
    children: list["RecordPlan"]
    block: tuple[str, str, str] | None  # open, close, indent
    per_line_of_document: bool  # iterates postings / VAT groups / revenue groups of documents
    element: str = ""
    attributes: list[FieldPlan] = field(default_factory=list)
    text: FieldPlan | None = None


@dataclass
class FilePlan:
    raw: Mapping
    name_parts: list  # str literals and (placeholder, pattern) tuples
    when: Callable | None
    encoding: str
    unrepresentable: str
    eol: str
    trailing_newline: bool
    layout: dict
    translate: dict
    columns: list[str] | None
    header: list  # ("text", str) | ("columns", None) | ("record", RecordPlan)
    records: list[RecordPlan]
    omit_when_empty: bool


@dataclass
class CompiledSpec:
    files: list[FilePlan]


def compile_spec(spec: Spec) -> CompiledSpec:
    """The spec's plans, built once and kept on the spec; raises SpecError for what is wrong."""
    if spec.compiled is None:
        spec.compiled = _Compiler(spec).compile()
    return spec.compiled


class _Compiler:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.params = {p.name: p for p in spec.parameters}

    def fail(self, at: list, message: str):
        raise SpecError(f"{self.spec.path}: {json_path(at)}: {message}")

    def compile(self) -> CompiledSpec:
        names = set()
        files = []
        for i, raw in enumerate(self.spec.files):
            files.append(self.file(raw, ["files", i]))
            if raw["name"].casefold() in names:
                self.fail(["files", i, "name"], f"a second file named {raw['name']!r}")
            names.add(raw["name"].casefold())
        return CompiledSpec(files)

    # -- files --

    def file(self, raw: Mapping, at: list) -> FilePlan:
        self.encoding = raw["encoding"]
        self.layout_kind = raw["layout"]["kind"]
        self.columns = None
        layout = self.layout(raw["layout"], at + ["layout"])
        translate = {ord(k): v for k, v in raw.get("replace", {}).items() if self.single_char(k, at + ["replace"])}
        columns, self.column_kinds = self.column_list(raw.get("columns"))
        if columns and layout["kind"] in ("fixed", "xml"):
            self.fail(at + ["columns"], f"columns are for delimited and tagged files, not {layout['kind']}")
        if raw.get("shared_fields") and not columns:
            self.fail(at + ["shared_fields"], "shared_fields place fields by column name: declare `columns`")
        if columns and len(set(columns)) != len(columns):
            self.fail(at + ["columns"], "a column name appears twice")
        self.columns = columns
        self.shared = raw.get("shared_fields", [])
        self.shared_plans: dict = {}  # (index, scopes) -> FieldPlan: one plan per declaration and scope
        header = []
        for i, item in enumerate(raw.get("header", [])):
            item_at = at + ["header", i]
            if "text" in item:
                self.check_encodable(item["text"], item_at + ["text"])
                header.append(("text", item["text"]))
            elif "column_names" in item:
                if not columns:
                    self.fail(item_at, "column_names needs the file's `columns`")
                for c in columns:
                    self.check_encodable(c, at + ["columns"])
                header.append(("columns", None))
            else:
                rec = item["record"]
                if rec.get("collection") not in (None, "batch"):
                    self.fail(item_at + ["record", "collection"], "a header record is rendered once, over the batch")
                header.append(("record", self.record(rec, item_at + ["record"], BASE_SCOPES, top=True, positional=True)))
        records = [self.record(r, at + ["records", i], BASE_SCOPES, top=True) for i, r in enumerate(raw["records"])]
        return FilePlan(
            raw=raw,
            name_parts=self.name_pattern(raw["name"], at + ["name"]),
            when=self.conditions(raw.get("when"), at + ["when"], BASE_SCOPES),
            encoding=raw["encoding"],
            unrepresentable=raw.get("unrepresentable", "error"),
            eol=LINE_ENDINGS[raw["line_ending"]],
            trailing_newline=raw["trailing_newline"],
            layout=layout,
            translate=translate,
            columns=columns,
            header=header,
            records=records,
            omit_when_empty=raw.get("omit_when_empty", False),
        )

    @staticmethod
    def column_list(raw: list | None) -> tuple[list[str] | None, dict[str, str]]:
        """(column names, kind of each column that is not text) from `columns`, whose items are
        names or {"name": ..., "kind": ...}."""
        if raw is None:
            return None, {}
        names = [c if isinstance(c, str) else c["name"] for c in raw]
        kinds = {c["name"]: c["kind"] for c in raw if not isinstance(c, str) and c.get("kind", "text") != "text"}
        return names, kinds

    def layout(self, raw: Mapping, at: list) -> dict:
        kind = raw["kind"]
        allowed = {"delimited": {"delimiter", "quoting", "quote_char", "quote_escape", "quote_replacement", "quote_empty"},
                   "tagged": {"delimiter", "quoting", "quote_char", "quote_escape", "quote_replacement", "quote_empty"},
                   "fixed": set(),
                   "xml": {"root", "root_attributes", "declaration", "indent"}}[kind]
        for key in raw:
            if key != "kind" and key not in allowed:
                self.fail(at + [key], f"not an option of a {kind} layout (options: {', '.join(sorted(allowed)) or 'none'})")
        layout = dict(raw)
        if kind == "tagged":  # tagged records: space separated, quoted only when needed, \" inside quotes
            defaults = {"delimiter": " ", "quoting": "minimal", "quote_char": '"', "quote_escape": "backslash", "quote_empty": True}
        elif kind == "delimited":
            if "delimiter" not in raw:
                self.fail(at, "a delimited layout needs a `delimiter`")
            defaults = {"quoting": "minimal", "quote_char": '"', "quote_escape": "double", "quote_empty": False}
        elif kind == "xml":
            if "root" not in raw:
                self.fail(at, "an xml layout needs a `root` element")
            defaults = {"declaration": True, "indent": "  "}
        else:
            defaults = {}
        for key, value in defaults.items():
            layout.setdefault(key, value)
        if layout.get("quote_escape") == "replace" and "quote_replacement" not in layout:
            self.fail(at, "quote_escape replace needs a `quote_replacement`")
        if "delimiter" in layout:
            self.option(layout["delimiter"], at + ["delimiter"], lambda v: v != "" or "the delimiter cannot be empty")
        if kind == "xml":
            self.root_attributes = [self.field(f, at + ["root_attributes", i], BASE_SCOPES)
                                    for i, f in enumerate(raw.get("root_attributes", []))]
            layout["root_attributes"] = self.root_attributes
        return layout

    def name_pattern(self, pattern: str, at: list) -> list:
        parts: list = []
        pos = 0
        for m in NAME_PLACEHOLDER.finditer(pattern):
            parts.append(pattern[pos:m.start()])
            name, fmt = m.group(1), m.group(2)
            if name.startswith("param."):
                param = self.params.get(name[6:])
                if param is None:
                    self.fail(at, f"placeholder {{{name}}}: no parameter {name[6:]!r} is declared")
                kind = {"date": "date"}.get(param.type, "text")
            elif name in NAME_PLACEHOLDERS:
                kind = NAME_PLACEHOLDERS[name]
            else:
                self.fail(at, f"unknown placeholder {{{name}}} (known: {', '.join(NAME_PLACEHOLDERS)}, param.NAME)")
            if fmt is not None and kind == "text":
                self.fail(at, f"placeholder {{{name}}} is not a date and takes no pattern")
            parts.append((name, self.date_pattern(fmt, at) if fmt is not None else None))
            pos = m.end()
        parts.append(pattern[pos:])
        literal = "".join(p if isinstance(p, str) else "x" for p in parts)
        if "{" in literal or "}" in literal:
            self.fail(at, "a brace that is not a placeholder")
        problem = unsafe_name(literal)
        if problem:
            self.fail(at, f"the file name {problem}")
        return parts

    # -- records --

    def record(self, raw: Mapping, at: list, scopes: frozenset, top: bool, positional: bool = False) -> RecordPlan:
        collection = raw.get("collection")
        nested_in_document = "document" in scopes
        if collection is not None:
            if collection == "batch" and not top:
                self.fail(at + ["collection"], "batch is iterated at the top level only")
            if nested_in_document and collection in ("documents", "customers", "accounts"):
                self.fail(at + ["collection"], f"{collection} cannot be nested inside a document")
            if scopes & COLLECTION_SCOPES[collection] - {"document", "customer"}:
                self.fail(at + ["collection"], f"{collection} is already being iterated here")
            scopes = scopes | COLLECTION_SCOPES[collection]
        xml = self.layout_kind == "xml"
        for key in ("element", "attributes", "text"):
            if key in raw and not xml:
                self.fail(at + [key], f"`{key}` is for xml files")
        if xml and "block" in raw:
            self.fail(at + ["block"], "`block` is for line-based files; xml nests elements")
        if xml and "element" not in raw and ("fields" in raw or "attributes" in raw or "text" in raw):
            self.fail(at, "an xml record with fields, attributes or text needs an `element`")
        if "text" in raw and raw.get("children"):
            self.fail(at + ["text"], "an element has either text or children, not both")
        fields = None
        if "fields" in raw:
            fields = self.line_fields(raw["fields"], at, scopes, positional or xml)
        block = raw.get("block")
        if block is not None:
            for key in ("open", "close"):
                if key in block:
                    self.check_encodable(block[key], at + ["block", key])
            block = (block.get("open"), block.get("close"), block.get("indent", ""))
        return RecordPlan(
            name=raw.get("name") or raw.get("element") or collection or "record",
            collection=collection,
            nested_in_document=nested_in_document,
            when=self.conditions(raw.get("when"), at + ["when"], scopes),
            fields=fields,
            children=[self.record(c, at + ["children", i], scopes, top=False) for i, c in enumerate(raw.get("children", []))],
            block=block,
            per_line_of_document=bool(scopes & {"posting", "vat_group", "revenue_group"}),
            element=raw.get("element", ""),
            attributes=[self.field(f, at + ["attributes", i], scopes) for i, f in enumerate(raw.get("attributes", []))],
            text=self.field(raw["text"], at + ["text"], scopes) if "text" in raw else None,
        )

    def line_fields(self, raw_fields: list, at: list, scopes: frozenset, positional: bool) -> list:
        own = [self.field(f, at + ["fields", i], scopes) for i, f in enumerate(raw_fields)]
        if positional or not self.columns:
            return own
        by_name = {}
        for i, plan in enumerate(own):
            if plan.name not in self.columns:
                self.fail(at + ["fields", i, "name"], f"{plan.name!r} is not one of the file's columns")
            if plan.name in by_name:
                self.fail(at + ["fields", i, "name"], f"a second field for column {plan.name!r}")
            by_name[plan.name] = plan
        shared_at = at[:at.index("records")] + ["shared_fields"]
        for i, raw in enumerate(self.shared):
            if raw["name"] not in self.columns:
                self.fail(shared_at + [i, "name"], f"{raw['name']!r} is not one of the file's columns")
            if raw["name"] not in by_name:
                key = (i, scopes)
                if key not in self.shared_plans:
                    self.shared_plans[key] = self.field(raw, shared_at + [i], scopes)
                by_name[raw["name"]] = self.shared_plans[key]
        return [by_name.get(c) or self.filler(c, at, scopes) for c in self.columns]

    def filler(self, column: str, at: list, scopes: frozenset) -> FieldPlan:
        """The empty value of a column no field fills; a number or date column's is not text (so
        `text-only` quoting leaves it unquoted)."""
        plan = self.field({"name": column, "constant": ""}, at, scopes)
        kind = self.column_kinds.get(column)
        if kind:
            plan.kind, plan.textual = kind, False
        return plan

    def conditions(self, raw: list | None, at: list, scopes: frozenset) -> Callable | None:
        if not raw:
            return None
        tests = [self.condition(c, at + [i], scopes) for i, c in enumerate(raw)]
        if len(tests) == 1:
            return tests[0]
        if len(tests) == 2:
            first, second = tests
            return lambda ctx: first(ctx) and second(ctx)
        return lambda ctx: all(t(ctx) for t in tests)

    def condition(self, raw: Mapping, at: list, scopes: frozenset) -> Callable:
        kind = self.kind_of(raw["path"], at + ["path"], scopes)
        get = self.getter(raw["path"])
        op = raw["op"]
        if op in ("empty", "not_empty"):
            if "value" in raw:
                self.fail(at + ["value"], f"{op} takes no value")
            want = op == "empty"
            return lambda ctx: (get(ctx) in (None, "")) == want
        if "value" not in raw:
            self.fail(at, f"{op} needs a value")
        if op in ("in", "not_in"):
            if not isinstance(raw["value"], list):
                self.fail(at + ["value"], f"{op} needs a list")
            values = frozenset(self.typed(v, kind, at + ["value", i]) for i, v in enumerate(raw["value"]))
            if op == "in":
                return lambda ctx: get(ctx) in values
            return lambda ctx: get(ctx) not in values
        value = self.typed(raw["value"], kind, at + ["value"])
        compare = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge,
                   "lt": operator.lt, "le": operator.le}[op]
        if op == "eq":
            return lambda ctx: get(ctx) == value
        if op == "ne":
            return lambda ctx: get(ctx) != value
        return lambda ctx: (v := get(ctx)) is not None and compare(v, value)

    def typed(self, value: Any, kind: str, at: list) -> Any:
        """A JSON value as the kind of the path it is compared with."""
        try:
            if kind in ("decimal", "integer") and not isinstance(value, bool):
                number = Decimal(str(value))
                return int(number) if kind == "integer" and number == int(number) else number
            if kind == "boolean" and isinstance(value, bool):
                return value
            if kind in ("date", "datetime") and isinstance(value, str):
                return dt.date.fromisoformat(value)
            if kind == "text" and isinstance(value, str):
                return value
        except ValueError:
            pass
        self.fail(at, f"{value!r} cannot be compared with a {kind} value")

    # -- fields --

    def kind_of(self, path: str, at: list, scopes: frozenset) -> str:
        try:
            return path_type(path, scopes, self.params)
        except ValueError as exc:
            self.fail(at, str(exc))

    @staticmethod
    def getter(path: str) -> Callable:
        if path.startswith("params."):
            name = path[7:]
            return lambda ctx: ctx.params.get(name)
        return attrgetter(path)

    def field(self, raw: Mapping, at: list, scopes: frozenset) -> FieldPlan:
        fmt = raw.get("format", {})
        ftype = fmt.get("type")
        plan = FieldPlan(name=raw["name"], kind="text")
        if "constant" in raw:
            plan.is_constant = True
            source_kind = {"decimal": "decimal", "integer": "integer", "date": "date"}.get(ftype, "text")
            plan.constant = self.parse_constant(raw["constant"], source_kind, at + ["constant"])
        else:
            path = raw.get("source") or f"params.{raw['param']}"
            source_kind = self.kind_of(path, at + (["source"] if "source" in raw else ["param"]), scopes)
            plan.path = path
            if path.split(".")[0] in HOISTED_ROOTS:
                plan.hoisted = path
            else:
                plan.getter = self.getter(path)
            if "lookup" in raw:
                source_kind = self.lookup(plan, raw["lookup"], source_kind, at + ["lookup"])
        if "map" in raw:
            if ftype not in (None, "text"):
                self.fail(at + ["format", "type"], "a mapped value is text: use no format or a text format")
            for key, out in raw["map"]["values"].items():
                self.check_encodable(out, at + ["map", "values", key])
        plan.make_format, plan.kind = self.formatter(raw, fmt, source_kind, at)
        plan.textual = plan.kind == "text"
        plan.text_opts = fmt if ftype == "text" else {}
        for ch in plan.text_opts.get("replace", {}):
            self.single_char(ch, at + ["format", "replace"])
        if "allowed" in plan.text_opts:
            check_regex(f"[^{fmt['allowed']}]", self.spec.path, at + ["format", "allowed"])
        for text in [plan.text_opts.get("replacement", "")] + list(plan.text_opts.get("replace", {}).values()):
            self.check_encodable(text, at + ["format"])
        plan.when = self.conditions(raw.get("when"), at + ["when"], scopes)
        for key in ("if_empty", "max_length", "overflow", "width", "align", "pad", "quote"):
            if key in raw:
                setattr(plan, key, raw[key])
        if plan.if_empty:
            self.check_encodable(plan.if_empty, at + ["if_empty"])
        if self.layout_kind == "fixed" and plan.width is None:
            self.fail(at, "every field of a fixed-width file needs a `width`")
        if plan.max_length and plan.width and plan.max_length > plan.width:
            self.fail(at + ["max_length"], "max_length is longer than width")
        if plan.is_constant and plan.kind == "text":
            self.check_encodable(str(plan.constant), at + ["constant"])
        return plan

    def lookup(self, plan: FieldPlan, raw: Mapping, key_kind: str, at: list) -> str:
        """The value becomes an attribute of the item of a collection it names, e.g. an account's name."""
        collection, key, value = raw["collection"], raw["key"], raw["value"]
        scope = {"accounts": "account", "customers": "customer"}[collection]
        kinds = [self.kind_of(f"{scope}.{name}", at + [part], frozenset({scope})) for name, part in ((key, "key"), (value, "value"))]
        if kinds[0] != key_kind:
            self.fail(at + ["key"], f"{scope}.{key} is {kinds[0]}, the source is {key_kind}")
        plan.lookup = (collection, key, value)
        return kinds[1]

    def parse_constant(self, text: str, kind: str, at: list) -> Any:
        try:
            if kind in ("decimal", "integer"):
                number = Decimal(text)
                return int(number) if kind == "integer" else number
            if kind == "date":
                return dt.date.fromisoformat(text)
        except (ValueError, ArithmeticError):
            self.fail(at, f"{text!r} is not a {kind} constant")
        return text

    def formatter(self, raw: Mapping, fmt: Mapping, source: str, at: list) -> tuple[Callable, str]:
        """(params -> (value -> text), kind of the rendered value)."""
        ftype = fmt.get("type")
        fat = at + ["format"]
        accepts = {"decimal": ("decimal", "integer"), "integer": ("integer",), "date": ("date", "datetime"),
                   "indicator": ("decimal", "integer"), "boolean": ("boolean",)}
        if ftype in accepts and source not in accepts[ftype]:
            self.fail(fat + ["type"], f"a {ftype} format needs a {' or '.join(accepts[ftype])} source, this one is {source}")
        zero_empty = raw.get("empty_when_zero", False)
        if zero_empty and source not in ("decimal", "integer"):
            self.fail(at + ["empty_when_zero"], f"empty_when_zero is for numbers, this source is {source}")
        if "map" in raw:
            return _map_formatter(raw["map"], source), "text"
        if ftype == "decimal":
            sep = self.option(fmt.get("decimal_separator", "."), fat + ["decimal_separator"])
            thousands = self.option(fmt.get("thousands_separator", ""), fat + ["thousands_separator"])
            if "other_side" in fmt and "side" not in fmt:
                self.fail(fat + ["other_side"], "other_side needs `side`")
            return (lambda params: _decimal_formatter(fmt, sep(params), thousands(params), zero_empty)), "decimal"
        if ftype == "date":
            pattern = self.option(fmt["pattern"], fat + ["pattern"], lambda p: (self.date_pattern(p, fat + ["pattern"]), True)[1])
            return (lambda params: _date_formatter(self.date_pattern(pattern(params), fat))), "date"
        if ftype == "integer":
            return (lambda params: _integer_formatter(zero_empty)), "integer"
        if ftype == "indicator":
            debit, credit = fmt["debit"], fmt["credit"]
            return (lambda params: lambda v: "" if v is None else (debit if v >= 0 else credit)), "text"
        if ftype == "boolean":
            yes, no = fmt["true"], fmt["false"]
            return (lambda params: lambda v: "" if v is None else (yes if v else no)), "text"
        if source in ("decimal", "integer"):
            return (lambda params: _plain_number(zero_empty)), source
        if ftype == "text" and "picture" in fmt:
            picture = fmt["picture"]
            for key, mask in picture["masks"].items():
                self.check_encodable(mask, fat + ["picture", "masks", key])
        return (lambda params: _plain), "text" if ftype == "text" or source in ("text", "boolean") else source

    def option(self, value: Any, at: list, check: Callable = lambda v: True) -> Callable:
        """A layout/format option: a constant, or a parameter (translated by its `map`)."""
        if isinstance(value, str):
            problem = check(value)
            if problem is not True:
                self.fail(at, problem)
            return lambda params: value
        param = self.params.get(value["param"])
        if param is None:
            self.fail(at + ["param"], f"no parameter {value['param']!r} is declared in `parameters`")
        if param.type != "choice":
            self.fail(at + ["param"], f"an option can only come from a choice parameter; {param.name!r} is {param.type}")
        table = value.get("map", {})
        for choice in param.choices:
            problem = check(table.get(choice, choice))
            if problem is not True:
                self.fail(at + ["map"], f"choice {choice!r}: {problem}")
        name = param.name
        default = table.get(param.default, param.default) if param.default is not None else None
        return lambda params: table.get(params.get(name), params.get(name) or default or "")

    def date_pattern(self, pattern: str, at: list) -> tuple:
        parts = []
        i = 0
        while i < len(pattern):
            ch = pattern[i]
            if ch != "%":
                parts.append(ch)
                i += 1
                continue
            directive = pattern[i:i + 2]
            if directive not in _DATE_DIRECTIVES:
                self.fail(at, f"unknown date directive {directive!r} in {pattern!r} (known: {' '.join(_DATE_DIRECTIVES)})")
            parts.append(_DATE_DIRECTIVES[directive])
            i += 2
        return tuple(parts)

    def single_char(self, key: str, at: list) -> bool:
        if len(key) != 1:
            self.fail(at + [key], "replacements are keyed by single characters")
        return True

    def check_encodable(self, text: str, at: list) -> None:
        if self.encoding in UNICODE_ENCODINGS:
            return
        try:
            text.encode(self.encoding)
        except UnicodeEncodeError:
            self.fail(at, f"{text!r} cannot be written in {self.encoding}")


def unsafe_name(name: str) -> str:
    """Why a file name could leave the output folder or break on a file system; "" when safe."""
    if not name.strip():
        return "is empty"
    if "/" in name or "\\" in name:
        return f"{name!r} contains a path separator"
    if ".." in name:
        return f"{name!r} contains '..'"
    if ":" in name:
        return f"{name!r} contains ':' (drive letter or stream)"
    if any(ord(c) < 32 or c in '<>"|?*' for c in name):
        return f"{name!r} contains a character that file names cannot hold"
    if name.endswith((".", " ")) or name.split(".")[0].strip().casefold() in RESERVED_NAMES:
        return f"{name!r} is not a usable file name on Windows"
    return ""


# ---- formatters (value -> text) -----------------------------------------------------------------


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def canonical_decimal(value: Decimal) -> str:
    """21.00 -> '21', 5.50 -> '5.5', -0 -> '0'."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _plain_number(zero_empty: bool) -> Callable:
    def fmt(v):
        if v is None or (zero_empty and not v):
            return ""
        return canonical_decimal(v) if isinstance(v, Decimal) else str(v)
    return fmt


def _integer_formatter(zero_empty: bool) -> Callable:
    def fmt(v):
        return "" if v is None or (zero_empty and not v) else str(v)
    return fmt


def _decimal_formatter(fmt: Mapping, sep: str, thousands: str, zero_empty: bool) -> Callable:
    places = fmt.get("places")
    exponent = Decimal(1).scaleb(-places) if places is not None else None
    sign = fmt.get("sign", "signed")
    side = fmt.get("side")
    grouping = ",f" if thousands else "f"
    table = str.maketrans({",": thousands, ".": sep}) if thousands or sep != "." else None

    def number(v: Decimal) -> str:
        if exponent is not None:
            v = v.quantize(exponent, ROUND_HALF_UP)
        if not v:
            v = abs(v)  # no "-0.00"
        text = format(v, grouping)
        return text.translate(table) if table else text

    zero = "" if zero_empty else number(Decimal(0))
    other = number(Decimal(0)) if fmt.get("other_side") == "zero" else ""

    if side == "debit":
        def render(v):
            if v is None:
                return ""
            return other if v < 0 else (number(v) if v else zero)
    elif side == "credit":
        def render(v):
            if v is None:
                return ""
            return number(-v) if v < 0 else other
    else:
        if sign == "absolute":
            pre = abs
        elif sign == "negate":
            pre = operator.neg
        else:
            pre = None

        def render(v):
            if v is None:
                return ""
            if not v:
                return zero
            return number(pre(v) if pre else v)
    return render


_DATE_DIRECTIVES = {
    "%Y": lambda d: f"{d.year:04d}",
    "%y": lambda d: f"{d.year % 100:02d}",
    "%m": lambda d: f"{d.month:02d}",
    "%d": lambda d: f"{d.day:02d}",
    "%H": lambda d: f"{getattr(d, 'hour', 0):02d}",
    "%M": lambda d: f"{getattr(d, 'minute', 0):02d}",
    "%S": lambda d: f"{getattr(d, 'second', 0):02d}",
    "%f": lambda d: f"{getattr(d, 'microsecond', 0):06d}",
    "%L": lambda d: f"{getattr(d, 'microsecond', 0) // 1000:03d}",
    "%q": lambda d: str((d.month - 1) // 3 + 1),
    "%%": lambda d: "%",
}


def _date_formatter(parts: tuple) -> Callable:
    cache: dict = {}  # an export has few distinct dates

    def fmt(d):
        if d is None:
            return ""
        text = cache.get(d)
        if text is None:
            text = cache[d] = "".join(p if isinstance(p, str) else p(d) for p in parts)
        return text
    return fmt


def _map_key(value: Any) -> str:
    return _plain(value).casefold()


def _map_formatter(raw: Mapping, source: str) -> Callable:
    values = {}
    for key, out in raw["values"].items():
        if source in ("decimal", "integer") and key:
            key = canonical_decimal(Decimal(key))
        values[key.casefold()] = out
    default = raw.get("default")

    def make(params):
        def fmt(v):
            key = _map_key(v)
            found = values.get(key)
            if found is not None:
                return found
            return _plain(v) if default is None else default
        return fmt
    return make


def apply_picture(text: str, picture: Mapping) -> str:
    """Compact the value, pick a mask by its letter prefix, lay the rest out on the mask.

    A value that does not fit its mask is written compacted, unmasked (validating it is the
    checks' job, not the renderer's).
    """
    compact = "".join(c for c in text if c.isalnum()).upper()
    length = picture.get("prefix_length", 0)
    prefix = ""
    while len(prefix) < length and len(prefix) < len(compact) and compact[len(prefix)].isalpha():
        prefix += compact[len(prefix)]
    if len(prefix) < length:
        prefix = ""
    body = compact[len(prefix):]
    mask = picture["masks"].get(prefix) or picture["masks"].get("*")
    out = body
    if mask is not None:
        slots = [c for c in mask if c in "9X"]
        if len(slots) == len(body) and all(s == "X" or b.isdigit() for s, b in zip(slots, body)):
            chars = iter(body)
            out = "".join(next(chars) if c in "9X" else c for c in mask)
    return (prefix + out) if picture.get("keep_prefix") else out


# ---- rendering ----------------------------------------------------------------------------------


class _Ctx:
    """The scope of one line; the renderer moves it along the collections instead of copying."""

    __slots__ = ("batch", "settings", "params", "document", "posting", "vat_group", "revenue_group",
                 "customer", "account", "index")

    def __init__(self, batch: Batch):
        self.batch, self.settings, self.params = batch, batch.settings, batch.params
        self.document = self.posting = self.vat_group = self.revenue_group = None
        self.customer = self.account = None
        self.index = 0


def render(spec: Spec, batch: Batch) -> Rendered:
    """Every file of the spec for this batch, or RenderError listing all the problems."""
    compiled = compile_spec(spec)
    run = _Run(spec, batch)
    files = []
    names = set()
    for plan in compiled.files:
        result = run.file(plan)
        if result is None:
            continue
        name, content = result
        if name.casefold() in names:
            run.error("file.name", None, None, f"{spec.name}: two files would be named {name!r}")
        names.add(name.casefold())
        files.append((name, content))
    errors = [f for f in _unique(run.findings) if f.is_error]
    if errors:
        raise RenderError(errors)
    return Rendered(files, [f for f in _unique(run.findings) if not f.is_error])


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


class _Run:
    """One render: binds plans to the batch and collects findings."""

    def __init__(self, spec: Spec, batch: Batch):
        self.spec, self.batch = spec, batch
        self.params = dict(batch.params)
        for p in spec.parameters:
            self.params.setdefault(p.name, None)
        self.ctx = _Ctx(batch)
        self.ctx.params = self.params
        self.findings: list[Finding] = []

    # -- findings --

    def report(self, code: str, severity: str, plan: FieldPlan | None, ctx: _Ctx | None, message: str) -> None:
        where, key, subject = self.locate(plan, ctx)
        cell = where.cell(key) if where.row else ""
        sheet = where.sheet
        field_name = f"{self.file_name}: {plan.name}" if plan else self.file_name
        source = f" ({plan.path})" if plan and plan.path else ""
        self.findings.append(Finding(code, severity, sheet, cell, f"{subject}: {field_name}{source} {message}"))

    def error(self, code, plan, ctx, message):
        self.report(code, "error", plan, ctx, message)

    def locate(self, plan: FieldPlan | None, ctx: _Ctx | None) -> tuple[Where, str | None, str]:
        path = plan.path if plan else ""
        key = path.rsplit(".", 1)[-1] if path else None
        if path.startswith("params."):
            param = self.spec.parameter(path[7:])
            label = param.label if param else ""
            return self.batch.settings.cell(label), "value", f"setting '{label}'"
        if ctx is not None and ctx.document is not None:
            doc = ctx.document
            subject = f"{doc.doc_type} {doc.number}"
            if path.startswith(("customer.", "document.customer.")):
                return doc.customer.where, key, subject
            invoice = doc.invoice
            return (invoice.where if invoice is not None else NOWHERE), key, subject
        if ctx is not None and ctx.customer is not None:
            return ctx.customer.where, key, f"customer {ctx.customer.customer_id}"
        if ctx is not None and ctx.account is not None:
            return ctx.account.where, key, f"account {ctx.account.account}"
        return NOWHERE, None, self.spec.name

    # -- files --

    def file(self, plan: FilePlan) -> tuple[str, bytes] | None:
        self.file_name = plan.raw["name"]
        self.cells: dict = {}
        self.plain_cells: dict[Callable, _PlainCell] = {}
        self.plan = plan
        ctx = self.ctx
        if plan.when is not None and not plan.when(ctx):
            return None
        name = self.file_name = self.name(plan)
        layout = plan.layout
        self.quoting = _Quoting(layout, self.params) if layout["kind"] in ("delimited", "tagged") else None
        before = len(self.findings)
        if layout["kind"] == "xml":
            lines, count = self.xml(plan)
        else:
            lines, count = self.lines(plan)
        if count == 0 and plan.omit_when_empty:
            return None
        eol = "" if layout["kind"] == "xml" and layout["indent"] == "" else plan.eol
        text = eol.join(lines) + (eol if plan.trailing_newline and lines else "")
        del lines  # a large export: do not hold the lines, the text and the bytes at once
        try:
            content = _encode(text, plan.encoding)
        except UnicodeEncodeError as exc:  # a value that escaped the per-field checks: still no bad file
            if len(self.findings) == before:
                self.error("text.unrepresentable", None, None, f"holds {exc.object[exc.start:exc.end]!r}, which {plan.encoding} cannot encode")
            content = b""
        return name, content

    def name(self, plan: FilePlan) -> str:
        out = []
        for part in plan.name_parts:
            if isinstance(part, str):
                out.append(part)
                continue
            key, pattern = part
            value = self.params.get(key[6:]) if key.startswith("param.") else getattr(self.batch, key)
            out.append(_date_formatter(pattern)(value) if pattern is not None else _plain(value))
        name = "".join(out)
        problem = unsafe_name(name)
        if problem:
            self.error("file.name", None, None, f"cannot be written: the file name {problem}")
            return plan.raw["name"]
        return name

    def lines(self, plan: FilePlan) -> tuple[list[str], int]:
        out: list[str] = []
        q = self.quoting
        for kind, item in plan.header:
            if kind == "text":
                out.append(item)
            elif kind == "columns":
                out.append(q.delimiter.join(q.text(c) for c in plan.columns))
            else:
                self.walk(self.bind(item), self.ctx, out, "")
        before = len(out)
        for record in plan.records:
            self.walk(self.bind(record), self.ctx, out, "")
        return out, len(out) - before

    # -- binding: plans -> closures for this batch --

    def bind(self, record: RecordPlan) -> "_Bound":
        line = None
        if record.fields is not None:
            once = [record.per_line_of_document and f.when is None and f.path.split(".")[0] in ("document", "customer")
                    for f in record.fields]
            cells = [self.document_cell(f) if o else self.cell(f) for f, o in zip(record.fields, once)]
            delimiter = "" if self.plan.layout["kind"] == "fixed" else self.quoting.delimiter
            line = _line(cells, once, delimiter, self.plain_cells)
        return _Bound(record, line, [self.bind(c) for c in record.children])

    def cell(self, plan: FieldPlan) -> str | Callable:
        """The field's final text (quoted as the layout wants): a constant, or ctx -> text.
        A plan shared by several records is bound once, so they share its memory."""
        cell = self.cells.get(id(plan))
        if cell is None:
            cell = self.cells[id(plan)] = self.new_cell(plan)
        return cell

    def document_cell(self, plan: FieldPlan) -> Callable:
        """A cell that depends on the document only: rendered once per document, whichever of the
        document's records asks first."""
        key = ("document", id(plan))
        if key not in self.cells:
            cell, last = self.cell(plan), [None, ""]

            def per_document(ctx):
                if ctx.document is not last[0]:
                    last[0], last[1] = ctx.document, cell(ctx)
                return last[1]
            self.cells[key] = per_document
        return self.cells[key]

    def new_cell(self, plan: FieldPlan) -> str | Callable:
        fmt = plan.make_format(self.params)
        finish = self.finisher(plan)
        quote, strict = self.quoting.quoter(plan) if self.quoting else (_identity, False)
        if strict:
            finish = _chain(finish, self.unquoted_step(plan))
        quiet = not strict and not self.may_report(plan)
        return self.memoized(plan, lambda v, ctx: quote(finish(fmt(v), ctx)), quote(finish("", None)),
                             quiet and _compose(quote, finish, fmt))

    def memoized(self, plan: FieldPlan, compute: Callable, empty: str, quiet: Callable | None = None) -> str | Callable:
        """The field as a constant text or as ctx -> text.

        Values repeat a lot (dates, journals, codes, descriptions), so each field remembers the text
        of the values it has rendered, except those that raised a finding: those are rendered (and
        reported) again on every line, naming each line's document. A field whose text pipeline
        reports nothing passes `quiet` (value -> text, the same as compute): new values are then
        rendered inside the memory's own lookup.
        """
        when = plan.when
        if plan.is_constant or plan.hoisted:
            value = plan.constant if plan.is_constant else self.hoisted(plan.hoisted)
            if plan.lookup is not None:
                value = self.looked_up(plan.lookup, lambda ctx: value)(None)
            text = compute(value, None)
            if when is None:
                return text
            return lambda ctx: text if when(ctx) else empty
        get, findings = plan.getter, self.findings
        if plan.lookup is not None:  # texts are remembered by the key: one lookup per new key
            table, render_found, quiet_found = self.lookup_table(plan.lookup), compute, quiet
            compute = lambda key, ctx: render_found(table.get(key), ctx)  # noqa: E731
            quiet = quiet and (lambda key: quiet_found(table.get(key)))
        if quiet:
            memo = _Memo(quiet)
            remembered = memo.__getitem__  # never None: renders what it has not seen
            fresh = None
        else:
            memo = {}
            remembered = memo.get

            def fresh(value, ctx):
                """The text of a value not remembered: remembered now unless it raised a finding."""
                before = len(findings)
                text = compute(value, ctx)
                if len(findings) == before and len(memo) < MEMO_LIMIT:
                    memo[value] = text
                return text

        def cell(ctx):
            value = get(ctx)
            text = remembered(value)
            return fresh(value, ctx) if text is None else text
        if when is None:  # a plain source path: lines may fetch it together with others
            self.plain_cells[cell] = _PlainCell(plan.path, remembered, fresh)
            return cell
        return lambda ctx: cell(ctx) if when(ctx) else empty

    def may_report(self, plan: FieldPlan) -> bool:
        """Whether the field's text pipeline (`finisher`) has a step that can raise a finding."""
        textual_checks = plan.textual and ("allowed" in plan.text_opts or self.plan.encoding not in UNICODE_ENCODINGS)
        return bool(textual_checks or plan.max_length or plan.width)

    def looked_up(self, lookup: tuple[str, str, str], get: Callable) -> Callable:
        table = self.lookup_table(lookup)
        return lambda ctx: table.get(get(ctx))

    def lookup_table(self, lookup: tuple[str, str, str]) -> dict:
        collection, key, value = lookup
        return {getattr(item, key): getattr(item, value) for item in getattr(self.batch, collection)}

    def hoisted(self, path: str) -> Any:
        root, _, rest = path.partition(".")
        if root == "params":
            return self.params.get(rest)
        return attrgetter(rest)(self.batch if root == "batch" else self.batch.settings)

    def finisher(self, plan: FieldPlan) -> Callable:
        """The text pipeline after formatting: replacements, picture, allowed characters, case,
        encoding, if_empty, length and padding. Returns `_identity` when there is nothing to do."""
        steps: list[Callable] = []
        opts = plan.text_opts
        if plan.textual:
            table = dict(self.plan.translate)
            table.update({ord(k): v for k, v in opts.get("replace", {}).items()})
            if table:
                steps.append(lambda s, ctx: s.translate(table))
            if "picture" in opts:
                picture = opts["picture"]
                steps.append(lambda s, ctx: apply_picture(s, picture) if s else s)
            if "allowed" in opts:
                steps.append(self.allowed_step(plan, opts))
            if opts.get("case") == "upper":
                steps.append(lambda s, ctx: s.upper())
            elif opts.get("case") == "lower":
                steps.append(lambda s, ctx: s.lower())
            if self.plan.encoding not in UNICODE_ENCODINGS:
                steps.append(self.encoding_step(plan))
        if plan.if_empty:
            fill = plan.if_empty
            steps.append(lambda s, ctx: s or fill)
        limit = plan.max_length or plan.width
        if limit:
            steps.append(self.length_step(plan, limit))
        if plan.width:
            width, pad = plan.width, plan.pad
            justify = str.rjust if plan.align == "right" else str.ljust
            steps.append(lambda s, ctx: justify(s, width, pad))
        if not steps:
            return _identity
        if len(steps) == 1:
            return steps[0]

        def run(s, ctx):
            for step in steps:
                s = step(s, ctx)
            return s
        return run

    def unquoted_step(self, plan: FieldPlan) -> Callable:
        delimiter = self.quoting.delimiter

        def step(s, ctx):
            if delimiter in s or "\n" in s or "\r" in s:
                self.error("text.delimiter", plan, ctx, f"{s!r} holds the delimiter or a line break, and this file has no quoting")
            return s
        return step

    def allowed_step(self, plan: FieldPlan, opts: Mapping) -> Callable:
        bad = re.compile(f"[^{opts['allowed']}]")
        replacement = opts.get("replacement", "")
        policy = opts.get("disallowed", "replace-and-warn")

        def step(s, ctx):
            if not bad.search(s):
                return s
            fixed = bad.sub(replacement, s)
            if policy == "error":
                self.error("text.disallowed", plan, ctx, f"{s!r} holds characters the package does not accept")
            elif policy == "replace-and-warn":
                self.report("text.replaced", "warning", plan, ctx, f"{s!r} written as {fixed!r} (characters the package does not accept)")
            return fixed
        return step

    def encoding_step(self, plan: FieldPlan) -> Callable:
        encoding = self.plan.encoding
        transliterate = self.plan.unrepresentable == "transliterate"
        cache: dict[str, str | None] = {}

        def step(s, ctx):
            if s.isascii():
                return s
            if s not in cache:
                cache[s] = _encodable(s, encoding, transliterate)
            fixed = cache[s]
            if fixed == s:
                return s
            if fixed is None:
                bad = "".join(sorted({c for c in s if not _can_encode(c, encoding)}))
                self.error("text.unrepresentable", plan, ctx, f"{s!r} holds {bad!r}, which {encoding} cannot represent")
                return s
            self.report("text.transliterated", "warning", plan, ctx, f"{s!r} written as {fixed!r} ({encoding} cannot represent the original)")
            return fixed
        return step

    def length_step(self, plan: FieldPlan, limit: int) -> Callable:
        overflow = plan.overflow if plan.textual else "error"  # a cut number or date is a wrong one

        def step(s, ctx):
            if len(s) <= limit:
                return s
            if overflow == "error":
                self.error("text.too_long", plan, ctx, f"{s!r} is longer than {limit} characters")
                return s
            cut = s[:limit]
            if overflow == "truncate-and-warn":
                self.report("text.truncated", "warning", plan, ctx, f"cut to {limit} characters: {s!r} -> {cut!r}")
            return cut
        return step

    # -- walking collections --

    def walk(self, bound: "_Bound", ctx: _Ctx, out: list, indent: str) -> None:
        record = bound.record
        when, line, children = record.when, bound.line, bound.children
        if not children and line is not None and not indent and record.collection in NESTED_COLLECTIONS:
            return self.walk_lines(record, ctx, out, when, line)
        block = record.block
        for _ in self.iterate(record, ctx):
            if when is not None and not when(ctx):
                continue
            if line is not None:
                out.append(indent + line(ctx) if indent else line(ctx))
            if children:
                index = ctx.index
                if block and block[0] is not None:
                    out.append(indent + block[0])
                inner = indent + (block[2] if block else "")
                for child in children:
                    self.walk(child, ctx, out, inner)
                if block and block[1] is not None:
                    out.append(indent + block[1])
                ctx.index = index

    def walk_lines(self, record: RecordPlan, ctx: _Ctx, out: list, when: Callable | None, line: Callable) -> None:
        """The hot loop: one line per posting (VAT group, revenue group), no nesting below."""
        collection = record.collection
        slot = collection[:-1]
        append = out.append
        docs = (ctx.document,) if record.nested_in_document else self.batch.documents
        i = 0
        for doc in docs:
            ctx.document, ctx.customer = doc, doc.customer
            for item in getattr(doc, collection):
                i += 1
                ctx.index = i
                setattr(ctx, slot, item)
                if when is None or when(ctx):
                    append(line(ctx))
        setattr(ctx, slot, None)
        if not record.nested_in_document:
            ctx.document = ctx.customer = None

    def iterate(self, record: RecordPlan, ctx: _Ctx):
        """Move ctx along the record's collection; yield once per item (index 1-based)."""
        collection = record.collection
        if collection is None:
            yield
            return
        batch = self.batch
        if collection == "batch":
            ctx.index = 1
            yield
        elif collection == "documents":
            for i, doc in enumerate(batch.documents, 1):
                ctx.document, ctx.customer, ctx.index = doc, doc.customer, i
                yield
            ctx.document = ctx.customer = None
        elif collection == "customers":
            ctx.document = None
            for i, customer in enumerate(batch.customers, 1):
                ctx.customer, ctx.index = customer, i
                yield
            ctx.customer = None
        elif collection == "accounts":
            ctx.document = ctx.customer = None
            for i, account in enumerate(batch.accounts, 1):
                ctx.account, ctx.index = account, i
                yield
            ctx.account = None
        else:  # postings, vat_groups, revenue_groups: of this document, or of every document
            slot = collection[:-1]
            docs = (ctx.document,) if record.nested_in_document else batch.documents
            i = 0
            for doc in docs:
                ctx.document, ctx.customer = doc, doc.customer
                for item in getattr(doc, collection):
                    i += 1
                    ctx.index = i
                    setattr(ctx, slot, item)
                    yield
            setattr(ctx, slot, None)
            if not record.nested_in_document:
                ctx.document = ctx.customer = None

    # -- xml --

    def xml(self, plan: FilePlan) -> tuple[list[str], int]:
        layout = plan.layout
        self.xml_indent = layout["indent"]
        self.quoting = None
        out: list[str] = []
        if layout["declaration"]:
            out.append(f'<?xml version="1.0" encoding="{XML_ENCODING_NAMES[plan.encoding]}"?>')
        root_attrs = self.xml_attributes([self.xml_cell(f, True) for f in layout["root_attributes"]], self.ctx)
        out.append(f"<{layout['root']}{root_attrs}>")
        before = len(out)
        for record in plan.records:
            self.xml_walk(self.xml_bind(record), self.ctx, out, 1)
        count = len(out) - before
        out.append(f"</{layout['root']}>")
        return out, count

    def xml_cell(self, plan: FieldPlan, attribute: bool) -> tuple[str, Callable]:
        fmt = plan.make_format(self.params)
        finish = self.finisher(plan)
        escape = _xml_attribute if attribute else _xml_text
        cell = self.memoized(plan, lambda v, ctx: escape(finish(fmt(v), ctx)), escape(finish("", None)))
        return plan.name, (cell if callable(cell) else lambda ctx: cell)

    def xml_bind(self, record: RecordPlan) -> "_Bound":
        bound = _Bound(record, None, [self.xml_bind(c) for c in record.children])
        bound.attributes = [self.xml_cell(f, True) for f in record.attributes]
        bound.leaves = [self.xml_cell(f, False) for f in record.fields or ()]
        bound.text = self.xml_cell(record.text, False)[1] if record.text else None
        return bound

    @staticmethod
    def xml_attributes(cells: list, ctx: _Ctx) -> str:
        out = ""
        for name, value in cells:
            text = value(ctx)
            if text:  # empty means absent
                out += f' {name}="{text}"'
        return out

    def xml_walk(self, bound: "_Bound", ctx: _Ctx, out: list, depth: int) -> None:
        record = bound.record
        when = record.when
        if record.collection is None:  # most elements: once, in the scope of their parent
            if when is None or when(ctx):
                self.xml_element(bound, ctx, out, depth)
            return
        for _ in self.iterate(record, ctx):
            if when is None or when(ctx):
                self.xml_element(bound, ctx, out, depth)

    def xml_element(self, bound: "_Bound", ctx: _Ctx, out: list, depth: int) -> None:
        record = bound.record
        if not record.element:  # a group: its children at this level
            index = ctx.index
            for child in bound.children:
                self.xml_walk(child, ctx, out, depth)
            ctx.index = index
            return
        pad = self.xml_indent * depth
        name = record.element
        attrs = self.xml_attributes(bound.attributes, ctx) if bound.attributes else ""
        inner: list[str] = []
        if bound.leaves:
            inner_pad = self.xml_indent * (depth + 1)
            for leaf, value in bound.leaves:
                text = value(ctx)
                if text:
                    inner.append(f"{inner_pad}<{leaf}>{text}</{leaf}>")
        if bound.children:
            index = ctx.index
            for child in bound.children:
                self.xml_walk(child, ctx, inner, depth + 1)
            ctx.index = index
        text = bound.text(ctx) if bound.text else ""
        if inner:
            out.append(f"{pad}<{name}{attrs}>")
            out.extend(inner)
            out.append(f"{pad}</{name}>")
        elif text:
            out.append(f"{pad}<{name}{attrs}>{text}</{name}>")
        elif attrs:
            out.append(f"{pad}<{name}{attrs}/>")
        # an element with nothing in it is left out: optional elements stay absent


class _Bound:
    __slots__ = ("record", "line", "children", "attributes", "leaves", "text")

    def __init__(self, record, line, children):
        self.record, self.line, self.children = record, line, children


def _identity(s, ctx=None):
    return s


def _compose(quote: Callable, finish: Callable, fmt: Callable) -> Callable:
    """value -> quote(finish(fmt(value))) with no call for the steps that do nothing."""
    if finish is _identity:
        return fmt if quote is _identity else (lambda v: quote(fmt(v)))
    return lambda v: quote(finish(fmt(v), None))


def _chain(first: Callable, second: Callable) -> Callable:
    if first is _identity:
        return second
    return lambda s, ctx: second(first(s, ctx), ctx)


class _PlainCell(NamedTuple):
    """What a line needs to render a field without calling its cell: the source path, its memory's
    lookup (value -> text, or None for a value not rendered yet) and value, ctx -> text for those."""
    path: str
    remembered: Callable
    fresh: Callable | None


class _Memo(dict):
    """value -> text of a field whose rendering reports nothing: a value not seen yet is rendered
    by the lookup itself (and remembered, up to MEMO_LIMIT values)."""

    __slots__ = ("render",)

    def __init__(self, render: Callable):
        super().__init__()
        self.render = render

    def __missing__(self, value):
        text = self.render(value)
        if len(self) < MEMO_LIMIT:
            self[value] = text
        return text


def _line(cells: list, once: list[bool], delimiter: str, plain: Mapping[Callable, _PlainCell]) -> Callable:
    """ctx -> the joined line. Runs of constant cells are joined once, here; cells that depend on
    the document only (`once`) are rendered once per document, not once per line of it.

    The fast path: the line's plain cells (a source path, no condition) are fetched by one
    attrgetter and looked up in their memories by one map(), so a line whose values were all seen
    before costs a few C calls, not a Python call per field. A value whose rendering may raise a
    finding and was not seen before sends the line down the ordered path, which renders the cells
    one by one in field order, so findings come in the same order as when each cell renders itself.
    The texts are put back in field order by one itemgetter and joined (str.format is slower).
    """
    pieces: list = []  # a constant run of cells as one text, or a cell
    for cell in cells:
        if not callable(cell) and pieces and not callable(pieces[-1]):
            pieces[-1] += delimiter + cell
        else:
            pieces.append(cell)
    if not any(callable(p) for p in pieces):
        text = delimiter.join(pieces)
        return lambda ctx: text
    per_document = {id(c) for c, o in zip(cells, once) if callable(c) and o}
    cells_once = [p for p in pieces if callable(p) and id(p) in per_document]
    fast = [p for p in pieces if callable(p) and id(p) not in per_document and p in plain]
    others = [p for p in pieces if callable(p) and id(p) not in per_document and p not in plain]
    constants = tuple(p for p in pieces if not callable(p))
    # the arguments come as (*document cells, *fast cells, *other cells, *constants)
    slot_of = {id(c): i for i, c in enumerate(cells_once + fast + others)}
    constant_slots = iter(range(len(slot_of), len(slot_of) + len(constants)))
    slots = [slot_of[id(p)] if callable(p) else next(constant_slots) for p in pieces]
    arrange = itemgetter(*slots) if len(slots) > 1 else (lambda args: (args[0],))
    join = delimiter.join
    recalls = [plain[c].remembered for c in fast]
    fetch = attrgetter(*[plain[c].path for c in fast]) if fast else None
    if len(fast) == 1:
        fetch_one = fetch
        fetch = lambda ctx: (fetch_one(ctx),)  # noqa: E731 - attrgetter of one path gives no tuple
    # the ordered path: per line cell (in field order) its slot among the fast ones, or None
    order = [(fast.index(p), plain[p].fresh) if p in plain else (None, p)
             for p in pieces if callable(p) and id(p) not in per_document]
    call = operator.call
    last = [None, ()]  # document, its cells

    def ordered(values, texts, ctx):
        rendered, rest = list(texts), []
        for slot, render_cell in order:
            if slot is None:
                rest.append(render_cell(ctx))
            elif rendered[slot] is None:
                rendered[slot] = render_cell(values[slot], ctx)
        return rendered, rest

    def line(ctx):
        if cells_once and ctx.document is not last[0]:
            last[0], last[1] = ctx.document, [g(ctx) for g in cells_once]
        if fetch is None:
            texts, rest = (), [g(ctx) for g in others]
        else:
            values = fetch(ctx)
            texts = list(map(call, recalls, values))
            if None in texts:
                texts, rest = ordered(values, texts, ctx)
            else:
                rest = [g(ctx) for g in others] if others else ()
        return join(arrange((*last[1], *texts, *rest, *constants)))
    return line


class _Quoting:
    """Quoting rules of a delimited or tagged layout, resolved for this batch's parameters."""

    def __init__(self, layout: Mapping, params: Mapping):
        self.delimiter = _resolve_option(layout["delimiter"], params)
        self.mode = layout["quoting"]
        self.q = q = layout["quote_char"]
        escape = layout["quote_escape"]
        self.escaped = {"double": q + q, "backslash": "\\" + q, "replace": layout.get("quote_replacement", "")}[escape]
        self.backslash = escape == "backslash"
        self.quote_empty = layout.get("quote_empty", False)
        self.specials = (self.delimiter, q, "\r", "\n") + ((" ", "\t") if self.delimiter == " " else ())

    def text(self, s: str) -> str:
        """A column name."""
        always = {"all": True, "text-only": True, "minimal": None, "none": False}[self.mode]
        return self.quoter_for(always)(s)

    def quoter(self, plan: FieldPlan) -> tuple[Callable, bool]:
        """(text -> cell, whether the value must be checked for delimiters: it is never quoted)."""
        if plan.quote is not None:
            always = plan.quote
        else:
            always = {"all": True, "text-only": plan.textual, "minimal": None, "none": False}[self.mode]
        return self.quoter_for(always), always is False and plan.textual

    def quoter_for(self, always: bool | None) -> Callable:
        """always True: quote; False: never; None: only when the value needs it."""
        q, escaped, specials = self.q, self.escaped, self.specials
        backslash = self.backslash

        def escape(s):
            if backslash and "\\" in s:
                s = s.replace("\\", "\\\\")
            return s.replace(q, escaped) if q in s else s

        if always:
            if backslash:
                return lambda s: q + escape(s) + q
            return lambda s: q + s.replace(q, escaped) + q  # escape() without a call
        if always is None:
            quote_empty = self.quote_empty

            def minimal(s):
                if not s:
                    return q + q if quote_empty else s
                for ch in specials:
                    if ch in s:
                        return q + escape(s) + q
                return s
            return minimal
        return _identity


def _resolve_option(value: Any, params: Mapping) -> str:
    if isinstance(value, str):
        return value
    chosen = params.get(value["param"])
    return value.get("map", {}).get(chosen, chosen) or ""


_ASCII = bytes(range(128))


@functools.cache
def _ascii_compatible(encoding: str) -> bool:
    """Whether the encoding writes ASCII text byte for byte as ASCII (no byte order mark)."""
    return _ASCII.decode("ascii").encode(encoding) == _ASCII


def _encode(text: str, encoding: str) -> bytes:
    """text.encode(encoding); pure ASCII text through the ASCII codec, which is several times faster
    than the charmap codecs (cp1252, cp437, ...) and gives the same bytes."""
    if text.isascii() and _ascii_compatible(encoding):
        return text.encode("ascii")
    return text.encode(encoding)


def _can_encode(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def _encodable(s: str, encoding: str, transliterate: bool) -> str | None:
    """s itself when the encoding holds it; else its transliteration (or None when not allowed)."""
    try:
        s.encode(encoding)
        return s
    except UnicodeEncodeError:
        if not transliterate:
            return None
    out = []
    for ch in s:
        if _can_encode(ch, encoding):
            out.append(ch)
            continue
        alt = TRANSLITERATIONS.get(ch)
        if alt is None:
            alt = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(alt if alt and _can_encode(alt, encoding) else "?")
    return "".join(out)


def _xml_text(s: str) -> str:
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    return s


def _xml_attribute(s: str) -> str:
    s = _xml_text(s)
    return s.replace('"', "&quot;") if '"' in s else s
