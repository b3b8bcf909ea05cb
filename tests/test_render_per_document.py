"""Per-document XML files (Peppol's e-invoices) rendered a chunk of documents at a time by columns
(xml.PerDocument), kept and checked a chunk at a time (spool.Spools.keep, wellformed.Many.add_many):
every file's bytes, name and order, and every finding (same order, same words), are what walking
each document gives; documents with findings sit among clean ones, across chunk boundaries; a
file a writer bug breaks is still refused, with or without the checking child."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import replace

import pytest

from test_render import ACME, JAN, batch, credit_doc, invoice_doc, spec_of
from test_render_columns import mixed_batch, outcome
from toolkit import spec as specs
from toolkit.spec import spool, text, wellformed
from toolkit.spec.spool import Spooled, Spools, pieces
import toolkit.spec.xml as xml

render = sys.modules["toolkit.spec.render"]  # the module: toolkit.spec.render is the function

def walked(monkeypatch):
    """Every document walked element by element and written through its own Sink, as before."""
    monkeypatch.setattr(xml.PerDocument, "text", lambda self, position: None)


def counting(monkeypatch) -> list[bool]:
    """Whether each document's text came by columns, in the order asked."""
    came: list[bool] = []
    text_of = xml.PerDocument.text

    def counted(self, position):
        got = text_of(self, position)
        came.append(got is not None)
        return got
    monkeypatch.setattr(xml.PerDocument, "text", counted)
    return came


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 2000])
def test_peppol_files_by_columns_are_the_walk_s(chunk, monkeypatch):
    """The demo's e-invoices and credit notes, every third with hostile texts (findings), whatever
    the chunk size: the same files, bytes and findings."""
    spec = specs.load_spec("peppol-bis3")
    batch_ = mixed_batch(spec)
    monkeypatch.setattr(xml, "FILES_CHUNK", chunk)
    with monkeypatch.context() as m:
        came = counting(m)
        by_columns = outcome(spec, batch_)
    walked(monkeypatch)
    assert by_columns == outcome(spec, batch_)
    files, warnings = by_columns
    assert warnings, "the batch raises findings"
    assert any(data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<CreditNote ') for _, data in files)
    assert any(b"<cac:InvoiceLine>" in data for _, data in files)
    assert 0 < sum(came) < len(came), "clean documents by columns, the others walked"


def per_document_file(encoding="utf-8", line_ending="lf", trailing_newline=True, indent=None, declaration=True, **extra):
    layout = {"kind": "xml", "root": "Invoice", "declaration": declaration,
              "root_attributes": [
                  {"name": "xmlns", "source": "document.doc_type",
                   "map": {"values": {"invoice": "urn:invoice", "credit note": "urn:credit-note"}}},
                  {"name": "ref", "source": "document.payment_reference"}],  # empty for the credit note: absent
              "element_names": {"credit note": {"Invoice": "CreditNote", "Line": "CreditLine", "Amount": "Credited"}}}
    if indent is not None:
        layout["indent"] = indent
    date = {"type": "date", "pattern": "%Y-%m-%d"}
    return {
        "name": "{document.number}.xml", "per_document": True, "encoding": encoding, "line_ending": line_ending,
        "trailing_newline": trailing_newline, "layout": layout, **extra,
        "records": [
            {"element": "ID", "text": {"name": "ID", "source": "document.number"}},
            {"element": "Note", "text": {"name": "Note", "source": "document.description", "max_length": 30, "overflow": "error"}},
            {"element": "Due", "when": [{"path": "document.doc_type", "op": "eq", "value": "invoice"}],
             "text": {"name": "Due", "source": "document.due_date", "format": date}},
            {"element": "Buyer",
             "fields": [{"name": "Name", "source": "customer.name"}, {"name": "Pct", "constant": "100%"},
                        {"name": "Amount", "source": "document.total", "format": {"type": "decimal", "places": 2}}],
             "children": [{"element": "Tax", "when": [{"path": "customer.vat_number", "op": "not_empty"}],
                           "attributes": [{"name": "scheme", "constant": "VAT"}],
                           "text": {"name": "Tax", "source": "customer.vat_number"}}]},
            {"element": "Line", "collection": "postings", "when": [{"path": "posting.kind", "op": "eq", "value": "revenue"}],
             "attributes": [{"name": "code", "source": "posting.vat_code"}],
             "fields": [{"name": "Text", "source": "posting.description"},
                        {"name": "Amount", "source": "posting.amount", "format": {"type": "decimal", "places": 2}}]},
            {"element": "Never", "fields": [{"name": "X", "source": "document.number",
                                             "when": [{"path": "document.doc_type", "op": "eq", "value": "none"}]}]},
        ],
    }


DESCRIPTIONS = ["Consulting", 'Fish & "chips" <fresh>', "50% off, 'quoted'", "Café Ölmann", "bell\x07rings",
                "x" * 31, "plain", "%(x)s %s"]


def varied_documents() -> list:
    """Invoices with texts to escape, a control character (a warning) and a text too long (an
    error) among clean ones; credit notes (other element names, no due date, no VAT number, no
    payment reference) in between."""
    docs = []
    for n, description in enumerate(DESCRIPTIONS * 2):
        if n % 5 == 3:
            docs.append(replace(credit_doc(), number=f"CN-{n}", description=description))
        else:
            docs.append(invoice_doc(f"F-{n:02d}", description=description, customer=ACME if n % 2 else replace(ACME, vat_number="")))
    docs[6] = replace(docs[6], number="f-01")  # the same file name as F-01's: an error naming it
    docs[12] = replace(docs[12], number="CON")  # a file name Windows cannot write
    return docs


@pytest.mark.parametrize("chunk", [1, 3, 4, 1000])
@pytest.mark.parametrize("options", [
    {},
    {"line_ending": "crlf", "trailing_newline": False, "indent": " %"},
    {"indent": "", "declaration": False},
    {"encoding": "cp1252"},
    {"encoding": "utf-8-sig", "line_ending": "cr"},
], ids=["utf-8", "crlf-percent-indent", "one-line", "cp1252", "bom"])
def test_per_document_files_by_columns_are_the_walk_s(options, chunk, tmp_path, monkeypatch):
    spec = spec_of(tmp_path, per_document_file(**options))
    batch_ = batch(varied_documents(), customers=(ACME, JAN))
    monkeypatch.setattr(xml, "FILES_CHUNK", chunk)
    with monkeypatch.context() as m:
        came = counting(m)
        by_columns = outcome(spec, batch_)
    walked(monkeypatch)
    line_by_line = outcome(spec, batch_)
    assert by_columns == line_by_line
    kind, findings = by_columns
    assert kind == "error" and [f.code for f in findings] == ["text.too_long", "file.name", "file.name", "text.too_long"]
    assert findings[1].message.endswith("f-01.xml Test: two files would be named 'f-01.xml'")
    assert "'CON.xml' is not a usable file name on Windows" in findings[2].message
    # named by the spec's file name, on the document's row: not the file made before it (F-11.xml)
    assert findings[2].message.startswith("invoice CON: {document.number}.xml cannot be written")
    assert findings[2].cell == f"A{varied_documents()[12].invoice.where.row}"
    assert sum(came) >= len(came) - 6 - chunk, "after a naming's first document, the clean ones by columns"


def test_the_files_by_columns_hold_what_the_spec_says(tmp_path):
    """Not only the walk's bytes: the renaming, the root attributes and the optional parts."""
    file = per_document_file()
    file["records"][1]["text"].pop("max_length")
    docs = [invoice_doc("F-1", description='Fish & "chips" <fresh>'), replace(credit_doc(), number="CN-2", description="bell\x07rings")]
    docs += [replace(doc, number=f"{doc.number}-{n}") for n in range(2) for doc in docs] + [invoice_doc("F-9")]
    rendered = specs.render(spec_of(tmp_path, file), batch(docs))
    files = dict(rendered.files)
    assert files["F-1.xml"].decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Invoice xmlns="urn:invoice" ref="+++123/4567/89002+++">\n'
        '  <ID>F-1</ID>\n  <Note>Fish &amp; "chips" &lt;fresh&gt;</Note>\n  <Due>2024-04-04</Due>\n'
        '  <Buyer>\n    <Name>Brasserie Ölmann &amp; Co</Name>\n    <Pct>100%</Pct>\n    <Amount>1310.00</Amount>\n'
        '    <Tax scheme="VAT">BE 0477.472.701</Tax>\n  </Buyer>\n'
        '  <Line code="211400">\n    <Text>Fish &amp; "chips" &lt;fresh&gt;</Text>\n    <Amount>-1000.00</Amount>\n  </Line>\n'
        '  <Line code="222000">\n    <Text>Fish &amp; "chips" &lt;fresh&gt;</Text>\n    <Amount>-100.00</Amount>\n  </Line>\n'
        '</Invoice>\n')
    credit = files["CN-2.xml"].decode()
    assert credit.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<CreditNote xmlns="urn:credit-note">\n  <ID>CN-2</ID>\n')
    assert "<CreditLine " in credit and "<Credited>100.00</Credited>" in credit and "<Due>" not in credit
    assert "<Tax" not in credit and "<Never" not in credit and credit.endswith("</CreditNote>\n")
    assert [f.code for f in rendered.warnings] == ["text.control"] * 3  # the credit note's description, each time


