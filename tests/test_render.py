"""Rendering: exact bytes for the shipped specs on a hand-built batch, and each part of the vocabulary
on small specs written here."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal as D

import pytest

from toolkit import layout
from toolkit import spec as specs
from toolkit.model import Batch, Customer, Document, Invoice, LedgerAccount, Posting, Settings, VatGroup, Where

# ---- a hand-built batch: one invoice (21 % + a 0 % intra-EU line), one credit note ----------------


def where(sheet: layout.Sheet, row: int) -> Where:
    return Where(sheet.name, row, {k: layout.column_letter(i) for i, k in enumerate(sheet.keys)})


def post(kind, account, amount, order, rate=None, regime="", code="", base="0.00", vat="0.00", text="Consulting"):
    return Posting(kind, account, D(amount), text, None if rate is None else D(rate), regime, code, D(base), D(vat), order)


ACME = Customer("C1", "Brasserie Ölmann & Co", vat_number="BE 0477.472.701", street="Rue Haute 1", postal_code="1000",
                city="Bruxelles", country="BE", language="FR", phone="02 123 45 67", accounting_number="100001",
                where=where(layout.CUSTOMERS, 2))
JAN = Customer("C2", "Jan \"de Bakker\" Peeters", kind="person", country="be", language="nl", accounting_number="100002",
               where=where(layout.CUSTOMERS, 3))
SETTINGS = Settings(company_name="Demo BV", invoice_journal="VF", credit_note_journal="VFC")


def invoice_doc(number="F2024-001", description="Consulting", journal="VF", customer=ACME, row=2) -> Document:
    inv = Invoice(number, "invoice", dt.date(2024, 3, 5), customer.customer_id, where=where(layout.INVOICES, row))
    postings = (
        post("receivable", "400000", "1310.00", 1, base="1100.00", vat="210.00", text=description),
        post("revenue", "700000", "-1000.00", 2, "21", "domestic", "211400", text=description),
        post("revenue", "700300", "-100.00", 3, "0", "intra-EU services", "222000", text=description),
        post("vat", "451000", "-210.00", 4, "21", "domestic", "211400", base="1000.00", vat="210.00", text=description),
        post("vat", "451000", "-0.00", 5, "0", "intra-EU services", "222000", base="100.00", text=description),
    )
    groups = (VatGroup(D("21"), "domestic", "211400", D("1000.00"), D("210.00")),
              VatGroup(D("0"), "intra-EU services", "222000", D("100.00"), D("0.00")))
    return Document(number, "invoice", inv.date, dt.date(2024, 4, 4), customer, journal, description,
                    "+++123/4567/89002+++", "EUR", D("1100.00"), D("210.00"), D("1310.00"), postings, groups, (),
                    sequence=1, invoice=inv)


def credit_doc() -> Document:
    inv = Invoice("CN-7", "credit note", dt.date(2024, 5, 31), "C2", where=where(layout.INVOICES, 3))
    postings = (
        post("receivable", "400000", "-106.00", 1, base="100.00", vat="6.00", text="Refund"),
        post("revenue", "700060", "100.00", 2, "6", "domestic", "211200", text="Refund"),
        post("vat", "451000", "6.00", 3, "6", "domestic", "211200", base="100.00", vat="6.00", text="Refund"),
    )
    return Document("CN-7", "credit note", inv.date, inv.date, JAN, "VFC", "Refund", "", "EUR", D("100.00"), D("6.00"),
                    D("106.00"), postings, (VatGroup(D("6"), "domestic", "211200", D("100.00"), D("6.00")),), (),
                    sequence=1, invoice=inv)


PARAMS = {"book_year": "3", "period_style": "monthly", "payment_code": "30",
          "delimiter": "semicolon", "decimal_separator": "comma"}
ACCOUNTS = (LedgerAccount("400000", "Customers", "receivable"), LedgerAccount("451000", "VAT", "VAT"),
            LedgerAccount("700000", "Sales 21", "revenue"))


def batch(documents=None, params=None, settings=SETTINGS, customers=(ACME, JAN)) -> Batch:
    return Batch("E0001", dt.datetime(2024, 6, 1, 10, 30, 15, 123456), dt.date(2024, 1, 1), dt.date(2024, 6, 30),
                 settings, {**PARAMS, **(params or {})},
                 tuple(documents) if documents is not None else (invoice_doc(), credit_doc()), customers, ACCOUNTS)


# ---- WinBooks -----------------------------------------------------------------------------------

E = '"","","","","","","","","","","","","","",""'  # positions 24-38 when VATIMPUT is empty: 15 empty fields
ACT = "\r\n".join([
    '"1","VF","2","2024001","001","","400000","100001","3","03","20240305","20240305","20240404","Consulting",'
    '"+++123/4567/89002+++","0.00","1310.00","1100.00","","","","","210.00",' + E,
    '"3","VF","2","2024001","002","","700000","","3","03","20240305","20240305","","Consulting",'
    '"","0.00","-1000.00","0.00","","","","","0.00","211400",' + E[3:],
    '"3","VF","2","2024001","003","","700300","","3","03","20240305","20240305","","Consulting",'
    '"","0.00","-100.00","0.00","","","","","0.00","222000",' + E[3:],
    '"3","VF","2","2024001","VAT","","451000","","3","03","20240305","20240305","","Consulting",'
    '"","0.00","-210.00","1000.00","211400","","","","0.00",' + E,
    '"4","VF","2","2024001","005","","","","3","03","20240305","20240305","","Consulting",'
    '"","0.00","0.00","100.00","222000","","","","0.00",' + E,
    '"1","VFC","3","7","001","","400000","100002","3","05","20240531","20240531","20240531","Refund",'
    '"","0.00","-106.00","100.00","","","","","6.00",' + E,
    '"3","VFC","3","7","002","","700060","","3","05","20240531","20240531","","Refund",'
    '"","0.00","100.00","0.00","","","","","0.00","211200",' + E[3:],
    '"3","VFC","3","7","VAT","","451000","","3","05","20240531","20240531","","Refund",'
    '"","0.00","6.00","100.00","211200","","","","0.00",' + E,
]) + "\r\n"
CSF = (
    '"100001","1","Brasserie Ölmann & Co","","","","Rue Haute 1","","1","BE","0477.472.701","30","02 123 45 67","","",'
    '"1000","Bruxelles","","F","","400000","","","",""\r\n'
    '"100002","1","Jan \'de Bakker\' Peeters","","","","","","3","BE","","30","","","","","","","N","","400000","","","",""\r\n'
)


def test_winbooks_act_and_csf_exact_bytes():
    result = specs.render(specs.load_spec("winbooks"), batch())
    assert [name for name, _ in result.files] == ["ACT.txt", "CSF.txt"]
    files = dict(result.files)
    assert files["ACT.txt"] == ACT.encode("cp1252")
    assert files["CSF.txt"] == CSF.encode("cp1252")
    assert result.warnings == []


def test_winbooks_quarterly_periods_and_no_book_year():
    result = specs.render(specs.load_spec("winbooks"), batch(params={"period_style": "quarterly", "book_year": ""}))
    lines = dict(result.files)["ACT.txt"].decode("cp1252").splitlines()
    assert [line.split(",")[8:10] for line in (lines[0], lines[5])] == [['""', '"01"'], ['""', '"02"']]


def test_winbooks_customer_file_follows_the_export_customers_setting():
    result = specs.render(specs.load_spec("winbooks"), batch(settings=replace(SETTINGS, export_customers=False)))
    assert [name for name, _ in result.files] == ["ACT.txt"]
    result = specs.render(specs.load_spec("winbooks"), batch(customers=()))
    assert [name for name, _ in result.files] == ["ACT.txt"]  # nothing to write: no empty CSF.txt


def test_winbooks_long_comment_is_cut_with_a_warning_pointing_at_the_invoice():
    doc = invoice_doc(description="Consulting services for the brewery, March 2024, phase two")
    result = specs.render(specs.load_spec("winbooks"), batch([doc]))
    act = dict(result.files)["ACT.txt"].decode("cp1252")
    assert '"Consulting services for the brewery, Mar"' in act
    assert {f.code for f in result.warnings} == {"text.truncated"}
    warning = result.warnings[0]
    description = layout.column_letter(layout.INVOICES.keys.index("description"))
    assert (warning.severity, warning.sheet, warning.cell) == ("warning", "Invoices", f"{description}2")
    assert "invoice F2024-001" in warning.message and "COMMENT" in warning.message
    assert len(result.warnings) == 1  # the same cut on five lines of one document: said once


def test_winbooks_journal_longer_than_six_is_an_error_naming_every_document():
    docs = [invoice_doc(journal="SALES2024"), invoice_doc("F2024-002", journal="SALES2024", row=3)]
    with pytest.raises(specs.RenderError) as caught:
        specs.render(specs.load_spec("winbooks"), batch(docs))
    findings = caught.value.findings
    assert [f.code for f in findings] == ["text.too_long", "text.too_long"]
    assert ["F2024-001" in findings[0].message, "F2024-002" in findings[1].message] == [True, True]
    assert all("DBKCODE" in f.message and f.severity == "error" for f in findings)
    assert [f.cell for f in findings] == ["A2", "A3"]  # no journal column: the invoice's row
    assert "SALES2024" in str(caught.value)


def test_winbooks_transliterates_what_cp1252_cannot_hold():
    customer = replace(ACME, name="Łódź Trading ẞ")
    result = specs.render(specs.load_spec("winbooks"), batch([invoice_doc(customer=customer)], customers=(customer,)))
    csf = dict(result.files)["CSF.txt"].decode("cp1252")
    assert '"Lódz Trading SS"' in csf  # ó is cp1252, Ł and ź are not
    assert [(f.code, f.sheet, f.cell) for f in result.warnings] == [("text.transliterated", "Customers", "B2")]


# ---- CSV journal --------------------------------------------------------------------------------

CSV_HEADER = ("Export id;Journal;Document number;Document type;Date;Due date;Customer number;Customer name;"
              "Account;Description;Debit;Credit;VAT code;VAT rate;VAT base\r\n")
CSV_ROWS = (
    "E0001;VF;F2024-001;invoice;2024-03-05;2024-04-04;100001;Brasserie Ölmann & Co;400000;Consulting;1310,00;;;;\r\n"
    "E0001;VF;F2024-001;invoice;2024-03-05;2024-04-04;100001;Brasserie Ölmann & Co;700000;Consulting;;1000,00;211400;21;\r\n"
    "E0001;VF;F2024-001;invoice;2024-03-05;2024-04-04;100001;Brasserie Ölmann & Co;700300;Consulting;;100,00;222000;0;\r\n"
    "E0001;VF;F2024-001;invoice;2024-03-05;2024-04-04;100001;Brasserie Ölmann & Co;451000;Consulting;;210,00;211400;21;1000,00\r\n"
    "E0001;VF;F2024-001;invoice;2024-03-05;2024-04-04;100001;Brasserie Ölmann & Co;451000;Consulting;0,00;;222000;0;100,00\r\n"
    'E0001;VFC;CN-7;credit note;2024-05-31;2024-05-31;100002;"Jan ""de Bakker"" Peeters";400000;Refund;;106,00;;;\r\n'
    'E0001;VFC;CN-7;credit note;2024-05-31;2024-05-31;100002;"Jan ""de Bakker"" Peeters";700060;Refund;100,00;;211200;6;\r\n'
    'E0001;VFC;CN-7;credit note;2024-05-31;2024-05-31;100002;"Jan ""de Bakker"" Peeters";451000;Refund;6,00;;211200;6;100,00\r\n'
)


def test_csv_journal_exact_bytes():
    result = specs.render(specs.load_spec("csv-journal"), batch())
    assert result.files == [("journal-E0001.csv", b"\xef\xbb\xbf" + (CSV_HEADER + CSV_ROWS).encode("utf-8"))]


def test_csv_journal_delimiter_and_decimal_separator_come_from_parameters():
    result = specs.render(specs.load_spec("csv-journal"), batch(params={"delimiter": "comma"}))
    text = result.files[0][1].decode("utf-8-sig")
    assert text.splitlines()[1].endswith(',"1310,00",,,,')  # decimal comma inside a comma file: quoted
    result = specs.render(specs.load_spec("csv-journal"), batch(params={"delimiter": "tab", "decimal_separator": "point"}))
    assert result.files[0][1].decode("utf-8-sig").splitlines()[4].endswith("\t451000\tConsulting\t\t210.00\t211400\t21\t1000.00")


# ---- the vocabulary, on small specs -------------------------------------------------------------

BASE = {
    "id": "t", "name": "Test", "description": "", "countries": [], "format_version": "1",
    "parameters": [
        {"name": "sep", "label": "Separator", "type": "choice", "choices": ["pipe", "tab"], "default": "pipe", "help": ""},
        {"name": "siren", "label": "SIREN", "type": "string", "help": ""},
    ],
}


def spec_of(tmp_path, *files, **top):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**BASE, **top, "files": list(files)}), encoding="utf-8")
    return specs.load_spec(path)


def text_file(records, **extra):
    return {"name": "out.txt", "encoding": "utf-8", "line_ending": "lf", "trailing_newline": False,
            "layout": {"kind": "delimited", "delimiter": "|", "quoting": "none"}, "records": records, **extra}


def rendered(tmp_path, *files, b=None, **top) -> str:
    result = specs.render(spec_of(tmp_path, *files, **top), b or batch())
    return result.files[0][1].decode("utf-8-sig")


def test_decimal_side_indicator_and_sign_options(tmp_path):
    amount = {"source": "posting.amount"}
    fields = [
        {"name": "D", **amount, "format": {"type": "decimal", "places": 2, "decimal_separator": ",", "side": "debit", "other_side": "zero"}},
        {"name": "C", **amount, "format": {"type": "decimal", "places": 2, "decimal_separator": ",", "side": "credit"}},
        {"name": "SH", **amount, "format": {"type": "indicator", "debit": "S", "credit": "H"}},
        {"name": "ABS", **amount, "format": {"type": "decimal", "places": 2, "sign": "absolute", "thousands_separator": "."}},
        {"name": "NEG", **amount, "format": {"type": "decimal", "places": 1, "sign": "negate"}, "empty_when_zero": True},
    ]
    out = rendered(tmp_path, text_file([{"collection": "postings", "fields": fields}]), b=batch([invoice_doc()]))
    assert out.split("\n") == [
        "1310,00||S|1.310.00|-1310.0", "0,00|1000,00|H|1.000.00|1000.0", "0,00|100,00|H|100.00|100.0",
        "0,00|210,00|H|210.00|210.0", "0,00||S|0.00|",  # -0.00 is a zero: never "-0.00"
    ]


def test_conditions_index_dates_and_fixed_width(tmp_path):
    fields = [
        {"name": "N", "source": "index", "format": {"type": "integer"}, "width": 3, "align": "right", "pad": "0"},
        {"name": "K", "source": "posting.kind", "width": 8},
        {"name": "Q", "source": "document.date", "format": {"type": "date", "pattern": "Q%q/%y %d.%m."}, "width": 12},
        {"name": "T", "source": "batch.created_at", "format": {"type": "date", "pattern": "%Y%m%d%H%M%S%L"}, "width": 17},
    ]
    when = [{"path": "posting.kind", "op": "in", "value": ["revenue", "vat"]}, {"path": "posting.amount", "op": "lt", "value": -150}]
    file = {**text_file([{"collection": "postings", "when": when, "fields": fields}]), "layout": {"kind": "fixed"}}
    assert rendered(tmp_path, file).split("\n") == [
        "002revenue Q1/24 05.03.20240601103015123",
        "004vat     Q1/24 05.03.20240601103015123",
    ]


def test_nested_blocks_tagged_layout_and_header_lines(tmp_path):
    """SIE 4i-like: tagged lines, a #KONTO per account, a #VER { #TRANS ... } block per document."""
    file = {
        "name": "out.si", "encoding": "cp437", "unrepresentable": "error", "line_ending": "crlf", "trailing_newline": True,
        "layout": {"kind": "tagged"},
        "header": [{"text": "#FLAGGA 0"},
                   {"record": {"fields": [{"name": "tag", "constant": "#GEN"},
                                          {"name": "date", "source": "batch.created_at", "format": {"type": "date", "pattern": "%Y%m%d"}}]}}],
        "records": [
            {"collection": "accounts", "fields": [{"name": "tag", "constant": "#KONTO"}, {"name": "nr", "source": "account.account"},
                                                  {"name": "name", "source": "account.name"}]},
            {"collection": "documents", "fields": [
                {"name": "tag", "constant": "#VER"}, {"name": "series", "constant": "A"}, {"name": "nr", "constant": ""},
                {"name": "date", "source": "document.date", "format": {"type": "date", "pattern": "%Y%m%d"}},
                {"name": "text", "source": "document.number"}],
             "block": {"open": "{", "close": "}", "indent": "   "},
             "children": [{"collection": "postings", "when": [{"path": "posting.amount", "op": "ne", "value": 0}], "fields": [
                 {"name": "tag", "constant": "#TRANS"}, {"name": "account", "source": "posting.account"},
                 {"name": "objects", "constant": "{}", "quote": False},
                 {"name": "amount", "source": "posting.amount", "format": {"type": "decimal", "places": 2}},
                 {"name": "date", "constant": ""}, {"name": "text", "source": "customer.name"}]}]},
        ],
    }
    out = rendered(tmp_path, file, b=batch([credit_doc()]))
    assert out == (
        '#FLAGGA 0\r\n#GEN 20240601\r\n#KONTO 400000 Customers\r\n#KONTO 451000 VAT\r\n#KONTO 700000 "Sales 21"\r\n'
        '#VER A "" 20240531 CN-7\r\n{\r\n'
        '   #TRANS 400000 {} -106.00 "" "Jan \\"de Bakker\\" Peeters"\r\n'
        '   #TRANS 700060 {} 100.00 "" "Jan \\"de Bakker\\" Peeters"\r\n'
        '   #TRANS 451000 {} 6.00 "" "Jan \\"de Bakker\\" Peeters"\r\n}\r\n'
    )


