"""Pasting a customer list: recognising its columns, matching its rows, applying the actions."""

import csv

import openpyxl
import pytest

from toolkit.customers.apply import ImportRow, apply_actions, next_customer_ids
from toolkit.customers.match import (
    AMBIGUOUS,
    ASSIGN,
    BY_FUZZY,
    BY_NAME_POSTAL,
    BY_NUMBER,
    BY_VAT,
    CONFLICT,
    CORRECT,
    NEW,
    OVERWRITE,
    SKIP,
    match_rows,
)
from toolkit.customers.normalize import name_key, vat_key
from toolkit.customers.paste import decode, detect_delimiter, header_field, parse_paste, read_table_file
from toolkit.errors import UserError
from toolkit.model import Customer

CUSTOMERS = [
    Customer("C0001", "Janssens BV", vat_number="BE0477472701", postal_code="9000", city="Gent"),
    Customer("C0002", "Peeters NV", vat_number="BE0403170701", postal_code="2000", city="Antwerpen"),
    Customer("C0003", "Dupont SA", postal_code="1000", city="Bruxelles"),
    Customer("C0004", "Bakkerij Maes", postal_code="9000", accounting_number="100004", number_source="imported"),
    Customer("C0005", "Van den Berg BV", vat_number="853206588B01", country="NL", postal_code="1011 AB"),
    Customer("C0006", "Willems", postal_code="3000", accounting_number="100099", number_source="generated"),
]

# What a person would paste from the accounting package: other column order, no header row,
# stray spaces, other case, other legal forms, VAT numbers written every which way.
MESSY = [
    ["  janssens  bvba ", "100001", "0477.472.701", " 9000", "GENT"],
    ["PEETERS", "100002", "BE 0403 170 701", "2000", "Antwerpen"],
    ["Dupont S.A.", "100003", "", "1000", "Bruxelles"],
    ["Bakkerij Maes", "100004", "", "9000", "Gent"],
    ["van den berg b.v.", "100005", "NL853206588B01", "1011AB", "Amsterdam"],
    ["Nieuwe Klant Comm.V.", "100007", "", "8000", "Brugge"],
    [],
]


def test_name_and_vat_keys():
    assert name_key("BVBA Janssens") == name_key("Janssens BV") == name_key("JANSSENS b.v.b.a.")
    assert name_key("Société Générale S.A.") == name_key("societe generale")
    assert name_key("Müller GmbH & Co. KG") == "muller"
    assert vat_key("0477.472.701", "BE") == vat_key("BE 0477 472 701") == "BE0477472701"
    assert vat_key("477472701", "BE") == "BE0477472701"  # Excel ate the leading zero
    assert vat_key("GR094259216") == "EL094259216"
    assert vat_key("CHE-123.456.789", "BE") == "CHE123456789"


@pytest.mark.parametrize(
    "header, field",
    [
        ("Klantnummer", "number"), ("Numéro", "number"), ("Number", "number"), ("Code", "number"),
        ("Debiteurnummer", "number"), ("Kundennummer", "number"), ("Numéro client", "number"),
        ("Naam", "name"), ("Nom", "name"), ("Name", "name"), ("Raison sociale", "name"),
        ("BTW", "vat"), ("TVA", "vat"), ("VAT", "vat"), ("USt-IdNr.", "vat"), ("N° TVA", "vat"),
        ("Numéro de TVA", "vat"), ("Ondernemingsnummer", "vat"),
        ("Postcode", "postal_code"), ("Code postal", "postal_code"), ("PLZ", "postal_code"),
        ("Gemeente", "city"), ("Localité", "city"), ("City", "city"), ("Ort", "city"),
        ("Telefoonnummer", "phone"), ("E-mailadres", "email"), ("Straße", "street"), ("Pays", "country"),
        ("Hobby", None),
    ],
)
def test_header_names_in_four_languages(header, field):
    assert header_field(header) == field


def test_paste_with_french_headers_in_another_order():
    paste = parse_paste(
        [
            ["Pasted data"],  # the sheet's own header row above the paste is not a header of the paste
            ["Localité", "Nom", "N° TVA", "Code postal", "Numéro"],
            ["Gent", "Janssens", "BE0477472701", "9000", 100001.0],
        ][1:]
    )
    assert paste.how == "headers"
    assert paste.header_row == 0
    assert paste.records == [{"city": "Gent", "name": "Janssens", "vat": "BE0477472701", "postal_code": "9000", "number": "100001"}]


