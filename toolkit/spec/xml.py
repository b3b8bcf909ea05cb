"""The writer of XML files: records are elements, fields child elements or attributes.

An element with nothing in it is left out, so optional elements stay absent.
"""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Callable, NamedTuple

import toolkit.spec.text as text
from toolkit.spec.cells import Ctx, FileRun, compose, identity
from toolkit.spec.columns import CHUNK_DOCUMENTS, ColumnBase, Field, Source
from toolkit.spec.plans import ITEM_SLOTS, NESTED_COLLECTIONS, XML_ENCODING_NAMES, DecimalFormat, FieldPlan, RecordPlan
from toolkit.spec.sink import Sink


def write_xml(run: FileRun, out: Sink) -> int:
    """The file's lines into `out`; how many come from its records."""
    plan = run.plan
    layout = plan.layout
    document = run.ctx.document  # set in a per_document file
    renamed = dict(dict(layout.element_names).get(document.doc_type, ())) if document is not None else {}
    writer = _Writer(run, layout.indent, renamed, out)
    if layout.declaration:
        out.append(f'<?xml version="1.0" encoding="{XML_ENCODING_NAMES[plan.encoding]}"?>')
    root = renamed.get(layout.root, layout.root)
    bound = run.cells.setdefault(("xml", tuple(sorted(renamed.items()))), {})  # bound once per run and naming
    if "root" not in bound:
        bound["root"] = [writer.cell(f, True) for f in layout.root_attributes]
    root_attrs = _attributes(bound["root"], run.ctx)
    out.append(f"<{root}{root_attrs}>")
    out.mark_header()
    for record in plan.records:
        if id(record) not in bound:
            bound[id(record)] = writer.bind(record)
        writer.walk(bound[id(record)], run.ctx, 1)
    count = out.count()
    out.append(f"</{root}>")
    writer.columns.clear()  # they refer back to the writer
    return count


class _Bound:
    __slots__ = ("record", "children", "attributes", "leaves", "text")

    def __init__(self, record, children, attributes, leaves, text):
        self.record, self.children, self.attributes, self.leaves, self.text = record, children, attributes, leaves, text


def _attributes(cells: list, ctx: Ctx) -> str:
    out = ""
    for name, value in cells:
        rendered = value(ctx)
        if rendered:  # empty means absent
            out += f' {name}="{rendered}"'
    return out


