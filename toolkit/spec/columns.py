"""The lines of a hot record (one line per posting, VAT group, ...) for many documents at once.

Rendering line by line costs Python calls per line and per field; an export has hundreds of
thousands of such lines. Here a record's lines for a chunk of documents are rendered a column at a
time: the values of a field are fetched by one map(attrgetter), their texts looked up in the
field's memory by one map() (C loops; a new value is rendered by the memory itself), conditions
are tested on whole columns, and each line is its document's template (constants and document
texts, joined once per document) filled by one %-format.

Nothing here reports a finding: where a text would raise one (its memory gives None) the document
is marked `dirty`, and the writer renders that document's lines line by line as before, so every
finding comes in the same order and with the same words. A record this cannot render (a field or
condition of another kind) returns None from `columnar`, and the writer renders it line by line.
"""

from __future__ import annotations

import operator
from collections import Counter
from itertools import chain, compress, repeat
from operator import attrgetter
from typing import Callable, NamedTuple

from toolkit.spec.cells import FileRun
from toolkit.spec.plans import EINVOICE_COLLECTIONS, ITEM_SLOTS, RecordPlan

CHUNK_DOCUMENTS = 2_000  # documents rendered together: the columns of a chunk stay small


class Chunk(NamedTuple):
    lines: list[str]  # the record's lines of the clean documents (and garbage for the dirty ones)
    documents: list[int]  # each line's document (its position in the chunk), ascending
    counts: Counter  # position of a document in the chunk -> how many lines it has
    dirty: set[int]  # positions of the documents to render line by line


class Source(NamedTuple):
    root: str  # item | document | customer | index | ctx (the same for every line)
    get: Callable | None  # root object -> value


class Field(NamedTuple):
    source: Source
    remembered: Callable | None  # value -> text, None when the text would raise a finding
    tests: tuple = ()  # a conditional field: its condition as data (path, op, value)
    constant: str | None = None  # a conditional constant: its text where the condition holds
    empty: str = ""
    column: Callable | None = None  # values -> texts at once (amounts), or None: then one by one

    def texts(self, values) -> list:
        if self.column is not None:
            values = list(values)
            texts = self.column(values)
            if texts is not None:
                return texts
        return list(map(self.remembered, values))


def _escape(literal: str) -> str:
    """A literal text inside the %-template that str.format builds."""
    return literal.replace("%", "%%").replace("{", "{{").replace("}", "}}")


def columnar(run: FileRun, record: RecordPlan, line: Callable, indent: str) -> Columns | None:
    """The column renderer of the record, or None when some part of it is not of a plain kind."""
    if record.when is not None and not hasattr(record.when, "tests"):
        return None
    columns = Columns(run, record, line.shape, indent)
    return columns if columns.ok else None