def test_xml_layout_nests_elements_and_leaves_empty_ones_out(tmp_path):
    file = {
        "name": "out.xml", "encoding": "utf-8", "line_ending": "lf", "trailing_newline": True,
        "layout": {"kind": "xml", "root": "eExact",
                   "root_attributes": [{"name": "xmlns:xsi", "constant": "http://www.w3.org/2001/XMLSchema-instance"}]},
        "records": [
            {"element": "Accounts", "children": [{"collection": "customers", "element": "Account",
                                                  "attributes": [{"name": "code", "source": "customer.accounting_number"},
                                                                 {"name": "type", "constant": "C"}],
                                                  "fields": [{"name": "Name", "source": "customer.name"},
                                                             {"name": "Email", "source": "customer.email"}]}]},
            {"element": "FinEntries", "children": [{"collection": "documents", "element": "FinEntry",
                "attributes": [{"name": "entry", "source": "document.number"}],
                "children": [{"collection": "postings", "element": "FinEntryLine",
                              "attributes": [{"name": "number", "source": "index"}],
                              "children": [
                                  {"element": "GLAccount", "attributes": [{"name": "code", "source": "posting.account"}]},
                                  {"element": "Debtor", "attributes": [{"name": "code", "source": "customer.accounting_number",
                                                                        "when": [{"path": "posting.kind", "op": "eq", "value": "receivable"}]}]},
                                  {"element": "Amount", "children": [{"element": "Value", "text": {
                                      "name": "Value", "source": "posting.amount", "format": {"type": "decimal", "places": 2}}}]},
                              ]}]}]},
        ],
    }
    out = rendered(tmp_path, file, b=batch([credit_doc()], customers=(JAN,)))
    assert out == """<?xml version="1.0" encoding="UTF-8"?>
<eExact xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Accounts>
    <Account code="100002" type="C">
      <Name>Jan "de Bakker" Peeters</Name>
    </Account>
  </Accounts>
  <FinEntries>
    <FinEntry entry="CN-7">
      <FinEntryLine number="1">
        <GLAccount code="400000"/>
        <Debtor code="100002"/>
        <Amount>
          <Value>-106.00</Value>
        </Amount>
      </FinEntryLine>
      <FinEntryLine number="2">
        <GLAccount code="700060"/>
        <Amount>
          <Value>100.00</Value>
        </Amount>
      </FinEntryLine>
      <FinEntryLine number="3">
        <GLAccount code="451000"/>
        <Amount>
          <Value>6.00</Value>
        </Amount>
      </FinEntryLine>
    </FinEntry>
  </FinEntries>
</eExact>
"""