def test_paste_without_headers_is_recognised_by_content():
    paste = parse_paste(MESSY, default_country="BE")
    assert paste.how == "content" and paste.header_row is None
    assert paste.columns == {0: "name", 1: "number", 2: "vat", 3: "postal_code", 4: "city"}
    assert len(paste.records) == 6  # the blank row is dropped
    assert paste.records[0]["name"] == "janssens bvba"  # spaces tidied


def test_content_recognition_tells_numbers_from_postal_codes_and_finds_mail_and_phone():
    rows = [
        [f"{10000 + i}", f"Firma {n}", f"{p}", "Köln", f"info@{n.lower()}.de", f"+49 221 {4000 + i} 12"]
        for i, (n, p) in enumerate([("Alpha", 50667), ("Beta", 50667), ("Gamma", 50668), ("Delta", 50667)])
    ]
    paste = parse_paste(rows)
    assert paste.columns == {0: "number", 1: "name", 2: "postal_code", 3: "city", 4: "email", 5: "phone"}


def test_messy_paste_matches_as_a_person_would():
    paste = parse_paste(MESSY, default_country="BE")
    matches = match_rows(paste.records, CUSTOMERS, "BE")
    got = [(m.customer_id, m.method, m.action) for m in matches]
    assert got == [
        ("C0001", BY_VAT, ASSIGN),  # "janssens bvba" with a VAT number without prefix, dots
        ("C0002", BY_VAT, ASSIGN),  # VAT with prefix and spaces; name without legal form
        ("C0003", BY_NAME_POSTAL, ASSIGN),  # "S.A." vs "SA"
        ("C0004", BY_NAME_POSTAL, CORRECT),
        ("C0005", BY_VAT, ASSIGN),  # customer stored without prefix, country NL
        ("", "", NEW),
    ]
    assert matches[0].confidence == 100


def test_headers_in_german_and_matching_by_vat_without_prefix_uses_customer_country():
    paste = parse_paste([["Kundennummer", "Name", "USt-IdNr.", "PLZ", "Ort"], ["100005", "V.d. Berg", "NL 8532.06.588.B01", "1011 AB", "Amsterdam"]])
    [m] = match_rows(paste.records, CUSTOMERS, "BE")
    assert (m.customer_id, m.method, m.action) == ("C0005", BY_VAT, ASSIGN)


def test_conflict_customer_already_has_another_number():
    [m] = match_rows([{"number": "200000", "name": "Bakkerij Maes", "postal_code": "9000"}], CUSTOMERS)
    assert (m.customer_id, m.action) == ("C0004", CONFLICT)
    assert "already has number 100004" in m.note and OVERWRITE in m.note


def test_conflict_number_already_used_by_another_customer():
    [m] = match_rows([{"number": "100099", "name": "Janssens", "vat": "BE0477472701"}], CUSTOMERS)
    assert (m.customer_id, m.action) == ("C0001", CONFLICT)
    assert "already used by customer C0006 (Willems)" in m.note


def test_conflict_unknown_row_with_a_number_in_use():
    [m] = match_rows([{"number": "100099", "name": "Somebody Else", "postal_code": "8000"}], CUSTOMERS)
    assert (m.customer_id, m.action) == ("", CONFLICT)
    assert "C0006" in m.note


def test_number_held_by_the_customer_with_a_similar_name_is_already_correct():
    [m] = match_rows([{"number": "100099", "name": "Willems Jan", "postal_code": "3001"}], CUSTOMERS)
    assert (m.customer_id, m.method, m.action) == ("C0006", BY_NUMBER, CORRECT)


def test_same_number_on_two_rows_for_different_customers():
    rows = [{"number": "100001", "vat": "BE0477472701"}, {"number": "100001", "vat": "BE0403170701"}]
    assert [m.action for m in match_rows(rows, CUSTOMERS)] == [CONFLICT, CONFLICT]


def test_two_numbers_for_one_customer():
    rows = [{"number": "100001", "vat": "BE0477472701"}, {"number": "100002", "name": "Janssens", "postal_code": "9000"}]
    matches = match_rows(rows, CUSTOMERS, labels=["row 2", "row 3"])
    assert [m.action for m in matches] == [CONFLICT, CONFLICT]
    assert "row 2, row 3 give customer C0001 different numbers" in matches[0].note


def test_the_same_row_pasted_twice_is_skipped_the_second_time():
    rows = [{"number": "100001", "vat": "BE0477472701"}] * 2
    assert [m.action for m in match_rows(rows, CUSTOMERS)] == [ASSIGN, SKIP]


