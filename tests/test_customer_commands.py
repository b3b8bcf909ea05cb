"""The customer commands on real workbook files: paste, match, apply, import, duplicates, merge, undo."""

import csv
import datetime as dt

import openpyxl
import pytest

from toolkit import layout
from toolkit.book import template
from toolkit.app import customers as commands
from toolkit.app.customers import CustomerCommandError
from toolkit.book.read import read_workbook

NOW = dt.datetime(2026, 2, 1, 9, 30, 0)


def customer(cid, name, vat="", postal="", city="", number="", source=None, batch=None):
    values = {"customer_id": cid, "name": name, "vat_number": vat, "postal_code": postal, "city": city,
              "accounting_number": number or None, "number_source": source, "import_batch": batch}
    return [values.get(k) for k in layout.CUSTOMERS.keys]


def invoice(number, cid, day=dt.date(2026, 1, 10)):
    values = {"number": number, "doc_type": "invoice", "date": day, "customer_id": cid}
    return [values.get(k) for k in layout.INVOICES.keys]


CUSTOMERS = [
    customer("C0001", "Janssens BV", "BE0477472701", "9000", "Gent"),
    customer("C0002", "Peeters NV", "BE0403170701", "2000", "Antwerpen"),
    customer("C0003", "Dupont SA", "", "1000", "Bruxelles"),
    customer("C0004", "Bakkerij Maes", "", "9000", "Gent", "100004", "imported"),
]


def make_workbook(tmp_path, customers=CUSTOMERS, invoices=(), paste=None, paste_row=2, name="Company.xlsx", settings=()):
    path = tmp_path / name
    template.save_template(path, {
        layout.SETTINGS_SHEET: {"company_name": "Atelier", "company_country": "BE", **dict(settings)},
        layout.CUSTOMERS.name: list(customers),
        layout.INVOICES.name: list(invoices),
    })
    if paste is not None:
        book = openpyxl.load_workbook(path)
        ws = book[layout.CUSTOMER_IMPORT.name]
        for r, row in enumerate(paste):
            for c, value in enumerate(row):
                ws.cell(row=paste_row + r, column=c + 1, value=value)
        book.save(path)
    return path


def sheet_rows(path, sheet):
    ws = openpyxl.load_workbook(path)[sheet]
    return [[c.value for c in row] for row in ws.iter_rows()]


def import_sheet(path):
    """header -> column values (from row 2 on) of the Customer import sheet."""
    rows = sheet_rows(path, layout.CUSTOMER_IMPORT.name)
    return {h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0]) if h}


def by_id(path):
    return {c.customer_id: c for c in read_workbook(path).customers}


MESSY = [  # no header row, another column order, stray spaces, other legal forms, VAT written freely
    ["  janssens  bvba ", 100001, "0477.472.701", " 9000", "GENT"],
    ["PEETERS", 100002, "BE 0403 170 701", 2000, "Antwerpen"],
    ["Dupont S.A.", 100003, None, 1000, "Bruxelles"],
    ["Bakkerij Maes", 100004, None, 9000, "Gent"],
    ["Nieuwe Klant Comm.V.", 100007, None, 8000, "Brugge"],
]


MESSY_WITH_HEADERS = [["Naam", "Klantnr", "BTW", "Postcode", "Gemeente"]] + MESSY


