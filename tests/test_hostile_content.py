"""Hostile content in the workbook never becomes hostile output: over every shipped package, text
that starts a spreadsheet formula is neutralised in delimited files (OWASP: a leading quote),
control characters are removed, every XML file parses, and numbers are left as they are."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal as D
from pathlib import Path

import pytest

from test_render import batch, invoice_doc, spec_of, text_file
from toolkit import spec as specs
from toolkit.peppol import einvoice
from toolkit.accounting import build_document
from toolkit.book.read import read_workbook
from toolkit.model import Batch
from toolkit.vatrules import RuleBook

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PACKAGES = [s.id for s in specs.list_specs()]
TRIGGERS = ['=HYPERLINK("http://x.example","go")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1",
            "  =1+1", "\t \r@x", "＝1+1", "﹢1"]
CONTROLS = "ACME\x07BEL\x1bESC\x0bVT\x0cFF\x00NUL"
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
NUMBER = re.compile(r"-?[0-9]+([.,][0-9]+)?")
OGM = re.compile(r"\+\+\+[0-9]{3}/[0-9]{4}/[0-9]{5}\+\+\+")  # a Belgian structured communication: no formula


def formula_like(cell: str) -> bool:
    """Written independently of the renderer: would a spreadsheet try this cell as a formula?"""
    if cell[:1] in ("\t", "\r"):
        return True
    first = cell.lstrip(" \t\r\n")[:1]
    return first in ("=", "+", "-", "@", "＝", "﹢", "＋", "﹣", "－", "＠", "﹫")


@functools.cache
def hostile_documents():
    """The demo workbook with every customer name, invoice description and line description replaced by
    a formula trigger or control characters, accounted as the export does."""
    wb = read_workbook(SAMPLES / "demo.xlsx")
    hostile = TRIGGERS + [CONTROLS]
    customers = {c.customer_id: dataclasses.replace(c, name=hostile[i % len(hostile)] + " Ltd",
                                                    city=hostile[(i + 3) % len(hostile)])
                 for i, c in enumerate(wb.customers)}
    invoices = []
    for i, invoice in enumerate(wb.invoices):
        lines = tuple(dataclasses.replace(line, description=hostile[(i + j) % len(hostile)]) for j, line in enumerate(invoice.lines))
        invoices.append(dataclasses.replace(invoice, description=hostile[(i + 5) % len(hostile)], lines=lines))
    return wb, customers, invoices


def render_hostile(package: str) -> tuple[specs.Spec, dict, specs.Rendered]:
    wb, customers, invoices = hostile_documents()
    spec = specs.load_spec(package)
    params, problems = specs.resolve_params(spec, wb.settings)
    assert problems == []
    rules, vat_code = RuleBook(wb.vat_rules), functools.cache(spec.vat_code)
    documents = tuple(build_document(inv, customers[inv.customer_id], wb.settings, rules, vat_code) for inv in invoices)
    if spec.stream == "einvoice":  # e-invoices render the documents the export prepared for them
        documents = tuple(einvoice.prepare(list(documents), wb.settings, None).documents)
    batch_ = Batch("E1", wb.settings.period_to, wb.settings.period_from, wb.settings.period_to, wb.settings, params,
                   documents, tuple(customers.values()), wb.accounts)
    return spec, params, specs.render(spec, batch_)


def delimited_cells(plan, params, data: bytes) -> list[str]:
    layout = plan.layout
    escape = {"escapechar": "\\", "doublequote": False} if layout.quote_escape == "backslash" else {}
    rows = csv.reader(io.StringIO(data.decode(plan.encoding), newline=""), delimiter=layout.delimiter.value(params),
                      quotechar=layout.quote_char, **escape)
    return [cell for row in rows for cell in row]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_output_of_any_package_starts_a_formula_or_holds_a_control_character(package):
    spec, params, result = render_hostile(package)
    plans = {p.name: p for p in spec.plans.files}
    by_pattern = {name: next(p for p in spec.plans.files if p.name == name or "{" in p.name) for name, _ in result.files}
    neutralised = 0
    for name, data in result.files:
        plan = plans.get(name) or by_pattern[name]
        assert not CONTROL.search(data.decode(plan.encoding)), name
        if plan.layout.kind == "xml":
            ET.fromstring(data)  # well-formed, or this raises
        if plan.layout.kind != "delimited":
            continue
        for cell in delimited_cells(plan, params, data):
            if formula_like(cell):
                assert NUMBER.fullmatch(cell) or OGM.fullmatch(cell), f"{name}: {cell!r} starts a formula"
            neutralised += cell.startswith("'")
    if any(plans.get(n, by_pattern[n]).layout.kind == "delimited" for n, _ in result.files):
        assert neutralised, "no hostile text reached the files: the test would prove nothing"
    assert any(w.code == "text.formula" for w in result.warnings) or not neutralised
    assert any(w.code == "text.control" for w in result.warnings)


def test_numbers_are_never_neutralised(tmp_path):
    file = text_file([{"collection": "postings", "fields": [
        {"name": "amount", "source": "posting.amount", "format": {"type": "decimal", "places": 2}},
        {"name": "plain", "source": "posting.amount"},
        {"name": "text", "source": "posting.description"}]}])
    result = specs.render(spec_of(tmp_path, file), batch([invoice_doc(description="-5 % discount")]))
    lines = result.files[0][1].decode().split("\n")
    assert lines[1] == "-1000.00|-1000|'-5 % discount"
    assert [w.code for w in result.warnings] == ["text.formula"]  # the same finding for each posting, once
    assert "F2024-001" in result.warnings[0].message and "text" in result.warnings[0].message


def test_transliteration_never_makes_a_trigger(tmp_path):
    file = {**text_file([{"collection": "documents", "fields": [{"name": "text", "source": "document.description"}]}]),
            "encoding": "cp1252", "unrepresentable": "transliterate"}
    result = specs.render(spec_of(tmp_path, file), batch([invoice_doc(description="＝1+1")]))
    assert result.files[0][1] == b"?1+1"  # in every kind of file, not only the delimited ones
    assert {w.code for w in result.warnings} == {"text.transliterated"}
    result = specs.render(spec_of(tmp_path, file), batch([invoice_doc(description="Prix ＝ 1+1 – net")]))
    assert result.files[0][1] == "Prix = 1+1 – net".encode("cp1252")  # inside a value: harmless


def test_a_spec_can_refuse_formula_triggers_instead(tmp_path):
    file = text_file([{"collection": "documents", "fields": [{"name": "text", "source": "document.description"}]}],
                     formula_triggers="refuse")
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, file), batch([invoice_doc(description="@SUM(1)")]))
    [finding] = caught.value.findings
    assert finding.code == "text.formula" and finding.is_error
    assert "invoice F2024-001" in finding.message and "out.txt: text" in finding.message
    assert specs.render(spec_of(tmp_path, file), batch([invoice_doc(description="fine")])).files[0][1] == b"fine"


def test_formula_triggers_are_for_delimited_files_only(tmp_path):
    file = {**text_file([{"fields": [{"name": "a", "constant": "x", "width": 1}]}]), "layout": {"kind": "fixed"},
            "formula_triggers": "refuse"}
    with pytest.raises(specs.SpecError, match=r"\$\.files\[0\]\.formula_triggers: formula triggers are guarded"):
        spec_of(tmp_path, file)


XML_FILE = {"name": "out.xml", "encoding": "cp1252", "line_ending": "lf", "trailing_newline": False,
            "layout": {"kind": "xml", "root": "Root"},
            "records": [{"collection": "documents", "element": "Doc",
                         "attributes": [{"name": "number", "source": "document.number"}],
                         "fields": [{"name": "Text", "source": "document.description"}]}]}


def test_control_characters_are_removed_from_xml_with_a_warning(tmp_path):
    result = specs.render(spec_of(tmp_path, XML_FILE), batch([invoice_doc(description="A\x07B\x1bC\tD<&>")]))
    data = result.files[0][1]
    assert ET.fromstring(data).find("Doc/Text").text == "ABC\tD<&>"
    [warning] = result.warnings
    assert warning.code == "text.control" and "invoice F2024-001" in warning.message


def test_attribute_whitespace_survives_the_parser(tmp_path):
    doc = invoice_doc()
    doc = dataclasses.replace(doc, number="A\tB\nC")
    result = specs.render(spec_of(tmp_path, XML_FILE), batch([doc]))
    assert ET.fromstring(result.files[0][1]).find("Doc").get("number") == "A\tB\nC"


def test_an_xml_file_that_does_not_parse_is_a_render_error(tmp_path, monkeypatch):
    from toolkit.spec import text
    monkeypatch.setattr(text, "xml_text", lambda s: s)  # a writer bug: text no longer escaped
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, XML_FILE), batch([invoice_doc(description="a < b")]))
    [finding] = caught.value.findings
    assert finding.code == "xml.malformed" and "out.xml" in finding.message and "line 4" in finding.message


@pytest.mark.parametrize("name", ["Bad Name", "1st", "a<b"])
def test_xml_names_are_checked_at_load(tmp_path, name):
    data = json.loads(json.dumps(XML_FILE))
    data["records"][0]["element"] = name
    with pytest.raises(specs.SpecError, match=r"\$\.files\[0\]\.records\[0\]\.element: .* is not an XML element name"):
        spec_of(tmp_path, data)


@pytest.mark.parametrize("spec_id", ["bad\nid", "Upper", "-x", "a" * 41, "a/b"])
def test_spec_ids_have_a_strict_pattern(tmp_path, spec_id):
    with pytest.raises(specs.SpecError):
        spec_of(tmp_path, text_file([{"fields": []}]), id=spec_id)


@pytest.mark.parametrize("siren", ["../etc", "a/b", "x\ny", "..", "c:x", "nul", "x" * 252, "é" * 126])
def test_a_file_name_from_a_parameter_stays_in_the_export_folder(tmp_path, siren):
    file = {**text_file([{"fields": []}]), "name": "{param.siren}.txt"}
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, file), batch(params={"siren": siren}))
    assert [f.code for f in caught.value.findings] == ["file.name"]


def test_money_in_the_hostile_batch_is_unchanged():
    """Neutralising text does not touch amounts: every package's files carry the same amounts with
    and without hostile texts (an independent sum of the demo's posting amounts)."""
    wb, customers, invoices = hostile_documents()
    spec = specs.load_spec("csv-journal")
    rules, vat_code = RuleBook(wb.vat_rules), functools.cache(spec.vat_code)
    clean = [build_document(inv, c, wb.settings, rules, vat_code) for inv, c in
             zip(wb.invoices, (next(x for x in wb.customers if x.customer_id == i.customer_id) for i in wb.invoices))]
    hostile = [build_document(inv, customers[inv.customer_id], wb.settings, rules, vat_code) for inv in invoices]
    assert [p.amount for d in clean for p in d.postings] == [p.amount for d in hostile for p in d.postings]
    assert sum((p.amount for d in hostile for p in d.postings), D(0)) == D(0)