def test_ambiguous_when_two_customers_share_a_vat_number():
    cs = CUSTOMERS + [Customer("C0099", "Janssens Gent", vat_number="BE0477472701", postal_code="9050")]
    [m] = match_rows([{"number": "100001", "vat": "0477472701", "name": "Jansens"}], cs)
    assert (m.customer_id, m.action) == ("", AMBIGUOUS)
    assert "C0001" in m.note and "C0099" in m.note


def test_shared_vat_number_narrowed_by_name_and_postal_code():
    cs = CUSTOMERS + [Customer("C0099", "Janssens Gent", vat_number="BE0477472701", postal_code="9050")]
    [m] = match_rows([{"number": "100001", "vat": "0477472701", "name": "Janssens Gent", "postal_code": "9050"}], cs)
    assert (m.customer_id, m.action) == ("C0099", ASSIGN)


def test_ambiguous_when_two_similar_names_are_close_together():
    cs = [Customer("A1", "Garage Verhoeven", postal_code="2000"), Customer("A2", "Garage Verhoeve", postal_code="2000")]
    [m] = match_rows([{"number": "1", "name": "Garage Verhoeven NV", "postal_code": "2000"}], cs)
    assert (m.customer_id, m.action) == ("A1", ASSIGN)  # exact beats similar
    [m] = match_rows([{"number": "1", "name": "Garage Verhoevens", "postal_code": "2000"}], cs)
    assert (m.customer_id, m.method, m.action) == ("", BY_FUZZY, AMBIGUOUS)
    assert "A1" in m.note and "A2" in m.note


def test_fuzzy_name_sure_match_and_merely_similar():
    cs = [Customer("A1", "Brasserie De Gouden Leeuw", postal_code="8000"), Customer("A2", "Dupont", postal_code="1000")]
    [m] = match_rows([{"number": "7", "name": "Brasserie De Gouden Leeuw.", "postal_code": "8000"}], cs)
    assert (m.customer_id, m.action) == ("A1", ASSIGN)  # punctuation only: exact
    [m] = match_rows([{"number": "7", "name": "Brasserie de Goude Leeuw", "postal_code": "8000"}], cs)
    assert (m.customer_id, m.method, m.action) == ("A1", BY_FUZZY, ASSIGN) and 92 <= m.confidence < 100
    [m] = match_rows([{"number": "8", "name": "Dupond", "postal_code": "1000"}], cs)
    assert (m.customer_id, m.action) == ("A2", AMBIGUOUS) and "possibly A2" in m.note
    [m] = match_rows([{"number": "8", "name": "Dupond", "postal_code": "9000"}], cs)
    assert (m.customer_id, m.action) == ("", NEW)  # another town: not the same customer


def test_same_name_and_postal_code_but_another_vat_number_is_not_matched_blindly():
    [m] = match_rows([{"number": "5", "name": "Janssens", "postal_code": "9000", "vat": "BE0403170701"}], CUSTOMERS[:1])
    assert m.action == AMBIGUOUS and "another VAT number" in m.note


def test_row_without_number_is_skipped():
    [m] = match_rows([{"name": "Janssens", "postal_code": "9000"}], CUSTOMERS)
    assert (m.customer_id, m.action) == ("C0001", SKIP)


# ---- apply --------------------------------------------------------------------------------------


def rows_from(records, matches):
    return [ImportRow(f"row {i + 2}", r, m.customer_id, m.action) for i, (r, m) in enumerate(zip(records, matches))]


def test_apply_the_proposals_of_the_messy_paste():
    paste = parse_paste(MESSY, default_country="BE")
    rows = rows_from(paste.records, match_rows(paste.records, CUSTOMERS))
    result = apply_actions(rows, CUSTOMERS, "IMP-1")
    assert result.numbers == {"C0001": "100001", "C0002": "100002", "C0003": "100003", "C0005": "100005"}
    [new] = result.new_customers
    assert (new.customer_id, new.name, new.accounting_number, new.number_source, new.import_batch) == (
        "C0007", "Nieuwe Klant Comm.V.", "100007", "imported", "IMP-1"
    )
    assert (new.postal_code, new.city) == ("8000", "Brugge")
    assert result.summary == {"numbers assigned": 4, "already correct": 1, "customers created": 1}
    assert [r.action for r in result.rows] == [CORRECT] * 6  # applying again would change nothing


