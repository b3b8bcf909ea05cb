"""The writer of XML files: records are elements, fields child elements or attributes.

An element with nothing in it is left out, so optional elements stay absent.
"""

from __future__ import annotations

import operator
from collections import Counter, deque
from itertools import accumulate, compress, repeat
from typing import Callable, Iterator, NamedTuple

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
        out.append(_declaration(plan))
    root = renamed.get(layout.root, layout.root)
    bound = run.cells.setdefault(_naming(renamed), {})  # bound once per run and naming
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


def _declaration(plan: FilePlan) -> str:
    return f'<?xml version="1.0" encoding="{XML_ENCODING_NAMES[plan.encoding]}"?>'


def _naming(renamed: dict[str, str]) -> tuple:
    """The key of a file's cells bound under this renaming of elements."""
    return "xml", tuple(sorted(renamed.items()))


# Documents of per-document files rendered together: a chunk's texts (an e-invoice is ~8 KB) and
# columns are held at once, and what a chunk takes stays taken (the allocator keeps it): 500 are as
# quick as 2,000 and take some 25 MB less at 100,000 invoices.
FILES_CHUNK = 500


class PerDocument:
    """The files of a per_document XML file, a chunk of documents at a time, by columns.

    A document's file is its root element over the file's records: the root is rendered as a
    documents-record (`XmlColumns` over the chunk's documents; the root always written, as
    `write_xml` writes it, after the declaration and before the last line ending). Element names depend on the document type (a credit note's CreditNote ...): each
    naming has its own writer and columns, over its documents of the chunk.

    A naming's cells are the ones `write_xml` bound for its first document, walked as always:
    binding a constant may report a finding (too long ...), which then comes where it always came.
    `text` is None for a document to walk: its naming is not bound yet, a text of it would raise a
    finding, or the file's records cannot be rendered by columns."""

    def __init__(self, run: FileRun, eol: str):
        plan = run.plan
        self.run, self.eol = run, eol
        self.head = _declaration(plan) + eol if plan.layout.declaration else ""
        self.tail = eol if plan.trailing_newline else ""
        self.names = dict(plan.layout.element_names)
        self.namings: dict[str, tuple] = {}  # document type -> its naming
        self.kinds: dict[tuple, XmlColumns | None] = {}  # naming -> its columns (None: not by columns)
        self.docs: list = []
        self.texts: dict[tuple, dict[int, str]] = {}  # naming -> {position in the chunk: the document's text}

    def chunks(self, documents) -> Iterator[list]:
        for start in range(0, len(documents), FILES_CHUNK):
            self.docs, self.texts = list(documents[start:start + FILES_CHUNK]), {}
            yield self.docs
        self.docs, self.texts = [], {}

    def text(self, position: int) -> str | None:
        """The file text of the chunk's document at `position`, or None: walk it (`write_xml`).
        A naming's documents of the chunk are rendered when the first of them is asked for."""
        naming = self.naming(self.docs[position])
        texts = self.texts.get(naming)
        if texts is None:
            columns = self.columns(naming)
            if columns is None:
                return None
            group = [k for k in range(position, len(self.docs)) if self.naming(self.docs[k]) == naming]
            texts = self.texts[naming] = self.render(columns, group)
        return texts.pop(position, None)  # the chunk's texts are dropped as they are taken

    def naming(self, document) -> tuple:
        naming = self.namings.get(document.doc_type)
        if naming is None:
            naming = self.namings[document.doc_type] = _naming(dict(self.names.get(document.doc_type, ())))
        return naming

    def columns(self, naming: tuple) -> XmlColumns | None:
        if naming in self.kinds:
            return self.kinds[naming]
        run, plan = self.run, self.run.plan
        if plan.max_records or plan.omit_when_empty:  # parts, or a file left out when empty: walked
            self.kinds[naming] = None
            return None
        bound = run.cells.get(naming)
        if bound is None or "root" not in bound or any(id(r) not in bound for r in plan.records):
            return None  # bound by its first document's walk: asked again at the next one
        layout = plan.layout
        writer = _Writer(run, layout.indent, dict(naming[1]), Sink(self.eol, plan.encoding, None))
        record = RecordPlan(layout.root, "documents", False, None, None, plan.records, None, False,
                            layout.root, layout.root_attributes)
        root = _Bound(record, [bound[id(r)] for r in plan.records], bound["root"], [], None)
        columns = XmlColumns(writer, root, 0, whole=(self.head, self.tail))
        self.kinds[naming] = columns if columns.ok else None
        return self.kinds[naming]

    def render(self, columns: XmlColumns, group: list[int]) -> dict[int, str]:
        docs = [self.docs[k] for k in group]
        writer = columns.writer
        writer.chunk = ({id(doc): n for n, doc in enumerate(docs)}, docs, {})
        try:
            rendered = columns.render(docs, writer.chunk[2])
        finally:
            writer.chunk = None
        lines, dirty = rendered.lines, rendered.dirty
        return {k: lines[n] for n, k in enumerate(group) if n not in dirty}

    def close(self) -> None:
        for columns in self.kinds.values():
            if columns is not None:
                columns.writer.columns.clear()  # they refer back to the writer
        self.kinds.clear()


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
        """`walk` of the documents, a chunk at a time. A chunk's documents are rendered by columns
        (`XmlColumns` over the documents, their postings' elements ... as blocks inside); a
        document whose texts would raise a finding, or all of them when the record cannot be
        rendered so, are walked element by element, their postings' elements still by columns
        (`from_columns`)."""
        when = bound.record.when
        documents = self.run.batch.documents
        columns = self.columns_of(bound, depth)
        for start in range(0, len(documents), CHUNK_DOCUMENTS):
            docs = documents[start:start + CHUNK_DOCUMENTS]
            self.chunk = ({id(doc): k for k, doc in enumerate(docs)}, list(docs), {})
            rendered = columns.render(docs, self.chunk[2], start) if columns.ok else None
            if rendered is not None and not rendered.dirty:  # the usual chunk: no finding in it
                self.lines(rendered.lines)
            else:
                for k, doc in enumerate(docs):
                    ctx.document, ctx.customer, ctx.index = doc, doc.customer, start + k + 1
                    if rendered is not None and k not in rendered.dirty:
                        self.lines(rendered.lines[rendered.start[k]:rendered.start[k + 1]])
                    elif when is None or when(ctx):
                        self.element(bound, ctx, depth)
            ctx.index = start + len(docs)
            self.chunk = None
            self.out.flush()  # a chunk's elements are a few MB of text
        ctx.document = ctx.customer = None

    def lines(self, lines: list[str]) -> None:
        """Elements rendered by columns (a text each, its lines joined; "" for none), in order."""
        lines = [line for line in lines if line] if "" in lines else lines
        if lines:
            self.emit(lines[0])
            self.out.lines.extend(lines[1:])

    def columns_of(self, bound: _Bound, depth: int) -> XmlColumns:
        key = (id(bound), depth)
        columns = self.columns.get(key)
        if columns is None:
            columns = self.columns[key] = XmlColumns(self, bound, depth)
        return columns

    def chunk_rendered(self, bound: _Bound, depth: int) -> XmlChunk | None:
        """The elements of a record nested in the documents, for the chunk's documents; None when
        the record cannot be rendered by columns."""
        _, docs, rendered = self.chunk
        key = (id(bound), depth)
        if key not in rendered:
            columns = self.columns_of(bound, depth)
            rendered[key] = columns.render(docs, rendered) if columns.ok else None
        return rendered[key]

    def from_columns(self, bound: _Bound, ctx: Ctx, depth: int) -> bool:
        """The record's elements for the document being walked, from its chunk's columns; False
        when they cannot come from there (then they are walked as usual)."""
        lines = self.chunk_rendered(bound, depth)
        k = self.chunk[0][id(ctx.document)]
        if lines is None or k in lines.dirty:
            return False
        self.lines(lines.lines[lines.start[k]:lines.start[k + 1]])
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
    start: list[int]  # document position -> its first row (and the end of the last: one more)
    items: list[int]  # document position -> how many items its collection has
    dirty: set[int]  # documents to walk element by element (a text would raise a finding)