def test_paste_match_apply_round_trip(tmp_path):
    path = make_workbook(tmp_path, paste=MESSY_WITH_HEADERS, paste_row=1)
    outcome = commands.match_paste(path)
    assert "recognised by headers" in outcome.message
    assert outcome.backup is not None and outcome.backup.exists()
    sheet = import_sheet(path)
    assert sheet["Action"][:5] == ["assign number", "assign number", "assign number", "already correct", "new customer"]
    assert sheet["Match: customer id"][:5] == ["C0001", "C0002", "C0003", "C0004", None]
    assert sheet["Match: method"][0] == "VAT number"
    assert sheet["Naam"][0] == "  janssens  bvba "  # the paste itself is untouched

    outcome = commands.apply_matches(path, now=NOW)
    assert "3 numbers assigned" in outcome.message and "1 customers created" in outcome.message
    customers = by_id(path)
    assert [(customers[c].accounting_number, customers[c].number_source) for c in ("C0001", "C0002", "C0003")] == [
        ("100001", "imported"), ("100002", "imported"), ("100003", "imported")]
    new = customers["C0005"]
    assert (new.name, new.accounting_number, new.import_batch, new.postal_code) == (
        "Nieuwe Klant Comm.V.", "100007", "IMP-20260201-093000", "8000")
    sheet = import_sheet(path)
    assert sheet["Action"][:5] == ["already correct"] * 5
    assert sheet["Note"][4] == "applied: created customer C0005 (import IMP-20260201-093000)"

    # Applying again changes nothing; matching again finds everything correct.
    assert "already correct" in commands.apply_matches(path, now=NOW).message
    assert len(read_workbook(path).customers) == 5
    commands.match_paste(path)
    assert import_sheet(path)["Action"][:5] == ["already correct"] * 5


def test_paste_with_headers_in_row_1_and_user_changed_actions(tmp_path):
    paste = [["Klantnr", "Naam", "Postcode", "Gemeente"], [200004, "Bakkerij Maes", 9000, "Gent"], [100099, "Dupond", 1000, "Brussel"]]
    path = make_workbook(tmp_path, paste=paste, paste_row=1)
    commands.match_paste(path)
    rows = sheet_rows(path, layout.CUSTOMER_IMPORT.name)
    assert rows[0][:4] == ["Klantnr", "Naam", "Postcode", "Gemeente"]
    assert rows[0][4:9] == ["Match: customer id", "Match: confidence", "Match: method", "Action", "Note"]
    assert rows[1][7] == "conflict" and "already has number 100004" in rows[1][8]
    assert rows[2][4] == "C0003" and rows[2][7] == "ambiguous"

    # Without the user's say-so, apply changes nothing.
    commands.apply_matches(path, now=NOW)
    assert by_id(path)["C0004"].accounting_number == "100004"
    assert by_id(path)["C0003"].accounting_number == ""

    book = openpyxl.load_workbook(path)
    ws = book[layout.CUSTOMER_IMPORT.name]
    ws["H2"], ws["H3"] = "overwrite", "assign number"
    book.save(path)
    outcome = commands.apply_matches(path, now=NOW)
    assert "1 numbers overwritten" in outcome.message and "1 numbers assigned" in outcome.message
    assert by_id(path)["C0004"].accounting_number == "200004"
    assert by_id(path)["C0003"].accounting_number == "100099"


def test_apply_refusals_are_written_beside_the_row(tmp_path):
    path = make_workbook(tmp_path, paste=[["Number", "Name"], [100004, "Somebody"]], paste_row=1)
    commands.match_paste(path)
    book = openpyxl.load_workbook(path)
    ws = book[layout.CUSTOMER_IMPORT.name]
    assert ws["F2"].value == "conflict"
    ws["C2"], ws["F2"] = "C0001", "assign number"  # pick a customer by hand, but the number is taken
    book.save(path)
    outcome = commands.apply_matches(path, now=NOW)
    assert outcome.details == ["row 2: refused: number 100004 is already used by customer C0004"]
    assert import_sheet(path)["Note"][0].startswith("refused: number 100004")
    assert by_id(path)["C0001"].accounting_number == ""


def test_headerless_paste_below_the_sheet_header(tmp_path):
    path = make_workbook(tmp_path, paste=MESSY, paste_row=2)
    outcome = commands.match_paste(path)
    assert "recognised by content" in outcome.message
    rows = sheet_rows(path, layout.CUSTOMER_IMPORT.name)
    assert rows[0][5:10] == ["Match: customer id", "Match: confidence", "Match: method", "Action", "Note"]
    assert [r[:5] for r in rows[1:6]] == MESSY
    assert [r[8] for r in rows[1:6]] == ["assign number", "assign number", "assign number", "already correct", "new customer"]


