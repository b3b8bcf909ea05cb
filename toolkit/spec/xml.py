"""The writer of XML files: records are elements, fields child elements or attributes.

An element with nothing in it is left out, so optional elements stay absent.
"""

from __future__ import annotations

from typing import Callable

import toolkit.spec.text as text
from toolkit.spec.cells import Ctx, FileRun
from toolkit.spec.plans import XML_ENCODING_NAMES, FieldPlan, RecordPlan


def write_xml(run: FileRun) -> tuple[list[str], int]:
    """(the file's lines, how many come from its records)."""
    plan = run.plan
    layout = plan.layout
    document = run.ctx.document  # set in a per_document file
    renamed = dict(dict(layout.element_names).get(document.doc_type, ())) if document is not None else {}
    writer = _Writer(run, layout.indent, renamed)
    out: list[str] = []
    if layout.declaration:
        out.append(f'<?xml version="1.0" encoding="{XML_ENCODING_NAMES[plan.encoding]}"?>')
    root = renamed.get(layout.root, layout.root)
    root_attrs = _attributes([writer.cell(f, True) for f in layout.root_attributes], run.ctx)
    out.append(f"<{root}{root_attrs}>")
    before = len(out)
    for record in plan.records:
        writer.walk(writer.bind(record), run.ctx, out, 1)
    count = len(out) - before
    out.append(f"</{root}>")
    return out, count


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
    def __init__(self, run: FileRun, indent: str, renamed: dict[str, str]):
        self.run, self.indent, self.renamed = run, indent, renamed

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

    def walk(self, bound: _Bound, ctx: Ctx, out: list, depth: int) -> None:
        record = bound.record
        when = record.when
        if record.collection is None:  # most elements: once, in the scope of their parent
            if when is None or when(ctx):
                self.element(bound, ctx, out, depth)
            return
        for _ in self.run.iterate(record, ctx):
            if when is None or when(ctx):
                self.element(bound, ctx, out, depth)

    def element(self, bound: _Bound, ctx: Ctx, out: list, depth: int) -> None:
        record = bound.record
        if not record.element:  # a group: its children at this level
            index = ctx.index
            for child in bound.children:
                self.walk(child, ctx, out, depth)
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
        if bound.children:
            index = ctx.index
            for child in bound.children:
                self.walk(child, ctx, inner, depth + 1)
            ctx.index = index
        body = bound.text(ctx) if bound.text else ""
        if inner:
            out.append(f"{pad}<{name}{attrs}>")
            out.extend(inner)
            out.append(f"{pad}</{name}>")
        elif body:
            out.append(f"{pad}<{name}{attrs}>{body}</{name}>")
        elif attrs:
            out.append(f"{pad}<{name}{attrs}/>")
