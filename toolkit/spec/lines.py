"""The writer of line-based files: delimited (CSV-type), tagged (SIE) and fixed-width.

Each record becomes a line of cells joined by the delimiter (none for fixed-width: the cells are
padded to their width by the text pipeline), quoted as the layout says.
"""

from __future__ import annotations

import operator
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Callable, Iterable, Mapping

from toolkit.spec.cells import Ctx, FileRun, PlainCell, identity
from toolkit.spec.columns import CHUNK_DOCUMENTS, Columns, columnar
from toolkit.spec.sink import Sink
from toolkit.spec.plans import EINVOICE_COLLECTIONS, ITEM_SLOTS, NESTED_COLLECTIONS, FieldPlan, Layout, RecordPlan


def write_lines(run: FileRun, out: Sink) -> int:
    """The file's lines into `out`: the header's, then (after `out.mark_header()`) the records';
    how many lines come from its records."""
    plan = run.plan
    layout = plan.layout
    q = run.quoting = Quoting(layout, run.params) if layout.kind in ("delimited", "tagged") else None
    for kind, item in plan.header:
        if kind == "text":
            out.append(item)
        elif kind == "columns":
            out.append(q.delimiter.join(q.text(c) for c in plan.columns))
        else:
            _walk(run, _bind(run, item), run.ctx, out, "")
    out.mark_header()
    for record in plan.records:
        _walk(run, _bind(run, record), run.ctx, out, "")
    return out.count()


class _Bound:
    __slots__ = ("record", "line", "children", "hot")

    def __init__(self, record, line, children):
        self.record, self.line, self.children = record, line, children
        # one line per item of a document's collection, nothing nested: the hot loop `_walk_lines`
        self.hot = not children and line is not None and record.collection in NESTED_COLLECTIONS


def _bind(run: FileRun, record: RecordPlan) -> _Bound:
    """The record's line as ctx -> text, bound to this run."""
    line = None
    if record.fields is not None:
        once = [record.per_line_of_document and f.when is None and f.path.split(".")[0] in ("document", "customer")
                for f in record.fields]
        cells = [run.document_cell(f) if o else run.cell(f) for f, o in zip(record.fields, once)]
        delimiter = "" if run.plan.layout.kind == "fixed" else run.quoting.delimiter
        line = _line(cells, once, delimiter, run.plain_cells)
    return _Bound(record, line, [_bind(run, c) for c in record.children])


def _walk(run: FileRun, bound: _Bound, ctx: Ctx, out: Sink, indent: str) -> None:
    record = bound.record
    when, line, children = record.when, bound.line, bound.children
    if bound.hot and not indent:
        if not record.nested_in_document and (columns := columnar(run, record, line, "")):
            return _walk_all_lines(columns, bound, ctx, out)
        return _walk_lines(record, ctx, out, when, line)
    block = record.block
    if not indent and record.collection == "documents" and any(child.hot for child in children):
        inner = block[2] if block else ""
        columns = {id(child): columnar(run, child.record, child.line, inner) for child in children if child.hot}
        if any(columns.values()):
            return _walk_documents(run, bound, columns, ctx, out)
    top = not indent and record.collection in ("documents", "customers", "accounts")
    for _ in run.iterate(record, ctx):
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
                if child.hot and not inner:
                    _walk_lines(child.record, ctx, out, child.record.when, child.line)
                else:
                    _walk(run, child, ctx, out, inner)
            if block and block[1] is not None:
                out.append(indent + block[1])
            ctx.index = index
        if top:
            out.flush_if_full()


