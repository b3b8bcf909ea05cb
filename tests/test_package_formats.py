"""Independent checks of the DATEV, FEC, SIE 4i, Exact Globe and BOB 50 files, written from the
research notes (../shared/reference/formats.md sections 2, 4, 5, 6 and 7), not from package_specs/.

Each checker reads a file the way the receiving package would and asserts what the notes say:
encodings, line ends, field counts, dates, number formats, limits, and that every document
balances. They run on the committed golden files (the demo workbook's export) and compare the
amounts with the documents the accounting core builds from the demo workbook, so a spec that
writes the wrong amount, side or customer fails here even if its golden file was refreshed.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
import xmlschema

from toolkit import accounting
from toolkit.book.read import read_workbook
from toolkit.vatrules import RuleBook

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "samples" / "golden"
DEMO = ROOT / "samples" / "demo.xlsx"
EXACT_XSD = Path(__file__).parent / "schemas" / "eExact-Schema.xsd"  # copy of ../shared/schemas (CI has no shared/)


@cache
def demo():
    """The demo workbook and its documents as the accounting core builds them, by number."""
    wb = read_workbook(DEMO)
    customers = {c.customer_id: c for c in wb.customers}
    rules = RuleBook(wb.vat_rules)
    docs = {}
    for inv in wb.invoices:
        if wb.settings.period_from <= inv.date <= wb.settings.period_to:
            docs[inv.number] = accounting.build_document(inv, customers[inv.customer_id], wb.settings, rules, lambda *a: "")
    return wb, docs


def signed_total(number: str) -> Decimal:
    """What the customer owes for a document: + for an invoice, - for a credit note."""
    doc = demo()[1][number]
    return doc.total if doc.doc_type == "invoice" else -doc.total


def golden(package: str, pattern: str = "*") -> Path:
    [path] = sorted((GOLDEN / package).glob(pattern))
    return path


def date(text: str, fmt: str) -> dt.date:
    return dt.datetime.strptime(text, fmt).date()  # raises on 31/02


def lines_of(content: bytes, encoding: str, eol: str, trailing: bool) -> list[str]:
    text = content.decode(encoding)
    if trailing:
        assert text.endswith(eol), "the last line ends with the line ending"
        text = text[: -len(eol)]
    else:
        assert not text.endswith(("\r", "\n")), "no line ending after the last line"
    lines = text.split(eol)
    for i, line in enumerate(lines, 1):
        assert "\r" not in line and "\n" not in line, f"line {i}: a stray CR or LF"
    return lines


# ---- DATEV EXTF (formats.md 5) --------------------------------------------------------------------

# 5.3 / 5.4: positions named in the notes (1-based) and the names the notes give them
BOOKING_NAMES = {1: "Umsatz (ohne Soll/Haben-Kz)", 2: "Soll/Haben-Kennzeichen", 3: "WKZ Umsatz", 4: "Kurs", 7: "Konto",
                 8: "Gegenkonto (ohne BU-Schlüssel)", 9: "BU-Schlüssel", 10: "Belegdatum", 11: "Belegfeld 1",
                 12: "Belegfeld 2", 13: "Skonto", 14: "Buchungstext", 15: "Postensperre", 20: "Beleglink",
                 40: "EU-Mitgliedstaat u. UStID (Bestimmung)", 41: "EU-Steuersatz (Bestimmung)",
                 103: "Buchungs GUID", 115: "Leistungsdatum", 116: "Datum Zuord. Steuerperiode", 117: "Fälligkeit",
                 118: "Generalumkehr (GU)", 119: "Steuersatz", 120: "Land", 121: "Abrechnungsreferenz",
                 122: "BVV-Position", 123: "EU-Mitgliedstaat u. UStID (Ursprung)", 124: "EU-Steuersatz (Ursprung)",
                 125: "Abw. Skontokonto"}
DEBTOR_NAMES = {1: "Konto", 2: "Name (Adressatentyp Unternehmen)", 3: "Unternehmensgegenstand",
                4: "Name (Adressatentyp natürl. Person)", 5: "Vorname (Adressatentyp natürl. Person)",
                6: "Name (Adressatentyp keine Angabe)", 7: "Adressatentyp", 8: "Kurzbezeichnung", 9: "EU-Land",
                10: "EU-USt-IdNr.", 11: "Anrede", 15: "Adressart", 16: "Straße", 17: "Postfach", 18: "Postleitzahl",
                19: "Ort", 20: "Land", 29: "Telefon", 33: "E-Mail", 35: "Internet", 37: "Fax", 97: "Briefanrede",
                98: "Grußformel", 99: "Kundennummer", 100: "Steuernummer", 101: "Sprache", 102: "Ansprechpartner",
                103: "Vertreter"}
DEBTOR_LIMITS = {2: 50, 3: 50, 4: 30, 5: 30, 6: 50, 8: 15, 9: 2, 10: 13, 11: 30, 15: 3, 16: 36, 17: 10, 18: 10,
                 19: 30, 20: 2, 29: 60, 33: 60, 35: 60, 37: 60, 97: 100, 98: 50, 99: 15, 100: 20, 102: 40, 103: 40}
BELEGFELD1 = re.compile(r"[A-Za-z0-9$&%*+\-/]{1,36}")
UMSATZ = re.compile(r"\d{1,10},\d{2}")  # decimal 12,2, comma, no thousands separator


def datev_fields(line: str) -> list[tuple[str, bool]]:
    """Split a DATEV line: ';' separated, text in "..." with "" for a quote. (value, was quoted) per field."""
    out, i = [], 0
    while True:
        if line.startswith('"', i):
            j, value = i + 1, ""
            while True:
                k = line.index('"', j)
                if line.startswith('""', k):
                    value += line[j:k] + '"'
                    j = k + 2
                    continue
                value += line[j:k]
                i = k + 1
                break
            out.append((value, True))
        else:
            k = line.find(";", i)
            k = len(line) if k < 0 else k
            assert '"' not in line[i:k], f"a quote inside an unquoted field: {line[i:k]!r}"
            out.append((line[i:k], False))
            i = k
        if i == len(line):
            return out
        assert line[i] == ";", f"junk after a field at {i}: {line[i:i + 10]!r}"
        i += 1


def check_datev_header(fields, category: int, name: str, versions: set[int]) -> dict:
    """formats.md 5.2: the 31-field EXTF header record."""
    assert len(fields) == 31
    value = [v for v, _ in fields]
    assert fields[0] == ("EXTF", True) and fields[3] == (name, True)
    assert value[1] == "700" and value[2] == str(category) and int(value[4]) in versions
    assert not any(fields[i][1] for i in (1, 2, 4, 5, 10, 11, 12, 13)), "numbers are not quoted"
    assert re.fullmatch(r"\d{17}", value[5])  # Erzeugt am YYYYMMDDHHMMSSFFF
    date(value[5][:14], "%Y%m%d%H%M%S")
    assert len(value[7]) == 2 and len(value[8]) <= 25
    assert 1001 <= int(value[10]) <= 9999999 and 1 <= int(value[11]) <= 99999
    fiscal_start = date(value[12], "%Y%m%d")
    account_length = int(value[13])
    assert 4 <= account_length <= 8
    assert value[20] in ("0", "1", "")
    period = None
    if category == 21:
        period = (date(value[14], "%Y%m%d"), date(value[15], "%Y%m%d"))
        fiscal_end = fiscal_start.replace(year=fiscal_start.year + 1) - dt.timedelta(days=1)
        assert fiscal_start <= period[0] <= period[1] <= fiscal_end, "the batch lies within one fiscal year"
        assert len(value[16]) <= 30 and value[18] in ("1", "2") and value[21] == "EUR"
    assert re.fullmatch(r"(\d\d)?", value[26])  # SKR
    return {"fiscal_start": fiscal_start, "account_length": account_length, "period": period}


def check_datev_booking(content: bytes) -> dict:
    """formats.md 5.1-5.3; returns the bookings grouped by Belegfeld 1 and the header facts."""
    lines = lines_of(content, "cp1252", "\r\n", trailing=True)
    header = check_datev_header(datev_fields(lines[0]), 21, "Buchungsstapel", {12, 13})
    names = datev_fields(lines[1])
    assert len(names) == 125 and all(quoted for _, quoted in names)
    for position, expected in BOOKING_NAMES.items():
        assert names[position - 1][0] == expected, position
    start, end = header["period"]
    by_document = defaultdict(list)
    for number, line in enumerate(lines[2:], 3):
        fields = datev_fields(line)
        assert len(fields) == 125, f"line {number}: {len(fields)} fields"
        value = [v for v, _ in fields]
        for i, (text, quoted) in enumerate(fields):
            if text and not re.fullmatch(r"[\d,]+", text):
                assert quoted, f"line {number}, column {i + 1}: text {text!r} is not quoted"
        umsatz, sh, konto, gegenkonto, bu, belegdatum, belegfeld, text = (
            fields[0], fields[1], fields[6], fields[7], value[8], value[9], value[10], value[13])
        assert not umsatz[1] and UMSATZ.fullmatch(umsatz[0]), f"line {number}: Umsatz {umsatz}"
        amount = Decimal(umsatz[0].replace(",", "."))
        assert amount > 0, "Umsatz is always positive and never 0,00"
        assert sh in (("S", True), ("H", True))
        for account, limit in ((konto, header["account_length"] + 1), (gegenkonto, header["account_length"])):
            assert not account[1] and re.fullmatch(r"\d{1,9}", account[0]), f"line {number}: account {account}"
            assert len(account[0]) <= limit, f"line {number}: {account[0]} is longer than {limit} digits"
        # Konto is the debtor: a personal account of exactly Sachkontenlänge + 1 digits, 1xxx-6xxx
        assert len(konto[0]) == header["account_length"] + 1 and konto[0][0] in "123456", f"line {number}: debtor {konto[0]}"
        assert len(bu) <= 4
        assert re.fullmatch(r"\d{4}", belegdatum) and not fields[9][1]
        assert BELEGFELD1.fullmatch(belegfeld), f"line {number}: Belegfeld 1 {belegfeld!r}"
        assert len(text) <= 60
        day = dt.date(start.year, int(belegdatum[2:]), int(belegdatum[:2]))  # TTMM: the year is the batch's
        assert start <= day <= end
        if value[116]:
            date(value[116], "%d%m%Y")  # Fälligkeit TTMMJJJJ
        by_document[belegfeld].append({"amount": amount, "sh": sh[0], "konto": konto[0], "gegenkonto": gegenkonto[0],
                                       "day": day})
    return {"header": header, "documents": by_document}


def check_datev_debtors(content: bytes) -> dict[str, list[str]]:
    """formats.md 5.4; returns the rows by Konto."""
    lines = lines_of(content, "cp1252", "\r\n", trailing=True)
    check_datev_header(datev_fields(lines[0]), 16, "Debitoren/Kreditoren", {5})
    names = datev_fields(lines[1])
    assert len(names) == 254
    for position, expected in DEBTOR_NAMES.items():
        assert names[position - 1][0] == expected, position
    rows = {}
    for number, line in enumerate(lines[2:], 3):
        fields = datev_fields(line)
        assert len(fields) == 254, f"line {number}: {len(fields)} fields"
        value = [v for v, _ in fields]
        assert not fields[0][1] and re.fullmatch(r"\d{1,9}", value[0])
        assert value[6] in ("0", "1", "2") and fields[6][1]
        assert value[1] or value[3] or value[5], "a name"
        for position, limit in DEBTOR_LIMITS.items():
            assert len(value[position - 1]) <= limit, (number, position, value[position - 1])
            if value[position - 1]:
                assert fields[position - 1][1], f"line {number}: text in column {position} is quoted"
        assert value[100] in ("", "1", "4", "5", "10", "19") and not fields[100][1]
        assert value[0] not in rows, "one row per debtor"
        rows[value[0]] = value
    return rows


def test_datev_golden_files():
    booking = check_datev_booking(golden("datev", "EXTF_Buchungsstapel.csv").read_bytes())
    debtors = check_datev_debtors(golden("datev", "EXTF_Debitoren_Kreditoren.csv").read_bytes())
    wb, docs = demo()
    assert booking["header"]["period"] == (wb.settings.period_from, wb.settings.period_to)  # Datum vom/bis
    assert set(booking["documents"]) == set(docs)
    for number, rows in booking["documents"].items():
        doc = docs[number]
        # one debtor, one side, the document's date; the bookings add up to what the customer owes
        assert {r["sh"] for r in rows} == {"S" if doc.doc_type == "invoice" else "H"}
        assert len({r["konto"] for r in rows}) == 1 and rows[0]["konto"] in debtors
        assert {r["day"] for r in rows} == {doc.date}
        assert sum(r["amount"] for r in rows) == doc.total, number
        assert {r["gegenkonto"] for r in rows} <= {g.account for g in doc.revenue_groups}
    assert set(debtors) == {r[0]["konto"] for r in booking["documents"].values()}


def test_datev_checker_catches_mistakes():
    good = golden("datev", "EXTF_Buchungsstapel.csv").read_bytes()
    lines = good.decode("cp1252").split("\r\n")
    for bad in (lines[2].replace(";\"S\";", ";\"X\";", 1),  # S/H
                lines[2].replace("\"2026-0001\"", "\"2026_0001\"", 1),  # Belegfeld 1 character set
                lines[2].replace(";", ";;", 1),  # a field too many
                "-" + lines[2]):  # a negative Umsatz
        with pytest.raises((AssertionError, ValueError)):
            check_datev_booking("\r\n".join([lines[0], lines[1], bad, ""]).encode("cp1252"))
    with pytest.raises(AssertionError):
        check_datev_booking(good[:-2])  # no CRLF after the last line


# ---- FEC (formats.md 6) ---------------------------------------------------------------------------

FEC_COLUMNS = ["JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum",
               "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet",
               "ValidDate", "Montantdevise", "Idevise"]
FEC_AMOUNT = re.compile(r"\d+,\d{2}")


def check_fec(path: Path, receivables_account: str) -> dict:
    """formats.md 6.1-6.3: returns the entries by (journal, number)."""
    m = re.fullmatch(r"(\d{9})FEC(\d{8})\.txt", path.name)
    assert m, f"file name {path.name}: <SIREN>FEC<AAAAMMJJ>"
    closing = date(m.group(2), "%Y%m%d")
    content = path.read_bytes()
    lines = lines_of(content, "iso-8859-15", "\r\n", trailing=False)
    separator = "|" if "|" in lines[0] else "\t"
    assert lines[0].split(separator) == FEC_COLUMNS
    entries = defaultdict(list)
    numbers = defaultdict(list)  # journal -> entry numbers in file order
    for i, line in enumerate(lines[1:], 2):
        fields = line.split(separator)
        assert len(fields) == 18, f"line {i}: {len(fields)} fields"
        row = dict(zip(FEC_COLUMNS, fields))
        assert row["JournalCode"] and row["JournalLib"] and row["EcritureNum"] and row["PieceRef"]
        for key in ("EcritureDate", "PieceDate", "ValidDate"):
            day = date(row[key], "%Y%m%d")
            assert closing.replace(year=closing.year - 1) < day <= closing, "within the fiscal year"
        assert re.match(r"\d{3}", row["CompteNum"]) and row["CompteLib"]
        assert FEC_AMOUNT.fullmatch(row["Debit"]) and FEC_AMOUNT.fullmatch(row["Credit"]), f"line {i}"
        debit, credit = (Decimal(row[k].replace(",", ".")) for k in ("Debit", "Credit"))
        assert (debit == 0) != (credit == 0), f"line {i}: one side, and no zero-amount line"
        on_customer = row["CompteNum"] == receivables_account
        assert bool(row["CompAuxNum"]) == on_customer and bool(row["CompAuxLib"]) == on_customer, f"line {i}"
        key = (row["JournalCode"], row["EcritureNum"])
        if not numbers[row["JournalCode"]] or numbers[row["JournalCode"]][-1] != row["EcritureNum"]:
            assert row["EcritureNum"] not in numbers[row["JournalCode"]], f"line {i}: entry {key} is split"
            numbers[row["JournalCode"]].append(row["EcritureNum"])
        entries[key].append((row, debit - credit))
    for journal, seen in numbers.items():
        assert [int(n) for n in seen] == list(range(1, len(seen) + 1)), f"journal {journal}: continuous numbering"
    for key, rows in entries.items():
        assert sum(amount for _, amount in rows) == 0, f"entry {key} does not balance"
        assert len({r["PieceRef"] for r, _ in rows}) == 1 and len({r["EcritureDate"] for r, _ in rows}) == 1
    return entries


def test_fec_golden_file():
    wb, docs = demo()
    entries = check_fec(golden("fec"), wb.settings.receivables_account)
    assert len(entries) == len(docs)
    for rows in entries.values():
        number = rows[0][0]["PieceRef"]
        receivable = sum(amount for row, amount in rows if row["CompAuxNum"])
        assert receivable == signed_total(number)
        assert rows[0][0]["JournalCode"] == docs[number].journal


def test_fec_checker_catches_mistakes(tmp_path):
    good = golden("fec")
    text = good.read_bytes().decode("iso-8859-15")
    for name, bad in ((good.name, text + "\r\n"),  # a newline after the last line
                      (good.name, text.replace("|2550,96|0,00|", "|2550,97|0,00|", 1)),  # unbalanced
                      (good.name, text.replace("|Factuur 2026-0001|", "|Factuur|2026-0001|", 1)),  # 19 fields
                      ("FEC.txt", text)):  # the name
        path = tmp_path / name
        path.write_bytes(bad.encode("iso-8859-15"))
        with pytest.raises(AssertionError):
            check_fec(path, "400000")


# ---- SIE 4i (formats.md 7) ------------------------------------------------------------------------

SIE_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\{[^}]*\})|(\S+)')


def sie_tokens(line: str) -> list[str]:
    out = []
    for quoted, objects, bare in SIE_TOKEN.findall(line):
        out.append(objects or bare or re.sub(r"\\(.)", r"\1", quoted))
    return out


def check_sie(content: bytes) -> list[dict]:
    """formats.md 7: the 4i header records, #KONTO, balanced #VER blocks; returns the vouchers."""
    lines = lines_of(content, "cp437", "\r\n", trailing=True)
    tokens = [sie_tokens(line.strip()) for line in lines]
    labels = [t[0] for t in tokens]
    assert labels[:5] == ["#FLAGGA", "#PROGRAM", "#FORMAT", "#GEN", "#SIETYP"]
    assert tokens[0] == ["#FLAGGA", "0"] and tokens[2] == ["#FORMAT", "PC8"] and tokens[4] == ["#SIETYP", "4"]
    assert len(tokens[1]) >= 3  # #PROGRAM name version
    date(tokens[3][1], "%Y%m%d")
    accounts, vouchers, i = {}, [], 0
    while i < len(tokens):
        label = labels[i]
        if label == "#KONTO":
            assert len(tokens[i]) == 3 and tokens[i][1] not in accounts and not vouchers
            accounts[tokens[i][1]] = tokens[i][2]
        elif label == "#VER":
            serie, vernr, verdatum, vertext = tokens[i][1:5]
            assert serie and vertext
            assert lines[i + 1] == "{", "the voucher's rows open with {"
            rows = []
            i += 2
            while lines[i] != "}":
                t = tokens[i]
                assert t[0] == "#TRANS" and t[2].startswith("{") and t[2].endswith("}"), lines[i]
                assert re.fullmatch(r"-?\d+\.\d{2}", t[3]), f"amount {t[3]}: '.' decimals, signed"
                assert t[1] in accounts, f"#TRANS on {t[1]} without #KONTO"
                rows.append((t[1], Decimal(t[3]), t[5] if len(t) > 5 else ""))
                i += 1
            assert len(rows) >= 2 and sum(amount for _, amount, _ in rows) == 0, f"voucher {vertext} does not balance"
            vouchers.append({"serie": serie, "date": date(verdatum, "%Y%m%d"), "text": vertext, "rows": rows})
        else:
            assert label in ("#FLAGGA", "#PROGRAM", "#FORMAT", "#GEN", "#SIETYP", "#FNAMN", "#ORGNR", "#ADRESS",
                             "#KPTYP", "#VALUTA", "#RAR"), f"unexpected record {label}"
        i += 1
    used = {account for v in vouchers for account, _, _ in v["rows"]}
    assert used <= set(accounts)
    return vouchers


