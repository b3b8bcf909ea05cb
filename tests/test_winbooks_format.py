"""An independent check of WinBooks ACT.txt / CSF.txt, written from the research notes
(../shared/reference/formats.md section 1), not from package_specs/winbooks.json.

It is run on a hand-built batch, on the committed golden files, and on documents that the accounting
core builds from generated invoices.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings as hsettings, strategies as st

from factory import CUSTOMERS, RULES, SETTINGS, invoice, line
from test_render import batch as hand_built_batch
from toolkit import accounting
from toolkit import spec as specs
from toolkit.model import Batch
from toolkit.vatrules import RuleBook

GOLDEN = Path(__file__).resolve().parents[1] / "samples" / "golden" / "winbooks"

# formats.md 1.3: the 38 ACT positions
ACT_FIELDS = ("DOCTYPE DBKCODE DBKTYPE DOCNUMBER DOCORDER OPCODE ACCOUNTGL ACCOUNTRP BOOKYEAR PERIOD DATE DATEDOC "
              "DUEDATE COMMENT COMMENTEXT AMOUNT AMOUNTEUR VATBASE VATCODE CURRAMOUNT CURRCODE CUREURBASE VATTAX "
              "VATIMPUT CURRATE REMINDLEV MATCHNO OLDDATE ISMATCHED ISLOCKED ISIMPORTED ISPOSITIVE ISTEMP MEMOTYPE "
              "ISDOC DOCSTATUS DICFROM CODAKEY").split()
# formats.md 1.6: CSF positions 1-25 (where the writers agree)
CSF_FIELDS = ("NUMBER TYPE NAME1 NAME2 CIVNAME1 CIVNAME2 ADRESS1 ADRESS2 VATCAT COUNTRY VATNUMBER PAYCODE TELNUMBER "
              "FAXNUMBER BNKACCNT ZIPCODE CITY DEFLTPOST LANG CATEGORY CENTRAL VATCODE CURRENCY LASTREMLEV "
              "LASTREMDAT").split()
QUOTED = re.compile(r'"([^"]*)"')
AMOUNT = re.compile(r"-?\d+\.\d{2}")
SALES_VAT_CODES = {"211100", "211200", "211300", "211400", "212000", "221000", "222000", "231000", "232000"}


def records(content: bytes, width: int) -> list[list[str]]:
    """Split a WinBooks TXT file: CRLF lines, every field quoted, comma separated."""
    text = content.decode("cp1252")
    assert text.endswith("\r\n"), "the last line ends with CRLF"
    lines = text[:-2].split("\r\n")
    out = []
    for number, raw in enumerate(lines, 1):
        assert "\r" not in raw and "\n" not in raw, f"line {number}: a bare CR or LF"
        fields = QUOTED.findall(raw)
        assert ",".join(f'"{f}"' for f in fields) == raw, f"line {number}: not a list of quoted fields: {raw!r}"
        assert len(fields) >= width, f"line {number}: {len(fields)} fields, expected {width}"
        out.append(fields)
    return out


def is_date(text: str) -> bool:
    if not re.fullmatch(r"\d{8}", text):
        return False
    dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))  # raises on 20240231
    return True


def check_act(content: bytes) -> dict[tuple[str, str], list[dict]]:
    """Every rule of formats.md 1.2-1.5 that a file shows; returns the lines by document."""
    documents: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for fields in records(content, 38):
        assert len(fields) == 38
        row = dict(zip(ACT_FIELDS, fields))
        assert row["DOCTYPE"] in {"1", "3", "4"}, row  # sales: customer, general, 0 % base
        assert row["DBKTYPE"] in {"2", "3"}, row  # sale, sale credit note
        assert row["DBKCODE"] and len(row["DBKCODE"]) <= 6, row
        assert row["DOCNUMBER"], row
        assert re.fullmatch(r"[0-9A-Z]?", row["BOOKYEAR"]), row
        assert re.fullmatch(r"\d\d", row["PERIOD"]), row
        assert is_date(row["DATE"]) and is_date(row["DATEDOC"]), row
        assert row["DUEDATE"] == "" or is_date(row["DUEDATE"]), row
        for name in ("AMOUNTEUR", "VATBASE"):
            assert AMOUNT.fullmatch(row[name]), (name, row)
        if row["DOCTYPE"] == "4":
            assert row["ACCOUNTGL"] == "" and Decimal(row["AMOUNTEUR"]) == 0 and row["VATCODE"], row
        else:
            assert row["ACCOUNTGL"] and len(row["ACCOUNTGL"]) <= 8, row
        for code in (row["VATCODE"], row["VATIMPUT"]):
            assert code == "" or code in SALES_VAT_CODES, row
        documents[(row["DBKCODE"], row["DOCNUMBER"])].append(row)
    for key, rows in documents.items():
        customer_lines = [r for r in rows if r["DOCTYPE"] == "1"]
        assert len(customer_lines) == 1, f"{key}: {len(customer_lines)} DOCTYPE 1 lines"
        assert rows[0]["DOCTYPE"] == "1", f"{key}: the customer line comes first"
        assert customer_lines[0]["ACCOUNTRP"], f"{key}: the customer line names the customer"
        assert is_date(customer_lines[0]["DUEDATE"]), key
        assert sum(Decimal(r["AMOUNTEUR"]) for r in rows) == 0, f"{key}: AMOUNTEUR does not sum to 0.00"
        assert len({r["DBKTYPE"] for r in rows}) == 1, key
        sign = Decimal(customer_lines[0]["AMOUNTEUR"])
        assert (sign >= 0) == (rows[0]["DBKTYPE"] == "2"), f"{key}: invoices debit the customer, credit notes credit it"
        vat_lines = [r for r in rows if r["DOCORDER"] == "VAT"]
        assert all(r["DOCTYPE"] == "3" and r["VATCODE"] for r in vat_lines), key
        assert Decimal(customer_lines[0]["VATTAX"]) == -sum(Decimal(r["AMOUNTEUR"]) for r in vat_lines) * (1 if sign >= 0 else -1), key
    return documents


def check_csf(content: bytes) -> dict[str, dict]:
    customers = {}
    for fields in records(content, 25):
        row = dict(zip(CSF_FIELDS, fields))
        assert re.fullmatch(r"[A-Za-z0-9_]+", row["NUMBER"]), row
        assert row["NUMBER"] not in customers, f"customer {row['NUMBER']} twice"
        assert row["TYPE"] == "1", row
        assert row["NAME1"], row
        assert row["VATCAT"] in {"0", "1", "2", "3"}, row
        if row["VATNUMBER"]:
            assert row["VATCAT"] == "1", row  # "if VATNUMBER filled then VATCAT=1"
        if row["VATNUMBER"] and row["COUNTRY"] in ("BE", ""):
            assert re.fullmatch(r"[01]\d{3}\.\d{3}\.\d{3}", row["VATNUMBER"]), row  # 0999.999.999
        assert re.fullmatch(r"([A-Z]{2})?", row["COUNTRY"]), row
        assert row["LANG"] in {"", "N", "F", "E", "D"}, row
        customers[row["NUMBER"]] = row
    return customers


def check_export(files: dict[str, bytes]) -> None:
    documents = check_act(files["ACT.txt"])
    if "CSF.txt" in files:
        customers = check_csf(files["CSF.txt"])
        for key, rows in documents.items():
            assert rows[0]["ACCOUNTRP"] in customers, f"{key}: customer {rows[0]['ACCOUNTRP']} not in CSF.txt"


def test_hand_built_batch_passes_the_checker():
    check_export(dict(specs.render(specs.load_spec("winbooks"), hand_built_batch()).files))


def test_golden_files_pass_the_checker():
    if not (GOLDEN / "ACT.txt").exists():
        return  # the golden files are the sample's; they come with it
    check_export({name: (GOLDEN / name).read_bytes() for name in ("ACT.txt", "CSF.txt") if (GOLDEN / name).exists()})


def test_the_checker_catches_a_broken_file():
    good = dict(specs.render(specs.load_spec("winbooks"), hand_built_batch()).files)["ACT.txt"]
    for broken in (good.replace(b"\r\n", b"\n"), good.replace(b'"-1000.00"', b'"-999.00"'),
                   good.replace(b'"20240305"', b'"2024-03-05"'), good.replace(b',"CODAKEY"', b"")[:-40] + b"\r\n",
                   good.replace(b'"1","VFC"', b'"3","VFC"')):
        try:
            check_act(broken)
        except AssertionError:
            continue
        raise AssertionError(f"the checker let a broken file pass: {broken[:80]!r}")


# ---- documents from the accounting core --------------------------------------------------------

NUMBERED = tuple(replace(c, accounting_number=f"40010{i}") for i, c in enumerate(CUSTOMERS))
SPEC = specs.load_spec("winbooks")
LINE = st.tuples(
    st.sampled_from([("21", "domestic"), ("6", "domestic"), ("0", "intra-EU services"), ("0", "intra-EU goods"),
                     ("0", "export"), ("0", "reverse charge")]),
    st.decimals(min_value="0.01", max_value="9999", places=2),
    st.decimals(min_value="0.5", max_value="40", places=1),
    st.sampled_from(["0", "10", "33.33"]),
)


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(LINE, min_size=1, max_size=5), st.booleans(), st.sampled_from(["0", "5"]),
                          st.sampled_from(range(3))), min_size=1, max_size=6),
       st.sampled_from(["on lines", "on total"]), st.booleans())
def test_documents_from_the_accounting_core_pass_the_checker(specs_of_invoices, vat_booking, with_discount_account):
    settings = replace(SETTINGS, vat_booking=vat_booking, discount_account="708000" if with_discount_account else "",
                       credit_note_journal="VFC")
    rules = RuleBook(RULES)
    documents = []
    for n, (lines, credit, invoice_discount, who) in enumerate(specs_of_invoices, 1):
        number = f"2026-{n:04d}"
        inv = invoice(number, lines=[line(number, row=n, rate=rate, regime=regime, price=str(price), quantity=str(qty),
                                          discount=discount)
                                     for (rate, regime), price, qty, discount in lines],
                      doc_type="credit note" if credit else "invoice", discount_pct=Decimal(invoice_discount),
                      customer=NUMBERED[who].customer_id)
        documents.append(accounting.build_document(inv, NUMBERED[who], settings, rules, SPEC.vat_code))
    batch = Batch("E1", dt.datetime(2026, 2, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 31), settings,
                  {"book_year": "", "period_style": "monthly", "payment_code": ""}, tuple(documents), NUMBERED, ())
    check_export(dict(specs.render(SPEC, batch).files))