class ColumnBase:
    """The rows of a record over a chunk of documents (its collection's items), and its fields'
    texts over them, a column at a time. `ok` is False when some part is not of a plain kind."""

    def __init__(self, run: FileRun, record: RecordPlan):
        self.run, self.ok = run, True
        self.collection = record.collection
        self.slot = ITEM_SLOTS.get(record.collection)  # None for the documents themselves
        self.einvoice = record.collection in EINVOICE_COLLECTIONS
        self.nested = record.nested_in_document
        self.sources: dict[str, Source] = {}
        self.tests = self.conditions(record.when)

    def conditions(self, when: Callable | None) -> tuple:
        """A condition's tests as data (their sources noted); () for none."""
        if when is None:
            return ()
        tests = getattr(when, "tests", None)
        if tests is None:
            self.ok = False
            return ()
        for path, _, _ in tests:
            self.sources.setdefault(path, self.source(path))
        return tests

    def texts(self, field: Field, rows: tuple, docs: list) -> list:
        """The field's text on each row (None where it would raise a finding)."""
        if field.constant is not None and not field.tests:
            return [field.constant] * len(rows[0])
        if not field.tests:
            if field.source.root in ("document", "customer"):  # rendered per document, then spread over its rows
                texts = field.texts(self.values(field.source, (docs, range(len(docs)), None), docs, True))
                return list(map(texts.__getitem__, rows[1]))
            return field.texts(self.values(field.source, rows, docs))
        texts = [field.empty] * len(rows[0])
        passing, at = self.select(field.tests, rows, docs)
        found = ([field.constant] * len(at) if field.constant is not None
                 else field.texts(self.values(field.source, passing, docs)))
        for r, text in zip(at, found):
            texts[r] = text
        return texts


    def source(self, path: str) -> Source:
        root, _, rest = path.partition(".")
        if root == self.slot and rest:
            return Source("item", attrgetter(rest))
        if root in ("document", "customer") and rest:
            return Source(root, attrgetter(rest))
        if root == "index" and not rest:
            return Source("index", None)
        if root in ("batch", "settings") and rest:  # the same for every line of the render
            return Source("ctx", attrgetter(path))
        if root == "params" and rest:
            return Source("ctx", lambda ctx: ctx.params.get(rest))
        self.ok = False
        return Source("", None)

    def field(self, cell: Callable | None) -> Field:
        run = self.run
        conditional = run.conditional_cells.get(cell)
        tests = ()
        if conditional is not None:
            tests = self.conditions(conditional.when)
            if not self.ok:
                return Field(Source("", None), None)
            if isinstance(conditional.cell, str):
                return Field(Source("", None), None, tests, conditional.cell, conditional.empty)
            cell = conditional.cell
        plain = run.plain_cells.get(cell)
        if plain is None:
            self.ok = False
            return Field(Source("", None), None)
        return Field(self.source(plain.path), plain.remembered, tests, None, conditional.empty if conditional else "",
                      run.column_cells.get(cell))

    def rows(self, docs: list, first_index: int) -> tuple[list, list, list | None]:
        """(the items of the documents' collection, each one's document (position in `docs`), its
        `index`)."""
        collection = self.collection
        if collection == "documents":
            return list(docs), list(range(len(docs))), list(range(first_index + 1, first_index + 1 + len(docs)))
        if self.einvoice:
            items_of = [getattr(d.einvoice, collection) if d.einvoice is not None else () for d in docs]
        else:
            items_of = list(map(attrgetter(collection), docs))
        items = list(chain.from_iterable(items_of))
        rows_doc = list(chain.from_iterable(repeat(k, len(s)) for k, s in enumerate(items_of)))
        if self.nested:  # 1-based within the document
            index = list(chain.from_iterable(range(1, len(s) + 1) for s in items_of))
        else:
            index = list(range(first_index + 1, first_index + 1 + len(items)))
        return items, rows_doc, index

    def document_texts(self, field: Field, docs: list) -> tuple[list[str], list[int]]:
        """(a document field's text per document, escaped for the %-template; the positions of
        the documents whose text would raise a finding)."""
        texts = field.texts(self.values(field.source, (docs, range(len(docs)), None), docs, True))  # amounts by column
        bad = [k for k, text in enumerate(texts) if text is None] if None in texts else []
        if bad or "%" in "".join(texts):
            texts = ["" if text is None else text.replace("%", "%%") for text in texts]
        return texts, bad

    def values(self, source: Source, rows: tuple, docs: list, per_document: bool = False):
        """The column of a source's values over the rows (or over the documents)."""
        items, rows_doc, index = rows
        root = source.root
        if root == "item":
            return map(source.get, items)
        if root == "index":
            return index
        if root == "ctx":
            return repeat(source.get(self.run.ctx), len(rows_doc))
        objects = docs if per_document else map(docs.__getitem__, rows_doc)
        if root == "customer":
            objects = map(attrgetter("customer"), objects)
        return map(source.get, objects)

    def select(self, tests: tuple, rows: tuple, docs: list, shared: dict | None = None,
               known: dict | None = None) -> tuple[tuple, list[int] | None]:
        """(the rows where every test holds, their positions among `rows` (None with `shared`));
        a test is only made on the rows that passed the ones before it, as `first(ctx) and
        second(ctx)` does. With `shared` (the rows are all the chunk's), the first test's column
        is shared by the records that start with the same test. `known` keeps the values a test
        fetched, by rows: the elements of one record test the same path (a posting's kind) again."""
        at = None if shared is not None else list(range(len(rows[0])))
        for n, (path, op, value) in enumerate(tests):
            if n == 0 and shared is not None:
                key = ("mask", path, op, type(value), value)
                if key not in shared:
                    shared[key] = list(_holds(op, value, self.tested(path, rows, docs, shared)))
                mask = shared[key]
            else:
                mask = list(_holds(op, value, self.tested(path, rows, docs, known)))
            rows = tuple(list(compress(column, mask)) for column in rows)
            if at is not None:
                at = list(compress(at, mask))
        return rows, at

    def tested(self, path: str, rows: tuple, docs: list, known: dict | None):
        """A condition's values over the rows: fetched once per rows and path with `known` (which
        holds the rows too, so that their id is not reused while it is a key)."""
        if known is None:
            return self.values(self.sources[path], rows, docs)
        key = ("values", id(rows[0]), path)
        got = known.get(key)
        if got is None:
            got = known[key] = (rows[0], list(self.values(self.sources[path], rows, docs)))
        return got[1]


