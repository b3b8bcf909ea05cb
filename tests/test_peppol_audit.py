"""An audit of the Peppol BIS 3 e-invoices, written from the published rules, not from the code.

Every e-invoice written here is checked three ways: the OASIS UBL 2.1 schema (tests/peppol/ubl-2.1,
run with xmlschema), both official rule sets (CEN EN 16931 and Peppol 2026.5, run with saxonche),
and its amounts against a Decimal computation of this file's own (docs/rounding.md, step by step):
line nets, allowances, the VAT breakdown per category and rate, the tax exclusive, inclusive and
payable amounts. A workbook the network would reject must not give a file: it gives a finding that
names the cell and says what to do.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from toolkit import layout, sample
from toolkit.app.export import ExportRequest, run_export
from toolkit.book import template
from toolkit.peppol.validate import validate_bytes

UBL = Path(__file__).parent / "peppol" / "ubl-2.1" / "maindoc"
NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
      "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
CENT = D("0.01")

# ---- the validators ----------------------------------------------------------------------------


@functools.cache
def _schema(root: str):
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(UBL / f"UBL-{root}-2.1.xsd"))


def schema_errors(data: bytes) -> list[str]:
    root = ET.fromstring(data).tag.split("}")[1]
    return [f"{e.path}: {e.reason}" for e in _schema(root).iter_errors(data.decode("utf-8"))]


def rejections(data: bytes) -> list[str]:
    """Why the network would refuse the file: schema errors and fatal asserts of both rule sets."""
    return schema_errors(data) + [f"{a.id}: {a.text} ({a.location})" for a in validate_bytes(data) if a.fatal]


# ---- a workbook of the cases at hand -----------------------------------------------------------

RULES = [(D(21), "domestic", "700000"), (D(12), "domestic", "700120"), (D(6), "domestic", "700060"),
         (D(0), "domestic", "700010"), (D(0), "intra-EU goods", "700300"), (D(0), "intra-EU services", "700300"),
         (D(0), "reverse charge", "700600"), (D(0), "export", "700500"), (D(0), "export services", "700500"),
         (D(0), "exempt", "700010"), (D(0), "not subject", "700010")]
ACCOUNT = {(rate, regime): account for rate, regime, account in RULES}
BE = dict(vat_number="BE0405178106", country="BE")


def customer(cid: str, name: str = "Brouwerij NV", kind: str = "company", **fields) -> dict:
    record = {"customer_id": cid, "name": name, "kind": kind, "vat_number": None, "street": "Markt 1",
              "postal_code": "1000", "city": "Brussel", "country": "BE", "payment_terms": 30, "peppol_id": None,
              "language": "NL"}
    record.update(fields)
    return record


def line(qty, price, rate=21, regime="domestic", discount=None, text="Item") -> dict:
    return {"quantity": D(qty), "unit_price": D(price), "vat_rate": D(rate), "vat_regime": regime,
            "discount_pct": D(discount) if discount else None, "description": text}


def invoice(number: str, customer_id: str, lines: list[dict], doc_type: str = "invoice", **fields) -> dict:
    record = {"number": number, "doc_type": doc_type, "date": dt.date(2026, 2, 2), "customer_id": customer_id,
              "currency": "EUR", "description": f"Document {number}", "discount_pct": None, "credited_invoice": None,
              "due_date": dt.date(2026, 3, 4), "lines": lines}
    record.update(fields)
    if record["discount_pct"] is not None:
        record["discount_pct"] = D(record["discount_pct"])
    return record


def workbook(path: Path, customers: list[dict], invoices: list[dict], **settings) -> Path:
    base, records = sample._demo_records()
    base.update({"period_from": None, "period_to": None})
    base.update(settings)
    rows = []
    for inv in invoices:
        for n, item in enumerate(inv["lines"], 1):
            rows.append({"invoice_number": inv["number"], "line": n, "ledger_account": ACCOUNT.get((item["vat_rate"], item["vat_regime"]), "700000"),
                         "account_source": "manual", **item})
    records.update({layout.CUSTOMERS.name: customers,
                    layout.VAT_RULES.name: [{"rate": r, "regime": g, "revenue_account": a} for r, g, a in RULES],
                    layout.INVOICES.name: [{k: v for k, v in inv.items() if k != "lines"} for inv in invoices],
                    layout.INVOICE_LINES.name: rows})
    tables = {sheet.name: sample._rows(sheet, records.get(sheet.name, [])) for sheet in layout.TABLE_SHEETS}
    return template.save_template(path, {**tables, layout.SETTINGS_SHEET: base})


def export(tmp_path: Path, customers, invoices, **settings):
    tmp_path.mkdir(parents=True, exist_ok=True)
    book = workbook(tmp_path / "book.xlsx", customers, invoices, **settings)
    return run_export(ExportRequest(book, package="peppol-bis3", out_dir=tmp_path / "out"))


def errors(result) -> list[tuple[str, str, str, str]]:
    return [(f.code, f.sheet, f.cell, f.message) for f in result.findings if f.is_error]


# ---- the amounts, worked out independently (docs/rounding.md) ----------------------------------


def r2(x: D) -> D:
    return x.quantize(CENT, ROUND_HALF_UP)


def _share(total: D, weights: list[D]) -> list[D]:
    """`total` over `weights` in proportion: each rounded down (a return line's share too, below
    zero), the missing cents to the largest remainders (the first on a tie)."""
    whole = sum(weights)
    if not whole:
        return [D(0)] * len(weights)
    exact = [total * w / whole for w in weights]
    shares = [e.quantize(CENT, ROUND_FLOOR) for e in exact]
    left = int((total - sum(shares)) / CENT)
    for i in sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))[:left]:
        shares[i] += CENT
    return shares


CATEGORY = {"intra-EU goods": "K", "intra-EU services": "AE", "reverse charge": "AE", "export": "G",
            "export services": "G", "exempt": "E", "not subject": "O"}


def expected(inv: dict, rounding: str = "line net once", vat_booking: str = "on lines") -> dict:
    """What the e-invoice must say, in the document's own terms (a credit note typed negative is a
    credit all the same: its amounts are positive)."""
    lines = inv["lines"]
    sign = 1
    if inv["doc_type"] == "credit note" and all(l["quantity"] * l["unit_price"] <= 0 for l in lines):
        sign = -1
    nets, gross, discounts = [], [], []
    for l in lines:
        amount = sign * l["quantity"] * l["unit_price"]
        pct = l["discount_pct"] or D(0)
        g = r2(amount)
        n = r2(amount * (1 - pct / 100)) if rounding == "line net once" else g - r2(g * pct / 100)
        gross.append(g), nets.append(n), discounts.append(g - n)
    groups = defaultdict(list)  # (rate, regime) -> line indexes
    for i, l in enumerate(lines):
        groups[(l["vat_rate"], l["vat_regime"] or "domestic")].append(i)
    taxable = list(nets)
    allowance = {}
    pct = inv["discount_pct"] or D(0)
    for key, idx in groups.items():
        cut = r2(sum(nets[i] for i in idx) * pct / 100)
        allowance[key] = cut
        for i, share in zip(idx, _share(cut, [nets[i] for i in idx])):
            taxable[i] -= share
    vat = {}
    for (rate, regime), idx in groups.items():
        if vat_booking == "on lines":
            vat[(rate, regime)] = sum((r2(taxable[i] * rate / 100) for i in idx), D(0))
        else:
            vat[(rate, regime)] = r2(sum(taxable[i] for i in idx) * rate / 100)
    subtotals = defaultdict(lambda: [D(0), D(0)])  # (category, rate) -> [taxable, VAT]
    allowances = defaultdict(lambda: D(0))
    for (rate, regime), idx in groups.items():
        code = CATEGORY.get(regime) or ("S" if rate else "Z")
        subtotals[(code, rate)][0] += sum(taxable[i] for i in idx)
        subtotals[(code, rate)][1] += vat[(rate, regime)]
        allowances[(code, rate)] += allowance[(rate, regime)]
    line_total = sum(nets, D(0))
    allowance_total = sum(allowances.values(), D(0))
    exclusive = line_total - allowance_total
    tax = sum(v for _, v in subtotals.values())
    return {"lines": nets, "gross": gross, "discounts": discounts, "line_total": line_total,
            "allowance_total": allowance_total, "allowances": dict(allowances), "exclusive": exclusive,
            "tax": tax, "inclusive": exclusive + tax, "payable": exclusive + tax,
            "subtotals": {k: tuple(v) for k, v in subtotals.items()}}


def amounts(data: bytes) -> dict:
    """The same figures as the e-invoice states them."""
    root = ET.fromstring(data)
    total = root.find("cac:LegalMonetaryTotal", NS)

    def money(node, path, default=None):
        found = node.find(path, NS)
        return D(found.text) if found is not None else default

    subtotals = {}
    for sub in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", NS):
        code = sub.find("cac:TaxCategory/cbc:ID", NS).text
        percent = sub.find("cac:TaxCategory/cbc:Percent", NS)
        subtotals[(code, D(percent.text) if percent is not None else D(0))] = (
            D(sub.find("cbc:TaxableAmount", NS).text), D(sub.find("cbc:TaxAmount", NS).text))
    allowances = defaultdict(lambda: D(0))
    for charge in root.iterfind("cac:AllowanceCharge", NS):
        code = charge.find("cac:TaxCategory/cbc:ID", NS).text
        percent = charge.find("cac:TaxCategory/cbc:Percent", NS)
        allowances[(code, D(percent.text) if percent is not None else D(0))] += D(charge.find("cbc:Amount", NS).text)
    lines = [D(l.find("cbc:LineExtensionAmount", NS).text) for l in root if l.tag.endswith("Line")]
    return {"lines": lines, "line_total": money(total, "cbc:LineExtensionAmount"),
            "allowance_total": money(total, "cbc:AllowanceTotalAmount", D(0)), "allowances": dict(allowances),
            "exclusive": money(total, "cbc:TaxExclusiveAmount"), "tax": money(root, "cac:TaxTotal/cbc:TaxAmount"),
            "inclusive": money(total, "cbc:TaxInclusiveAmount"), "payable": money(total, "cbc:PayableAmount"),
            "subtotals": subtotals}


def assert_sound(data: bytes, inv: dict, **settings) -> ET.Element:
    """Schema and both rule sets pass, and the amounts are the independent ones."""
    assert rejections(data) == [], inv["number"]
    want, got = expected(inv, **settings), amounts(data)
    want = {k: v for k, v in want.items() if k in got}
    want["allowances"] = {k: v for k, v in want["allowances"].items() if v}
    assert got == want, inv["number"]
    return ET.fromstring(data)


def written(result, inv: dict) -> bytes:
    from toolkit.spec.text import name_part
    return (result.folder / f"{name_part(inv['number'])}.xml").read_bytes()


# ---- every case an accountant in Belgium meets, in one workbook ---------------------------------

NAME = "Smith & Sons <Ltd> \"quoted\" 'apos' 😀 𝔘𝔫𝔦 中文 Łódź — € ]]> &amp;"
LONG = "Zeer lange omschrijving & <meer> 😀 " * 400
CUSTOMERS = [
    customer("B1", NAME, **BE, phone="+32 50 12 34 56", email="a&b@example.be"),
    customer("B2", "Kaal BV", vat_number="BE0458402105", street=None, postal_code=None, city=None, country=None),
    customer("N1", "Ontwerp BV", vat_number="NL004495445B01", country="NL"),
    customer("D1", "Druckerei GmbH", vat_number="DE136695976", country="DE"),
    customer("U1", "ACME Inc", country="US", peppol_id="0088:5790000435968"),  # a GLN
    customer("V1", "Vzw Kompas", peppol_id="0208:0418.758.502"),  # no VAT number: its enterprise number
    customer("T1", "Brouwerij per btw-nummer", peppol_id="9925:BE0405178106"),
    customer("S1", "Alpine AG", country="CH", peppol_id="0183:CHE116281710"),
    customer("P1", "Jan Peeters", kind="person"),
    customer("P2", "Eva Maes", kind="person", peppol_id="0208:0403170701"),  # a sole trader on Peppol
]
CASES = [
    # several rates, line discounts, prices of more than two decimals, a line of 0.01
    invoice("F01", "B1", [line("3", "0.335"), line("7.5", "12.25", discount="2.5"), line("1", "99.99", 6, discount="10"),
                          line("2", "15.005", 0), line("1", "0.01", 12)], payment_reference="+++090/9337/55493+++"),
    # an invoice discount over 21, 12, 6 and 0 % at once, on discounted lines
    invoice("F02", "B1", [line("12.25", "1.99", discount="5"), line("1", "1000"), line("3", "33.33", 6, discount="2.5"),
                          line("1", "19.99", 0), line("2", "7.77", 12)], discount_pct="3"),
    invoice("F03", "B1", [line("5", "100"), line("-1", "100", text="Return")]),  # a return on an invoice
    invoice("F04", "B1", [line("5", "100"), line("1", "-100", text="Return typed on the price")]),
    invoice("F04b", "B1", [line("-2", "10", discount="10"), line("3", "33.335", discount="33.3333")], discount_pct="7.77"),
    invoice("F05", "N1", [line("4", "250", 0, "intra-EU goods", "10"), line("1", "1200", 0, "intra-EU goods")]),  # K
    invoice("F06", "N1", [line("10", "95.5", 0, "intra-EU services")], discount_pct="2.5"),  # AE, intra-EU
    invoice("F07", "B1", [line("1", "4200", 0, "reverse charge"), line("2", "150.15")]),  # AE, Belgian (medecontractant)
    invoice("F08", "U1", [line("3", "1666.67", 0, "export"), line("1", "999.99", 0, "export services")], discount_pct="5"),
    invoice("F09", "D1", [line("1", "800", 0, "exempt")]),  # E
    invoice("F10", "B1", [line("1", "50", 0, "not subject")]),  # O
    invoice("F11", "B1", [line("1", "100", 0, "exempt"), line("2", "10", 6), line("1", "5", 0, "reverse charge"),
                          line("1", "7", 0)], discount_pct="10"),  # E, S, AE and Z with an invoice discount
    invoice("F12", "N1", [line("1", "100", 0, "intra-EU goods"), line("1", "100", 0, "intra-EU services"), line("1", "10", 21)]),
    invoice("F13", "B1", [line("3", "10", 21, discount="100"), line("1", "10")]),  # a line given away
    invoice("F14", "B1", [line("1.123456", "3.141592"), line("1000000", "1234.5678", 6)]),  # over a billion
    invoice("F15", "B1", [line("1", "100", text=LONG), line("2", "3.5", text=NAME)], description=NAME + LONG, buyer_reference=NAME),
    invoice("F16", "B2", [line("1", "100", text=None)], description=None, due_date=None),  # no address, no text, no due date
    invoice("2026/0017", "V1", [line("1", "100")]),
    invoice("F18", "T1", [line("1", "100")], buyer_reference="PO-4711"),
    invoice("F19", "S1", [line("1", "100", 0, "export services")]),
    invoice("F20", "P1", [line("1", "100")]),  # a consumer: left for another package
    invoice("F21", "P2", [line("1", "100"), line("-1", "20")]),
    invoice("C01", "B1", [line("1", "36.67")], doc_type="credit note", credited_invoice="F01"),
    invoice("C02", "B1", [line("-2", "12.345"), line("-1", "9.99", 6)], doc_type="credit note", credited_invoice="F02",
            discount_pct="3"),  # typed negative
    invoice("C03", "N1", [line("1", "250", 0, "intra-EU goods", "10")], doc_type="credit note", credited_invoice="F05"),
    invoice("C04", "B1", [line("1", "-50")], doc_type="credit note", credited_invoice="F03"),  # negative by its price
    invoice("C05", "D1", [line("1", "100", 0, "exempt")], doc_type="credit note", credited_invoice="F09"),
]
CONSUMERS = {"F20"}
SETTINGS = [{}, {"rounding": "gross then discount"}, {"vat_booking": "on total"},
            {"rounding": "gross then discount", "vat_booking": "on total", "discount_account": None}]


@pytest.mark.parametrize("settings", SETTINGS, ids=["line-net-once", "gross-then-discount", "vat-on-total", "both-booked-net"])
def test_every_case_passes_the_schema_both_rule_sets_and_the_independent_amounts(tmp_path, settings):
    result = export(tmp_path, CUSTOMERS, CASES, **settings)
    assert result.status == "written", errors(result)
    names = sorted(p.name for p in result.folder.iterdir())
    assert len(names) == len(CASES) - len(CONSUMERS)
    money = {k: v for k, v in settings.items() if k in ("rounding", "vat_booking")}
    roots = {inv["number"]: assert_sound(written(result, inv), inv, **money) for inv in CASES if inv["number"] not in CONSUMERS}

    categories = {c.text for root in roots.values() for c in root.iterfind(".//cac:TaxSubtotal/cac:TaxCategory/cbc:ID", NS)}
    assert categories == {"S", "Z", "E", "AE", "K", "G", "O"}
    for number in ("C01", "C02", "C03", "C04", "C05"):  # credit notes, however typed: a CreditNote crediting its invoice
        root = roots[number]
        assert root.tag.endswith("}CreditNote") and root.find("cbc:CreditNoteTypeCode", NS).text == "381"
        credited = next(inv["credited_invoice"] for inv in CASES if inv["number"] == number)
        assert root.find("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", NS).text == credited
        assert all(D(q.text) > 0 for q in root.iterfind("cac:CreditNoteLine/cbc:CreditedQuantity", NS))
        assert all(D(p.text) > 0 for p in root.iterfind(".//cac:Price/cbc:PriceAmount", NS))
    for number, reason in (("F09", None), ("C05", None)):  # E: the reason an exemption needs (BR-E-10)
        sub = roots[number].find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
        assert sub.find("cbc:TaxExemptionReason", NS) is not None or sub.find("cbc:TaxExemptionReasonCode", NS) is not None
    ic = roots["F05"]  # K: delivered on the invoice date to the buyer's country (BR-IC-11, BR-IC-12)
    assert ic.find("cac:Delivery/cbc:ActualDeliveryDate", NS).text == "2026-02-02"
    assert ic.find("cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode", NS).text == "NL"
    assert ic.find("cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID", NS).text == "NL004495445B01"
    o = roots["F10"]  # O: no VAT numbers at all (BR-O-02, BR-O-03)
    assert o.find(".//cac:PartyTaxScheme", NS) is None
    buyer = {n: roots[n].find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS) for n in ("2026/0017", "F18", "F08", "F21")}
    assert {n: (e.get("schemeID"), e.text) for n, e in buyer.items()} == {
        "2026/0017": ("0208", "0418758502"), "F18": ("9925", "BE0405178106"), "F08": ("0088", "5790000435968"),
        "F21": ("0208", "0403170701")}
    assert roots["F18"].find("cbc:BuyerReference", NS).text == "PO-4711"
    assert roots["F01"].find("cac:PaymentMeans/cbc:PaymentID", NS).text == "+++090/9337/55493+++"
    assert roots["F15"].find("cac:InvoiceLine[2]/cac:Item/cbc:Name", NS).text == NAME
    assert roots["F16"].find("cbc:DueDate", NS).text == "2026-03-04"  # empty: date + the customer's 30 days
    (consumer,) = [f for f in result.findings if f.code == "export.not_written"]
    assert consumer.message.startswith("F20 ") and "private person" in consumer.message


def test_999_lines_of_half_a_cent_of_vat(tmp_path):
    """On lines, 999 x 0.105 rounds to 999 x 0.11 = 109.89, which BR-CO-17 refuses against 499.50 x 21 %:
    an error naming the invoice and the setting; on total, a valid e-invoice."""
    case = invoice("F1", "B1", [line("1", "0.50", text=f"Kopie {i}") for i in range(999)])
    result = export(tmp_path / "lines", [customer("B1", **BE)], [case])
    assert result.status == "blocked"
    ((code, sheet, cell, message),) = errors(result)
    assert (code, sheet, cell) == ("einvoice.vat.tolerance", "Invoices", "A2") and "'VAT booking' to 'on total'" in message
    result = export(tmp_path / "total", [customer("B1", **BE)], [case], vat_booking="on total")
    assert result.status == "written"
    assert_sound(written(result, case), case, vat_booking="on total")


@pytest.mark.parametrize("settings, cell, text", [
    ({"iban": None}, "B9", "fill in 'IBAN'"),
    ({"iban": "BE68539007547035"}, "B9", "not a valid IBAN"),
    ({"company_address": None}, "B6", "fill in 'Company address'"),
    ({"company_city": None}, "B8", "fill in 'Company city'"),
    ({"company_postal_code": None}, "B7", "fill in 'Company postal code'"),
    ({"company_enterprise_number": "0477.472.702"}, "B5", "not a valid Belgian enterprise number"),
    ({"company_vat": None, "company_enterprise_number": None}, "B5", "fill in 'Company enterprise number'"),
])
def test_the_sellers_missing_pieces_name_their_settings_cell(tmp_path, settings, cell, text):
    result = export(tmp_path, [customer("B1", **BE)], [invoice("F1", "B1", [line("1", "100")])], **settings)
    assert result.status == "blocked" and not (tmp_path / "out").exists()
    assert [(code, sheet, c) for code, sheet, c, _ in errors(result)][0][1:] == ("Settings", cell)
    assert any(text in message for *_, message in errors(result))


@pytest.mark.parametrize("fields, code, column", [
    ({"currency": "USD"}, "invoice.currency.unsupported", "H"),
    ({"lines": [line("1", "0")]}, "document.zero", "A"),
    ({"lines": [line("1", "50"), line("-1", "80")]}, "invoice.total.negative", "B"),
    ({"lines": [line("1", "50"), line("1", "50", 0, "not subject")]}, "einvoice.category.mixed", "A"),  # BR-O-11
])
def test_what_no_e_invoice_can_say_is_a_finding_on_its_cell(tmp_path, fields, code, column):
    case = invoice("F1", "B1", fields.pop("lines", [line("1", "100")]), **fields)
    result = export(tmp_path, [customer("B1", **BE)], [case])
    assert result.status == "blocked"
    assert [(c, sheet, cell) for c, sheet, cell, _ in errors(result)] == [(code, "Invoices", f"{column}2")]


def test_pdfs_attached_missing_or_refused_are_said(tmp_path):
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    big = b"%PDF-1.7\n" + bytes(range(256)) * 12_000 + b"\n%%EOF\n"  # 3 MB
    (pdfs / "F1.pdf").write_bytes(big)
    (pdfs / "F2.pdf").write_bytes(b"<html>a web page saved as .pdf</html>")
    (pdfs / "F3.pdf").write_bytes(b"")
    (pdfs / "2026_0005.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")  # the PDF of 2026/0005, named as its e-invoice
    cases = [invoice(n, "B1", [line("1", "100")]) for n in ("F1", "F2", "F3", "F4", "2026/0005")]
    result = export(tmp_path, [customer("B1", **BE)], cases, pdf_folder=str(pdfs))
    assert result.status == "written"
    attached = {}
    for case in cases:
        root = assert_sound(written(result, case), case)
        node = root.find("cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
        attached[case["number"]] = None if node is None else (node.get("filename"), node.get("mimeCode"), base64.b64decode(node.text))
    assert attached == {"F1": ("F1.pdf", "application/pdf", big), "F2": None, "F3": None, "F4": None,
                        "2026/0005": ("2026_0005.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n")}
    (said,) = [f for f in result.findings if f.code == "einvoice.pdf.missing"]
    assert (said.sheet, said.cell) == ("Settings", "B25")
    assert "for 1 document(s): F4." in said.message and "F2.pdf, F3.pdf in" in said.message and "not a PDF" in said.message


def test_the_schema_checks_what_the_rules_do_not():
    """The OpenPeppol examples are valid UBL 2.1; an element out of its order is not, though the
    Schematron rules do not notice."""
    examples = sorted((Path(__file__).parent / "peppol" / "examples").glob("*.xml"))
    assert len(examples) == 7 and all(schema_errors(p.read_bytes()) == [] for p in examples)
    text = (Path(__file__).parent / "peppol" / "examples" / "base-example.xml").read_text(encoding="utf-8")
    due = text[text.index("<cbc:DueDate>"):text.index("</cbc:DueDate>") + len("</cbc:DueDate>")]
    moved = text.replace(due, "", 1).replace("</cbc:InvoiceTypeCode>", "</cbc:InvoiceTypeCode>" + due, 1)
    assert schema_errors(moved.encode("utf-8")) and not [a for a in validate_bytes(moved.encode("utf-8")) if a.fatal]


# ---- defects found by this audit ---------------------------------------------------------------

PEPPOL_ID_COLUMN = layout.column_letter(layout.CUSTOMERS.keys.index("peppol_id"))


@pytest.mark.parametrize("peppol_id", [
    "0088:5790000435969",  # GLN with a wrong check digit (PEPPOL-COMMON-R040)
    "0192:123456789",  # Norwegian organisation number failing mod 11 (R041)
    "0184:1234",  # Danish CVR: 8 digits, with or without DK (R042)
    "0096:12345",  # Danish P number: 10 digits (R052)
    "0198:12345678",  # Danish SE number: DK and 8 digits (R053)
    "0007:1234567890",  # Swedish organisation number failing Luhn (R049)
    "0151:12345678901",  # Australian Business Number failing mod 89 (R050)
])
def test_a_peppol_id_the_network_refuses_is_an_error_on_its_cell_not_a_file(tmp_path, peppol_id):
    """These schemes' identifiers are checked by fatal Peppol rules; a typed one that fails them
    gave an e-invoice every access point rejects."""
    result = export(tmp_path, [customer("X1", "Buyer", country="DK", peppol_id=peppol_id)],
                    [invoice("F1", "X1", [line("1", "100")])])
    assert result.status == "blocked" and not (tmp_path / "out").exists()
    ((code, sheet, cell, message),) = errors(result)
    assert (code, sheet, cell) == ("einvoice.buyer.peppol_id", "Customers", f"{PEPPOL_ID_COLUMN}2")
    assert repr(peppol_id) in message


@pytest.mark.parametrize("peppol_id", ["0088:5790000435968", "0192:974760673", "0184:DK12345678", "0184:12345678",
                                       "0096:1234567890", "0198:DK12345678", "0007:5561888404", "0151:51824753556"])
def test_the_same_schemes_well_formed_are_written_and_pass(tmp_path, peppol_id):
    case = invoice("F1", "X1", [line("1", "100")])
    result = export(tmp_path, [customer("X1", "Buyer", vat_number="BE0405178106", peppol_id=peppol_id)], [case])
    assert result.status == "written", errors(result)
    root = assert_sound(written(result, case), case)
    endpoint = root.find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert f"{endpoint.get('schemeID')}:{endpoint.text}" == peppol_id


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["0007", "0088", "0096", "0151", "0184", "0192", "0198", "0208"]),
       st.one_of(st.from_regex(r"(DK)?[0-9]{7,13}", fullmatch=True), st.integers(0, 10**13).map(str)))
def test_the_identifier_checks_agree_with_the_official_rules(scheme, ident):
    """A typed Peppol ID is refused exactly when the official rules would refuse its e-invoice."""
    from toolkit.peppol.identifiers import parse_peppol_id
    endpoint = parse_peppol_id(f"{scheme}:{ident}")
    text = (Path(__file__).parent / "peppol" / "examples" / "base-example.xml").read_text(encoding="utf-8")
    data = text.replace('<cbc:EndpointID schemeID="0002">FR23342</cbc:EndpointID>',  # as the e-invoice would say it
                        f'<cbc:EndpointID schemeID="{scheme}">{endpoint.id if endpoint else ident}</cbc:EndpointID>')
    refused = [a.id for a in validate_bytes(data.encode("utf-8")) if a.fatal]
    if scheme == "0208" and endpoint is None and not refused:  # stricter on purpose: enterprise numbers start 0 or 1
        assert ident.zfill(10)[0] not in "01"
        return
    assert (endpoint is None) == bool(refused), refused


def test_a_seller_without_a_vat_number_is_an_error_on_its_cell_for_documents_with_vat(tmp_path):
    """With 'Company VAT number' empty (the enterprise number filled), every e-invoice with VAT lines
    was written and rejected: BR-S-02, BR-Z-02, BR-E-02, BR-AE-02, BR-IC-02, BR-G-02 want the
    seller's VAT number. Only 'not subject' documents carry none (BR-O-02)."""
    people = [customer("B1", **BE), customer("N1", "Ontwerp BV", vat_number="NL004495445B01", country="NL"),
              customer("U1", "ACME", country="US", peppol_id="0088:5790000435968")]
    cases = [invoice("F1", "B1", [line("1", "100")]), invoice("F2", "B1", [line("1", "100", 0)]),
             invoice("F3", "B1", [line("1", "100", 0, "exempt")]), invoice("F4", "B1", [line("1", "100", 0, "reverse charge")]),
             invoice("F5", "N1", [line("1", "100", 0, "intra-EU goods")]), invoice("F6", "U1", [line("1", "100", 0, "export")]),
             invoice("F7", "B1", [line("1", "100", 0, "not subject")])]
    result = export(tmp_path / "all", people, cases, company_vat=None, company_enterprise_number="0477.472.701")
    assert result.status == "blocked" and not (tmp_path / "all" / "out").exists()
    ((code, sheet, cell, message),) = errors(result)
    assert (code, sheet, cell) == ("einvoice.seller.missing", "Settings", "B3")
    assert "fill in 'Company VAT number'" in message and "F1, F2, F3, F4, F5, F6" in message and "F7" not in message
    result = export(tmp_path / "o", people, cases[-1:], company_vat=None, company_enterprise_number="0477.472.701")
    assert result.status == "written", errors(result)
    assert_sound(written(result, cases[-1]), cases[-1])