def test_sie_golden_file():
    path = golden("sie")
    assert path.suffix == ".SI"
    content = path.read_bytes()
    assert "Librairie Molière SRL".encode("cp437") in content  # PC8: è is 0x8A
    vouchers = check_sie(content)
    wb, docs = demo()
    assert len(vouchers) == len(docs)
    for voucher in vouchers:
        doc = docs[voucher["text"]]
        assert voucher["date"] == doc.date and voucher["serie"] == doc.journal
        receivable = sum(a for account, a, _ in voucher["rows"] if account == wb.settings.receivables_account)
        assert receivable == signed_total(doc.number)  # + debit: an invoice is owed, a credit note is not


def test_sie_checker_catches_mistakes():
    text = golden("sie").read_bytes().decode("cp437")
    for bad in (text.replace("#FORMAT PC8", "#FORMAT UTF8"),
                text.replace(" 2550.96 ", " 2550.95 ", 1),  # unbalanced
                text.replace(" 2550.96 ", " 2550,96 ", 1),  # decimal comma
                text.replace("#KONTO 708000", "#KONTO 708001", 1)):  # a #TRANS without #KONTO
        with pytest.raises((AssertionError, ValueError)):
            check_sie(bad.encode("cp437"))


# ---- Exact Globe eExact XML (formats.md 4) --------------------------------------------------------