@pytest.mark.parametrize("waiting", [1, 1000, 1 << 20], ids=["each", "some", "chunk"])
@pytest.mark.parametrize("child", [True, False], ids=["child", "in-process"])
def test_a_broken_file_by_columns_is_refused(child, waiting, tmp_path, monkeypatch):
    """A writer bug (texts no longer escaped) in files rendered by columns: each broken file is an
    xml.malformed error naming it, whether a child checks them or, none starting, the process; the
    files kept and checked one by one, a few together, or a chunk's together."""
    monkeypatch.setattr(wellformed, "IN_PROCESS", 300)
    monkeypatch.setattr(xml, "FILES_CHUNK", 4)
    monkeypatch.setattr(render, "WAITING_BYTES", waiting)
    if not child:
        monkeypatch.setattr(wellformed, "_start", lambda *options: None)
    monkeypatch.setattr(text, "xml_text", lambda s: s)  # the writer bug
    came = counting(monkeypatch)
    file = per_document_file()
    file["records"][1]["text"].pop("max_length")
    customer = replace(ACME, name="Acme")
    docs = [invoice_doc(f"F{n:03d}", description="a < b" if n in (2, 9, 17) else "plain", customer=customer) for n in range(20)]
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, file), batch(docs, customers=(customer,)))
    findings = caught.value.findings
    assert [f.code for f in findings] == ["xml.malformed"] * 3
    assert ["F002.xml" in findings[0].message, "F009.xml" in findings[1].message, "F017.xml" in findings[2].message] == [True] * 3
    assert sum(came) == 19, "all but the first by columns"


