"""The peppol-bis3 package: every e-invoice passes the official rules, carries the bookings'
amounts, leaves consumers for another package, and is its own stream beside the bookkeeping."""

from __future__ import annotations

import csv
import json
import datetime as dt
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

import pytest

from toolkit import layout, sample
from toolkit.app.export import ExportRequest, plan_export, run_export
from toolkit.app.register import Register
from toolkit.book import template
from toolkit.book.read import read_workbook
from toolkit.book.writeback import write_back
from toolkit.resources import specs_dir
from toolkit.peppol.validate import validate_bytes

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}


def export(book: Path, package: str, out: Path, write: bool = True):
    result = run_export(ExportRequest(book, package=package, out_dir=out))
    if write and result.status == "written":
        write_back(book, result.edits)
    return result


def fatal(data: bytes) -> list[str]:
    return [f"{a.id}: {a.text}" for a in validate_bytes(data) if a.fatal]


# ---- a workbook covering every regime, discounts, credit notes and rounding edges -------------

CUSTOMERS = [  # id, name, kind, VAT number, country, Peppol ID
    ("B1", "Brouwerij NV", "company", "BE0405178106", "BE", None),
    ("N1", "Ontwerp BV", "company", "NL004495445B01", "NL", None),
    ("D1", "Druckerei GmbH", "company", "DE136695976", "DE", None),
    ("S1", "Alpine AG", "company", None, "CH", "0183:CHE116281710"),
    ("P1", "Jan Peeters", "person", None, "BE", None),
    ("P2", "Eva Maes", "person", None, "BE", "0208:0403170701"),  # a sole trader on Peppol
]
RULES = [(D(21), "domestic", "700000"), (D(12), "domestic", "700000"), (D(6), "domestic", "700060"),
         (D(0), "domestic", "700010"), (D(0), "intra-EU goods", "700300"), (D(0), "intra-EU services", "700300"),
         (D(0), "reverse charge", "700600"), (D(0), "export", "700500"), (D(0), "exempt", "700010"),
         (D(0), "not subject", "700010")]
# number, type, customer, invoice discount %, credited, [(qty, price, discount %, rate, regime)]
INVOICES = [
    ("F1", "invoice", "B1", None, None, [("3", "0.335", None, 21, "domestic"), ("7.5", "12.25", "2.5", 21, "domestic"),
                                         ("1", "99.99", "10", 6, "domestic"), ("2", "15.005", None, 0, "domestic"),
                                         ("1", "0.01", None, 12, "domestic")]),
    ("F2", "invoice", "B1", "3", None, [("12.25", "1.99", "5", 21, "domestic"), ("1", "1000", None, 21, "domestic"),
                                        ("3", "33.33", "2.5", 6, "domestic"), ("1", "19.99", None, 0, "domestic")]),
    ("F3", "invoice", "N1", None, None, [("4", "250", "10", 0, "intra-EU goods"), ("1", "1200", None, 0, "intra-EU goods")]),
    ("F4", "invoice", "N1", "2.5", None, [("10", "95.5", None, 0, "intra-EU services")]),
    ("F5", "invoice", "B1", None, None, [("1", "4200", None, 0, "reverse charge"), ("2", "150.15", None, 21, "domestic")]),
    ("F6", "invoice", "S1", "5", None, [("3", "1666.67", None, 0, "export")]),
    ("F7", "invoice", "D1", None, None, [("1", "800", None, 0, "exempt")]),
    ("F8", "invoice", "B1", None, None, [("1", "50", None, 0, "not subject")]),
    ("F9", "invoice", "P1", None, None, [("1", "100", None, 21, "domestic")]),
    ("F10", "invoice", "P2", None, None, [("1", "100", None, 21, "domestic"), ("-1", "20", None, 21, "domestic")]),
    ("C1", "credit note", "B1", None, "F1", [("1", "36.67", None, 21, "domestic")]),
    ("C2", "credit note", "B1", "3", "F2", [("-2", "12.345", None, 21, "domestic"), ("-1", "9.99", None, 6, "domestic")]),
    ("C3", "credit note", "N1", None, "F3", [("1", "250", "10", 0, "intra-EU goods")]),
]
WRITTEN = [n for n, *_ in INVOICES if n != "F9"]