def test_file_name_placeholders_and_parameter_driven_delimiter(tmp_path):
    file = {**text_file([{"collection": "documents", "fields": [
                {"name": "a", "source": "document.number"}, {"name": "b", "source": "document.journal"}]}]),
            "name": "{param.siren}FEC{period_to:%Y%m%d}.txt",
            "layout": {"kind": "delimited", "quoting": "none", "delimiter": {"param": "sep", "map": {"pipe": "|", "tab": "\t"}}}}
    spec = spec_of(tmp_path, file)
    result = specs.render(spec, batch(params={"siren": "123456789", "sep": "tab"}))
    assert result.files == [("123456789FEC20240630.txt", b"F2024-001\tVF\nCN-7\tVFC")]


@pytest.mark.parametrize("siren", ["../../etc", "a/b", "C:evil", "x\\y", ".."])
def test_a_parameter_cannot_move_a_file_out_of_the_folder(tmp_path, siren):
    file = {**text_file([{"collection": "documents", "fields": [{"name": "a", "source": "document.number"}]}]),
            "name": "{param.siren}.txt"}
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, file), batch(params={"siren": siren}))
    assert [f.code for f in caught.value.findings] == ["file.name"]


def test_unquoted_value_holding_the_delimiter_is_an_error(tmp_path):
    doc = invoice_doc(number="F|1")
    file = text_file([{"collection": "documents", "fields": [{"name": "PieceRef", "source": "document.number"}]}])
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, file), batch([doc]))
    assert [f.code for f in caught.value.findings] == ["text.delimiter"]
    replaced = {**file, "replace": {"|": "/"}}
    assert rendered(tmp_path, replaced, b=batch([doc])) == "F/1"