def test_apply_twice_changes_nothing():
    paste = parse_paste(MESSY, default_country="BE")
    rows = rows_from(paste.records, match_rows(paste.records, CUSTOMERS))
    first = apply_actions(rows, CUSTOMERS, "IMP-1")
    after = [
        Customer(c.customer_id, c.name, accounting_number=first.numbers.get(c.customer_id, c.accounting_number))
        for c in CUSTOMERS
    ] + first.new_customers
    again = [ImportRow(r.label, r.fields, o.customer_id, o.action) for r, o in zip(rows, first.rows)]
    second = apply_actions(again, after, "IMP-2")
    assert second.numbers == {} and second.new_customers == []
    assert second.summary == {"already correct": 6}


def test_new_customer_stores_a_valid_vat_number_compactly():
    row = ImportRow("row 2", {"name": "Nieuw", "vat": "0477.472.701", "number": "5"}, "", NEW)
    [new] = apply_actions([row], [], "B").new_customers
    assert new.vat_number == "BE0477472701" and new.customer_id == "C0001"


def test_apply_never_overwrites_unless_asked():
    fields = {"number": "200000", "name": "Maes"}
    refused = apply_actions([ImportRow("row 2", fields, "C0004", ASSIGN)], CUSTOMERS, "B")
    assert refused.numbers == {}
    assert "refused: customer C0004 already has number 100004" in refused.rows[0].note
    done = apply_actions([ImportRow("row 2", fields, "C0004", OVERWRITE)], CUSTOMERS, "B")
    assert done.numbers == {"C0004": "200000"}
    assert "was 100004" in done.rows[0].note
    assert done.summary == {"numbers overwritten": 1}


def test_overwrite_never_takes_a_number_of_another_customer():
    result = apply_actions([ImportRow("row 2", {"number": "100099"}, "C0004", OVERWRITE)], CUSTOMERS, "B")
    assert result.numbers == {} and "already used by customer C0006" in result.rows[0].note


def test_apply_refusals():
    rows = [
        ImportRow("row 2", {"number": "1"}, "C9999", ASSIGN),
        ImportRow("row 3", {"number": "1"}, "", ASSIGN),
        ImportRow("row 4", {"number": ""}, "C0001", ASSIGN),
        ImportRow("row 5", {"number": "100004", "name": "X"}, "", NEW),
        ImportRow("row 6", {"number": "9"}, "", NEW),
        ImportRow("row 7", {"number": "9"}, "C0001", "delete it"),
        ImportRow("row 8", {"number": "9"}, "C0001", CORRECT),
    ]
    result = apply_actions(rows, CUSTOMERS, "B")
    notes = [r.note for r in result.rows]
    assert notes == [
        "refused: no customer with id 'C9999'",
        "refused: no customer id",
        "refused: no customer number in this row",
        "refused: number 100004 is already used by customer C0004",
        "refused: a new customer needs a name",
        "refused: unknown action 'delete it'; use one of assign number, already correct, conflict, new customer, "
        "ambiguous, overwrite, skip",
        "refused: customer C0001 does not have number 9; set the action to 'assign number'",
    ]
    assert result.numbers == {} and result.new_customers == [] and result.summary == {"refused": 7}
    assert len(result.refused) == 7


def test_conflict_ambiguous_and_skip_rows_are_left_alone():
    rows = [ImportRow("r", {"number": "1", "name": "A"}, "C0001", a) for a in (CONFLICT, AMBIGUOUS, SKIP, "")]
    result = apply_actions(rows, CUSTOMERS, "B")
    assert result.numbers == {} and result.new_customers == []
    assert result.summary == {"left for review": 2, "skipped": 2}


def test_user_resolves_an_ambiguous_row_by_changing_the_action():
    cs = [Customer("A2", "Dupont", postal_code="1000")]
    [m] = match_rows([{"number": "8", "name": "Dupond", "postal_code": "1000"}], cs)
    assert m.action == AMBIGUOUS
    result = apply_actions([ImportRow("row 2", {"number": "8", "name": "Dupond"}, m.customer_id, " Assign  Number ")], cs, "B")
    assert result.numbers == {"A2": "8"}


