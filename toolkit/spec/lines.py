"""The writer of line-based files: delimited (CSV-type), tagged (SIE) and fixed-width.

Each record becomes a line of cells joined by the delimiter (none for fixed-width: the cells are
padded to their width by the text pipeline), quoted as the layout says.
"""

from __future__ import annotations

import operator
from operator import attrgetter, itemgetter
from typing import Callable, Mapping

from toolkit.spec.cells import Ctx, FileRun, PlainCell, identity
from toolkit.spec.plans import EINVOICE_COLLECTIONS, ITEM_SLOTS, NESTED_COLLECTIONS, FieldPlan, Layout, RecordPlan


def write_lines(run: FileRun) -> tuple[list[str], int]:
    """(the file's lines, how many come from its records rather than its header)."""
    plan = run.plan
    layout = plan.layout
    q = run.quoting = Quoting(layout, run.params) if layout.kind in ("delimited", "tagged") else None
    out: list[str] = []
    for kind, item in plan.header:
        if kind == "text":
            out.append(item)
        elif kind == "columns":
            out.append(q.delimiter.join(q.text(c) for c in plan.columns))
        else:
            _walk(run, _bind(run, item), run.ctx, out, "")
    before = len(out)
    for record in plan.records:
        _walk(run, _bind(run, record), run.ctx, out, "")
    return out, len(out) - before


class _Bound:
    __slots__ = ("record", "line", "children")

    def __init__(self, record, line, children):
        self.record, self.line, self.children = record, line, children


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


def _walk(run: FileRun, bound: _Bound, ctx: Ctx, out: list, indent: str) -> None:
    record = bound.record
    when, line, children = record.when, bound.line, bound.children
    if not children and line is not None and not indent and record.collection in NESTED_COLLECTIONS:
        return _walk_lines(run, record, ctx, out, when, line)
    block = record.block
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
                _walk(run, child, ctx, out, inner)
            if block and block[1] is not None:
                out.append(indent + block[1])
            ctx.index = index


def _walk_lines(run: FileRun, record: RecordPlan, ctx: Ctx, out: list, when: Callable | None, line: Callable) -> None:
    """The hot loop: one line per posting (VAT group, revenue group), no nesting below."""
    collection = record.collection
    slot = ITEM_SLOTS[collection]
    einvoice = collection in EINVOICE_COLLECTIONS
    append = out.append
    docs = (ctx.document,) if record.nested_in_document else run.batch.documents
    i = 0
    for doc in docs:
        ctx.document, ctx.customer = doc, doc.customer
        owner = doc.einvoice if einvoice else doc
        for item in (getattr(owner, collection) if owner is not None else ()):
            i += 1
            ctx.index = i
            setattr(ctx, slot, item)
            if when is None or when(ctx):
                append(line(ctx))
    setattr(ctx, slot, None)
    if not record.nested_in_document:
        ctx.document = ctx.customer = None


def _line(cells: list, once: list[bool], delimiter: str, plain: Mapping[Callable, PlainCell]) -> Callable:
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
        return identity