COUNTRY_COLUMN = layout.column_letter(layout.CUSTOMERS.keys.index("country"))


def test_a_buyer_with_no_country_typed_is_in_the_country_of_its_vat_number(tmp_path):
    """An empty Country was the company's (BE) even beside a Dutch or Greek VAT number: the
    e-invoice of an intra-EU supply said the goods were delivered in Belgium, to a Belgian buyer."""
    people = [customer("N1", "Ontwerp BV", vat_number="NL004495445B01", country=None),
              customer("G1", "Ekdoseis AE", vat_number="EL094259216", country=None)]
    cases = [invoice("F1", "N1", [line("1", "100", 0, "intra-EU goods")]),
             invoice("F2", "G1", [line("1", "100", 0, "intra-EU services")])]
    result = export(tmp_path, people, cases)
    assert result.status == "written", errors(result)
    countries = {}
    for case in cases:
        root = assert_sound(written(result, case), case)
        countries[case["number"]] = [c.text for c in root.iterfind(".//cac:Country/cbc:IdentificationCode", NS)]
    assert countries == {"F1": ["BE", "NL", "NL"], "F2": ["BE", "GR"]}  # seller, buyer, (K) delivered to


@pytest.mark.parametrize("country", ["UK", "EL"])
def test_a_country_code_outside_iso_3166_is_an_error_on_its_cell(tmp_path, country):
    """'UK' and 'EL' (Greece's VAT prefix) passed the check as two letters; BR-CL-14 rejected the file."""
    result = export(tmp_path, [customer("C1", "Buyer Ltd", country=country, peppol_id="0088:5790000435968")],
                    [invoice("F1", "C1", [line("1", "100", 0, "export services")])])
    assert result.status == "blocked" and not (tmp_path / "out").exists()
    ((code, sheet, cell, message),) = errors(result)
    assert (code, sheet, cell) == ("customer.country.invalid", "Customers", f"{COUNTRY_COLUMN}2")
    assert {"UK": "GB", "EL": "GR"}[country] in message