class _Writer:
    """Writes elements as they are walked. An element that may hold others opens *pending*: its
    opening tag is written with the first line inside it, so an element left empty is left out
    (or closed at once) without holding its content back; the file streams."""

    def __init__(self, run: FileRun, indent: str, renamed: dict[str, str], out: Sink):
        self.run, self.indent, self.renamed, self.out = run, indent, renamed, out
        self.pending: list[str] = []  # opening tags not written yet: nothing inside them so far
        self.chunk = None  # the documents walked now: (position by id, documents, rendered columns)
        self.columns: dict = {}  # (record, depth) -> its XmlColumns

    def emit(self, line: str) -> None:
        if self.pending:
            self.out.lines.extend(self.pending)
            self.pending.clear()
        self.out.append(line)

    def cell(self, plan: FieldPlan, attribute: bool) -> tuple[str, Callable]:
        run = self.run
        fmt = plan.format.bind(run.params)
        finish = run.finisher(plan)
        escape = text.xml_attribute if attribute else text.xml_text
        quiet = not run.may_report(plan)
        cell = run.memoized(plan, lambda v, ctx: escape(finish(fmt(v), ctx)), escape(finish("", None)),
                            quiet and compose(escape, finish, fmt), isinstance(plan.format, DecimalFormat),
                            None if quiet else run.clean_text(plan, escape, False))
        if quiet and finish is identity and plan.lookup is None and getattr(fmt, "column", None) \
                and not any(ch in fmt.alphabet for ch in '&<>"\r\t\n'):  # numbers: nothing to escape
            run.column_formatter(cell, fmt.column, list)
        if callable(cell):
            return self.renamed.get(plan.name, plan.name), cell
        constant = lambda ctx: cell  # noqa: E731
        constant.text = cell  # for the column renderer
        return self.renamed.get(plan.name, plan.name), constant

    def bind(self, record: RecordPlan) -> _Bound:
        return _Bound(record, [self.bind(c) for c in record.children],
                      [self.cell(f, True) for f in record.attributes],
                      [self.cell(f, False) for f in record.fields or ()],
                      self.cell(record.text, False)[1] if record.text else None)

    def walk(self, bound: _Bound, ctx: Ctx, depth: int) -> None:
        record = bound.record
        when = record.when
        if record.collection is None:  # most elements: once, in the scope of their parent
            if when is None or when(ctx):
                self.element(bound, ctx, depth)
            return
        if record.collection == "documents" and self.hot_inside(bound):
            return self.walk_documents(bound, ctx, depth)
        if self.chunk is not None and record.collection in NESTED_COLLECTIONS and record.nested_in_document:
            if self.from_columns(bound, ctx, depth):
                return
        top = record.collection in ("documents", "customers", "accounts")
        for _ in self.run.iterate(record, ctx):
            if when is None or when(ctx):
                self.element(bound, ctx, depth)
            if top:
                self.out.flush_if_full()

    # -- the hot records (an element per posting ...) by columns --

    def hot_inside(self, bound: _Bound) -> bool:
        return any(c.record.collection in NESTED_COLLECTIONS or self.hot_inside(c) for c in bound.children)

    def walk_documents(self, bound: _Bound, ctx: Ctx, depth: int) -> None:
        """`walk` of the documents, a chunk at a time: the elements of their postings (VAT groups,
        ...) are rendered by columns for the whole chunk (`XmlColumns`) when first asked for."""
        when = bound.record.when
        documents = self.run.batch.documents
        for start in range(0, len(documents), CHUNK_DOCUMENTS):
            docs = documents[start:start + CHUNK_DOCUMENTS]
            self.chunk = ({id(doc): k for k, doc in enumerate(docs)}, list(docs), {})
            for i, doc in enumerate(docs, start + 1):
                ctx.document, ctx.customer, ctx.index = doc, doc.customer, i
                if when is None or when(ctx):
                    self.element(bound, ctx, depth)
            self.chunk = None
            self.out.flush_if_full()
        ctx.document = ctx.customer = None

    def from_columns(self, bound: _Bound, ctx: Ctx, depth: int) -> bool:
        """The record's elements for the document being walked, from its chunk's columns; False
        when they cannot come from there (then they are walked as usual)."""
        position, docs, rendered = self.chunk
        key = (id(bound), depth)
        if key not in rendered:
            columns = self.columns.get(key)
            if columns is None:
                columns = self.columns[key] = XmlColumns(self, bound, depth)
            rendered[key] = columns.render(docs, rendered) if columns.ok else None
        lines = rendered[key]
        k = position[id(ctx.document)]
        if lines is None or k in lines.dirty:
            return False
        count = lines.counts[k]
        if count:
            at = lines.start[k]
            self.emit(lines.lines[at])
            self.out.lines.extend(lines.lines[at + 1:at + count])
        items = lines.items[k]
        if items:  # where `iterate` leaves the scope
            ctx.index = items
        setattr(ctx, ITEM_SLOTS[bound.record.collection], None)
        return True

    def element(self, bound: _Bound, ctx: Ctx, depth: int) -> None:
        record = bound.record
        if not record.element:  # a group: its children at this level
            index = ctx.index
            for child in bound.children:
                self.walk(child, ctx, depth)
            ctx.index = index
            return
        pad = self.indent * depth
        name = self.renamed.get(record.element, record.element)
        attrs = _attributes(bound.attributes, ctx) if bound.attributes else ""
        inner: list[str] = []
        if bound.leaves:
            inner_pad = self.indent * (depth + 1)
            for leaf, value in bound.leaves:
                rendered = value(ctx)
                if rendered:
                    inner.append(f"{inner_pad}<{leaf}>{rendered}</{leaf}>")
        pending = self.pending
        opened = bool(inner)  # written: something is inside
        if bound.children:
            if inner:
                self.emit(f"{pad}<{name}{attrs}>")
                self.out.lines.extend(inner)
            else:
                pending.append(f"{pad}<{name}{attrs}>")
                mark = len(pending)
            index = ctx.index
            for child in bound.children:
                self.walk(child, ctx, depth + 1)
            ctx.index = index
            if not opened:
                opened = len(pending) < mark  # a line inside wrote the pending tags
                if not opened:
                    pending.pop()
        body = bound.text(ctx) if bound.text else ""
        if opened:
            if not bound.children:
                self.emit(f"{pad}<{name}{attrs}>")
                self.out.lines.extend(inner)
            self.emit(f"{pad}</{name}>")
        elif body:
            self.emit(f"{pad}<{name}{attrs}>{body}</{name}>")
        elif attrs:
            self.emit(f"{pad}<{name}{attrs}/>")


