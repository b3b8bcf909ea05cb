"""Rendering by columns (spec/columns.py, and xml.XmlColumns for XML) gives the bytes and the
findings (same order, same words) of rendering line by line, also when documents whose texts raise
findings sit among clean ones and the documents come in several chunks."""

from __future__ import annotations

import functools

import pytest

from test_hostile_content import PACKAGES, SAMPLES, hostile_documents
from toolkit import spec as specs
from toolkit.accounting import build_document
from toolkit.book.read import read_workbook
from toolkit.model import Batch
from toolkit.peppol import einvoice
from toolkit.vatrules import RuleBook
import toolkit.spec.lines as lines
import toolkit.spec.xml as xml


def mixed_batch(spec: specs.Spec) -> Batch:
    """The demo workbook's documents, every third one with hostile texts (a finding each)."""
    wb = read_workbook(SAMPLES / "demo.xlsx")
    _, hostile_customers, hostile_invoices = hostile_documents()
    customers = {c.customer_id: c for c in wb.customers}
    invoices = [hostile if i % 3 == 1 else plain for i, (plain, hostile) in enumerate(zip(wb.invoices, hostile_invoices))]
    customers.update({cid: c for i, (cid, c) in enumerate(hostile_customers.items()) if i % 4 == 2})
    params, problems = specs.resolve_params(spec, wb.settings)
    assert problems == []
    rules, vat_code = RuleBook(wb.vat_rules), functools.cache(spec.vat_code)
    documents = tuple(build_document(inv, customers[inv.customer_id], wb.settings, rules, vat_code) for inv in invoices)
    if spec.stream == "einvoice":
        documents = tuple(einvoice.prepare(list(documents), wb.settings, None).documents)
    return Batch("E1", wb.settings.period_to, wb.settings.period_from, wb.settings.period_to, wb.settings, params,
                 documents, tuple(customers.values()), wb.accounts)


def outcome(spec: specs.Spec, batch: Batch):
    try:
        rendered = specs.render(spec, batch)
    except specs.RenderError as exc:
        return "error", exc.findings
    return rendered.files, rendered.warnings


@pytest.mark.parametrize("package", PACKAGES)
def test_columns_render_what_lines_render(package, monkeypatch):
    spec = specs.load_spec(package)
    batch = mixed_batch(spec)
    for module in (lines, xml):
        monkeypatch.setattr(module, "CHUNK_DOCUMENTS", 2)  # several chunks, dirty and clean documents in each
    monkeypatch.setattr(xml, "FILES_CHUNK", 2)  # of per-document files too
    by_columns = outcome(spec, batch)
    monkeypatch.setattr(lines, "columnar", lambda *args: None)
    monkeypatch.setattr(xml._Writer, "hot_inside", lambda *args: False)  # documents walked one by one
    monkeypatch.setattr(xml.PerDocument, "text", lambda self, position: None)  # per-document files too
    line_by_line = outcome(spec, batch)
    assert by_columns == line_by_line
    assert by_columns[1], "the batch raises findings"


def test_a_document_without_findings_comes_by_columns(monkeypatch):
    """The clean documents really take the column path (the test above would pass without it)."""
    calls = []
    render = lines.Columns.render
    monkeypatch.setattr(lines.Columns, "render", lambda self, *a: calls.append(1) or render(self, *a))
    spec = specs.load_spec("winbooks")
    files, _ = outcome(spec, mixed_batch(spec))
    assert calls and files


def test_xml_documents_come_by_columns_around_the_ones_with_findings(monkeypatch):
    """Exact Globe: the clean documents of a chunk come from the documents' columns (their
    postings' elements as blocks), the ones with findings are walked, and both are what walking
    every document gives (the test above)."""
    monkeypatch.setattr(xml, "CHUNK_DOCUMENTS", 3)
    came: list[int] = []
    render = xml.XmlColumns.render

    def counted(self, docs, shared, first_index=0):
        chunk = render(self, docs, shared, first_index)
        if self.collection == "documents":
            came.append(len(docs) - len(chunk.dirty))
        return chunk
    monkeypatch.setattr(xml.XmlColumns, "render", counted)
    spec = specs.load_spec("exact-globe")
    batch = mixed_batch(spec)
    outcome(spec, batch)
    assert 0 < sum(came) < len(batch.documents)


TEXTS = ["abc", "2026-000001", "Invoice 2026-000001", "x" * 45, "", " lead", "=1+1", "-2", "@a", "x;y", "a,b", 'q"uote',
         "q'uote", "tab\tx", "line\nbreak", "é", "Ölmann", "12,5", "A-B/C", "back\\slash", "<&>", "a|b", "BE0477472701"]


