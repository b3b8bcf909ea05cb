"""Compiled plans: what `compile.py` makes of a spec, immutable and free of raw JSON.

A plan says what to write; the runtime (`render.py` and its writers) binds it to one batch. Values
that depend on the batch's parameters (a delimiter, a date pattern chosen in Settings) are `Option`s
resolved per render. Conditions and getters are small functions of the line's scope (`ctx`), built
once by the compiler from data only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import toolkit.spec.text as text

# ---- fixed vocabularies -------------------------------------------------------------------------

LINE_ENDINGS = {"crlf": "\r\n", "lf": "\n", "cr": "\r"}
XML_ENCODING_NAMES = {"cp1252": "windows-1252", "latin-1": "ISO-8859-1", "iso-8859-15": "ISO-8859-15",
                      "utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp437": "IBM437"}
UNICODE_ENCODINGS = frozenset({"utf-8", "utf-8-sig"})
# The scopes each collection brings into a record.
COLLECTION_SCOPES = {
    "batch": frozenset(),
    "documents": frozenset({"document", "customer"}),
    "postings": frozenset({"document", "customer", "posting"}),
    "vat_groups": frozenset({"document", "customer", "vat_group"}),
    "revenue_groups": frozenset({"document", "customer", "revenue_group"}),
    "customers": frozenset({"customer"}),
    "accounts": frozenset({"account"}),
    "lines": frozenset({"document", "customer", "line"}),  # of document.einvoice
    "vat_categories": frozenset({"document", "customer", "vat_category"}),  # of document.einvoice
}
# The scope slot each collection of a document fills.
ITEM_SLOTS = {"postings": "posting", "vat_groups": "vat_group", "revenue_groups": "revenue_group",
              "lines": "line", "vat_categories": "vat_category"}
EINVOICE_COLLECTIONS = frozenset({"lines", "vat_categories"})
BASE_SCOPES = frozenset({"batch", "settings"})
HOISTED_ROOTS = frozenset({"batch", "settings", "params"})  # constant during one render
NAME_PLACEHOLDERS = {"export_id": "text", "period_from": "date", "period_to": "date", "created_at": "datetime"}
NAME_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z][a-z0-9_]*)?)(?::([^{}]*))?\}")
NESTED_COLLECTIONS = frozenset({"postings", "vat_groups", "revenue_groups", "lines", "vat_categories"})
DOCUMENT_SCOPES = frozenset({"document", "customer"})  # what a per_document file's records see
DOCUMENT_PLACEHOLDERS = {"document.number": "text"}


@dataclass(frozen=True)
class Option:
    """A layout or format option: a constant text, or a choice parameter's value (through `table`)."""
    constant: str | None = None
    param: str = ""
    table: tuple[tuple[str, str], ...] = ()
    default: str | None = None  # the parameter's default, through `table`

    def value(self, params: Mapping) -> str:
        if self.constant is not None:
            return self.constant
        chosen = params.get(self.param)
        return dict(self.table).get(chosen, chosen or self.default or "")


# ---- formats: value -> text ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlainFormat:
    def bind(self, params: Mapping) -> Callable:
        return text.plain


@dataclass(frozen=True)
class NumberFormat:
    """A number without a format: canonical digits; `integer` formats are this too."""
    zero_empty: bool = False
    integer: bool = False

    def bind(self, params: Mapping) -> Callable:
        return text.integer_formatter(self.zero_empty) if self.integer else text.plain_number(self.zero_empty)


@dataclass(frozen=True)
class DecimalFormat:
    places: int | None
    sign: str
    side: str | None
    other_side: str | None
    decimal_separator: Option
    thousands_separator: Option
    zero_empty: bool

    def bind(self, params: Mapping) -> Callable:
        return text.decimal_formatter(self.places, self.sign, self.side, self.other_side,
                                      self.decimal_separator.value(params), self.thousands_separator.value(params),
                                      self.zero_empty)


@dataclass(frozen=True)
class DateFormat:
    pattern: Option
    parts: tuple[tuple[str, tuple], ...]  # every pattern the option can give, compiled

    def bind(self, params: Mapping) -> Callable:
        pattern = self.pattern.value(params)
        parts = dict(self.parts).get(pattern)
        if parts is None:  # not a value the compiler saw (resolve_params only gives choices)
            parts = text.date_parts(pattern)
            parts = (pattern,) if isinstance(parts, str) else parts
        return text.date_formatter(parts)


