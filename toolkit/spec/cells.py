"""The runtime of one file: a field plan bound to one batch becomes a cell (ctx -> text).

A `FileRun` is created per file and render; it holds everything that changes while rendering (the
scope `ctx` moving along the collections, each field's memory of rendered values, the findings),
so the compiled plans stay immutable and shared. Writers (`lines.py`, `xml.py`) ask it for cells
and walk the collections with `iterate`.

Text problems are collected, never raised one by one: each finding names the document (or
customer) and the field.
"""

from __future__ import annotations

import re
from operator import attrgetter
from typing import Any, Callable, Mapping, NamedTuple

from toolkit import layout
from toolkit.model import NOWHERE, Batch, Finding, Where
import toolkit.spec.text as text
from toolkit.spec.load import Spec
from toolkit.spec.plans import (
    EINVOICE_COLLECTIONS, ITEM_SLOTS, UNICODE_ENCODINGS, ChoiceFormat, DecimalFormat, FieldPlan, FilePlan, PlainFormat,
    RecordPlan,
)

MEMO_LIMIT = 200_000  # remembered texts per field and render


class Ctx:
    """The scope of one line; the renderer moves it along the collections instead of copying."""

    __slots__ = ("batch", "settings", "params", "document", "posting", "vat_group", "revenue_group",
                 "customer", "account", "line", "vat_category", "index")

    def __init__(self, batch: Batch, params: Mapping):
        self.batch, self.settings, self.params = batch, batch.settings, params
        self.document = self.posting = self.vat_group = self.revenue_group = None
        self.line = self.vat_category = None
        self.customer = self.account = None
        self.index = 0