def regimes_workbook(path: Path, **settings) -> Path:
    base, records = sample._demo_records()
    base.update(settings)
    customers = [{"customer_id": cid, "name": name, "kind": kind, "vat_number": vat, "street": "Markt 1",
                  "postal_code": "1000", "city": "Stad", "country": country, "peppol_id": peppol, "payment_terms": 30}
                 for cid, name, kind, vat, country, peppol in CUSTOMERS]
    rules = [{"rate": rate, "regime": regime, "revenue_account": account} for rate, regime, account in RULES]
    invoices, lines = [], []
    for n, (number, doc_type, customer, pct, credited, rows) in enumerate(INVOICES):
        invoices.append({"number": number, "doc_type": doc_type, "date": dt.date(2026, 2, 1 + n), "customer_id": customer,
                         "currency": "EUR", "description": f"Document {number}", "discount_pct": D(pct) if pct else None,
                         "credited_invoice": credited})
        account = {(r, g): a for r, g, a in RULES}
        for i, (qty, price, discount, rate, regime) in enumerate(rows, 1):
            lines.append({"invoice_number": number, "line": i, "description": f"Item {i}", "quantity": D(qty),
                          "unit_price": D(price), "discount_pct": D(discount) if discount else None, "vat_rate": D(rate),
                          "vat_regime": regime, "ledger_account": account[(D(rate), regime)], "account_source": "manual"})
    records.update({layout.CUSTOMERS.name: customers, layout.VAT_RULES.name: rules,
                    layout.INVOICES.name: invoices, layout.INVOICE_LINES.name: lines})
    tables = {sheet.name: sample._rows(sheet, records.get(sheet.name, [])) for sheet in layout.TABLE_SHEETS}
    return template.save_template(path, {**tables, layout.SETTINGS_SHEET: base})


@pytest.fixture
def demo(tmp_path) -> Path:
    path = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", path)
    return path


# ---- the official rules ------------------------------------------------------------------------


def test_every_demo_e_invoice_passes_both_rule_sets(demo, tmp_path):
    result = export(demo, "peppol-bis3", tmp_path / "out")
    assert result.status == "written"
    files = sorted(result.folder.iterdir())
    wb = read_workbook(demo)
    customers = {c.customer_id: c for c in wb.customers}
    companies = [i.number for i in wb.invoices if customers[i.customer_id].kind != "person"]
    assert sorted(p.stem for p in files) == sorted(companies) and len(files) > 30
    for path in files:
        assert fatal(path.read_bytes()) == [], path.name


@pytest.mark.parametrize("settings", [
    {},
    {"rounding": "gross then discount"},
    {"vat_booking": "on total"},
    {"rounding": "gross then discount", "vat_booking": "on total", "discount_account": None},
], ids=["line-net-once", "gross-then-discount", "vat-on-total", "both-booked-net"])
def test_every_regime_discount_credit_note_and_rounding_edge_passes(tmp_path, settings):
    book = regimes_workbook(tmp_path / "regimes.xlsx", **settings)
    result = export(book, "peppol-bis3", tmp_path / "out")
    assert result.status == "written", [f.message for f in result.findings if f.is_error]
    files = {p.stem: p.read_bytes() for p in result.folder.iterdir()}
    assert sorted(files) == sorted(WRITTEN)
    for number, data in files.items():
        assert fatal(data) == [], number
    categories = {c.text for data in files.values() for c in _root(data).iterfind(".//cac:TaxSubtotal/cac:TaxCategory/cbc:ID", NS)}
    assert categories == {"S", "Z", "K", "AE", "G", "E", "O"}
    credit = _root(files["C2"])
    assert credit.tag.endswith("}CreditNote")
    assert credit.find("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", NS).text == "F2"
    assert credit.find("cac:LegalMonetaryTotal/cbc:AllowanceTotalAmount", NS) is not None  # the invoice discount
    sole_trader = _root(files["F10"]).find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert (sole_trader.get("schemeID"), sole_trader.text) == ("0208", "0403170701")


def _root(data: bytes):
    return ET.fromstring(data)


# ---- the same amounts as the bookings ----------------------------------------------------------


