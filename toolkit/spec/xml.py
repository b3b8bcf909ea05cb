"""The writer of XML files: records are elements, fields child elements or attributes.

An element with nothing in it is left out, so optional elements stay absent.
"""

from __future__ import annotations

from typing import Callable

import toolkit.spec.text as text
from toolkit.spec.cells import Ctx, FileRun
from toolkit.spec.plans import XML_ENCODING_NAMES, FieldPlan, RecordPlan
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
    root_attrs = _attributes([writer.cell(f, True) for f in layout.root_attributes], run.ctx)
    out.append(f"<{root}{root_attrs}>")
    out.mark_header()
    for record in plan.records:
        writer.walk(writer.bind(record), run.ctx, 1)
    count = out.count()
    out.append(f"</{root}>")
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
        cell = run.memoized(plan, lambda v, ctx: escape(finish(fmt(v), ctx)), escape(finish("", None)))
        return self.renamed.get(plan.name, plan.name), (cell if callable(cell) else lambda ctx: cell)

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
        top = record.collection in ("documents", "customers", "accounts")
        for _ in self.run.iterate(record, ctx):
            if when is None or when(ctx):
                self.element(bound, ctx, depth)
            if top:
                self.out.flush_if_full()

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