def test_paste_with_headers_under_the_placeholder(tmp_path):
    # The user selected A2 and pasted the list there, header row included, wider than row 1.
    path = make_workbook(tmp_path, paste=MESSY_WITH_HEADERS, paste_row=2)
    outcome = commands.match_paste(path)
    assert "recognised by headers" in outcome.message
    rows = sheet_rows(path, layout.CUSTOMER_IMPORT.name)
    assert rows[0][:1] + rows[0][5:10] == ["Pasted data", "Match: customer id", "Match: confidence", "Match: method", "Action", "Note"]
    assert [r[:5] for r in rows[1:7]] == MESSY_WITH_HEADERS  # the paste is untouched
    assert rows[1][5:10] == [None] * 5  # nothing beside the pasted header row
    assert [r[8] for r in rows[2:7]] == ["assign number", "assign number", "assign number", "already correct", "new customer"]
    commands.apply_matches(path, now=NOW)
    assert by_id(path)["C0002"].accounting_number == "100002"


def test_headerless_paste_in_row_1_is_refused_with_advice(tmp_path):
    path = make_workbook(tmp_path, paste=MESSY, paste_row=1)
    with pytest.raises(CustomerCommandError, match="starts in row 1 without a header row"):
        commands.match_paste(path)


def test_unrecognisable_or_empty_paste(tmp_path):
    with pytest.raises(CustomerCommandError, match="is empty"):
        commands.match_paste(make_workbook(tmp_path))
    path = make_workbook(tmp_path, paste=[["Name", "City"], ["a", "b"]], paste_row=1, name="B.xlsx")
    with pytest.raises(CustomerCommandError, match="customer number"):
        commands.match_paste(path)


def test_paste_reaching_into_the_match_columns_is_refused(tmp_path):
    path = make_workbook(tmp_path, paste=[["Number", "Name"], [100001, "Janssens"]], paste_row=1)
    commands.match_paste(path)
    book = openpyxl.load_workbook(path)
    ws = book[layout.CUSTOMER_IMPORT.name]
    for r, row in enumerate([[100001, "Janssens", "Gent", "9000", "x", "y"]], start=3):
        for c, v in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=v)
    book.save(path)
    with pytest.raises(CustomerCommandError, match="overlap"):
        commands.match_paste(path)


def test_a_shorter_second_paste_clears_old_results(tmp_path):
    path = make_workbook(tmp_path, paste=[["Number", "Name"], [100001, "Janssens"], [100002, "Peeters"]], paste_row=1)
    commands.match_paste(path)
    book = openpyxl.load_workbook(path)
    book[layout.CUSTOMER_IMPORT.name]["A3"] = None
    book[layout.CUSTOMER_IMPORT.name]["B3"] = None
    book.save(path)
    commands.match_paste(path)
    assert import_sheet(path)["Action"][:2] == ["assign number", None]


def write_csv(path, rows, delimiter=";", encoding="cp1252"):
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def test_import_file_applies_sure_proposals_and_lists_the_rest(tmp_path):
    path = make_workbook(tmp_path)
    file = write_csv(tmp_path / "klanten.csv", [
        ["Numéro", "Nom", "TVA", "Code postal", "Localité"],
        ["100001", "Janssens SPRL", "BE 0477.472.701", "9000", "Gand"],
        ["100009", "Bakkerij Maes", "", "9000", "Gand"],
        ["100010", "Société Nouvelle", "", "4000", "Liège"],
    ])
    dry = commands.import_file(path, file, dry_run=True)
    assert dry.backup is None and by_id(path)["C0001"].accounting_number == ""
    outcome = commands.import_file(path, file, now=NOW)
    assert by_id(path)["C0001"].accounting_number == "100001"
    assert "1 unknown customer(s) not created" in outcome.message
    assert any("line 3: conflict C0004" in d for d in outcome.details)
    assert len(read_workbook(path).customers) == 4

    outcome = commands.import_file(path, file, create_new=True, now=NOW)
    new = by_id(path)["C0005"]
    assert (new.name, new.city, new.accounting_number, new.import_batch) == ("Société Nouvelle", "Liège", "100010", "IMP-20260201-093000")