class Columns(ColumnBase):
    """A line record's lines: each line is its document's template filled with its own texts."""

    def __init__(self, run: FileRun, record: RecordPlan, shape: tuple, indent: str):
        super().__init__(run, record)
        pieces, per_document, delimiter = shape
        self.document_fields: list[Field] = []
        self.own_fields: list[Field] = []
        parts = []
        for piece in pieces:
            if not callable(piece):
                parts.append(_escape(piece))
            elif id(piece) in per_document:
                parts.append("{}")
                self.document_fields.append(self.field(run.document_cells.get(piece)))
            else:
                parts.append("%s")
                self.own_fields.append(self.field(piece))
        self.template = _escape(indent) + _escape(delimiter).join(parts)  # a str.format of %-templates

    # -- rendering --

    def render(self, docs: list, first_index: int = 0, shared: dict | None = None) -> Chunk:
        """The record's lines for these documents (`first_index`: items before them, for a record
        that is not nested in a document: `index` counts on across documents). Records rendered
        over the same documents pass the same `shared` dict: the items, the unfiltered columns and
        the document texts they have in common are computed once."""
        shared = {} if shared is None else shared
        rows = shared.get(self.collection)
        if rows is None:
            rows = shared[self.collection] = self.rows(docs, first_index)
        if self.tests:
            rows, _ = self.select(self.tests, rows, docs, shared)
        items, rows_doc, index = rows
        dirty: set[int] = set()

        columns = []  # the texts of the line's own fields, one list per field
        for field in self.own_fields:
            texts = self.texts(field, rows, docs)
            if None in texts:
                dirty.update(rows_doc[r] for r, text in enumerate(texts) if text is None)
            columns.append(texts)

        if self.document_fields:
            values = []
            for field in self.document_fields:
                key = ("document", field.remembered, field.source.root)
                if key not in shared:
                    shared[key] = self.document_texts(field, docs)
                texts, bad = shared[key]
                dirty.update(bad)
                values.append(texts)
            templates = list(map(self.template.format, *values))
            template_of = map(templates.__getitem__, rows_doc)
        else:
            template_of = repeat(self.template.format())
        lines = list(map(operator.mod, template_of, zip(*columns) if columns else repeat((), len(items))))
        return Chunk(lines, rows_doc, Counter(rows_doc), dirty)

def _holds(op: str, value, values):
    """Whether each value passes the test: the same comparisons as compile.py's conditions."""
    if op == "eq":
        return map(operator.eq, values, repeat(value))
    if op == "ne":
        return map(operator.ne, values, repeat(value))
    if op == "in":
        return map(value.__contains__, values)
    if op == "not_in":
        return map(operator.not_, map(value.__contains__, values))
    if op in ("empty", "not_empty"):
        want = op == "empty"
        return [(v in (None, "")) == want for v in values]
    compare = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}[op]
    return [v is not None and compare(v, value) for v in values]