class FileRun:
    """One file of one render: binds the file's plans to the batch and collects findings."""

    def __init__(self, spec: Spec, batch: Batch, params: Mapping, plan: FilePlan, findings: list[Finding]):
        self.spec, self.batch, self.params, self.plan = spec, batch, params, plan
        self.findings = findings
        self.file_name = plan.name
        self.ctx = Ctx(batch, params)
        self.cells: dict = {}
        self.plain_cells: dict[Callable, PlainCell] = {}
        # what the column renderer (columns.py) needs to know of the other cells
        self.document_cells: dict[Callable, Callable] = {}  # rendered once per document -> the field's cell
        self.conditional_cells: dict[Callable, Conditional] = {}  # a field with a condition -> its parts
        self.column_cells: dict[Callable, Callable] = {}  # values -> their texts at once, or None
        self.quoting = None  # set by the delimited writer: quotes each cell as the layout says
        self.translate = dict(plan.translate)
        self.probing = False  # True while a memory tries a value: a finding raises WouldReport

    def release(self) -> None:
        """Drop the bound cells: they refer back to this run, and a cycle waits for the (possibly
        paused) cycle collector where reference counting frees the rest at once."""
        for table in (self.cells, self.plain_cells, self.document_cells, self.conditional_cells, self.column_cells):
            table.clear()

    def probe(self, compute: Callable) -> Callable:
        """value -> its text, or None when rendering it raises a finding (reported nowhere: such a
        value is rendered again in its line's order, naming the line's document)."""
        def probe(value):
            self.probing = True
            try:
                return compute(value, None)
            except WouldReport:
                return None
            finally:
                self.probing = False
        return probe

    # -- findings --

    def report(self, code: str, severity: str, plan: FieldPlan | None, ctx: Ctx | None, message: str) -> None:
        if self.probing:
            raise WouldReport
        where, key, subject = self.locate(plan, ctx)
        cell = where.cell(key) if where.row else ""
        sheet = where.sheet
        field_name = f"{self.file_name}: {plan.name}" if plan else self.file_name
        source = f" ({plan.path})" if plan and plan.path else ""
        self.findings.append(Finding(code, severity, sheet, cell, f"{subject}: {field_name}{source} {message}"))

    def error(self, code: str, plan: FieldPlan | None, ctx: Ctx | None, message: str) -> None:
        self.report(code, "error", plan, ctx, message)

    def locate(self, plan: FieldPlan | None, ctx: Ctx | None) -> tuple[Where, str | None, str]:
        path = plan.path if plan else ""
        key = path.rsplit(".", 1)[-1] if path else None
        if path.startswith("params."):
            param = self.spec.parameter(path[7:])
            label = param.label if param else ""
            return self.batch.settings.cell(label), "value", f"setting '{label}'"
        if ctx is not None and ctx.document is not None:
            doc = ctx.document
            if path == "document.journal" and doc.journal == self.batch.settings.journal(doc.doc_type):
                # a setting's value: said once, at its cell, not on every document's row
                setting = layout.SETTINGS_BY_KEY[self.batch.settings.journal_key(doc.doc_type)]
                return self.batch.settings.cell(setting.key), "value", f"setting '{setting.label}'"
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

    # -- cells --

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
            self.document_cells[per_document] = cell
        return self.cells[key]

    def new_cell(self, plan: FieldPlan) -> str | Callable:
        fmt = plan.format.bind(self.params)
        finish = self.finisher(plan)
        quote, strict = self.quoting.quoter(plan) if self.quoting else (identity, False)
        if strict:
            finish = chain(finish, self.unquoted_step(plan))
        quiet = not strict and not self.may_report(plan)
        cell = self.memoized(plan, lambda v, ctx: quote(finish(fmt(v), ctx)), quote(finish("", None)),
                             quiet and compose(quote, finish, fmt), isinstance(plan.format, DecimalFormat),
                             None if quiet else self.clean_text(plan, quote, strict))
        if quiet and finish is identity and plan.lookup is None and getattr(fmt, "column", None):
            quote_column = self.quoting.column_quoter(plan, fmt.alphabet) if self.quoting else list
            if quote_column is not None:
                self.column_formatter(cell, fmt.column, quote_column)
        return cell

    def column_formatter(self, cell: str | Callable, column: Callable, finish: Callable) -> None:
        """Note that the field's texts of a column of values are finish(column(values)) (or None)."""
        conditional = self.conditional_cells.get(cell)
        inner = conditional.cell if conditional is not None else cell
        if callable(inner):
            self.column_cells[inner] = lambda values: None if (texts := column(values)) is None else finish(texts)

    def memoized(self, plan: FieldPlan, compute: Callable, empty: str, quiet: Callable | None = None,
                 unique: bool = False, clean: Callable | None = None) -> str | Callable:
        """The field as a constant text or as ctx -> text.

        Values repeat a lot (dates, journals, codes, descriptions), so each field remembers the text
        of the values it has rendered, except those that raise a finding: those are rendered (and
        reported) again on every line, naming each line's document. A new value is rendered inside
        the memory's own lookup: directly when the field's text pipeline reports nothing (`quiet`,
        value -> text, the same as compute), else tried (`probe`) and remembered when it reports
        nothing (`clean` first, when given: the text of a value that no step of the pipeline
        touches, or None when it cannot tell). Amounts (`unique`: a decimal format) hardly ever
        repeat: a quiet amount field is formatted directly, without a memory.
        """
        when = plan.when
        if plan.is_constant or plan.hoisted:
            value = plan.constant if plan.is_constant else self.hoisted(plan.hoisted)
            if plan.lookup is not None:
                value = self.lookup_table(plan.lookup).get(value)
            rendered = compute(value, None)
            if when is None:
                return rendered
            conditional = lambda ctx: rendered if when(ctx) else empty  # noqa: E731
            self.conditional_cells[conditional] = Conditional(when, rendered, empty)
            return conditional
        get = plan.getter
        if plan.lookup is not None:  # texts are remembered by the key: one lookup per new key
            table, render_found, quiet_found = self.lookup_table(plan.lookup), compute, quiet
            compute = lambda key, ctx: render_found(table.get(key), ctx)  # noqa: E731
            quiet = quiet and (lambda key: quiet_found(table.get(key)))
        if quiet:
            remembered = quiet if unique and plan.lookup is None else Memo(quiet).__getitem__  # never None
            fresh = None
        else:
            probe = self.probe(compute)
            if clean is not None:
                tried = probe
                probe = lambda value: text if (text := clean(value)) is not None else tried(value)  # noqa: E731
            remembered = Memo(probe).__getitem__  # None: the value raises a finding
            fresh = compute  # rendered and reported in its line's order

        def cell(ctx):
            value = get(ctx)
            rendered = remembered(value)
            return fresh(value, ctx) if rendered is None else rendered
        self.plain_cells[cell] = PlainCell(plan.path, remembered, fresh)  # lines may fetch it with others
        if when is None:
            return cell
        conditional = lambda ctx: cell(ctx) if when(ctx) else empty  # noqa: E731
        self.conditional_cells[conditional] = Conditional(when, cell, empty)
        return conditional

    def clean_text(self, plan: FieldPlan, quote: Callable, strict: bool) -> Callable | None:
        """value -> its text when it is a text that no step of the field's pipeline would touch
        (no control, replaced, disallowed or non-ASCII character, no formula start, not empty when
        `if_empty` fills it, within the length): then it is only quoted; else None. One regular
        expression instead of a Python call per step, for the texts that do not repeat (document
        numbers, descriptions)."""
        rules = plan.text
        if not plan.textual or not isinstance(plan.format, PlainFormat) or plan.lookup is not None \
                or rules.picture is not None or rules.case or plan.width:
            return None
        touched = set(self.translate) | {ord(k) for k, _ in rules.replace}
        if strict:
            touched |= {ord(c) for c in self.quoting.delimiter + "\r\n"}
        risky = re.compile("[\x00-\x1f\x7f-\U0010ffff" + "".join(re.escape(chr(c)) for c in sorted(touched)) + "]").search
        bad = re.compile(f"[^{rules.allowed}]") if rules.allowed else None
        silent = rules.disallowed == "replace"  # characters replaced without a word (e.g. a number's digits kept)
        starts = " \t\r\n" + text.FORMULA_STARTS if self.plan.formula_triggers and self.guarded(plan) else ""
        limit, fill = plan.max_length, bool(plan.if_empty)

        def clean(v):
            if type(v) is not str or risky(v):
                return None
            if bad is not None and bad.search(v):
                if not silent:
                    return None
                v = bad.sub(rules.replacement, v)
                if risky(v):
                    return None
            if (limit and len(v) > limit) or (fill and not v) or (starts and v[:1] in starts and v):
                return None
            return quote(v)
        return clean

    def may_report(self, plan: FieldPlan) -> bool:
        """Whether the field's text pipeline (`finisher`) has a step that can raise a finding."""
        textual_checks = plan.textual  # control characters, formula triggers, ...
        return bool(textual_checks or plan.max_length or plan.width)

    def lookup_table(self, lookup: tuple[str, str, str]) -> dict:
        collection, key, value = lookup
        return {getattr(item, key): getattr(item, value) for item in getattr(self.batch, collection)}

    def hoisted(self, path: str) -> Any:
        root, _, rest = path.partition(".")
        if root == "params":
            return self.params.get(rest)
        return attrgetter(rest)(self.batch if root == "batch" else self.batch.settings)

    # -- the text pipeline --

    def finisher(self, plan: FieldPlan) -> Callable:
        """The text pipeline after formatting: control characters, replacements, picture, allowed
        characters, case, encoding, formula triggers, if_empty, length and padding. Returns
        `identity` when there is nothing to do."""
        steps: list[Callable] = []
        rules = plan.text
        if plan.textual:
            steps.append(self.control_step(plan))
            table = dict(self.translate)
            table.update({ord(k): v for k, v in rules.replace})
            if table:
                steps.append(lambda s, ctx: s.translate(table))
            if rules.picture is not None:
                masks, prefix_length, keep = dict(rules.picture.masks), rules.picture.prefix_length, rules.picture.keep_prefix
                steps.append(lambda s, ctx: text.apply_picture(s, masks, prefix_length, keep) if s else s)
            if rules.allowed:
                steps.append(self.allowed_step(plan))
            if rules.case == "upper":
                steps.append(lambda s, ctx: s.upper())
            elif rules.case == "lower":
                steps.append(lambda s, ctx: s.lower())
            if self.plan.encoding not in UNICODE_ENCODINGS:
                steps.append(self.encoding_step(plan))
        if self.plan.formula_triggers and self.guarded(plan):
            steps.append(self.formula_step(plan))  # after the transliteration: it may have made a trigger
        if plan.if_empty:  # the spec's own text
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
            return identity
        if len(steps) == 1:
            return steps[0]

        def run(s, ctx):
            for step in steps:
                s = step(s, ctx)
            return s
        return run

    def control_step(self, plan: FieldPlan) -> Callable:
        """Control characters never reach a file (XML cannot hold them): removed, with a warning."""
        control = text.CONTROL

        def step(s, ctx):
            if not control.search(s):
                return s
            fixed = control.sub("", s)
            self.report("text.control", "warning", plan, ctx, f"{s!r} written as {fixed!r} (control characters removed)")
            return fixed
        return step

    @staticmethod
    def guarded(plan: FieldPlan) -> bool:
        """Whether the field's text comes from the workbook and may start a formula. Not so: numbers
        and dates, constants, indicator and boolean texts (chosen by the spec), and pictures (the
        spec's mask filled with letters and digits only, e.g. a Belgian +++000/0000/00000+++)."""
        return plan.textual and not plan.is_constant and not isinstance(plan.format, ChoiceFormat) \
            and plan.text.picture is None

    def formula_step(self, plan: FieldPlan) -> Callable:
        """Text a spreadsheet could run as a formula (=, +, -, @ ...): neutralised with a leading quote
        as OWASP recommends, or refused where the spec says the package would not take the quote."""
        refuse = self.plan.formula_triggers == "refuse"

        def step(s, ctx):
            if not text.starts_formula(s):
                return s
            if refuse:
                self.error("text.formula", plan, ctx, f"{s!r} would start a formula in a spreadsheet, and this package "
                           "does not accept the leading quote that neutralises it: change the text")
                return s
            fixed = text.neutralised(s)
            self.report("text.formula", "warning", plan, ctx, f"{s!r} written as {fixed!r} so that a spreadsheet "
                        "does not run it as a formula")
            return fixed
        return step

    def unquoted_step(self, plan: FieldPlan) -> Callable:
        delimiter = self.quoting.delimiter

        def step(s, ctx):
            if delimiter in s or "\n" in s or "\r" in s:
                self.error("text.delimiter", plan, ctx, f"{s!r} holds the delimiter or a line break, and this file has no quoting")
            return s
        return step

    def allowed_step(self, plan: FieldPlan) -> Callable:
        rules = plan.text
        bad = re.compile(f"[^{rules.allowed}]")
        replacement, policy = rules.replacement, rules.disallowed

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
                cache[s] = text.encodable(s, encoding, transliterate)
            fixed = cache[s]
            if fixed == s:
                return s
            if fixed is None:
                bad = "".join(sorted({c for c in s if not text.can_encode(c, encoding)}))
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

    def iterate(self, record: RecordPlan, ctx: Ctx):
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
        else:  # postings, vat_groups, revenue_groups, e-invoice lines: of this document, or of every document
            slot = ITEM_SLOTS[collection]
            docs = (ctx.document,) if record.nested_in_document else batch.documents
            i = 0
            for doc in docs:
                ctx.document, ctx.customer = doc, doc.customer
                owner = doc.einvoice if collection in EINVOICE_COLLECTIONS else doc
                for item in (getattr(owner, collection) if owner is not None else ()):
                    i += 1
                    ctx.index = i
                    setattr(ctx, slot, item)
                    yield
            setattr(ctx, slot, None)
            if not record.nested_in_document:
                ctx.document = ctx.customer = None