def _bookings(folder: Path) -> dict[str, dict]:
    """Per document of a csv-journal export: total, VAT and {rate: (base, VAT)}, in document terms."""
    out = defaultdict(lambda: {"total": D(0), "vat": D(0), "rates": defaultdict(lambda: [D(0), D(0)])})
    (path,) = folder.glob("journal-*.csv")
    for row in csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"):
        amount = D((row["Debit"] or "0").replace(",", ".")) - D((row["Credit"] or "0").replace(",", "."))
        sign = -1 if row["Document type"] == "credit note" else 1
        doc = out[row["Document number"]]
        if row["Account"] == "400000":
            doc["total"] += sign * amount
        elif row["Account"] == "451000":
            doc["vat"] -= sign * amount
            rate = doc["rates"][D(row["VAT rate"])]
            rate[0] += D(row["VAT base"].replace(",", "."))
            rate[1] -= sign * amount
    return out


def _ubl_amounts(data: bytes) -> dict:
    root = _root(data)
    rates = defaultdict(lambda: [D(0), D(0)])
    for sub in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", NS):
        percent = sub.find("cac:TaxCategory/cbc:Percent", NS)
        rate = rates[D(percent.text) if percent is not None else D(0)]
        rate[0] += D(sub.find("cbc:TaxableAmount", NS).text)
        rate[1] += D(sub.find("cbc:TaxAmount", NS).text)
    return {"total": D(root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS).text),
            "vat": D(root.find("cac:TaxTotal/cbc:TaxAmount", NS).text), "rates": rates}


@pytest.mark.parametrize("settings", [{}, {"rounding": "gross then discount", "vat_booking": "on total"}])
def test_ubl_amounts_equal_the_bookings_to_the_cent(tmp_path, settings):
    book = regimes_workbook(tmp_path / "regimes.xlsx", **settings)
    ubl = export(book, "peppol-bis3", tmp_path / "out")
    journal = export(book, "csv-journal", tmp_path / "out")
    bookings = _bookings(journal.folder)
    assert set(bookings) == {n for n, *_ in INVOICES}  # the journal carries the consumer too
    for path in ubl.folder.iterdir():
        amounts, booked = _ubl_amounts(path.read_bytes()), bookings[path.stem]
        assert amounts["total"] == booked["total"] and amounts["vat"] == booked["vat"], path.stem
        assert {r: tuple(v) for r, v in amounts["rates"].items()} == {r: tuple(v) for r, v in booked["rates"].items()}, path.stem


def test_demo_amounts_equal_the_bookings(demo, tmp_path):
    ubl = export(demo, "peppol-bis3", tmp_path / "out")
    bookings = _bookings(export(demo, "csv-journal", tmp_path / "out").folder)
    for path in ubl.folder.iterdir():
        amounts = _ubl_amounts(path.read_bytes())
        assert (amounts["total"], amounts["vat"]) == (bookings[path.stem]["total"], bookings[path.stem]["vat"]), path.stem


def test_a_plan_to_commit_writes_what_a_shown_plan_writes_without_the_bookings(demo, tmp_path):
    """A plan made only to be committed lets go of the bookings its e-invoices do not show (memory);
    a shown plan (check, preview) keeps them for the preview's totals. The files are the same."""
    shown = plan_export(ExportRequest(demo, package="peppol-bis3", out_dir=tmp_path / "out"))
    committed = plan_export(ExportRequest(demo, package="peppol-bis3", out_dir=tmp_path / "out"), to_commit=True)
    assert shown.status == committed.status == "ready" and len(shown.files) > 30
    assert [(name, bytes(data)) for name, data in committed.files] == [(name, bytes(data)) for name, data in shown.files]
    assert all(d.postings and d.vat_groups and d.revenue_groups for d in shown.documents)
    assert not any(d.postings or d.vat_groups or d.revenue_groups for d in committed.documents)
    assert [d.einvoice for d in committed.documents] == [d.einvoice for d in shown.documents]