def _walk_documents(run: FileRun, bound: _Bound, columns: dict, ctx: Ctx, out: Sink) -> None:
    """`_walk` of the documents, a chunk of them at a time: the hot records among the children
    rendered by columns (columns.py), the rest (and the documents whose texts raise findings) as
    `_walk` does, in the same order."""
    record = bound.record
    when, line, children, block = record.when, bound.line, bound.children, record.block
    inner = block[2] if block else ""
    documents = run.batch.documents
    for start in range(0, len(documents), CHUNK_DOCUMENTS):
        chunk = []  # (index, document) of those whose condition holds
        for i, doc in enumerate(documents[start:start + CHUNK_DOCUMENTS], start + 1):
            ctx.document, ctx.customer, ctx.index = doc, doc.customer, i
            if when is None or when(ctx):
                chunk.append((i, doc))
        docs = [doc for _, doc in chunk]
        shared: dict = {}  # what the records have in common over these documents
        rendered = {key: c.render(docs, 0, shared) for key, c in columns.items() if c is not None}
        del shared
        if len(rendered) == len(children) and not any(r.dirty for r in rendered.values()):
            _merge(run, bound, chunk, [rendered[id(child)] for child in children], ctx, out)
            out.flush_if_full()
            continue
        cursor = dict.fromkeys(rendered, 0)
        for k, (i, doc) in enumerate(chunk):
            ctx.document, ctx.customer, ctx.index = doc, doc.customer, i
            if line is not None:
                out.append(line(ctx))
            if block and block[0] is not None:
                out.append(block[0])
            for child in children:
                lines = rendered.get(id(child))
                if lines is None:
                    _walk(run, child, ctx, out, inner)
                    continue
                count, at = lines.counts[k], cursor[id(child)]
                cursor[id(child)] = at + count
                if k in lines.dirty:
                    _walk(run, child, ctx, out, inner)
                else:
                    out.lines.extend(lines.lines[at:at + count])
                    items = len(_items(doc, child.record.collection, child.record.collection in EINVOICE_COLLECTIONS))
                    ctx.index = items or ctx.index  # where the line-by-line walk leaves it
            if block and block[1] is not None:
                out.append(block[1])
        out.flush_if_full()
    ctx.document = ctx.customer = None
    if documents:
        ctx.index = len(documents)  # where `iterate` leaves it


def _merge(run: FileRun, bound: _Bound, chunk: list, rendered: list, ctx: Ctx, out: Sink) -> None:
    """The lines of a chunk of documents whose children all came by columns, none of them dirty:
    per document its own line, the block's opening line, its children's lines in order, the
    block's closing line. The lines are put in that order by one stable sort on their document."""
    record, line = bound.record, bound.line
    block = record.block
    groups: list[tuple[list, Iterable[int]]] = []  # (lines, each one's document), in a document's order
    documents = range(len(chunk))
    if line is not None:
        own = []
        for i, doc in chunk:
            ctx.document, ctx.customer, ctx.index = doc, doc.customer, i
            own.append(line(ctx))
        groups.append((own, documents))
    if block and block[0] is not None:
        groups.append(([block[0]] * len(chunk), documents))
    groups += [(r.lines, r.documents) for r in rendered]
    if block and block[1] is not None:
        groups.append(([block[1]] * len(chunk), documents))
    lines = list(chain.from_iterable(g[0] for g in groups))
    of = list(chain.from_iterable(g[1] for g in groups))
    order = sorted(range(len(lines)), key=of.__getitem__)  # stable: a document's lines keep their order
    out.lines.extend(map(lines.__getitem__, order))


def _walk_all_lines(columns: Columns, bound: _Bound, ctx: Ctx, out: Sink) -> None:
    """`_walk_lines` of a record over the items of every document, by columns (columns.py); the
    documents whose texts raise findings line by line, in the same order."""
    record = bound.record
    documents = ctx.batch.documents
    einvoice = record.collection in EINVOICE_COLLECTIONS
    before = 0  # items of the documents before (`index` counts on)
    for start in range(0, len(documents), CHUNK_DOCUMENTS):
        docs = documents[start:start + CHUNK_DOCUMENTS]
        lines = columns.render(list(docs), before)
        if not lines.dirty:
            out.lines.extend(lines.lines)
            before += sum(len(_items(doc, record.collection, einvoice)) for doc in docs)
        else:
            at = 0
            for k, doc in enumerate(docs):
                count = lines.counts[k]
                if k in lines.dirty:
                    ctx.document, ctx.customer = doc, doc.customer
                    _items_lines(_items(doc, record.collection, einvoice), before, record, ctx, out, bound.line)
                else:
                    out.lines.extend(lines.lines[at:at + count])
                at += count
                before += len(_items(doc, record.collection, einvoice))
        out.flush_if_full()
    setattr(ctx, ITEM_SLOTS[record.collection], None)
    ctx.document = ctx.customer = None
    if before:
        ctx.index = before  # where `_walk_lines` leaves it