def test_many_files_kept_at_once_are_kept_as_each_alone(monkeypatch):
    """Spools.keep: files in memory while they fit SPOOL_BYTES, then in the temporary file, written
    in one piece (by the background thread when big), each with its own hash."""
    monkeypatch.setattr(spool, "SPOOL_BYTES", 1000)
    monkeypatch.setattr(spool, "BACKGROUND", 500)
    shared = Spools()
    first = [b"<a>%d</a>" % n * 37 for n in range(3)]  # 296 bytes each: three fit in memory
    second = [b"<b>%d</b>" % n * (n + 20) for n in range(40)]  # then the temporary file, in one big piece
    third = [b"<c/>" * 30, b"<c/>"]  # a small piece, written at once; then a file that still fits in memory
    kept = shared.keep(first + second[:2]) + shared.keep(second[2:]) + shared.keep(third)
    shared.finish()
    everything = first + second + third
    assert [type(k) for k in kept] == [bytes] * 3 + [Spooled] * 41 + [bytes]
    assert [b"".join(pieces(k)) for k in kept] == everything
    assert [spool.sha256(k) for k in kept] == [hashlib.sha256(data).hexdigest() for data in everything]
    assert all(k.sha256 is not None for k in kept[3:-1]), "hashed as written, never read back"


@pytest.mark.parametrize("threshold", [0, 250, 10 ** 9], ids=["child", "both", "in-process"])
def test_many_files_checked_at_once_get_each_one_s_verdict(threshold, monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", threshold)
    files = [b"<a>%d</a>" % n if n % 7 else b"<a>%d</b>" % n for n in range(30)]
    many = wellformed.Many()
    assert many.add(files[0]) == 0
    assert many.add_many(files[1:20], files[1:20]) == 1
    assert many.add(files[20]) == 20
    assert many.add_many(files[21:], files[21:]) == 21
    expected = {n: wellformed.problem([data]) for n, data in enumerate(files) if n % 7 == 0}
    assert len(expected) == 5 and all(expected.values())
    assert many.problems() == expected


def test_a_document_with_nothing_in_its_root_is_written_as_the_walk_writes_it(tmp_path, monkeypatch):
    """The root is written even when none of its elements is there (`<Doc>` and `</Doc>`, or with
    no indent one line), not left out or closed at once as an empty element would be."""
    monkeypatch.setattr(xml, "FILES_CHUNK", 3)
    for indent in ("  ", ""):
        file = {"name": "{document.number}.xml", "per_document": True, "encoding": "utf-8", "line_ending": "lf",
                "trailing_newline": True, "layout": {"kind": "xml", "root": "Doc", "indent": indent},
                "records": [{"element": "Refund", "when": [{"path": "document.doc_type", "op": "eq", "value": "credit note"}],
                             "text": {"name": "Refund", "source": "document.description"}}]}
        docs = [invoice_doc(f"F-{n}") for n in range(5)] + [credit_doc()]
        with monkeypatch.context() as m:
            came = counting(m)
            files = dict(specs.render(spec_of(tmp_path, file), batch(docs)).files)
        assert came == [False] + [True] * 5  # the first walked (it binds the cells), the others by columns
        eol = "\n" if indent else ""  # no indent: no line endings, the last one too
        assert files["F-3.xml"] == f'<?xml version="1.0" encoding="UTF-8"?>{eol}<Doc>{eol}</Doc>{eol}'.encode()
        assert files["CN-7.xml"] == f'<?xml version="1.0" encoding="UTF-8"?>{eol}<Doc>{eol}{indent}<Refund>Refund</Refund>{eol}</Doc>{eol}'.encode()
        with monkeypatch.context() as m:
            walked(m)
            assert files == dict(specs.render(spec_of(tmp_path, file), batch(docs)).files)
