"""Format audit: every package's output for a hard workbook (tests/audit_books.py), checked against
the published formats (../shared/reference/formats.md, the eExact XSD, the Peppol BIS 3 rules).

test_package_formats.py and test_winbooks_format.py check the demo's golden files; their checkers
(written from formats.md, not from package_specs/) are reused here on what the demo never has:
separators, quotes, tabs and line breaks inside texts, texts beyond every field limit, characters
outside each file's encoding, leading zeros, foreign customers without a VAT number, several VAT
rates and discounts in one invoice, 99 half-cent VAT lines, amounts over 1,000,000, credit notes
typed either way, documents on the first and the last day of the year. The amounts a document must
come to are plain Decimals written here (HARD_TOTALS), never the production arithmetic.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

import pytest

import audit_books
import test_package_formats as formats
import test_winbooks_format as winbooks
from toolkit.app.export import ExportRequest, run_export

# What the customer owes per document (+ invoice, - credit note), worked out by hand, VAT per line
# rounded half up (the default 'VAT booking' on lines, 'Rounding' line net once):
HARD_TOTALS = {
    # 21 %: 3 x 0.335 = 1.005 -> 1.01 net, 7.5 x 12.25 - 2.5 % = 89.578125 -> 89.58; 6 %: 99.99 - 10 % = 89.991
    # -> 89.99; 0 %: 30.01; 12 %: 40.45 - 10 % = 36.405 -> 36.41; then 3 % off the invoice per line:
    # nets 0.98 + 86.89 (21 %), 87.29 (6 %), 29.11 (0 %), 35.32 (12 %) = 239.59; VAT 0.21 + 18.25 + 5.24 +
    # 4.24 = 27.94 (per line: 0.98 x 21 % = 0.2058, 86.89 x 21 % = 18.2469, 87.29 x 6 % = 5.2374, 35.32 x 12 % = 4.2384)
    "2026-0001": D("267.53"),
    "2026-0002": D("2100.00"),  # 4 x 250 - 10 % + 1200, intra-EU: no VAT
    "2026-0003": D("5700.00"),  # (5000.01 + 999.99) - 5 %, export: no VAT
    "2026-0004": D("800.00"),
    "2026-0005": D("60.39"),  # 99 x (0.50 + 0.105 -> 0.11)
    "2026-0006": D("1498027.15"),  # 1234567.89 + 21 % (259259.2569 -> .26) + 4200 reverse charge
    "2026-0007": D("931.12"),  # 10 x 95.5 less 2.5 % (23.875 -> 23.88), intra-EU
    "2026-0008": D("121.00"),
    "2026-0009": D("99.80"),  # 100 + 21 % less a return of 20 + 6 %
    "2026-0010": D("900.00"),  # intra-EU goods to France
    "CN-0001": -D("57.60"),  # (36.67 + 15.005 -> 15.01) - 3 %: 35.57 + 14.56; VAT 7.47
    "CN-0002": -D("1493853.32"),  # typed negative: 1234567.89 + 24.69, VAT 259259.26 + 1.48
}
PACKAGES = ["winbooks", "bob50", "exact-globe", "datev", "fec", "sie", "csv-journal", "peppol-bis3"]


def export(tmp: Path, package: str, **settings) -> dict[str, bytes]:
    book = audit_books.hard_workbook(tmp / f"hard-{package}.xlsx", package, **settings)
    result = run_export(ExportRequest(book, package=package, out_dir=tmp / "out"))
    assert result.status == "written", [f.message for f in result.findings if f.is_error]
    return {p.name: p.read_bytes() for p in sorted(result.folder.iterdir())}


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    """package -> {file name: bytes} of the hard workbook's export (made once per package)."""
    cache = {}

    def get(package: str, **settings) -> dict[str, bytes]:
        key = (package, tuple(sorted(settings.items())))
        if key not in cache:
            cache[key] = export(tmp_path_factory.mktemp(package), package, **settings)
        return cache[key]
    return get


def only(files: dict[str, bytes], pattern: str = ".*") -> tuple[str, bytes]:
    [(name, data)] = [(n, d) for n, d in files.items() if re.fullmatch(pattern, n)]
    return name, data


# ---- WinBooks ACT / CSF (formats.md 1) ----------------------------------------------------------------