def _items(doc, collection: str, einvoice: bool) -> tuple:
    owner = doc.einvoice if einvoice else doc
    return getattr(owner, collection) if owner is not None else ()


def _items_lines(items: tuple, before: int, record: RecordPlan, ctx: Ctx, out: Sink, line: Callable) -> None:
    """The lines of one document's items, line by line (`before`: items counted before them)."""
    slot, when = ITEM_SLOTS[record.collection], record.when
    for i, item in enumerate(items, before + 1):
        ctx.index = i
        setattr(ctx, slot, item)
        if when is None or when(ctx):
            out.append(line(ctx))


def _walk_lines(record: RecordPlan, ctx: Ctx, out: Sink, when: Callable | None, line: Callable) -> None:
    """The hot loop: one line per posting (VAT group, revenue group), no nesting below."""
    collection = record.collection
    slot = ITEM_SLOTS[collection]
    einvoice = collection in EINVOICE_COLLECTIONS
    append = out.append
    if record.nested_in_document:  # the items of the document being walked
        owner = ctx.document.einvoice if einvoice else ctx.document
        for i, item in enumerate(getattr(owner, collection) if owner is not None else (), 1):
            ctx.index = i
            setattr(ctx, slot, item)
            if when is None or when(ctx):
                append(line(ctx))
        setattr(ctx, slot, None)
        return
    i = 0
    for doc in ctx.batch.documents:
        ctx.document, ctx.customer = doc, doc.customer
        owner = doc.einvoice if einvoice else doc
        for item in (getattr(owner, collection) if owner is not None else ()):
            i += 1
            ctx.index = i
            setattr(ctx, slot, item)
            if when is None or when(ctx):
                append(line(ctx))
        out.flush_if_full()
    setattr(ctx, slot, None)
    ctx.document = ctx.customer = None