def test_an_e_invoice_spec_that_walks_the_postings_gets_them(demo, tmp_path):
    """The export lets go of a document's postings once its e-invoice is prepared only when no
    record of the spec walks them: a spec whose record does still renders every posting."""
    spec = json.loads((specs_dir() / "peppol-bis3.json").read_text(encoding="utf-8"))
    spec["id"] = "peppol-postings"
    spec["files"][0]["records"].insert(3, {"element": "cbc:AccountingCost", "collection": "postings",
                                           "text": {"name": "cbc:AccountingCost", "source": "posting.account"}})
    custom = tmp_path / "peppol-postings.json"
    custom.write_text(json.dumps(spec), encoding="utf-8")
    ubl = export(demo, str(custom), tmp_path / "out", write=False)
    assert ubl.status == "written"
    (journal,) = export(demo, "csv-journal", tmp_path / "out").folder.glob("journal-*.csv")
    accounts = defaultdict(list)
    for row in csv.DictReader(journal.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"):
        accounts[row["Document number"]].append(row["Account"])
    files = sorted(ubl.folder.iterdir())
    assert len(files) > 30
    for path in files:
        assert [note.text for note in _root(path.read_bytes()).iterfind("cbc:AccountingCost", NS)] == accounts[path.stem], path.stem


# ---- two streams -------------------------------------------------------------------------------


def test_the_e_invoice_and_the_bookkeeping_are_two_streams(demo, tmp_path):
    out = tmp_path / "out"
    first = export(demo, "peppol-bis3", out)
    assert first.status == "written" and first.entry["stream"] == "einvoice"
    wb = read_workbook(demo)
    assert {i.number for i in wb.invoices if i.einvoice_in} == set(first.entry["documents"])
    assert not any(i.exported_in for i in wb.invoices)  # an e-invoice is not a booking
    books = export(demo, "winbooks", out)
    assert books.status == "written" and len(books.entry["documents"]) == len(wb.invoices)
    again = export(demo, "peppol-bis3", out)
    assert again.status == "nothing" and "Nothing new to export" in again.message
    assert export(demo, "winbooks", out).status == "nothing"
    wb = read_workbook(demo)
    assert all(i.exported_in == books.entry["id"] for i in wb.invoices)
    assert {i.number for i in wb.invoices if i.einvoice_in == first.entry["id"]} == set(first.entry["documents"])
    entries = Register(out).entries()
    assert [e.get("stream", "bookkeeping") for e in entries] == ["einvoice", "bookkeeping"]


def test_the_register_alone_keeps_the_streams_apart(demo, tmp_path):
    out = tmp_path / "out"
    export(demo, "peppol-bis3", out, write=False)  # the workbook never learns it
    assert export(demo, "peppol-bis3", out).status == "nothing"
    assert len(export(demo, "winbooks", out).entry["documents"]) == 64


# ---- consumers and gaps ------------------------------------------------------------------------


def test_consumers_are_listed_not_written_and_left_open(demo, tmp_path):
    result = export(demo, "peppol-bis3", tmp_path / "out")
    wb = read_workbook(demo)
    persons = {c.customer_id for c in wb.customers if c.kind == "person" and not c.peppol_id}
    consumer_docs = {i.number for i in wb.invoices if i.customer_id in persons}
    listed = {f.message.split(" ")[0] for f in result.findings if f.code == "export.not_written"}
    assert listed == consumer_docs and consumer_docs
    assert "private person" in result.message
    assert not any(i.einvoice_in for i in wb.invoices if i.number in consumer_docs)


def test_a_company_without_a_peppol_address_is_an_error_on_its_cell(demo, tmp_path):
    wb = read_workbook(demo)
    customer = next(c for c in wb.customers if c.customer_id == "C001")
    from toolkit.book.writeback import Edits
    write_back(demo, Edits().set(layout.CUSTOMERS.name, customer.where.row, "vat_number", None))
    result = export(demo, "peppol-bis3", tmp_path / "out")
    assert result.status == "blocked"
    errors = {(f.code, f.sheet, f.cell) for f in result.findings if f.is_error}
    vat_cell = f"{layout.column_letter(layout.CUSTOMERS.keys.index('vat_number'))}{customer.where.row}"
    assert ("einvoice.buyer.endpoint", "Customers", vat_cell) in errors
    assert not (tmp_path / "out").exists() or not any(p.is_dir() for p in (tmp_path / "out").iterdir())


def test_a_missing_iban_and_a_bad_peppol_id_name_their_cells(demo, tmp_path):
    from toolkit.book.writeback import Edits
    wb = read_workbook(demo)
    swiss = next(c for c in wb.customers if c.customer_id == "C010")
    write_back(demo, Edits().set_setting("iban", None).set(layout.CUSTOMERS.name, swiss.where.row, "peppol_id", "9999:CHE1"))
    result = export(demo, "peppol-bis3", tmp_path / "out")
    errors = {(f.code, f.sheet, f.cell) for f in result.findings if f.is_error}
    assert ("einvoice.seller.missing", "Settings", wb.settings.cell("iban").cell("value")) in errors
    peppol_cell = f"{layout.column_letter(layout.CUSTOMERS.keys.index('peppol_id'))}{swiss.where.row}"
    assert ("einvoice.buyer.peppol_id", "Customers", peppol_cell) in errors


def _renumbered(book: Path, old: str, new: str) -> None:
    from toolkit.book.writeback import Edits
    invoice = next(i for i in read_workbook(book).invoices if i.number == old)
    edits = Edits().set(layout.INVOICES.name, invoice.where.row, "number", new)
    for line in invoice.lines:
        edits.set(layout.INVOICE_LINES.name, line.where.row, "invoice_number", new)
    write_back(book, edits)


def test_a_number_with_a_slash_names_its_e_invoice_with_an_underscore(demo, tmp_path):
    """Belgian invoice numbers are often 2026/0008: its e-invoice could not be written (a path
    separator in the file name), so none of such a company's invoices reached Peppol. The file is
    2026_0001.xml (its PDF 2026_0001.pdf is found), the invoice inside still 2026/0001; a number
    whose file name comes out as another's is an error, never a file written over another."""
    from toolkit.book.writeback import Edits
    (tmp_path / "pdfs").mkdir()
    (tmp_path / "pdfs" / "2026_0001.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")  # its PDF, named as its e-invoice
    write_back(demo, Edits().set_setting("pdf_folder", "pdfs"))
    _renumbered(demo, "2026-0001", "2026/0001")
    result = export(demo, "peppol-bis3", tmp_path / "out")
    assert result.status == "written"
    data = (result.folder / "2026_0001.xml").read_bytes()
    root = _root(data)
    assert root.find("cbc:ID", NS).text == "2026/0001" and fatal(data) == []
    attached = root.find("cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
    assert attached.get("filename") == "2026_0001.pdf"

    other = tmp_path / "other.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", other)
    _renumbered(other, "2026-0001", "2026/0001")
    _renumbered(other, "2026-0002", "2026_0001")
    result = export(other, "peppol-bis3", tmp_path / "other-out")
    assert result.status != "written" and not (tmp_path / "other-out").exists()
    assert any(f.code == "file.name" and "two files would be named '2026_0001.xml'" in f.message for f in result.findings)


def test_pdfs_are_embedded_and_the_missing_ones_listed(demo, tmp_path):
    from toolkit.book.writeback import Edits
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    pdf = b"%PDF-1.4\n% a tiny stand-in\n%%EOF\n"
    (pdfs / "2026-0001.pdf").write_bytes(pdf)
    write_back(demo, Edits().set_setting("pdf_folder", "pdfs"))
    result = export(demo, "peppol-bis3", tmp_path / "out")
    root = _root((result.folder / "2026-0001.xml").read_bytes())
    embedded = root.find("cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
    import base64
    assert base64.b64decode(embedded.text) == pdf and embedded.get("filename") == "2026-0001.pdf"
    assert fatal((result.folder / "2026-0001.xml").read_bytes()) == []
    (missing,) = [f for f in result.findings if f.code == "einvoice.pdf.missing"]
    assert "2026-0002" in missing.message and "2026-0001," not in missing.message


def test_a_file_that_is_not_a_pdf_is_not_attached_and_said(demo, tmp_path):
    """An empty file or a renamed document was embedded as the invoice's PDF without a word."""
    from toolkit.book.writeback import Edits
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    (pdfs / "2026-0001.pdf").write_bytes(b"")
    (pdfs / "2026-0002.pdf").write_bytes(b"PK\x03\x04 a Word file renamed")
    (pdfs / "2026-0003.pdf").write_bytes(b"%PDF-1.7\n%%EOF\n")
    write_back(demo, Edits().set_setting("pdf_folder", "pdfs"))
    result = export(demo, "peppol-bis3", tmp_path / "out")
    attached = {name: _root((result.folder / f"{name}.xml").read_bytes()).find(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS) is not None
        for name in ("2026-0001", "2026-0002", "2026-0003")}
    assert attached == {"2026-0001": False, "2026-0002": False, "2026-0003": True}
    (said,) = [f for f in result.findings if f.code == "einvoice.pdf.missing"]
    assert "2026-0001.pdf, 2026-0002.pdf in" in said.message and "not a PDF" in said.message
    assert "No PDF in" in said.message and "2026-0004" in said.message  # the missing ones, in the same finding


def test_a_pdf_named_in_another_case_is_found_and_nothing_outside_the_folder(demo, tmp_path):
    """`2026-0002.PDF` (as some PDF printers name them) was not found on a case-sensitive file
    system, so its e-invoice went without it; only files of the folder itself are looked at."""
    import base64

    from toolkit.book.writeback import Edits
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    (pdfs / "2026-0002.PDF").write_bytes(b"%PDF-1.4\n% upper case\n%%EOF\n")
    (pdfs / "2026-0003.pdf").mkdir()  # a folder so named is no PDF
    write_back(demo, Edits().set_setting("pdf_folder", "pdfs"))
    result = export(demo, "peppol-bis3", tmp_path / "out")
    embedded = _root((result.folder / "2026-0002.xml").read_bytes()).find(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
    assert embedded.get("filename") == "2026-0002.PDF" and base64.b64decode(embedded.text).endswith(b"upper case\n%%EOF\n")
    (missing,) = [f for f in result.findings if f.code == "einvoice.pdf.missing"]
    assert "2026-0003" in missing.message and "2026-0002," not in missing.message


# ---- the bundle for the accountant -------------------------------------------------------------


@pytest.mark.parametrize("package", ["winbooks", "peppol-bis3"])
def test_export_zip_bundles_the_files_flat_with_its_hash_in_the_register(demo, tmp_path, package):
    import hashlib
    import zipfile

    from toolkit.book.writeback import Edits
    from toolkit.cli import main

    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    (pdfs / "2026-0001.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    write_back(demo, Edits().set_setting("pdf_folder", str(pdfs)))
    out = tmp_path / "out"
    assert main(["export", str(demo), "--package", package, "--out", str(out), "--zip", "--no-write-back"]) == 0
    (entry,) = Register(out).entries()
    folder = out / entry["id"]
    bundle = folder / f"{entry['id']}.zip"
    assert entry["zip"] == bundle.name
    assert entry["files"][bundle.name] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        others = sorted(p.name for p in folder.iterdir() if p != bundle)
        expected = others + (["2026-0001.pdf"] if package == "peppol-bis3" else [])
        assert sorted(names) == sorted(expected) and all("/" not in n for n in names)
        for name in others:
            assert z.read(name) == (folder / name).read_bytes()
    # re-created on purpose: the same bundle, byte for byte
    assert main(["export", str(demo), "--again", entry["id"], "--out", str(out), "--no-write-back"]) == 0
    again = out / f"{entry['id']}-again" / bundle.name
    assert again.read_bytes() == bundle.read_bytes()


def test_the_bundle_carries_the_pdfs_the_e_invoices_carry_not_a_refused_file(demo, tmp_path):
    """The bundle read the PDF folder again: an empty file the e-invoice refused as no PDF went in."""
    import zipfile

    from toolkit.book.writeback import Edits
    from toolkit.cli import main

    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    (pdfs / "2026-0001.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (pdfs / "2026-0002.pdf").write_bytes(b"")
    write_back(demo, Edits().set_setting("pdf_folder", str(pdfs)))
    out = tmp_path / "out"
    assert main(["export", str(demo), "--package", "peppol-bis3", "--out", str(out), "--zip", "--no-write-back"]) == 0
    (entry,) = Register(out).entries()
    with zipfile.ZipFile(out / entry["id"] / f"{entry['id']}.zip") as z:
        assert z.read("2026-0001.pdf") == b"%PDF-1.4\n%%EOF\n" and "2026-0002.pdf" not in z.namelist()