def test_winbooks_hard_batch(hard):
    files = hard("winbooks")
    winbooks.check_export(files)
    documents = winbooks.check_act(files["ACT.txt"])
    by_number = {rows[0]["DOCNUMBER"]: rows for rows in documents.values()}
    for number, total in HARD_TOTALS.items():
        rows = by_number[re.sub(r"\D", "", number)]  # DOCNUMBER: the invoice number's digits (Tryton)
        assert D(rows[0]["AMOUNTEUR"]) == total, number
        # 1.4: the customer line's VATBASE is the document's base: the bases of its VAT and 0 % lines
        bases = sum(D(r["VATBASE"]) for r in rows if r["DOCORDER"] == "VAT" or r["DOCTYPE"] == "4")
        assert D(rows[0]["VATBASE"]) == bases, number
        assert D(rows[0]["VATBASE"]) + D(rows[0]["VATTAX"]) == abs(total), number
        # 1.4: one DOCTYPE 4 line per 0 % VAT code used, none for a code with VAT
        zero_codes = [r["VATCODE"] for r in rows if r["DOCTYPE"] == "4"]
        assert len(zero_codes) == len(set(zero_codes)), number
    customers = winbooks.check_csf(files["CSF.txt"])
    assert {"000123", "000124", "125", "000126", "000127", "000128"} <= set(customers)  # leading zeros kept
    assert customers["125"]["VATNUMBER"] == "" and customers["125"]["COUNTRY"] == "US"
    # 1.6 (W12): VATNUMBER on the country's picture: BE 0999.999.999, NL 999999999B99, FR XX 999999999, DE 999999999
    pictures = {"BE": r"\d{4}\.\d{3}\.\d{3}", "NL": r"\d{9}B\d\d", "FR": r"[0-9A-Z]{2} \d{9}", "DE": r"\d{9}"}
    for row in customers.values():
        if row["COUNTRY"] in pictures and row["VATNUMBER"]:
            assert re.fullmatch(pictures[row["COUNTRY"]], row["VATNUMBER"]), row
    assert customers["000129"]["VATNUMBER"] == "40 303265045"
    # ISO-8859-1 / Windows-1252 (1.2): a representable name is written in it, not as UTF-8
    assert "Druckerei Müller".encode("cp1252") in files["CSF.txt"]
    assert all(len(r[13]) <= 40 for r in winbooks.records(files["ACT.txt"], 38))  # COMMENT (Tryton cuts at 40)


# ---- BOB 50, Dolibarr's layout (formats.md 2) ------------------------------------------------------


@pytest.mark.parametrize("separator", ["comma", "point"])
def test_bob50_hard_batch(hard, separator):
    _, data = only(hard("bob50", **{"BOB 50 decimal separator": separator}))
    pieces = formats.check_bob50(data)
    assert set(pieces) == set(HARD_TOTALS)
    for number, rows in pieces.items():
        [customer] = [r for r in rows if r[0] == "C"]
        assert customer[2] == HARD_TOTALS[number], number
    assert pieces["2026-0001"][0][1] == "000123"
    assert all((b"," in amount) != (separator == "point") for amount in re.findall(rb";(\d+[.,]\d\d);", data))
    assert "Müller".encode("cp1252") in data


# ---- Exact Globe eExact XML (formats.md 4) ----------------------------------------------------------


def test_exact_hard_batch_is_valid_and_balanced(hard):
    _, data = only(hard("exact-globe"))
    result = formats.check_exact(data)  # the official XSD, balance, one customer line per entry
    assert set(result["entries"]) == set(HARD_TOTALS)
    for number, entry in result["entries"].items():
        code, amount = entry["debtor"]
        assert amount == HARD_TOTALS[number], number
        assert entry["subtype"] == ("C" if number.startswith("CN") else "K")
    assert "000123" in result["accounts"] and result["entries"]["2026-0001"]["debtor"][0] == "000123"
    root = ET.fromstring(data)
    names = {a.get("code"): a.findtext("Name") for a in root.iterfind("Accounts/Account")}
    assert names["000123"].startswith('Ølstue "De Kroon"; bar | grill')  # UTF-8: nothing transliterated
    for vat in root.iterfind(".//VATTransaction"):  # a VAT line carries its base, 0 % groups too
        assert D(vat.findtext("VATBaseAmount")) != 0


# ---- DATEV EXTF (formats.md 5) ----------------------------------------------------------------------