def _line(cells: list, once: list[bool], delimiter: str, plain: Mapping[Callable, PlainCell]) -> Callable:
    """ctx -> the joined line.

    Runs of constant cells are joined once, here. Cells that depend on the document only (`once`)
    are rendered once per document, not once per line of it: with the constants around them they
    make the document's template of the line, a %-format with a %s per cell of the line's own
    (one C call fills it: joining all the cells of a line, most of them constant, costs more).

    The line's own plain cells (a source path, no condition) are fetched by one attrgetter and
    looked up in their memories by one map(), so a line whose values were all seen before costs a
    few C calls, not a Python call per field. A value whose rendering raises a finding (its memory
    gives None) sends the line down the ordered path, which renders the cells one by one in field
    order, so findings come in the same order as when each cell renders itself.
    """
    pieces: list = []  # a constant run of cells as one text, or a cell
    for cell in cells:
        if not callable(cell) and pieces and not callable(pieces[-1]):
            pieces[-1] += delimiter + cell
        else:
            pieces.append(cell)
    per_document = {id(c) for c, o in zip(cells, once) if callable(c) and o}
    if not any(callable(p) for p in pieces):
        text = delimiter.join(pieces)
        constant = lambda ctx: text  # noqa: E731
        constant.shape = (pieces, per_document, delimiter)
        return constant
    own = [p for p in pieces if callable(p) and id(p) not in per_document]  # the line's own cells, in order
    fast = [i for i, p in enumerate(own) if p in plain]
    others = [i for i, p in enumerate(own) if p not in plain]
    # the texts are rendered as (*fast cells, *other cells) and put back in field order
    order = [fast.index(i) if i in fast else len(fast) + others.index(i) for i in range(len(own))]
    if order == list(range(len(own))):
        arrange = tuple
    elif len(own) == 1:
        arrange = tuple
    else:
        arrange = itemgetter(*order)
    other_cells = [own[i] for i in others]
    recalls = [plain[own[i]].remembered for i in fast]
    fetch = attrgetter(*[plain[own[i]].path for i in fast]) if fast else None
    if len(fast) == 1:
        fetch_one = fetch
        fetch = lambda ctx: (fetch_one(ctx),)  # noqa: E731 - attrgetter of one path gives no tuple
    # the ordered path: per own cell (in field order) its slot among the fast ones, or None
    ordered_cells = [(fast.index(i), plain[p].fresh) if i in fast else (None, p) for i, p in enumerate(own)]
    call = operator.call
    escaped_delimiter = delimiter.replace("%", "%%")

    def template(ctx):
        """The line with the document's texts in place and a %s per cell of the line's own."""
        return escaped_delimiter.join(
            p.replace("%", "%%") if not callable(p) else p(ctx).replace("%", "%%") if id(p) in per_document else "%s"
            for p in pieces)

    def ordered(values, texts, ctx):
        rendered, rest = list(texts), []
        for slot, render_cell in ordered_cells:
            if slot is None:
                rest.append(render_cell(ctx))
            elif rendered[slot] is None:
                rendered[slot] = render_cell(values[slot], ctx)
        return (*rendered, *rest)

    constant_template = None if per_document else template(None)
    last = [None, constant_template]  # document, its template

    def line(ctx):
        if per_document and ctx.document is not last[0]:
            last[0], last[1] = ctx.document, template(ctx)
        if fetch is None:
            texts = tuple([g(ctx) for g in other_cells])
        else:
            values = fetch(ctx)
            texts = tuple(map(call, recalls, values))
            if None in texts:
                texts = ordered(values, texts, ctx)
            elif other_cells:
                texts = (*texts, *[g(ctx) for g in other_cells])
        return last[1] % arrange(texts)
    line.shape = (pieces, per_document, delimiter)  # for the column renderer
    return line


class Quoting:
    """Quoting rules of a delimited or tagged layout, resolved for this batch's parameters."""

    def __init__(self, layout: Layout, params: Mapping):
        self.delimiter = layout.delimiter.value(params)
        self.mode = layout.quoting
        self.q = q = layout.quote_char
        escape = layout.quote_escape
        self.escaped = {"double": q + q, "backslash": "\\" + q, "replace": layout.quote_replacement}[escape]
        self.backslash = escape == "backslash"
        self.quote_empty = layout.quote_empty
        self.specials = (self.delimiter, q, "\r", "\n") + ((" ", "\t") if self.delimiter == " " else ())
        if layout.kind == "tagged":  # SIE: unquoted, {Acme} reads as an object list and \ as an escape
            self.specials += ("{", "}", "\\")

    def text(self, s: str) -> str:
        """A column name."""
        always = {"all": True, "text-only": True, "minimal": None, "none": False}[self.mode]
        return self.quoter_for(always)(s)

    def column_quoter(self, plan: FieldPlan, alphabet: str) -> Callable | None:
        """texts -> quoted texts, for a column of texts made of `alphabet` only (numbers); None
        when such texts may need escaping."""
        always = plan.quote if plan.quote is not None else {"all": True, "text-only": plan.textual, "minimal": None, "none": False}[self.mode]
        q = self.q
        if always is False:
            return list
        if q in alphabet or (self.backslash and "\\" in alphabet):
            return None
        if always:
            if "\n" in alphabet + q:
                return lambda texts: [q + t + q for t in texts]
            # one join and one split (C loops) instead of two concatenations per text: a
            # column of amounts is hundreds of thousands of texts
            between = q + "\n" + q
            return lambda texts: (q + between.join(texts) + q).split("\n") if texts else []
        if any(ch in alphabet for ch in self.specials):
            return None
        if self.quote_empty:
            return lambda texts: [t or q + q for t in texts]
        return list

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
        return identity