def test_import_xlsx_file(tmp_path):
    path = make_workbook(tmp_path)
    file = tmp_path / "export.xlsx"
    book = openpyxl.Workbook()
    for row in [["Kundennummer", "Name", "USt-IdNr.", "PLZ"], [100002, "Peeters", "BE0403170701", 2000]]:
        book.active.append(row)
    book.save(file)
    commands.import_file(path, file, now=NOW)
    assert by_id(path)["C0002"].accounting_number == "100002"


def test_duplicates_merge_and_refusal(tmp_path):
    customers = CUSTOMERS + [
        customer("C0005", "BVBA Janssens", "0477.472.701", "9000", "Gent", "100005", "imported"),
        customer("C0006", "bakkerij maes bv", "", "9000", "Gent", "100006", "manual"),
        customer("C0007", "Peeters", "", "2000", "Antwerpen"),
    ]
    invoices = [invoice("F1", "C0001"), invoice("F2", "C0007"), invoice("F3", "C0007")]
    path = make_workbook(tmp_path, customers, invoices)
    outcome = commands.find_duplicates(path)
    assert outcome.message == "3 group(s) of likely duplicate customers."
    assert [(g.keeper, g.duplicates) for g in outcome.data] == [("C0004", ("C0006",)), ("C0005", ("C0001",)), ("C0007", ("C0002",))]
    assert any("cannot merge" in d for d in outcome.details)  # Maes carries two numbers

    with pytest.raises(CustomerCommandError, match="different accounting numbers"):
        commands.merge_customers(path, "C0004", "C0006")

    outcome = commands.merge_customers(path, "C0005", "C0001")
    assert "1 invoice(s) moved" in outcome.message
    wb = read_workbook(path)
    assert "C0001" not in {c.customer_id for c in wb.customers}
    assert {i.number: i.customer_id for i in wb.invoices}["F1"] == "C0005"

    commands.merge_customers(path, "C0007", "C0002")
    wb = read_workbook(path)
    assert {i.customer_id for i in wb.invoices} == {"C0005", "C0007"}
    assert len(wb.customers) == 5


def test_undo_import_keeps_numbered_and_invoiced_customers(tmp_path):
    customers = CUSTOMERS + [
        customer("C0005", "Plain", batch="IMP-1"),
        customer("C0006", "Numbered since", number="100006", source="generated", batch="IMP-1"),
        customer("C0007", "Invoiced", batch="IMP-1"),
        customer("C0008", "Came with its number", number="100008", source="imported", batch="IMP-1"),
    ]
    path = make_workbook(tmp_path, customers, [invoice("F1", "C0007")])
    outcome = commands.undo_import(path, "IMP-1")
    assert outcome.message == "Undid import IMP-1: 2 customer(s) removed, 2 kept."
    assert outcome.details == [
        "kept C0006 (Numbered since): it got accounting number 100006 (generated) since the import",
        "kept C0007 (Invoiced): it has 1 invoice(s)",
    ]
    assert sorted(by_id(path)) == ["C0001", "C0002", "C0003", "C0004", "C0006", "C0007"]
    with pytest.raises(CustomerCommandError, match="nothing to undo"):
        commands.undo_import(path, "IMP-9")