def test_a_row_that_does_not_look_like_the_customer_is_refused():
    # A customer id typed into the wrong row, or results left beside a list pasted over the old one.
    rows = [
        ImportRow("row 2", {"number": "7", "name": "Garage Verhoeven"}, "C0001", ASSIGN),
        ImportRow("row 3", {"number": "8", "name": "Janssens", "vat": "BE0403170701"}, "C0001", ASSIGN),
        ImportRow("row 4", {"number": "9"}, "C0003", ASSIGN),
        ImportRow("row 5", {"number": "10", "name": "JANSSENS Gent"}, "C0001", ASSIGN),
    ]
    result = apply_actions(rows, CUSTOMERS, "B")
    notes = [r.note for r in result.rows]
    assert "does not look like customer C0001 (Janssens BV): the names are only" in notes[0]
    assert "VAT number BE0403170701 against BE0477472701" in notes[1]
    assert "no name or VAT number to confirm it" in notes[2]
    assert result.numbers == {"C0001": "10"}


def test_two_rows_in_one_apply_cannot_give_one_number_twice():
    rows = [ImportRow("row 2", {"number": "7", "name": "Janssens"}, "C0001", ASSIGN), ImportRow("row 3", {"number": "7", "name": "N"}, "", NEW)]
    result = apply_actions(rows, CUSTOMERS, "B")
    assert result.numbers == {"C0001": "7"} and result.new_customers == []
    assert "already used by customer C0001" in result.rows[1].note


def test_next_customer_ids_follow_the_workbook_style():
    assert next_customer_ids(["C0001", "C0042", "X9"], 2) == ["C0043", "C0044"]
    assert next_customer_ids(["1", "2", "17"], 1) == ["18"]
    assert next_customer_ids([], 1) == ["C0001"]


# ---- files --------------------------------------------------------------------------------------

ROWS = [["Klantnr", "Naam", "BTW-nummer", "Postcode", "Gemeente"], ["100001", "Janssens BVBA", "BE 0477.472.701", "9000", "Gent"],
        ["100003", "Société Dupont", "", "1000", "Bruxelles"]]


@pytest.mark.parametrize(
    "encoding, bom, delimiter",
    [("utf-8", b"", ";"), ("utf-8", b"\xef\xbb\xbf", ","), ("cp1252", b"", ";"), ("utf-16-le", b"\xff\xfe", "\t"), ("utf-8", b"", "|")],
)
def test_csv_files_with_any_delimiter_encoding_and_bom(tmp_path, encoding, bom, delimiter):
    path = tmp_path / "klanten.csv"
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(ROWS)
    path.write_bytes(bom + path.read_bytes())
    rows = read_table_file(path)
    assert rows == ROWS
    assert parse_paste(rows).records[1]["name"] == "Société Dupont"


def test_decode_and_delimiter_details():
    assert decode("é".encode("cp1252")) == "é"
    assert decode("é".encode("utf-8")) == "é"
    assert detect_delimiter('a;"b, c";d\n1;"2,5";3\n') == ";"
    assert detect_delimiter("a\tb\n1\t2\n") == "\t"


def test_xlsx_file(tmp_path):
    path = tmp_path / "klanten.xlsx"
    book = openpyxl.Workbook()
    for row in ROWS:
        book.active.append([int(v) if v.isdigit() else v for v in row])
    book.save(path)
    paste = parse_paste(read_table_file(path))
    assert paste.records[0] == {"number": "100001", "name": "Janssens BVBA", "vat": "BE 0477.472.701", "postal_code": "9000", "city": "Gent"}


# ---- robustness: junk in, no exception out ------------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_cell = st.one_of(st.none(), st.text(max_size=12), st.integers(-10, 10**12), st.floats(allow_nan=True), st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_cell, max_size=7), max_size=12))
def test_junk_paste_never_raises(rows):
    paste = parse_paste(rows, default_country="BE")
    matches = match_rows(paste.records, CUSTOMERS, "BE")
    assert len(matches) == len(paste.records)
    result = apply_actions(rows_from(paste.records, matches), CUSTOMERS, "B")
    assert len(result.rows) == len(paste.records)


@pytest.mark.parametrize("name", ["klanten.xlsx", "klanten.xls", "klanten.ods"])
def test_a_csv_file_named_as_a_spreadsheet_is_read_as_the_csv_it_is(tmp_path, name):
    """A CSV saved under a spreadsheet's name (an export renamed by hand): `customers import`
    reads what the file holds; the refusal used to point to `customers import`, the command in use."""
    path = tmp_path / name
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, delimiter=";").writerows(ROWS)
    assert read_table_file(path) == ROWS


def test_a_damaged_spreadsheet_is_still_refused_as_one(tmp_path):
    path = tmp_path / "klanten.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(UserError):
        read_table_file(path)
