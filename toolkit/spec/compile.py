"""Compile a spec's files (schema-valid JSON) into immutable plans, finding every problem at once.

The compiler checks what a schema cannot say (source paths, parameters, date patterns, regular
expressions, constants that fit the encoding, file names) and collects each problem with its JSON
path instead of stopping at the first: a spec author sees them all. A part that cannot be compiled
(a field with an unknown source) is skipped after its problem is noted, so the rest is still checked.
Plans keep no JSON and no reference to the compiler.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from decimal import Decimal
from operator import attrgetter
from typing import Any, Callable, Mapping, Sequence

import toolkit.spec.text as text
from toolkit.layout import DOC_TYPES
from toolkit.spec.errors import Problem, json_path
from toolkit.spec.params import Parameter, regex_problem
from toolkit.spec.paths import path_type
from toolkit.spec.plans import (
    BASE_SCOPES, COLLECTION_SCOPES, DOCUMENT_PLACEHOLDERS, DOCUMENT_SCOPES, HOISTED_ROOTS, LINE_ENDINGS,
    NAME_PLACEHOLDER, NAME_PLACEHOLDERS,
    UNICODE_ENCODINGS, ChoiceFormat, CompiledSpec, DateFormat, DecimalFormat, FieldPlan, FilePlan, Layout,
    MapFormat, NumberFormat, Option, Picture, PlainFormat, RecordPlan, TextRules,
)


class _Skip(Exception):
    """The part being compiled cannot be compiled; its problem is noted."""


def compile_files(files: Sequence[Mapping], parameters: Sequence[Parameter]) -> tuple[CompiledSpec | None, list[Problem]]:
    """(plans, []) or (None, every problem found)."""
    compiler = _Compiler(parameters)
    plans = compiler.files(files)
    return (None, compiler.problems) if compiler.problems else (plans, [])


class _Compiler:
    def __init__(self, parameters: Sequence[Parameter]):
        self.params = {p.name: p for p in parameters}
        self.problems: list[Problem] = []

    def note(self, at: list, message: str) -> None:
        self.problems.append(Problem(json_path(at), message))

    def fail(self, at: list, message: str):
        self.note(at, message)
        raise _Skip

    def attempt(self, build: Callable, *args, **kwargs) -> Any:
        """build(...), or None when it failed (its problem is noted)."""
        try:
            return build(*args, **kwargs)
        except _Skip:
            return None

    def files(self, raws: Sequence[Mapping]) -> CompiledSpec:
        names = set()
        files = []
        for i, raw in enumerate(raws):
            files.append(self.attempt(self.file, raw, ["files", i]))
            if raw["name"].casefold() in names:
                self.note(["files", i, "name"], f"a second file named {raw['name']!r}")
            names.add(raw["name"].casefold())
        return CompiledSpec(tuple(files))

    # -- files --

    def file(self, raw: Mapping, at: list) -> FilePlan:
        self.encoding = raw["encoding"]
        self.layout_kind = raw["layout"]["kind"]
        self.columns = None
        self.per_document = per_document = raw.get("per_document", False)
        scopes = BASE_SCOPES | DOCUMENT_SCOPES if per_document else BASE_SCOPES  # a file per document sees it
        self.file_scopes = scopes
        layout = self.layout(raw["layout"], at + ["layout"])
        translate = tuple((ord(k), v) for k, v in raw.get("replace", {}).items() if self.single_char(k, at + ["replace"]))
        columns, self.column_kinds = self.column_list(raw.get("columns"))
        if columns and self.layout_kind in ("fixed", "xml"):
            self.note(at + ["columns"], f"columns are for delimited and tagged files, not {self.layout_kind}")
        if raw.get("shared_fields") and not columns:
            self.note(at + ["shared_fields"], "shared_fields place fields by column name: declare `columns`")
        if columns and len(set(columns)) != len(columns):
            self.note(at + ["columns"], "a column name appears twice")
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
                    self.note(item_at, "column_names needs the file's `columns`")
                for c in columns or ():
                    self.check_encodable(c, at + ["columns"])
                header.append(("columns", None))
            else:
                rec = item["record"]
                if rec.get("collection") not in (None, "batch"):
                    self.note(item_at + ["record", "collection"], "a header record is rendered once, over the batch")
                header.append(("record", self.attempt(self.record, rec, item_at + ["record"], BASE_SCOPES, top=True, positional=True)))
        records = [self.attempt(self.record, r, at + ["records", i], scopes, top=True) for i, r in enumerate(raw["records"])]
        name_parts = self.attempt(self.name_pattern, raw["name"], at + ["name"])
        when = self.conditions(raw.get("when"), at + ["when"], scopes)
        part_name_parts = self.parts(raw, at)
        if "formula_triggers" in raw and self.layout_kind != "delimited":
            self.note(at + ["formula_triggers"], "formula triggers are guarded in delimited files only")
        if self.problems:
            raise _Skip  # the plan would not be used; its parts may be missing
        return FilePlan(
            name=raw["name"],
            name_parts=name_parts,
            when=when,
            encoding=raw["encoding"],
            unrepresentable=raw.get("unrepresentable", "error"),
            eol=LINE_ENDINGS[raw["line_ending"]],
            trailing_newline=raw["trailing_newline"],
            layout=layout,
            translate=translate,
            columns=tuple(columns) if columns else None,
            header=tuple(header),
            records=tuple(records),
            omit_when_empty=raw.get("omit_when_empty", False),
            formula_triggers=raw.get("formula_triggers", "neutralise") if self.layout_kind == "delimited" else "",
            max_records=raw.get("max_records"),
            part_name_parts=part_name_parts,
            per_document=per_document,
        )

    def parts(self, raw: Mapping, at: list) -> tuple:
        """The name pattern of the parts of a file split by `max_records`."""
        if ("max_records" in raw) != ("part_name" in raw):
            self.note(at, "max_records and part_name go together: how many records a file holds, and how its parts are named")
            return ()
        if "part_name" not in raw:
            return ()
        if self.layout_kind == "xml":
            self.note(at + ["max_records"], "an xml file cannot be split into parts")
        parts = self.attempt(self.name_pattern, raw["part_name"], at + ["part_name"], split=True) or ()
        if parts and ("part", None) not in parts:
            self.note(at + ["part_name"], "the parts need different names: put {part} in part_name")
        return parts

    def column_list(self, raw: list | None) -> tuple[list[str] | None, dict[str, str]]:
        """(column names, kind of each column that is not text) from `columns`, whose items are
        names or {"name": ..., "kind": ..., "max_length": ..., "overflow": ...}; the columns'
        length limits go to `self.column_limits`."""
        self.column_limits = {c["name"]: (c["max_length"], c.get("overflow", "truncate-and-warn"))
                              for c in raw or () if not isinstance(c, str) and "max_length" in c}
        if raw is None:
            return None, {}
        names = [c if isinstance(c, str) else c["name"] for c in raw]
        kinds = {c["name"]: c["kind"] for c in raw if not isinstance(c, str) and c.get("kind", "text") != "text"}
        return names, kinds

    def layout(self, raw: Mapping, at: list) -> Layout:
        kind = raw["kind"]
        allowed = {"delimited": {"delimiter", "quoting", "quote_char", "quote_escape", "quote_replacement", "quote_empty"},
                   "tagged": {"delimiter", "quoting", "quote_char", "quote_escape", "quote_replacement", "quote_empty"},
                   "fixed": set(),
                   "xml": {"root", "root_attributes", "declaration", "indent", "element_names"}}[kind]
        for key in raw:
            if key != "kind" and key not in allowed:
                self.note(at + [key], f"not an option of a {kind} layout (options: {', '.join(sorted(allowed)) or 'none'})")
        if kind == "tagged":  # tagged records: space separated, quoted only when needed, \" inside quotes
            defaults = {"delimiter": " ", "quoting": "minimal", "quote_char": '"', "quote_escape": "backslash", "quote_empty": True}
        elif kind == "delimited":
            if "delimiter" not in raw:
                self.note(at, "a delimited layout needs a `delimiter`")
            defaults = {"quoting": "minimal", "quote_char": '"', "quote_escape": "double", "quote_empty": False}
        elif kind == "xml":
            if "root" not in raw:
                self.note(at, "an xml layout needs a `root` element")
            defaults = {"declaration": True, "indent": "  "}
        else:
            defaults = {}
        options = {**defaults, **{k: v for k, v in raw.items() if k in allowed}}
        if options.get("quote_escape") == "replace" and "quote_replacement" not in options:
            self.note(at, "quote_escape replace needs a `quote_replacement`")
        if "delimiter" in options:
            options["delimiter"] = self.attempt(self.option, options["delimiter"], at + ["delimiter"],
                                                lambda v: v != "" or "the delimiter cannot be empty")
        if kind == "xml" and "root" in options and not text.XML_NAME.fullmatch(options["root"]):
            self.note(at + ["root"], f"{options['root']!r} is not an XML element name")
        if "root_attributes" in options:
            self.check_xml_names(options["root_attributes"], at + ["root_attributes"])
            options["root_attributes"] = tuple(self.attempt(self.field, f, at + ["root_attributes", i], self.file_scopes)
                                               for i, f in enumerate(options["root_attributes"]))
        if "element_names" in options:
            if not self.per_document:
                self.note(at + ["element_names"], "element names by document type need a per_document file")
            for doc_type in options["element_names"]:
                if doc_type not in DOC_TYPES:
                    self.note(at + ["element_names", doc_type], f"not a document type (one of: {', '.join(DOC_TYPES)})")
                for name, replacement in options["element_names"][doc_type].items():
                    if not text.XML_NAME.fullmatch(replacement):
                        self.note(at + ["element_names", doc_type, name], f"{replacement!r} is not an XML name")
            options["element_names"] = tuple((t, tuple(sorted(names.items()))) for t, names in sorted(options["element_names"].items()))
        return Layout(kind=kind, **options)

    def name_pattern(self, pattern: str, at: list, split: bool = False) -> tuple:
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
            elif name == "part" and split:
                kind = "text"
            elif name in DOCUMENT_PLACEHOLDERS and self.per_document:
                kind = DOCUMENT_PLACEHOLDERS[name]
            else:
                known = ", ".join([*NAME_PLACEHOLDERS, *(DOCUMENT_PLACEHOLDERS if self.per_document else ()), "param.NAME"])
                self.fail(at, f"unknown placeholder {{{name}}} (known: {known})")
            if fmt is not None and kind == "text":
                self.fail(at, f"placeholder {{{name}}} is not a date and takes no pattern")
            parts.append((name, self.date_pattern(fmt, at) if fmt is not None else None))
            pos = m.end()
        parts.append(pattern[pos:])
        literal = "".join(p if isinstance(p, str) else "x" for p in parts)
        if "{" in literal or "}" in literal:
            self.fail(at, "a brace that is not a placeholder")
        problem = text.unsafe_name(literal)
        if problem:
            self.fail(at, f"the file name {problem}")
        return tuple(parts)

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
                self.note(at + [key], f"`{key}` is for xml files")
        if xml and "block" in raw:
            self.note(at + ["block"], "`block` is for line-based files; xml nests elements")
        for key in ("element",):
            if key in raw and not text.XML_NAME.fullmatch(raw[key]):
                self.note(at + [key], f"{raw[key]!r} is not an XML element name")
        if xml and "element" not in raw and ("fields" in raw or "attributes" in raw or "text" in raw):
            self.note(at, "an xml record with fields, attributes or text needs an `element`")
        if "text" in raw and raw.get("children"):
            self.note(at + ["text"], "an element has either text or children, not both")
        fields = None
        if "fields" in raw:
            fields = tuple(self.line_fields(raw["fields"], at, scopes, positional or xml))
            if xml:
                self.check_xml_names(raw["fields"], at + ["fields"])
        if xml:
            self.check_xml_names(raw.get("attributes", []), at + ["attributes"])
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
            children=tuple(self.attempt(self.record, c, at + ["children", i], scopes, top=False)
                           for i, c in enumerate(raw.get("children", []))),
            block=block,
            per_line_of_document=bool(scopes & {"posting", "vat_group", "revenue_group", "line", "vat_category"}),
            element=raw.get("element", ""),
            attributes=tuple(self.attempt(self.field, f, at + ["attributes", i], scopes)
                             for i, f in enumerate(raw.get("attributes", []))),
            text=self.attempt(self.field, raw["text"], at + ["text"], scopes) if "text" in raw else None,
        )

    def line_fields(self, raw_fields: list, at: list, scopes: frozenset, positional: bool) -> list:
        own = [self.attempt(self.field, f, at + ["fields", i], scopes) for i, f in enumerate(raw_fields)]
        if positional or not self.columns:
            return own
        by_name = {}
        for i, raw in enumerate(raw_fields):
            if raw["name"] not in self.columns:
                self.note(at + ["fields", i, "name"], f"{raw['name']!r} is not one of the file's columns")
            if raw["name"] in by_name:
                self.note(at + ["fields", i, "name"], f"a second field for column {raw['name']!r}")
            by_name[raw["name"]] = own[i]
        shared_at = at[:at.index("records")] + ["shared_fields"]
        for i, raw in enumerate(self.shared):
            if raw["name"] not in self.columns:
                self.note(shared_at + [i, "name"], f"{raw['name']!r} is not one of the file's columns")
            if raw["name"] not in by_name:
                key = (i, scopes)
                if key not in self.shared_plans:
                    self.shared_plans[key] = self.attempt(self.field, raw, shared_at + [i], scopes)
                by_name[raw["name"]] = self.shared_plans[key]
        for i, raw in enumerate(raw_fields):  # fields the record declares, checked against their column's limit
            limit = self.column_limits.get(raw["name"])
            if limit and raw.get("max_length", 0) > limit[0]:
                self.note(at + ["fields", i, "max_length"], f"longer than the column's max_length {limit[0]}")
        return [self.limited(by_name[c], c) if c in by_name else self.filler(c) for c in self.columns]

    def limited(self, plan: FieldPlan | None, column: str) -> FieldPlan | None:
        """The field with its column's length limit when it has none of its own."""
        limit = self.column_limits.get(column)
        if plan is None or limit is None or plan.max_length is not None:
            return plan
        return dataclasses.replace(plan, max_length=limit[0], overflow=limit[1])

    def filler(self, column: str) -> FieldPlan:
        """The empty value of a column no field fills; a number or date column's is not text (so
        `text-only` quoting leaves it unquoted)."""
        kind = self.column_kinds.get(column)
        if kind:
            return FieldPlan(name=column, kind=kind, constant="", is_constant=True, textual=False)
        return FieldPlan(name=column, kind="text", constant="", is_constant=True)

    def conditions(self, raw: list | None, at: list, scopes: frozenset) -> Callable | None:
        """ctx -> bool, all of the conditions. Its `tests` say the same as data, (path, op, value)
        each, for the renderer that tests a column of many lines at once (`columns.py`)."""
        if not raw:
            return None
        tests = tuple(self.attempt(self.condition, c, at + [i], scopes) for i, c in enumerate(raw))
        if len(tests) == 1:
            return tests[0]
        if len(tests) == 2:
            first, second = tests
            test = lambda ctx: first(ctx) and second(ctx)  # noqa: E731
        else:
            test = lambda ctx: all(t(ctx) for t in tests)  # noqa: E731
        if all(t is not None for t in tests):
            test.tests = tuple(part for t in tests for part in t.tests)
        return test

    def condition(self, raw: Mapping, at: list, scopes: frozenset) -> Callable:
        test = self.test(raw, at, scopes)
        value = raw.get("value")
        op = raw["op"]
        if op in ("in", "not_in"):
            value = test.values
        elif op not in ("empty", "not_empty"):
            value = test.value
        test.tests = ((raw["path"], op, value),)
        return test

    def test(self, raw: Mapping, at: list, scopes: frozenset) -> Callable:
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
                test = lambda ctx: get(ctx) in values  # noqa: E731
            else:
                test = lambda ctx: get(ctx) not in values  # noqa: E731
            test.values = values
            return test
        value = self.typed(raw["value"], kind, at + ["value"])
        compare = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge,
                   "lt": operator.lt, "le": operator.le}[op]
        if op == "eq":
            test = lambda ctx: get(ctx) == value  # noqa: E731
        elif op == "ne":
            test = lambda ctx: get(ctx) != value  # noqa: E731
        else:
            test = lambda ctx: (v := get(ctx)) is not None and compare(v, value)  # noqa: E731
        test.value = value
        return test

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
        except (ValueError, ArithmeticError):
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
        source: dict[str, Any] = {}
        if "constant" in raw:
            source_kind = {"decimal": "decimal", "integer": "integer", "date": "date"}.get(ftype, "text")
            source.update(is_constant=True, constant=self.parse_constant(raw["constant"], source_kind, at + ["constant"]))
        else:
            path = raw.get("source") or f"params.{raw['param']}"
            source_kind = self.kind_of(path, at + (["source"] if "source" in raw else ["param"]), scopes)
            source["path"] = path
            if path.split(".")[0] in HOISTED_ROOTS:
                source["hoisted"] = path
            else:
                source["getter"] = self.getter(path)
            if "lookup" in raw:
                source_kind, source["lookup"] = self.lookup(raw["lookup"], source_kind, at + ["lookup"])
        if "map" in raw:
            if ftype not in (None, "text"):
                self.note(at + ["format", "type"], "a mapped value is text: use no format or a text format")
            for key, out in raw["map"]["values"].items():
                self.check_encodable(out, at + ["map", "values", key])
        value_format, kind = self.formatter(raw, fmt, source_kind, at)
        rules = self.text_rules(fmt, at + ["format"]) if ftype == "text" else TextRules()
        options = {key: raw[key] for key in ("if_empty", "max_length", "overflow", "width", "align", "pad", "quote") if key in raw}
        plan = FieldPlan(name=raw["name"], kind=kind, format=value_format, textual=kind == "text", text=rules,
                         when=self.conditions(raw.get("when"), at + ["when"], scopes), **source, **options)
        if plan.if_empty:
            self.check_encodable(plan.if_empty, at + ["if_empty"])
        if self.layout_kind == "fixed" and plan.width is None:
            self.note(at, "every field of a fixed-width file needs a `width`")
        if plan.max_length and plan.width and plan.max_length > plan.width:
            self.note(at + ["max_length"], "max_length is longer than width")
        if plan.is_constant and plan.kind == "text":
            self.check_encodable(str(plan.constant), at + ["constant"])
        return plan

    def text_rules(self, fmt: Mapping, at: list) -> TextRules:
        for ch in fmt.get("replace", {}):
            self.single_char(ch, at + ["replace"])
        if "allowed" in fmt and (problem := regex_problem(f"[^{fmt['allowed']}]")):
            self.note(at + ["allowed"], problem)
        for value in [fmt.get("replacement", "")] + list(fmt.get("replace", {}).values()):
            self.check_encodable(value, at)
        picture = None
        if "picture" in fmt:
            raw = fmt["picture"]
            for key, mask in raw["masks"].items():
                self.check_encodable(mask, at + ["picture", "masks", key])
            picture = Picture(tuple(raw["masks"].items()), raw.get("prefix_length", 0), raw.get("keep_prefix", False))
        return TextRules(replace=tuple(fmt.get("replace", {}).items()), picture=picture, allowed=fmt.get("allowed", ""),
                         replacement=fmt.get("replacement", ""), disallowed=fmt.get("disallowed", "replace-and-warn"),
                         case=fmt.get("case", ""))

    def lookup(self, raw: Mapping, key_kind: str, at: list) -> tuple[str, tuple[str, str, str]]:
        """The value becomes an attribute of the item of a collection it names, e.g. an account's name."""
        collection, key, value = raw["collection"], raw["key"], raw["value"]
        scope = {"accounts": "account", "customers": "customer"}[collection]
        kinds = [self.kind_of(f"{scope}.{name}", at + [part], frozenset({scope})) for name, part in ((key, "key"), (value, "value"))]
        if kinds[0] != key_kind:
            self.fail(at + ["key"], f"{scope}.{key} is {kinds[0]}, the source is {key_kind}")
        return kinds[1], (collection, key, value)

    def parse_constant(self, value: str, kind: str, at: list) -> Any:
        try:
            if kind in ("decimal", "integer"):
                number = Decimal(value)
                return int(number) if kind == "integer" else number
            if kind == "date":
                return dt.date.fromisoformat(value)
        except (ValueError, ArithmeticError):
            self.fail(at, f"{value!r} is not a {kind} constant")
        return value

    def formatter(self, raw: Mapping, fmt: Mapping, source: str, at: list):
        """(the value's format plan, kind of the rendered value)."""
        ftype = fmt.get("type")
        fat = at + ["format"]
        accepts = {"decimal": ("decimal", "integer"), "integer": ("integer",), "date": ("date", "datetime"),
                   "indicator": ("decimal", "integer"), "boolean": ("boolean",)}
        if ftype in accepts and source not in accepts[ftype]:
            self.fail(fat + ["type"], f"a {ftype} format needs a {' or '.join(accepts[ftype])} source, this one is {source}")
        zero_empty = raw.get("empty_when_zero", False)
        if zero_empty and source not in ("decimal", "integer"):
            self.note(at + ["empty_when_zero"], f"empty_when_zero is for numbers, this source is {source}")
        if "map" in raw:
            return self.map_format(raw["map"], source, at + ["map"]), "text"
        if ftype == "decimal":
            sep = self.option(fmt.get("decimal_separator", "."), fat + ["decimal_separator"])
            thousands = self.option(fmt.get("thousands_separator", ""), fat + ["thousands_separator"])
            if "other_side" in fmt and "side" not in fmt:
                self.note(fat + ["other_side"], "other_side needs `side`")
            return DecimalFormat(fmt.get("places"), fmt.get("sign", "signed"), fmt.get("side"), fmt.get("other_side"),
                                 sep, thousands, zero_empty), "decimal"
        if ftype == "date":
            patterns: dict[str, tuple] = {}

            def compiled(pattern):
                patterns[pattern] = self.date_pattern(pattern, fat + ["pattern"])
                return True
            pattern = self.option(fmt["pattern"], fat + ["pattern"], compiled)
            patterns.setdefault("", ())  # a pattern parameter without a value: dates are empty
            return DateFormat(pattern, tuple(patterns.items())), "date"
        if ftype == "integer":
            return NumberFormat(zero_empty, integer=True), "integer"
        if ftype == "indicator":
            return ChoiceFormat("indicator", fmt["debit"], fmt["credit"]), "text"
        if ftype == "boolean":
            return ChoiceFormat("boolean", fmt["true"], fmt["false"]), "text"
        if source in ("decimal", "integer"):
            return NumberFormat(zero_empty), source
        return PlainFormat(), "text" if ftype == "text" or source in ("text", "boolean") else source

    def map_format(self, raw: Mapping, source: str, at: list) -> MapFormat:
        values = {}
        for key, out in raw["values"].items():
            if source in ("decimal", "integer") and key:
                try:
                    key = text.canonical_decimal(Decimal(key))
                except ArithmeticError:
                    self.note(at + ["values", key], f"{key!r} is not a number, and the source is {source}")
            values[key.casefold()] = out
        return MapFormat(tuple(values.items()), raw.get("default"))

    def option(self, value: Any, at: list, check: Callable = lambda v: True) -> Option:
        """A layout/format option: a constant, or a choice parameter (translated by its `map`)."""
        if isinstance(value, str):
            problem = check(value)
            if problem is not True:
                self.fail(at, problem)
            return Option(constant=value)
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
        default = table.get(param.default, param.default) if param.default is not None else None
        if default is not None:
            check(default)
        return Option(param=param.name, table=tuple(table.items()), default=default)

    def date_pattern(self, pattern: str, at: list) -> tuple:
        parts = text.date_parts(pattern)
        if isinstance(parts, str):
            self.fail(at, f"unknown date directive {parts!r} in {pattern!r} (known: {' '.join(text.DATE_DIRECTIVES)})")
        return parts

    def check_xml_names(self, raw_fields: list, at: list) -> None:
        for i, raw in enumerate(raw_fields):
            if not text.XML_NAME.fullmatch(raw["name"]):
                self.note(at + [i, "name"], f"{raw['name']!r} is not an XML name")

    def single_char(self, key: str, at: list) -> bool:
        if len(key) != 1:
            self.note(at + [key], "replacements are keyed by single characters")
            return False
        return True

    def check_encodable(self, value: str, at: list) -> None:
        if self.encoding in UNICODE_ENCODINGS:
            return
        try:
            value.encode(self.encoding)
        except UnicodeEncodeError:
            self.note(at, f"{value!r} cannot be written in {self.encoding}")