def test_import_then_undo_round_trip(tmp_path):
    path = make_workbook(tmp_path)
    file = write_csv(tmp_path / "k.csv", [["Nr", "Naam", "Postcode"], ["300001", "Nieuw A", "1000"], ["300002", "Nieuw B", "1000"]], ",", "utf-8-sig")
    commands.import_file(path, file, create_new=True, now=NOW)
    assert len(read_workbook(path).customers) == 6
    commands.undo_import(path, "IMP-20260201-093000")
    assert len(read_workbook(path).customers) == 4


def test_cli_customers_commands(tmp_path, capsys):
    from toolkit.cli import build_parser

    path = make_workbook(tmp_path, paste=MESSY_WITH_HEADERS, paste_row=1)
    args = build_parser().parse_args(["customers", "match", str(path)])
    assert args.handler(args) == 0
    assert "Matched 5 pasted row(s)" in capsys.readouterr().out
    args = build_parser().parse_args(["customers", "merge", str(path), "C0001", "C0001"])
    from toolkit.cli import UserError

    with pytest.raises(UserError, match="itself"):
        args.handler(args)


def test_cli_customers_assign_writes_the_numbers_an_export_would_give(tmp_path, capsys):
    from toolkit.cli import main

    invoices = [invoice("F1", "C0002", dt.date(2026, 1, 5)), invoice("F2", "C0001", dt.date(2026, 1, 9))]
    path = make_workbook(tmp_path, invoices=invoices)
    assert main(["customers", "assign", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "3 customer(s) got a number (100000 to 100002)." in out and "Backup of the workbook" in err
    customers = by_id(path)
    # First invoice date first, then the customer id; C0004 keeps the number it had.
    assert [(customers[c].accounting_number, customers[c].number_source) for c in ("C0002", "C0001", "C0003", "C0004")] == [
        ("100000", "generated"), ("100001", "generated"), ("100002", "generated"), ("100004", "imported")]

    assert main(["customers", "assign", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "Every customer already has an accounting customer number." in out and not err


def test_cli_customers_assign_refuses_numbers_the_package_cannot_take(tmp_path, capsys):
    from toolkit.cli import EXIT_FINDINGS, main

    path = make_workbook(tmp_path, settings={"customer_number_start": 12345678901})  # WinBooks: 10 characters at most
    before = path.read_bytes()
    assert main(["customers", "assign", str(path)]) == EXIT_FINDINGS
    out = capsys.readouterr().out
    assert "customer.number.generate" in out and "No numbers assigned" in out
    assert path.read_bytes() == before


def test_plans_write_nothing(tmp_path):
    path = make_workbook(tmp_path, paste=MESSY_WITH_HEADERS, paste_row=1)
    before = path.read_bytes()
    edits, outcome = commands.plan_match_paste(path)
    assert {e.key for e in edits.cells} == set(layout.CUSTOMER_IMPORT.keys) and outcome.backup is None
    assert "Matched 5 pasted row(s)" in outcome.message
    edits, outcome = commands.plan_merge_customers(path, "C0001", "C0002")
    assert edits.deleted == {layout.CUSTOMERS.name: {3}} and "Merged C0002 into C0001" in outcome.message
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_paste_match_apply_export_puts_the_pasted_numbers_in_the_winbooks_files(tmp_path, monkeypatch):
    """Round trip: numbers pasted from the package reach CSF.txt (customers) and ACT.txt (postings)."""
    import shutil
    from pathlib import Path

    from toolkit.app.export import ExportRequest, run_export

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    path = tmp_path / "demo.xlsx"
    shutil.copy(Path(__file__).resolve().parents[1] / "samples" / "demo.xlsx", path)
    book = openpyxl.load_workbook(path)
    ws = book[layout.CUSTOMER_IMPORT.name]
    paste = [
        ["Nummer", "Naam", "BTW", "Postcode", "Gemeente"],
        ["C4711", "CLAEYS SOFIE", None, 8200, "Sint-Andries"],
        ["C4712", "Studio Pixel", "0536.185.712", 9000, "Gent"],
        ["C4713", "Ontwerpbureau Lijn B.V.", "NL 0044.95.445.B01", "1015CX", "Amsterdam"],
        ["C4714", "Imprimerie Lefevre", "BE 0403 170 701", 5000, "Namur"],
    ]
    for r, row in enumerate(paste, start=1):
        for c, value in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=value)
    book.save(path)

    commands.match_paste(path)
    assert import_sheet(path)["Action"][:4] == ["assign number"] * 4
    commands.apply_matches(path, now=NOW)
    numbers = {c: by_id(path)[c].accounting_number for c in ("C004", "C006", "C009", "C014")}
    assert numbers == {"C004": "C4711", "C006": "C4712", "C009": "C4713", "C014": "C4714"}

    result = run_export(ExportRequest(path))
    assert result.status == "written", result.message
    csf = (result.folder / "CSF.txt").read_text(encoding="cp1252")
    act = (result.folder / "ACT.txt").read_text(encoding="cp1252")
    for cid, number in numbers.items():  # each of them has invoices in the demo
        assert f'"{number}"' in csf and f'"{number}"' in act, cid
    assert not [c for c in read_workbook(path).customers if c.number_source == "generated" and c.customer_id in numbers]


def test_outcome_text_can_be_cut_short_for_a_message_box():
    outcome = commands.Outcome("Matched 30 row(s).", [f"row {i}: conflict" for i in range(2, 32)])
    assert outcome.text(limit=2).splitlines() == ["Matched 30 row(s).", "  row 2: conflict", "  row 3: conflict", "  ... and 28 more"]
    assert len(outcome.text().splitlines()) == 31


def test_cli_import_and_apply_with_rows_left_undone_exit_1_and_say_how_many_and_where(tmp_path, capsys):
    """A conflict or an ambiguous match (or a refused action) is work the command did not do: it
    exited 0, and a script took the list for imported."""
    from toolkit.cli import main

    path = make_workbook(tmp_path)
    file = write_csv(tmp_path / "klanten.csv", [
        ["Numéro", "Nom", "TVA", "Code postal", "Localité"],
        ["100001", "Janssens SPRL", "BE 0477.472.701", "9000", "Gand"],
        ["100009", "Bakkerij Maes", "", "9000", "Gand"],  # Maes has 100004: a conflict
    ])
    for dry in ([], ["--dry-run"]):
        assert main(["customers", "import", str(path), str(file), *dry]) == 1
        out = capsys.readouterr().out
        assert "1 line(s) are left undone (listed below)" in out and "line 3: conflict C0004" in out
    assert by_id(path)["C0001"].accounting_number == "100001"  # the sure line is imported all the same
    sure = write_csv(tmp_path / "sure.csv", [["Numéro", "Nom", "TVA"], ["100002", "Peeters", "BE0403170701"]])
    assert main(["customers", "import", str(path), str(sure)]) == 0
    assert "left undone" not in capsys.readouterr().out

    pasted = make_workbook(tmp_path, paste=[["Klantnr", "Naam", "Postcode", "Gemeente"], [200004, "Bakkerij Maes", 9000, "Gent"],
                                            [100001, "Janssens BV", 9000, "Gent"]], paste_row=1, name="Pasted.xlsx")
    assert main(["customers", "match", str(pasted)]) == 0  # proposing is its whole work
    capsys.readouterr()
    assert main(["customers", "apply", str(pasted)]) == 1
    out = capsys.readouterr().out
    assert "1 row(s) of 'Customer import' are left undone" in out and "set their Action, then apply again" in out
    assert by_id(pasted)["C0001"].accounting_number == "100001"
    book = openpyxl.load_workbook(pasted)
    book[layout.CUSTOMER_IMPORT.name]["H2"] = "skip"
    book.save(pasted)
    assert main(["customers", "apply", str(pasted)]) == 0