def test_unrepresentable_error_lists_every_value(tmp_path):
    file = {**text_file([{"collection": "customers", "fields": [{"name": "Name", "source": "customer.name"}]}]),
            "encoding": "latin-1", "unrepresentable": "error"}
    customers = (replace(ACME, name="Zürich €"), replace(JAN, name="Ærø – ok"))
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, file), batch(customers=customers))
    findings = caught.value.findings
    assert [(f.code, f.sheet, f.cell) for f in findings] == [("text.unrepresentable", "Customers", "B2"),
                                                             ("text.unrepresentable", "Customers", "B3")]
    assert "'€'" in findings[0].message and "customer C1" in findings[0].message


def test_text_options_map_picture_allowed_case_and_if_empty(tmp_path):
    fields = [
        {"name": "lang", "source": "customer.language", "map": {"values": {"fr": "F", "nl": "N"}, "default": "?"}},
        {"name": "vat", "source": "customer.vat_number", "if_empty": "-", "format": {"type": "text", "picture": {
            "prefix_length": 2, "keep_prefix": True, "masks": {"BE": "9999.999.999", "NL": "999999999X99"}}}},
        {"name": "name", "source": "customer.name", "max_length": 8, "overflow": "truncate",
         "format": {"type": "text", "case": "upper", "allowed": "A-Za-z ", "disallowed": "replace"}},
        {"name": "kind", "source": "customer.kind", "map": {"values": {"person": "P"}}},
    ]
    customers = (ACME, JAN, replace(JAN, vat_number="nl004495445b01", language="DE", kind="company"))
    out = rendered(tmp_path, text_file([{"collection": "customers", "fields": fields}]), b=batch(customers=customers))
    assert out.split("\n") == ["F|BE0477.472.701|BRASSERI|company", "N|-|JAN DE B|P", "?|NL004495445B01|JAN DE B|company"]