@dataclass(frozen=True)
class ChoiceFormat:
    """indicator (sign of a number) and boolean formats: one of two texts."""
    kind: str  # indicator | boolean
    yes: str  # debit / true
    no: str  # credit / false

    def bind(self, params: Mapping) -> Callable:
        yes, no = self.yes, self.no
        if self.kind == "indicator":
            return lambda v: "" if v is None else (yes if v >= 0 else no)
        return lambda v: "" if v is None else (yes if v else no)


@dataclass(frozen=True)
class MapFormat:
    values: tuple[tuple[str, str], ...]  # casefolded key -> text
    default: str | None

    def bind(self, params: Mapping) -> Callable:
        return text.map_formatter(dict(self.values), self.default)


Format = PlainFormat | NumberFormat | DecimalFormat | DateFormat | ChoiceFormat | MapFormat


@dataclass(frozen=True)
class Picture:
    masks: tuple[tuple[str, str], ...]
    prefix_length: int = 0
    keep_prefix: bool = False


@dataclass(frozen=True)
class TextRules:
    """The text pipeline options of a field (format type `text`)."""
    replace: tuple[tuple[str, str], ...] = ()
    picture: Picture | None = None
    allowed: str = ""  # the inside of a regular-expression character class
    replacement: str = ""
    disallowed: str = "replace-and-warn"
    case: str = ""  # "" | upper | lower


NO_TEXT_RULES = TextRules()


# ---- fields, records, files ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: a plan is itself; shared plans share the runtime's memory
class FieldPlan:
    name: str
    kind: str  # value kind after formatting decides quoting: text | decimal | integer | date | ...
    format: Format = PlainFormat()
    path: str = ""  # source path ("" for constants)
    getter: Callable | None = None  # ctx -> value (per line)
    hoisted: str = ""  # path resolved once per render (batch., settings., params.)
    constant: Any = None
    is_constant: bool = False
    textual: bool = True  # runs the text pipeline (replace, encoding, ...)
    text: TextRules = NO_TEXT_RULES
    if_empty: str = ""
    max_length: int | None = None
    overflow: str = "truncate-and-warn"
    width: int | None = None
    align: str = "left"
    pad: str = " "
    quote: bool | None = None
    lookup: tuple[str, str, str] | None = None  # collection, key attribute, value attribute
    when: Callable | None = None  # ctx -> bool: the field is empty where it is False


@dataclass(frozen=True, eq=False)
class RecordPlan:
    name: str
    collection: str | None
    nested_in_document: bool
    when: Callable | None
    fields: tuple[FieldPlan, ...] | None  # None: the record writes no line of its own
    children: tuple[RecordPlan, ...]
    block: tuple[str | None, str | None, str] | None  # open, close, indent
    per_line_of_document: bool  # iterates postings / VAT groups / revenue groups of documents
    element: str = ""
    attributes: tuple[FieldPlan, ...] = ()
    text: FieldPlan | None = None


@dataclass(frozen=True)
class Layout:
    kind: str  # delimited | tagged | fixed | xml
    delimiter: Option | None = None
    quoting: str = "minimal"
    quote_char: str = '"'
    quote_escape: str = "double"
    quote_replacement: str = ""
    quote_empty: bool = False
    root: str = ""
    root_attributes: tuple[FieldPlan, ...] = ()
    declaration: bool = True
    indent: str = "  "
    element_names: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # doc type -> (name, replacement)


@dataclass(frozen=True)
class FilePlan:
    name: str  # the name pattern as written in the spec (for messages)
    name_parts: tuple  # str literals and (placeholder, date parts or None) tuples
    when: Callable | None
    encoding: str
    unrepresentable: str
    eol: str
    trailing_newline: bool
    layout: Layout
    translate: tuple[tuple[int, str], ...]  # the file's `replace`: code point -> text
    columns: tuple[str, ...] | None
    header: tuple  # ("text", str) | ("columns", None) | ("record", RecordPlan)
    records: tuple[RecordPlan, ...]
    omit_when_empty: bool
    formula_triggers: str = ""  # delimited files: neutralise | refuse text that starts a formula
    max_records: int | None = None  # more record lines than this: the file is split into parts
    part_name_parts: tuple = ()  # the parts' name pattern, with a ("part", None) placeholder
    per_document: bool = False


@dataclass(frozen=True)
class CompiledSpec:
    files: tuple[FilePlan, ...]