class _Node(NamedTuple):
    """An element of a hot record's subtree, as data: its name, its condition, its cells (by
    their column number) and its children; or a record nested in the documents (`block`: its
    elements per document, a column too)."""
    element: str
    tests: tuple
    attributes: tuple  # (name, column)
    leaves: tuple  # (name, column)
    text: int | None  # column of its text
    children: tuple
    block: tuple | None = None  # (its bound record, its depth): a column of its elements per document


class XmlColumns(ColumnBase):
    """The elements of a record over a chunk of documents, a column at a time: of the documents
    themselves (one per document), or of a collection nested in them (one per posting ...), whose
    elements are then a column of the documents' elements (a *block* per document).

    Which of an element's parts are there (conditions held, texts not empty) is its *shape*; each
    shape's lines are built once as a %-template by the same rules as `_Writer.element`, and the
    rows of a shape are its template filled with their texts. No Python code runs per row: the
    columns are mapped, compressed and spread by C loops (map, zip, compress)."""

    def __init__(self, writer: _Writer, bound: _Bound, depth: int, whole: tuple[str, str] | None = None):
        super().__init__(writer.run, bound.record)
        self.writer, self.depth = writer, depth
        # the root of a per-document file: written even when empty, as write_xml does, between
        # these two texts (the declaration, the last line ending): a row is the file's text
        self.whole = whole
        self.fields: list[Field | None] = []  # None: a block's column
        self.root = self.node(bound, depth, top=True)
        self.conditional = self.conditional_nodes()
        self.eol = writer.out.eol
        if _TEXT in self.eol + writer.indent:
            self.ok = False
        # the columns whose texts every row passes to its template: all but the constants
        self.passed = [c for c in self.tree_order(self.root) if self.fields[c] is None or self.fields[c].constant is None
                       or self.fields[c].tests]
        self.position = {c: n for n, c in enumerate(self.passed)}
        self.shapes: dict[tuple, str] = {}

    def node(self, bound: _Bound, depth: int, top: bool = False) -> _Node:
        record = bound.record
        if not top and record.collection is not None:
            if self.collection == "documents" and record.collection in NESTED_COLLECTIONS and record.nested_in_document:
                self.fields.append(None)
                return _Node("", (), (), (), len(self.fields) - 1, (), (bound, depth))
            self.ok = False  # another collection inside: not by columns
        tests = () if top else self.conditions(record.when)
        inner = depth + 1 if record.element else depth
        return _Node(self.writer.renamed.get(record.element, record.element) if record.element else "", tests,
                     tuple((name, self.column(cell)) for name, cell in bound.attributes),
                     tuple((name, self.column(cell)) for name, cell in bound.leaves),
                     self.column(bound.text) if bound.text else None,
                     tuple(self.node(c, inner) for c in bound.children))

    def column(self, cell: Callable) -> int:
        text = getattr(cell, "text", None)
        if text is not None:  # a constant
            self.fields.append(Field(Source("", None), None, (), text))
        else:
            self.fields.append(self.field(cell))
        return len(self.fields) - 1

    def source(self, path: str) -> Source:
        if self.collection == "documents" and path == "index":
            # a document's element sees the index its postings' walk leaves behind: walked, not by columns
            self.ok = False
        return super().source(path)

    def render(self, docs: list, shared: dict, first_index: int = 0) -> XmlChunk:
        """The record's elements for these documents (`shared`: what the records over the same
        documents have in common, the chunk's items and first tests' columns, and the blocks)."""
        rows = shared.get(self.collection)
        if rows is None:
            rows = shared[self.collection] = self.rows(docs, first_index)
        every = rows
        if self.tests:
            rows, _ = self.select(self.tests, rows, docs, shared)
        count = len(rows[0])
        texts: list = [None] * len(self.fields)  # each cell's texts over the rows ("" where its element is not)
        present: dict[int, list] = {}  # id(node) -> whether it is there, per row
        dirty: set[int] = set()
        follows: dict[int, list] = {}  # column -> the presence of its element, where its text is never empty
        self.fill(self.root, rows, None, count, docs, texts, present, dirty, {}, follows)
        lines = self.fill_shapes([present[id(n)] for n in self.conditional], texts, count, follows)
        counts = Counter(rows[1])
        start = list(accumulate(map(counts.get, range(len(docs)), repeat(0)), initial=0))
        items = Counter(every[1])
        return XmlChunk(lines, start, list(map(items.get, range(len(docs)), repeat(0))), dirty)

    def fill(self, node: _Node, rows: tuple, at: list | None, count: int, docs: list, texts: list, present: dict,
             dirty: set, selected: dict, follows: dict, there: list | None = None) -> None:
        """The texts of the node's cells on the rows where it is (`rows`; `at`: their positions
        among the record's rows, None for all of them; `there`: whether it is, per record's row).
        `selected`: the rows of the conditions tested so far, by their parent's rows (siblings
        often share one: a Debtor and a Payment element on the customer's line). `follows` learns
        the columns whose text is there exactly where their element is."""
        if node.tests:
            key = (id(rows), tuple((path, op, type(value), value) for path, op, value in node.tests))
            if key not in selected:
                inner, where = self.select(node.tests, rows, docs, known=selected)
                where = where if at is None else list(map(at.__getitem__, where))
                selected[key] = (inner, where, _spread(count, where, repeat(True), False), rows)  # rows: its id stays taken
            rows, at, there, _ = selected[key]
            present[id(node)] = there
        if node.block is not None:  # the elements of a record nested in the documents, per document
            nested = self.writer.chunk_rendered(*node.block)
            dirty.update(nested.dirty)
            starts = nested.start
            blocks = list(map(self.eol.join, map(filter, repeat(None), map(nested.lines.__getitem__, map(slice, starts, starts[1:])))))
            found = list(map(blocks.__getitem__, rows[1]))
            self.put(node.text, found, at, count, texts, follows, there, True)
            return
        columns = [c for _, c in node.attributes] + [c for _, c in node.leaves]
        if node.text is not None:
            columns.append(node.text)
        for c in columns:
            found = self.texts(self.fields[c], rows, docs)
            clean = None not in found
            if not clean:  # a text that would raise a finding: its document is walked
                dirty.update(compress(rows[1], map(operator.is_, found, repeat(None))))
            self.put(c, found, at, count, texts, follows, there, clean)
        for child in node.children:
            self.fill(child, rows, at, count, docs, texts, present, dirty, selected, follows, there)

    @staticmethod
    def put(c: int, found: list, at: list | None, count: int, texts: list, follows: dict, there: list | None,
            clean: bool) -> None:
        """Column c's texts `found` on the rows `at` (all: None), spread over the record's rows
        (`clean`: no None among them; a None's document is walked, not these texts)."""
        if at is None:
            texts[c] = found
            return
        texts[c] = _spread(count, at, found, "")
        if clean and "" not in found:
            follows[c] = there

    def fill_shapes(self, conditions: list[list], texts: list, count: int, follows: dict) -> list[str]:
        """Each row's element: its shape's template filled with its texts. Only the flags that
        differ from row to row make the rows' keys: not one that is the same on every row of the
        chunk (a condition that always holds, a text never empty ...), nor one that is another's
        (two elements under the same condition; a text there wherever its element is)."""
        flags = conditions + texts  # whether each condition holds, each text is there (not empty)
        first: dict[int, int] = {}  # id(a condition's column) -> its first flag
        same = [first.setdefault(id(column), n) for n, column in enumerate(conditions)]
        same += [first[id(follows[c])] if c in follows else len(conditions) + c for c in range(len(texts))]
        fixed: list = [None] * len(flags)
        varying = []
        for n, column in enumerate(flags):
            if same[n] != n:
                continue
            if all(column):
                fixed[n] = True
            elif not any(column):
                fixed[n] = False
            else:
                varying.append(n)
        rows = zip(*[texts[c] for c in self.passed]) if self.passed else repeat((), count)
        if not varying:
            return list(map(self.shape(tuple(map(fixed.__getitem__, same))).__mod__, rows))
        keys = list(zip(*[map(bool, flags[n]) for n in varying]))
        templates = {}
        for key in set(keys):
            signature = list(fixed)
            for n, flag in zip(varying, key):
                signature[n] = flag
            templates[key] = self.shape(tuple(map(signature.__getitem__, same)))
        return list(map(operator.mod, map(templates.__getitem__, keys), rows))

    def tree_order(self, node: _Node) -> list[int]:
        """The node's columns in the order a shape's template takes them."""
        if node.block is not None:
            return [node.text]
        order = [c for _, c in node.attributes] + [c for _, c in node.leaves]
        for child in node.children:
            order += self.tree_order(child)
        return order + ([node.text] if node.text is not None else [])

    def conditional_nodes(self) -> list[_Node]:
        """The elements of the subtree that have a condition, in a fixed order."""
        out, todo = [], [self.root]
        while todo:
            node = todo.pop(0)
            if node.tests:
                out.append(node)
            todo.extend(node.children)
        return out

    def shape(self, signature: tuple) -> str:
        """The %-template of the rows of this shape. Every row passes the texts of all the columns
        in `passed` (their order in the tree: attributes, fields, children, text), so that one
        map() fills rows of every shape: a text the shape leaves out is taken by a "%.0s", which
        writes nothing. A constant is written into the template. (`used`, the columns of the
        shape's texts, comes in the same order: a part of `passed` and of the constants.)"""
        template = self.shapes.get(signature)
        if template is None:
            conditional = self.conditional
            there = {id(n): flag for n, flag in zip(conditional, signature)}
            filled = signature[len(conditional):]
            used: list[int] = []
            pieces = self.eol.join(self.lines(self.root, self.depth, there, filled, used)).replace("%", "%%").split(_TEXT)
            parts, at = [pieces[0]], 0  # at: the next column of `passed`
            for c, after in zip(used, pieces[1:]):
                n = self.position.get(c)
                if n is None:  # a constant
                    parts.append(self.fields[c].constant.replace("%", "%%"))
                else:
                    parts.append("%.0s" * (n - at) + "%s")  # the texts it leaves out before this one
                    at = n + 1
                parts.append(after)
            parts.append("%.0s" * (len(self.passed) - at))
            if self.whole:
                parts = [self.whole[0].replace("%", "%%"), *parts, self.whole[1].replace("%", "%%")]
            template = self.shapes[signature] = "".join(parts)
        return template

    def lines(self, node: _Node, depth: int, there: dict, filled: tuple, used: list) -> list[str]:
        """`_Writer.element` for one shape: the lines, a _TEXT for each text (its column in `used`)."""
        indent = self.writer.indent
        inner: list[str] = []
        inner_used: list[int] = []
        if node.block is not None:  # the nested record's elements, when the document has some
            if filled[node.text]:
                used.append(node.text)
                return [_TEXT]
            return []
        if not node.element:  # a group: its children at this level
            for child in node.children:
                if there.get(id(child), True):
                    inner += self.lines(child, depth, there, filled, used)
            return inner
        pad = indent * depth
        attrs = "".join(f' {name}="{_TEXT}"' for name, c in node.attributes if filled[c])
        attrs_used = [c for _, c in node.attributes if filled[c]]
        for name, c in node.leaves:
            if filled[c]:
                inner.append(f"{indent * (depth + 1)}<{name}>{_TEXT}</{name}>")
                inner_used.append(c)
        for child in node.children:
            if there.get(id(child), True):
                inner += self.lines(child, depth + 1, there, filled, inner_used)
        if inner or (self.whole and node is self.root):
            used += attrs_used + inner_used
            return [f"{pad}<{node.element}{attrs}>", *inner, f"{pad}</{node.element}>"]
        if node.text is not None and filled[node.text]:
            used += attrs_used + [node.text]
            return [f"{pad}<{node.element}{attrs}>{_TEXT}</{node.element}>"]
        if attrs:
            used += attrs_used
            return [f"{pad}<{node.element}{attrs}/>"]
        return []


_TEXT = "\x00"  # where a text goes in a shape's lines (no name, indent or line ending holds it)


def _spread(count: int, at: list[int], values, empty) -> list:
    """A column of `count` rows: `values` at the positions `at`, `empty` elsewhere (a C loop:
    list.__setitem__ mapped over the positions, consumed by a zero-length deque)."""
    column = [empty] * count
    deque(map(column.__setitem__, at, values), 0)
    return column