def fields(records):
    for record in records:
        yield from record.fields or ()
        yield from record.attributes
        if record.text is not None:
            yield record.text
        yield from fields(record.children)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_quick_lane_of_a_text_is_the_pipeline_s_text(package):
    """A text the quick check passes (FileRun.clean_text) is the text the whole pipeline makes of it,
    and the pipeline says nothing about it."""
    from toolkit.spec.cells import FileRun, identity, chain
    spec = specs.load_spec(package)
    batch = mixed_batch(spec)
    checked = 0
    for plan in spec.plans.files:
        findings: list = []
        run = FileRun(spec, batch, batch.params, plan, findings)
        if plan.layout.kind in ("delimited", "tagged"):
            run.quoting = lines.Quoting(plan.layout, batch.params)
        for field in fields(plan.records):
            if field.is_constant or field.hoisted:
                continue
            quote, strict = run.quoting.quoter(field) if run.quoting else (identity, False)
            finish = chain(run.finisher(field), run.unquoted_step(field)) if strict else run.finisher(field)
            fmt = field.format.bind(batch.params)
            clean = run.clean_text(field, quote, strict)
            for value in TEXTS if clean is not None else ():
                quick = clean(value)
                if quick is not None:
                    assert quick == quote(finish(fmt(value), None)), (field.name, value)
                    assert findings == [], (field.name, value)
                    checked += 1
    assert checked or package in ("peppol-bis3",)


@pytest.mark.parametrize("package", PACKAGES)
def test_rendering_leaves_no_reference_cycle_behind(package):
    """The export runs with the cycle collector paused: what rendering leaves must go by reference
    counting alone."""
    import gc
    spec = specs.load_spec(package)
    batch = mixed_batch(spec)
    gc.collect()
    gc.disable()
    try:
        outcome(spec, batch)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_xml_shapes_with_percent_signs_and_parts_left_out(tmp_path, monkeypatch):
    """The column templates (texts a shape leaves out taken by "%.0s", constants written in) give
    what walking gives: "%" in texts, constants and indentation, optional attributes, fields and
    elements that come and go from row to row and from document to document."""
    from test_render import batch, credit_doc, invoice_doc, rendered
    file = {
        "name": "out.xml", "encoding": "utf-8", "line_ending": "crlf", "trailing_newline": True,
        "layout": {"kind": "xml", "root": "R", "indent": " %"},
        "records": [{"element": "Docs", "children": [{"collection": "documents", "element": "Doc",
            "attributes": [{"name": "n", "source": "document.number"}, {"name": "pct", "constant": "100%s"}],
            "fields": [{"name": "Ref", "source": "document.payment_reference"}],
            "children": [{"collection": "postings", "element": "Line",
                          "attributes": [{"name": "k", "constant": "%d"}, {"name": "code", "source": "posting.vat_code"}],
                          "fields": [{"name": "Text", "source": "posting.description"},
                                     {"name": "Rate", "source": "posting.vat_rate", "format": {"type": "decimal"}}],
                          "children": [
                              {"element": "Who", "when": [{"path": "posting.kind", "op": "eq", "value": "receivable"}],
                               "attributes": [{"name": "c", "source": "customer.accounting_number"}]},
                              {"element": "Amount", "children": [
                                  {"element": "D", "text": {"name": "D", "source": "posting.amount",
                                                            "format": {"type": "decimal", "places": 2, "side": "debit"}}},
                                  {"element": "C", "text": {"name": "C", "source": "posting.amount",
                                                            "format": {"type": "decimal", "places": 2, "side": "credit"}}}]}]},
                         {"element": "End", "text": {"name": "End", "source": "document.journal"}}]}]}],
    }
    docs = [invoice_doc(f"F-{n}", description=["50% off", "%s%%", "plain", "%(x)s"][n % 4]) for n in range(7)] + [credit_doc()]
    monkeypatch.setattr(xml, "CHUNK_DOCUMENTS", 3)
    by_columns = rendered(tmp_path, file, b=batch(docs))
    monkeypatch.setattr(xml._Writer, "hot_inside", lambda *args: False)
    assert by_columns == rendered(tmp_path, file, b=batch(docs))
    assert "50% off" in by_columns and 'pct="100%s"' in by_columns and 'k="%d"' in by_columns and "\r\n %<Docs>" in by_columns