def test_a_person_with_a_vat_number_is_a_business_on_peppol(tmp_path):
    """A sole trader typed as kind 'person' with a VAT number was left out as 'a private person', though
    Belgian B2B e-invoicing covers every VAT-registered customer; a person without one still is left out."""
    people = [customer("P3", "Piet Peeters", kind="person", vat_number="BE0458402105"), customer("P1", "Jan Peeters", kind="person")]
    cases = [invoice("F1", "P3", [line("1", "100")]), invoice("F2", "P1", [line("1", "100")])]
    result = export(tmp_path, people, cases)
    assert result.status == "written", errors(result)
    endpoint = assert_sound(written(result, cases[0]), cases[0]).find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("0208", "0458402105")
    assert sorted(p.name for p in result.folder.iterdir()) == ["F1.xml"]
    (left,) = [f for f in result.findings if f.code == "export.not_written"]
    assert left.message.startswith("F2 ") and "private person" in left.message


def test_the_country_codes_the_check_takes_are_those_of_the_e_invoice_rules():
    import re

    from toolkit.checks import ISO_COUNTRIES
    text = (Path(__file__).resolve().parents[1] / "toolkit" / "peppol" / "rules" / "CEN-EN16931-UBL.xslt").read_text(encoding="utf-8")
    rule = text[:text.index(">BR-CL-14<")]
    listed = re.findall(r"contains\(' ([A-Z0-9 ]+) '", rule)[-1].split()
    assert ISO_COUNTRIES == frozenset(listed) and {"BE", "GB", "GR", "XI"} <= ISO_COUNTRIES and not {"UK", "EL"} & ISO_COUNTRIES