def test_datev_hard_batch(hard):
    files = hard("datev")
    booking = formats.check_datev_booking(files["EXTF_Buchungsstapel.csv"])
    debtors = formats.check_datev_debtors(files["EXTF_Debitoren_Kreditoren.csv"])
    assert booking["header"]["period"] == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert set(booking["documents"]) == set(HARD_TOTALS)
    for number, rows in booking["documents"].items():
        # Umsatz is always positive; S debits the debtor (an invoice), H credits it (a credit note)
        signed = sum(r["amount"] if r["sh"] == "S" else -r["amount"] for r in rows)
        assert signed == HARD_TOTALS[number], number
        assert {r["konto"] for r in rows} <= set(debtors)
    assert {r["day"] for r in booking["documents"]["2026-0001"]} == {dt.date(2026, 1, 1)}
    assert {r["day"] for r in booking["documents"]["2026-0008"]} == {dt.date(2026, 12, 31)}
    lines = files["EXTF_Buchungsstapel.csv"].decode("cp1252").split("\r\n")
    text = formats.datev_fields(lines[2])[13]
    assert text[1] and '"De Kroon"' in text[0] and len(text[0]) <= 60  # quoted, inner quotes doubled and read back
    intra = [formats.datev_fields(line) for line in lines[2:] if '"2026-0002"' in line]
    assert intra and all(f[39][0] == "NL004495445B01" for f in intra)  # EU-Mitgliedstaat u. UStID (Bestimmung)
    assert "Druckerei Müller".encode("cp1252") in files["EXTF_Debitoren_Kreditoren.csv"]


# ---- FEC (formats.md 6) -----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", ["pipe", "tab"])
def test_fec_hard_batch(hard, tmp_path, delimiter):
    name, data = only(hard("fec", **{"FEC delimiter": delimiter}))
    path = tmp_path / name
    path.write_bytes(data)
    entries = formats.check_fec(path, "400000")  # name, 18 columns, dates in the year, numbering, balance
    assert name == "123456709FEC20261231.txt"
    for rows in entries.values():
        number = rows[0][0]["PieceRef"]
        assert sum(amount for row, amount in rows if row["CompAuxNum"]) == HARD_TOTALS[number], number
    assert {row["CompAuxNum"] for rows in entries.values() for row, _ in rows} >= {"000123", "125"}
    assert "€".encode("iso-8859-15") == b"\xa4" and b"\xa4" in data  # ISO 8859-15, not 8859-1 or UTF-8
    assert "Druckerei Müller".encode("iso-8859-15") in data


# ---- SIE 4i (formats.md 7) --------------------------------------------------------------------------


def test_sie_hard_batch(hard):
    name, data = only(hard("sie"))
    assert name.endswith(".SI")
    vouchers = formats.check_sie(data)
    assert {v["text"] for v in vouchers} == set(HARD_TOTALS)
    for voucher in vouchers:
        receivable = sum(amount for account, amount, _ in voucher["rows"] if account == "400000")
        assert receivable == HARD_TOTALS[voucher["text"]], voucher["text"]
    assert "Åsa Öberg Ärlig AB".encode("cp437") in data  # PC8: Å is 0x8F


# ---- the plain CSV journal --------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", ["semicolon", "comma", "tab"])
def test_csv_journal_hard_batch(hard, delimiter):
    _, data = only(hard("csv-journal", **{"CSV delimiter": delimiter,
                                          "CSV decimal separator": "point" if delimiter == "comma" else "comma"}))
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM
    sep = {"semicolon": ";", "comma": ",", "tab": "\t"}[delimiter]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=sep))
    header, rows = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in rows)
    row = [dict(zip(header, r)) for r in rows]
    balance, owed = defaultdict(D), defaultdict(D)
    for r in row:
        amount = D((r["Debit"] or "0").replace(",", ".")) - D((r["Credit"] or "0").replace(",", "."))
        balance[r["Document number"]] += amount
        if r["Account"] == "400000":
            owed[r["Document number"]] += amount
    assert all(v == 0 for v in balance.values()) and dict(owed) == HARD_TOTALS
    names = {r["Customer name"] for r in row}
    # ; " | and a line break inside a name read back unchanged (a tab typed in a cell is read as a space)
    assert audit_books.CUSTOMERS[1][1].replace("\t", " ") in names


SIE_WORD = re.compile(r'[^\s"{}\\]+')  # an unquoted SIE field: no space, quote, object-list brace or backslash


def sie_fields(line: str) -> list[tuple[str, str]]:
    """A SIE line as a reader of formats.md 7 splits it: ("list", ...) for {...}, ("text", ...) for
    "..." with \\ escapes, ("word", ...) for the rest up to the next space."""
    out, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
        elif line[i] == "{":
            j = line.index("}", i)
            out.append(("list", line[i + 1:j]))
            i = j + 1
        elif line[i] == '"':
            value, i = "", i + 1
            while line[i] != '"':
                if line[i] == "\\":
                    i += 1
                value += line[i]
                i += 1
            out.append(("text", value))
            i += 1
        else:
            j = line.find(" ", i)
            j = len(line) if j < 0 else j
            out.append(("word", line[i:j]))
            i = j
    return out