def check_exact(content: bytes) -> dict:
    """formats.md 4: valid against the official XSD; type C accounts; sales entries in balance."""
    xmlschema.XMLSchema(EXACT_XSD).validate(content.decode("utf-8"))
    root = ET.fromstring(content)
    assert root.tag == "eExact"
    accounts = {}
    for account in root.iterfind("Accounts/Account"):
        assert account.get("type") == "C" and account.get("status") == "A"
        assert account.findtext("Name")
        debtor = account.find("Debtor")
        assert debtor is not None and len(debtor.get("number", "")) <= 6  # "max length of the number attribute is 6"
        accounts[account.get("code")] = account
    entries = {}
    for entry in root.iterfind("FinEntries/FinEntry"):
        journal = entry.find("Journal")
        assert journal.get("type") == "V" and journal.get("code")
        lines = entry.findall("FinEntryLine")
        assert len(lines) >= 2, "at least 2 detail lines"
        subtypes = {line.get("subtype") for line in lines}
        assert subtypes in ({"K"}, {"C"}), "sales invoice K or sales credit note C"
        total, debtors = Decimal(0), []
        for line in lines:
            dt.date.fromisoformat(line.findtext("Date"))
            assert line.find("GLAccount").get("code")
            amount = line.find("Amount")
            assert amount.find("Currency").get("code") == "EUR"
            debit, credit = (Decimal(amount.findtext(k) or "0") for k in ("Debit", "Credit"))
            assert debit >= 0 and credit >= 0 and not (debit and credit)
            total += debit - credit
            if line.find("Debtor") is not None:
                debtors.append((line.find("Debtor").get("code"), debit - credit))
            vat = line.find("VATTransaction")
            if vat is not None:
                # the VAT line's amount is its VAT; a group against the document's sign (a return line on an
                # invoice) has a negative VAT and base in document terms (formats.md gives Exact no sign rule)
                amount, base = Decimal(vat.findtext("VATAmount")), Decimal(vat.findtext("VATBaseAmount") or "0")
                assert abs(amount) == credit + debit and amount * base >= 0
        assert total == 0, f"entry {entry.get('entry')} is not in balance"
        assert len(debtors) == 1, "one customer line"
        entries[entry.get("entry")] = {"subtype": subtypes.pop(), "debtor": debtors[0], "journal": journal.get("code")}
    return {"accounts": accounts, "entries": entries}