def test_xml_shapes_of_elements_under_the_same_and_nested_conditions(tmp_path, monkeypatch):
    """Elements under one condition (a Who and a Pay on the customer's line), an element with its
    own condition inside a conditional one, and texts under a condition that are empty on some of
    its rows and not on others: a shape's flags stand for one another only where they must."""
    import dataclasses
    from test_render import batch, credit_doc, invoice_doc, rendered
    receivable = [{"path": "posting.kind", "op": "eq", "value": "receivable"}]
    file = {
        "name": "out.xml", "encoding": "utf-8", "line_ending": "lf", "trailing_newline": True,
        "layout": {"kind": "xml", "root": "R", "indent": "  "},
        "records": [{"collection": "documents", "element": "Doc", "children": [{"collection": "postings", "element": "Line",
            "attributes": [{"name": "a", "source": "posting.account"}],
            "children": [
                {"element": "Who", "when": receivable, "attributes": [{"name": "c", "source": "customer.accounting_number"}]},
                {"element": "Pay", "when": receivable,
                 "fields": [{"name": "Ref", "source": "document.payment_reference"},
                            {"name": "Text", "source": "posting.description"}],
                 "children": [{"element": "Due", "when": [{"path": "document.doc_type", "op": "eq", "value": "invoice"}],
                               "text": {"name": "Due", "source": "document.due_date", "format": {"type": "date", "pattern": "%Y-%m-%d"}}}]},
                {"element": "Vat", "when": [{"path": "posting.kind", "op": "eq", "value": "vat"}],
                 "fields": [{"name": "Code", "source": "posting.vat_code"}]}]}]}],
    }
    docs = [dataclasses.replace(invoice_doc(f"F-{n}", description="" if n % 3 == 0 else f"Job {n}"),
                                payment_reference="" if n % 2 else f"REF{n}") for n in range(7)] + [credit_doc()]
    monkeypatch.setattr(xml, "CHUNK_DOCUMENTS", 4)
    by_columns = rendered(tmp_path, file, b=batch(docs))
    monkeypatch.setattr(xml._Writer, "hot_inside", lambda *args: False)
    assert by_columns == rendered(tmp_path, file, b=batch(docs))
    assert "<Ref>REF0</Ref>" in by_columns and "<Pay>\n" in by_columns and "<Due>" in by_columns


@pytest.mark.parametrize("side", [None, "debit", "credit"])
@pytest.mark.parametrize("zero_empty", [False, True])
def test_a_column_of_amounts_is_each_amount_s_text_zeros_too(side, zero_empty):
    """The decimal format's column path (text._fixed_column) gives the texts the formatter gives one
    by one, a zero and a negative zero among them (the VAT base of a revenue posting is 0.00)."""
    from decimal import Decimal as D

    from toolkit.spec import text

    fmt = text.decimal_formatter(2, "signed", side, "zero" if side else None, ",", "", zero_empty)
    values = [D("12.30"), D("0.00"), D("-4.05"), D("-0.00"), D("1000000.01"), D("0.00"), D("-0.01")]
    assert fmt.column(values) == [fmt(v) for v in values]
    assert fmt.column([D("1.5")]) is None  # not at the format's places: one by one


def test_the_credit_side_reuses_the_debit_side_s_texts_only_for_the_very_same_amounts():
    """Debit and Credit render the same amounts one after the other: the second column takes the
    first one's texts (text._signed_texts), but only for the very same objects, never for equal
    amounts written otherwise (1.5 is not 1.50)."""
    from decimal import Decimal as D

    from toolkit.spec import text

    debit = text.decimal_formatter(2, "signed", "debit", "zero", ",", "", False)
    credit = text.decimal_formatter(2, "signed", "credit", "zero", ",", "", False)
    signed = text.decimal_formatter(2, "signed", None, None, ",", "", False)
    amounts = [D("12.30"), D("-4.05"), D("0.00"), D("7.00")]
    assert debit.column(list(amounts)) == ["12,30", "0,00", "0,00", "7,00"]
    assert credit.column(list(amounts)) == ["0,00", "4,05", "0,00", "0,00"]
    assert signed.column(list(amounts)) == ["12,30", "-4,05", "0,00", "7,00"]
    assert signed.column(list(amounts)) == ["12,30", "-4,05", "0,00", "7,00"]  # the kept texts are not changed
    assert signed.column([D("12.3"), D("-4.05"), D("0.00"), D("7.00")]) is None  # equal, not the same: 12.3 is one by one
    assert signed.column([D("12.30"), D("-4.05"), D("0.00"), D("7.00")]) == ["12,30", "-4,05", "0,00", "7,00"]


@pytest.mark.parametrize("sep", [".", ","])
@pytest.mark.parametrize("zero_empty", [False, True])
def test_a_column_of_numbers_without_fixed_places_is_each_one_s_text(sep, zero_empty):
    """A decimal format without places (a VAT rate, a quantity, a unit price as typed) renders a
    column at once (text._plain_column) as it renders each value: zeros, negative zeros, trailing
    zeros kept; a value str() writes with an exponent, or not a Decimal, sends the column one by one."""
    from decimal import Decimal as D

    from toolkit.spec import text

    fmt = text.decimal_formatter(None, "signed", None, None, sep, "", zero_empty)
    values = [D("21"), D("0"), D("6.0"), D("-0"), D("12.500"), D("0.00"), D("-3.25"), D("1000000"), D("-0.000"), D("0.001")]
    assert fmt.column(values) == [fmt(v) for v in values]
    assert fmt.column([D("21"), D("1E+2")]) is None and fmt.column([D("1"), 2]) is None and fmt.column([D("1"), None]) is None
    assert text.decimal_formatter(None, "absolute", None, None, sep, "", zero_empty).column is None
    assert text.decimal_formatter(None, "signed", None, None, sep, ".", zero_empty).column is None  # thousands: one by one