def test_shared_fields_and_columns_place_fields_by_name(tmp_path):
    file = {**text_file([{"collection": "postings", "when": [{"path": "posting.kind", "op": "eq", "value": "receivable"}],
                          "fields": [{"name": "amount", "source": "posting.amount"}]}]),
            "columns": ["doc", "amount", "unused", "journal"],
            "shared_fields": [{"name": "doc", "source": "document.number"}, {"name": "journal", "source": "document.journal"}],
            "header": [{"column_names": True}]}
    assert rendered(tmp_path, file).split("\n") == ["doc|amount|unused|journal", "F2024-001|1310||VF", "CN-7|-106||VFC"]  # unformatted: canonical


def test_rendering_twice_gives_the_same_bytes():
    spec = specs.load_spec("winbooks")
    assert specs.render(spec, batch()).files == specs.render(spec, batch()).files


def test_lookup_names_an_account_and_text_only_quoting(tmp_path):
    """DATEV-like quoting: text always quoted, numbers never; FEC-like account label by lookup."""
    file = {**text_file([{"collection": "postings", "when": [{"path": "posting.kind", "op": "ne", "value": "revenue"}],
                          "fields": [
                              {"name": "Umsatz", "source": "posting.amount",
                               "format": {"type": "decimal", "places": 2, "decimal_separator": ",", "sign": "absolute"}},
                              {"name": "SH", "source": "posting.amount", "format": {"type": "indicator", "debit": "S", "credit": "H"}},
                              {"name": "Konto", "source": "posting.account", "quote": False},
                              {"name": "Label", "source": "posting.account",
                               "lookup": {"collection": "accounts", "key": "account", "value": "name"}},
                              {"name": "Version", "constant": "700", "format": {"type": "integer"}},
                          ]}]),
            "layout": {"kind": "delimited", "delimiter": ";", "quoting": "text-only"}}
    assert rendered(tmp_path, file, b=batch([credit_doc()])).split("\n") == [
        '106,00;"H";400000;"Customers";700', '6,00;"S";451000;"VAT";700']
    bad = {**file, "records": [{"collection": "postings", "fields": [
        {"name": "x", "source": "posting.account", "lookup": {"collection": "accounts", "key": "nme", "value": "name"}}]}]}
    with pytest.raises(specs.SpecError, match=r"lookup\.key: 'account\.nme': account has no 'nme'"):
        spec_of(tmp_path, bad)