class XmlChunk(NamedTuple):
    lines: list[str]  # an element per row (its lines joined), rows in document order
    counts: Counter  # document position -> how many
    start: dict  # document position -> its first row
    items: list[int]  # document position -> how many items its collection has
    dirty: set[int]  # documents to walk element by element (a text would raise a finding)


class _Node(NamedTuple):
    """An element of a hot record's subtree, as data: its name, its condition, its cells (by
    their column number) and its children."""
    element: str
    tests: tuple
    attributes: tuple  # (name, column)
    leaves: tuple  # (name, column)
    text: int | None  # column of its text
    children: tuple


class XmlColumns(ColumnBase):
    """The elements of a record over a document's collection (one per posting ...), for a chunk
    of documents, a column at a time. Which of an element's parts are there (conditions held,
    texts not empty) is its *shape*; each shape's lines are built once as a %-template by the same
    rules as `_Writer.element`, and every row is its shape's template filled with its texts."""

    def __init__(self, writer: _Writer, bound: _Bound, depth: int):
        super().__init__(writer.run, bound.record)
        self.writer, self.depth = writer, depth
        self.fields: list[Field] = []
        self.root = self.node(bound, top=True)
        self.conditional = self.conditional_nodes()
        self.eol = writer.out.eol
        self.shapes: dict[tuple, tuple[str, Callable]] = {}

    def node(self, bound: _Bound, top: bool = False) -> _Node:
        record = bound.record
        if not top and record.collection is not None:  # a collection inside: not by columns
            self.ok = False
        tests = () if top else self.conditions(record.when)
        return _Node(self.writer.renamed.get(record.element, record.element) if record.element else "", tests,
                     tuple((name, self.column(cell)) for name, cell in bound.attributes),
                     tuple((name, self.column(cell)) for name, cell in bound.leaves),
                     self.column(bound.text) if bound.text else None,
                     tuple(self.node(c) for c in bound.children))

    def column(self, cell: Callable) -> int:
        text = getattr(cell, "text", None)
        if text is not None:  # a constant
            self.fields.append(Field(Source("", None), None, (), text))
        else:
            self.fields.append(self.field(cell))
        return len(self.fields) - 1

    def render(self, docs: list, shared: dict) -> XmlChunk:
        rows = shared.get(self.collection)
        if rows is None:
            rows = shared[self.collection] = self.rows(docs, 0)
        every = rows
        if self.tests:
            rows, _ = self.select(self.tests, rows, docs, shared)
        count = len(rows[0])
        texts: list = [[""] * count for _ in self.fields]
        present: dict[int, list] = {}  # id(node) -> whether it is there, per row
        self.fill(self.root, rows, list(range(count)), docs, texts, present)
        dirty = set()
        for column in texts:
            if None in column:
                dirty.update(rows[1][r] for r, text in enumerate(column) if text is None)
        flags = [present[id(n)] for n in self.conditional] + [list(map(bool, column)) for column in texts]
        signatures = list(zip(*flags)) if flags else [()] * count
        for signature in set(signatures):
            if signature not in self.shapes:
                self.shapes[signature] = self.shape(signature)
        shapes = self.shapes
        lines = [template % pick(values) for (template, pick), values
                 in zip(map(shapes.__getitem__, signatures), zip(*texts) if texts else [()] * count)]
        counts = Counter(rows[1])
        start, at = {}, 0
        for k in sorted(counts):
            start[k] = at
            at += counts[k]
        items = Counter(every[1])
        return XmlChunk(lines, counts, start, [items[k] for k in range(len(docs))], dirty)

    def fill(self, node: _Node, rows: tuple, at: list, docs: list, texts: list, present: dict) -> None:
        """The texts of the node's cells on the rows where it is (`at`: their positions)."""
        if node.tests:
            rows, where = self.select(node.tests, rows, docs)
            at = [at[r] for r in where]
            there = [False] * len(texts[0]) if texts else []
            for r in at:
                there[r] = True
            present[id(node)] = there
        columns = [c for _, c in node.attributes] + [c for _, c in node.leaves]
        if node.text is not None:
            columns.append(node.text)
        for c in columns:
            found = self.texts(self.fields[c], rows, docs)
            column = texts[c]
            for r, text in zip(at, found):
                column[r] = text
        for child in node.children:
            self.fill(child, rows, at, docs, texts, present)

    def conditional_nodes(self) -> list[_Node]:
        """The elements of the subtree that have a condition, in a fixed order."""
        out, todo = [], [self.root]
        while todo:
            node = todo.pop(0)
            if node.tests:
                out.append(node)
            todo.extend(node.children)
        return out

    def shape(self, signature: tuple) -> tuple[str, Callable]:
        """(the %-template of the rows of this shape, row texts -> the ones it takes, in order)."""
        conditional = self.conditional
        there = {id(n): flag for n, flag in zip(conditional, signature)}
        filled = signature[len(conditional):]
        used: list[int] = []
        lines = self.lines(self.root, self.depth, there, filled, used)
        template = self.eol.replace("%", "%%").join(lines)
        if len(used) == 1:
            only = used[0]
            return template, lambda values: (values[only],)
        return template, (itemgetter(*used) if used else (lambda values: ()))

    def lines(self, node: _Node, depth: int, there: dict, filled: tuple, used: list) -> list[str]:
        """`_Writer.element` for one shape: the lines, a %s for each text (its column in `used`)."""
        indent = self.writer.indent.replace("%", "%%")
        inner: list[str] = []
        inner_used: list[int] = []
        if not node.element:  # a group: its children at this level
            for child in node.children:
                if there.get(id(child), True):
                    inner += self.lines(child, depth, there, filled, used)
            return inner
        pad = indent * depth
        attrs = "".join(f' {name}="%s"' for name, c in node.attributes if filled[c])
        attrs_used = [c for _, c in node.attributes if filled[c]]
        for name, c in node.leaves:
            if filled[c]:
                inner.append(f"{indent * (depth + 1)}<{name}>%s</{name}>")
                inner_used.append(c)
        for child in node.children:
            if there.get(id(child), True):
                inner += self.lines(child, depth + 1, there, filled, inner_used)
        if inner:
            used += attrs_used + inner_used
            return [f"{pad}<{node.element}{attrs}>", *inner, f"{pad}</{node.element}>"]
        if node.text is not None and filled[node.text]:
            used += attrs_used + [node.text]
            return [f"{pad}<{node.element}{attrs}>%s</{node.element}>"]
        if attrs:
            used += attrs_used
            return [f"{pad}<{node.element}{attrs}/>"]
        return []