@pytest.mark.parametrize("name", ["{Acme}", "Brace{x}", "Back\\slash", "Ends\\", 'Quote"d'])
def test_sie_texts_read_back_as_written(tmp_path, name):
    """formats.md 7: fields are separated by spaces, {…} is an object list, "…" a string with \\"
    inside. A name without a space but with a brace or a backslash must still be a string: unquoted,
    {Acme} would be read as an object list and a backslash as an escape."""
    base, records = audit_books.hard_records("sie")
    records["Customers"][3]["name"] = name  # H04, the customer of 2026-0004
    book = audit_books.save(tmp_path / "sie.xlsx", base, records)
    result = run_export(ExportRequest(book, package="sie", out_dir=tmp_path / "out"))
    assert result.status == "written"
    [path] = result.folder.iterdir()
    lines = path.read_bytes().decode("cp437").split("\r\n")
    trans = [sie_fields(line.strip()) for line in lines if line.strip().startswith("#TRANS")]
    for fields in trans:
        assert [kind for kind, _ in fields] == ["word", "word", "list", "word", "text", "text"], fields
        assert all(SIE_WORD.fullmatch(value) for kind, value in fields if kind == "word"), fields
    assert sum(fields[5] == ("text", name) for fields in trans) == 2  # the customer and the revenue line


# ---- Peppol BIS 3 (schemas/peppol: EN 16931 and Peppol rules) ---------------------------------------


def fatal(data: bytes) -> list[str]:
    from toolkit.peppol.validate import validate_bytes
    return [f"{a.id}: {a.text}" for a in validate_bytes(data) if a.fatal]


@pytest.mark.parametrize("settings", [{}, {"rounding": "gross then discount"},
                                      {"vat_booking": "on total", "discount_account": None}],
                         ids=["default", "gross-then-discount", "on-total-net"])
def test_every_hard_e_invoice_passes_both_rule_sets(hard, settings):
    files = hard("peppol-bis3", **settings)
    assert sorted(files) == sorted(f"{n}.xml" for n in HARD_TOTALS if n != "2026-0005")  # H05 is a consumer
    for name, data in files.items():
        assert fatal(data) == [], name
        if not settings:  # the totals worked out by hand are those of the default rounding
            payable = D(ET.fromstring(data).find("{*}LegalMonetaryTotal/{*}PayableAmount").text)
            assert payable == abs(HARD_TOTALS[name[:-4]]), name


def many_half_cents(tmp_path: Path, **settings) -> Path:
    """The hard workbook plus an invoice to a company of 250 lines of 0.50 at 21 %: VAT on lines
    0.105 -> 0.11 each, 27.50; on the total 125.00 x 21 % = 26.25."""
    base, records = audit_books.hard_records("peppol-bis3", **settings)
    records["Invoices"].append({"number": "2026-0011", "doc_type": "invoice", "date": dt.date(2026, 12, 31),
                                "customer_id": "H01", "currency": "EUR", "description": "Kopieën"})
    records["Invoice lines"] += [{"invoice_number": "2026-0011", "line": i, "description": f"Kopie {i}",
                                  "quantity": D(1), "unit_price": D("0.50"), "vat_rate": D(21), "vat_regime": "domestic",
                                  "ledger_account": "700000", "account_source": "manual"} for i in range(1, 251)]
    return audit_books.save(tmp_path / "halfcents.xlsx", base, records)


def test_vat_on_lines_beyond_the_rules_tolerance_is_an_error_not_a_rejected_file(tmp_path):
    """BR-CO-17 / BR-S-09: a VAT category's tax must be its taxable amount x rate, rounded, within
    1.00 (exclusive). VAT on lines drifts by up to half a cent a line: 27.50 against 26.25 here. The
    network would reject that file, so it is not written: an error names the document."""
    result = run_export(ExportRequest(many_half_cents(tmp_path), package="peppol-bis3", out_dir=tmp_path / "out"))
    assert result.status == "blocked"
    [finding] = [f for f in result.findings if f.is_error]
    assert finding.code == "einvoice.vat.tolerance" and "2026-0011" in finding.message
    assert "27.50" in finding.message and "26.25" in finding.message and "on total" in finding.message
    # the bookkeeping is not an e-invoice: it books the invoice as issued
    assert run_export(ExportRequest(many_half_cents(tmp_path), package="csv-journal", out_dir=tmp_path / "csv")).status == "written"


def test_vat_on_the_total_of_many_half_cents_is_written_and_valid(tmp_path):
    book = many_half_cents(tmp_path, vat_booking="on total")
    result = run_export(ExportRequest(book, package="peppol-bis3", out_dir=tmp_path / "out"))
    assert result.status == "written"
    data = (result.folder / "2026-0011.xml").read_bytes()
    assert fatal(data) == []
    assert D(ET.fromstring(data).find("{*}TaxTotal/{*}TaxAmount").text) == D("26.25")