def identity(s, ctx=None):
    return s


def compose(quote: Callable, finish: Callable, fmt: Callable) -> Callable:
    """value -> quote(finish(fmt(value))) with no call for the steps that do nothing."""
    if finish is identity:
        return fmt if quote is identity else (lambda v: quote(fmt(v)))
    return lambda v: quote(finish(fmt(v), None))


def chain(first: Callable, second: Callable) -> Callable:
    if first is identity:
        return second
    return lambda s, ctx: second(first(s, ctx), ctx)


class PlainCell(NamedTuple):
    """What a line needs to render a field without calling its cell: the source path, its memory's
    lookup (value -> text, or None for a value not rendered yet) and value, ctx -> text for those."""
    path: str
    remembered: Callable
    fresh: Callable | None


class Conditional(NamedTuple):
    """A field with a condition: its cell (or constant text) where the condition holds, else `empty`."""
    when: Callable
    cell: Callable | str
    empty: str


class WouldReport(Exception):
    """Raised by FileRun.report while a memory tries a value (FileRun.probe)."""


class Memo(dict):
    """value -> text of a field (None for a value that raises a finding): a value not seen yet is
    rendered by the lookup itself (and remembered, up to MEMO_LIMIT values)."""

    __slots__ = ("render",)

    def __init__(self, render: Callable):
        super().__init__()
        self.render = render

    def __missing__(self, value):
        rendered = self.render(value)
        if len(self) < MEMO_LIMIT:
            self[value] = rendered
        return rendered