def test_characters_outside_the_allowed_set(tmp_path):
    """DATEV's Belegfeld 1 takes A-Z a-z 0-9 $&%*+-/ only: replaced with a warning, or refused."""
    doc = invoice_doc(number="F 1_2")
    field = {"name": "Beleg", "source": "document.number",
             "format": {"type": "text", "allowed": "A-Za-z0-9$&%*+\\-/", "replacement": "-"}}
    file = text_file([{"collection": "documents", "fields": [field]}])
    result = specs.render(spec_of(tmp_path, file), batch([doc]))
    assert result.files[0][1].decode() == "F-1-2"
    assert [w.code for w in result.warnings] == ["text.replaced"]
    strict = text_file([{"collection": "documents", "fields": [{**field, "format": {**field["format"], "disallowed": "error"}}]}])
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, strict), batch([doc]))
    assert [f.code for f in caught.value.findings] == ["text.disallowed"]


@pytest.mark.parametrize("encoding", ["cp437", "cp850"])
def test_a_dos_code_page_by_its_table_is_the_codec_byte_for_byte(encoding):
    """SIE's cp437 (and the other DOS code pages) are encoded by a C table built from the codec's
    own decoding table (text.charmap_table): every character of the BMP gives the codec's bytes,
    or fails as the codec fails; a sink holding a line it cannot encode keeps the codec's error."""
    import codecs

    from toolkit.spec import text
    from toolkit.spec.sink import Sink

    table = text.charmap_table(encoding)
    assert table is not None and text.charmap_table("cp1252") is None  # cp1252 has a C table already
    for code in range(0x10000):
        ch = chr(code)
        try:
            expected = ch.encode(encoding)
        except UnicodeEncodeError:
            expected = None
        try:
            got = codecs.charmap_encode(ch, "strict", table)[0]
        except UnicodeEncodeError:
            got = None
        assert got == expected, hex(code)
    sink = Sink("\r\n", encoding, None)
    sink.mark_header()
    sink.append("#FNAMN \"Försäljning AB\"")
    sink.append("#TEXT \"☃\"")
    [part] = sink.close()
    assert part.data() == b"" and part.failure.object[part.failure.start:part.failure.end] == "☃"
    sink = Sink("\r\n", encoding, None)
    sink.mark_header()
    sink.append("#FNAMN \"Försäljning AB\"")
    [part] = sink.close()
    assert part.data() == "#FNAMN \"Försäljning AB\"".encode(encoding)


@pytest.mark.parametrize("encoding", ["cp1252", "iso-8859-15", "cp437", "utf-8"])
def test_a_sink_writes_the_codec_s_bytes_whatever_quicker_codec_it_takes(encoding):
    """The sink takes the ASCII codec for ASCII text, a DOS code page's C table, or the Latin-1 codec
    for cp1252 / iso-8859-15 text of the Latin-1 characters they write alike (text.latin1_exceptions):
    every Latin-1 character and a few beyond, beside accented ones, gives the codec's bytes, or the
    codec's failure on that character."""
    from toolkit.spec.sink import Sink

    for code in [*range(0x100), 0x152, 0x153, 0x160, 0x17D, 0x20AC, 0x2603]:
        line = f"Société {chr(code)} ¤"
        sink = Sink("\r\n", encoding, None)
        sink.mark_header()
        sink.append("plain")
        sink.append(line)
        [part] = sink.close()
        try:
            expected = f"plain\r\n{line}".encode(encoding)
        except UnicodeEncodeError as exc:
            assert part.data() == b"" and (part.failure.start, part.failure.end) == (exc.start, exc.end), hex(code)
        else:
            assert part.failure is None and part.data() == expected, hex(code)