def test_exact_golden_file_is_valid_and_balanced():
    result = check_exact(golden("exact-globe").read_bytes())
    wb, docs = demo()
    assert set(result["entries"]) == set(docs)
    for number, entry in result["entries"].items():
        doc = docs[number]
        assert entry["subtype"] == ("K" if doc.doc_type == "invoice" else "C")
        assert entry["journal"] == doc.journal
        code, amount = entry["debtor"]
        assert code in result["accounts"] and amount == signed_total(number)


def test_exact_checker_catches_mistakes():
    text = golden("exact-globe").read_bytes().decode("utf-8")
    for bad in (text.replace('subtype="K"', 'subtype="Z9"', 1),  # not in the XSD
                text.replace("<Debit>2550.96</Debit>", "<Debit>2550.97</Debit>", 1),  # not in balance
                text.replace('type="C" status="A"', 'type="C"', 1)):
        with pytest.raises((AssertionError, xmlschema.XMLSchemaValidationError)):
            check_exact(bad.encode("utf-8"))


# ---- BOB 50, Dolibarr's layout (formats.md 2) -----------------------------------------------------

BOB_AMOUNT = re.compile(r"\d+[,.]\d{2}")


def check_bob50(content: bytes) -> dict[str, list[tuple]]:
    """formats.md 2: ';', 7 fields, dd/mm/YYYY, account type G or C, debit, credit, label <= 32; returns
    the lines by piece number."""
    lines = lines_of(content, "cp1252", "\n", trailing=True)
    pieces = defaultdict(list)
    for i, line in enumerate(lines, 1):
        fields = line.split(";")
        assert len(fields) == 7, f"line {i}: {len(fields)} fields"
        piece, day, kind, account, debit, credit, label = fields
        assert piece and account
        date(day, "%d/%m/%Y")
        assert kind in ("G", "C"), f"line {i}: account type {kind}"  # F is for suppliers
        assert BOB_AMOUNT.fullmatch(debit) and BOB_AMOUNT.fullmatch(credit)
        d, c = (Decimal(x.replace(",", ".")) for x in (debit, credit))
        assert (d == 0) != (c == 0), f"line {i}: one side, no zero line"
        assert len(label) <= 32
        pieces[piece].append((kind, account, d - c, day))
    for piece, rows in pieces.items():
        assert sum(r[2] for r in rows) == 0, f"piece {piece} does not balance"
        assert [r[0] for r in rows].count("C") == 1 and len({r[3] for r in rows}) == 1
    return pieces


def test_bob50_golden_file():
    pieces = check_bob50(golden("bob50").read_bytes())
    wb, docs = demo()
    assert set(pieces) == set(docs)
    for number, rows in pieces.items():
        [customer] = [r for r in rows if r[0] == "C"]
        assert customer[2] == signed_total(number) and customer[3] == f"{docs[number].date:%d/%m/%Y}"
        assert not any(r[1] == wb.settings.receivables_account for r in rows)  # the customer, not the collective


def test_bob50_checker_catches_mistakes():
    text = golden("bob50").read_bytes().decode("cp1252")
    for bad in (text.replace(";C;", ";X;", 1), text.replace("05/01/2026", "2026-01-05", 1),
                text.replace(";2550,96;", ";2550,97;", 1), text.replace("\n", "\r\n")):
        with pytest.raises((AssertionError, ValueError)):
            check_bob50(bad.encode("cp1252"))
