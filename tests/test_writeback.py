"""Write-back into a user's workbook: right cells, tables resized, backups, macros kept, locks."""

import datetime as dt
import time
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from oletools.olevba import VBA_Parser

from toolkit import layout
from toolkit.book import template, writeback, xlsm
from toolkit.book.read import read_workbook
from toolkit.book.writeback import Edits, WorkbookLocked, WriteBackError, write_back

INVOICES = [
    ["F1", "invoice", dt.date(2026, 1, 5), None, "C1"],
    ["F2", "invoice", dt.date(2026, 1, 6), None, "C2"],
    ["F3", "credit note", dt.date(2026, 1, 7), None, "C1"],
]
CUSTOMERS = [["C1", "Alpha"], ["C2", "Beta"], ["C3", "Gamma"], ["C4", "Delta"]]
NOW = dt.datetime(2026, 2, 1, 9, 30, 0)


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "Company.xlsx"
    template.save_template(path, {"Invoices": INVOICES, "Customers": CUSTOMERS})
    return path


def by_header(ws):
    """Rows as dicts header -> value, located by header text, as a user would read them."""
    headers = [c.value for c in ws[1]]
    return [dict(zip(headers, row)) for row in ws.iter_rows(min_row=2, values_only=True)]


def reorder_invoice_columns(path, drop=None):
    """Simulate a user who reversed the column order of Invoices (and maybe deleted a column)."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Invoices"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    ws.delete_rows(1, ws.max_row)
    keep = [i for i, h in enumerate(rows[0]) if h != drop]
    for r, row in enumerate(rows, start=1):
        for c, i in enumerate(reversed(keep), start=1):
            ws.cell(row=r, column=c, value=row[i])
    table = ws.tables["Invoices"]
    del ws.tables["Invoices"]
    new = openpyxl.worksheet.table.Table(displayName="Invoices",
                                         ref=f"A1:{layout.column_letter(len(keep) - 1)}{len(rows)}")
    new.tableStyleInfo = table.tableStyleInfo
    ws.add_table(new)
    wb.save(path)


def test_cell_edits_follow_the_headers_of_reordered_columns(book):
    reorder_invoice_columns(book)
    write_back(book, Edits().set("Invoices", 3, "exported_in", "EXP-1").set("Invoices", 2, "description", "Fixed"), now=NOW)
    rows = by_header(openpyxl.load_workbook(book)["Invoices"])
    assert [r["Invoice number"] for r in rows] == ["F1", "F2", "F3"]
    assert [r["Exported in"] for r in rows] == [None, "EXP-1", None]
    assert [r["Description"] for r in rows] == ["Fixed", None, None]


def test_missing_column_is_added_at_the_end_and_joins_the_table(book):
    reorder_invoice_columns(book, drop="Exported in")
    write_back(book, Edits().set("Invoices", 4, "exported_in", "EXP-2"), now=NOW)
    ws = openpyxl.load_workbook(book)["Invoices"]
    n = len(layout.INVOICES.columns)
    assert ws.cell(1, n).value == "Exported in" and ws.cell(4, n).value == "EXP-2"
    table = ws.tables["Invoices"]
    assert table.ref == f"A1:{layout.column_letter(n - 1)}4"
    assert [c.name for c in table.tableColumns] == [c.value for c in ws[1]]
    assert len({c.id for c in table.tableColumns}) == n


def test_backup_is_the_file_as_it_was(book):
    book.chmod(0o664)
    before = book.read_bytes()
    backup = write_back(book, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    assert backup == book.with_name("Company.backup-20260201-093000.xlsx")
    assert backup.read_bytes() == before
    assert book.read_bytes() != before
    assert book.stat().st_mode & 0o777 == 0o664  # a shared folder's permissions survive
    # no temporary files left behind
    assert sorted(p.name for p in book.parent.iterdir()) == ["Company.backup-20260201-093000.xlsx", "Company.xlsx"]


def test_backups_are_kept_by_age_and_count_never_fewer_than_ten(book):
    made = []
    start = dt.datetime(2026, 1, 1, 9, 0, 0)
    for i in range(14):  # one a day, twice in the same second at the end
        now = start + dt.timedelta(days=min(i, 12))
        made.append(write_back(book, Edits().set("Invoices", 2, "exported_in", str(i)), now=now))
    assert made[13].name == "Company.backup-20260113-090000-2.xlsx"
    left = {p.name for p in book.parent.glob("Company.backup-*")}
    assert left == {p.name for p in made}  # all younger than 30 days: kept
    # 40 days later: only the last ten stay
    write_back(book, Edits().set("Invoices", 2, "exported_in", "late"), now=start + dt.timedelta(days=52))
    left = sorted(p.name for p in book.parent.glob("Company.backup-*"))
    assert len(left) == 10
    assert left[-1] == "Company.backup-20260222-090000.xlsx"
    assert {p.name for p in made[-9:]} == set(left[:-1])
    # never more than KEEP_MAX, however young
    many = writeback._backups(book)
    assert len(many) == 10
    for i in range(writeback.KEEP_MAX + 5):
        book.with_name(f"Company.backup-20260222-1{i:05d}.xlsx").write_bytes(b"x")
    assert len(writeback.prune_backups(book, start + dt.timedelta(days=53))) == 15
    assert len(writeback._backups(book)) == writeback.KEEP_MAX


def test_one_backup_per_run(book):
    before = book.read_bytes()
    with writeback.one_run():
        first = write_back(book, Edits().set("Invoices", 2, "exported_in", "A"), now=NOW)
        second = write_back(book, Edits().set("Invoices", 3, "exported_in", "B"), now=NOW + dt.timedelta(seconds=5))
    assert first == second and first.read_bytes() == before
    assert len(list(book.parent.glob("Company.backup-*"))) == 1
    third = write_back(book, Edits().set("Invoices", 4, "exported_in", "C"), now=NOW + dt.timedelta(seconds=9))
    assert third != first and len(list(book.parent.glob("Company.backup-*"))) == 2


def test_replace_rows_resizes_the_table_and_links_cells(book):
    rows = [["error", "line.account.missing", "Invoice lines", "I5", "No account", "No ledger account."],
            ["warning", "invoice.gap", "Invoices", "A3", "Gap", "Gap in numbering."],
            ["error", "settings.missing", "Settings", "B2", "Missing", "Company name is missing."]]
    links = ["#'Invoice lines'!I5", "#'Invoices'!A3", None]
    write_back(book, Edits().replace_rows("Check", rows, links=links), now=NOW)
    ws = openpyxl.load_workbook(book)["Check"]
    assert ws.tables["CheckFindings"].ref == "A1:F4"
    assert [list(r) for r in ws.iter_rows(min_row=2, values_only=True)] == rows
    cell_col = layout.column_letter(layout.CHECK.keys.index("cell"))
    assert ws[f"{cell_col}2"].hyperlink.location == "'Invoice lines'!I5"
    assert ws[f"{cell_col}3"].hyperlink.location == "'Invoices'!A3"
    assert ws[f"{cell_col}4"].hyperlink is None
    # a later, shorter run replaces everything: no stale rows or links
    write_back(book, Edits().replace_rows("Check", rows[2:], links=[None]), now=NOW + dt.timedelta(seconds=1))
    ws = openpyxl.load_workbook(book)["Check"]
    assert ws.tables["CheckFindings"].ref == "A1:F2"
    assert ws.max_row == 2 and ws[f"{cell_col}2"].hyperlink is None
    # no findings at all: the table keeps one empty row
    write_back(book, Edits().replace_rows("Check", []), now=NOW + dt.timedelta(seconds=2))
    ws = openpyxl.load_workbook(book)["Check"]
    assert ws.tables["CheckFindings"].ref == "A1:F2" and ws["A2"].value is None


def test_append_rows_fills_the_empty_table_row_first(book):
    row = ["2026-Q1-001", "2026-02-01 09:30", "winbooks", "2026-01-01..2026-03-31", 3, 2, "ACT.txt", "ab" * 32]
    write_back(book, Edits().append_rows("Export log", [row]), now=NOW)
    write_back(book, Edits().append_rows("Export log", [row[:1] + ["x"] * 7]), now=NOW + dt.timedelta(seconds=1))
    ws = openpyxl.load_workbook(book)["Export log"]
    assert ws.tables["ExportLog"].ref == "A1:H3"
    assert [c.value for c in ws[2]] == row
    assert ws["A3"].value == "2026-Q1-001"


def test_a_text_longer_than_a_cell_holds_is_cut_with_a_note(book):
    """An e-invoice export of 500+ documents wrote 33,000+ characters of SHA-256 into one Export log
    cell: past Excel's 32,767, the workbook opened as damaged ('repaired', the cell dropped)."""
    hashes = ", ".join(f"{n:064x}" for n in range(600))  # 39,598 characters
    row = ["2026-Q1-001", "2026-02-01 09:30", "peppol-bis3", "2026-01-01..2026-03-31", 600, 0, "a.xml", hashes]
    write_back(book, Edits().append_rows("Export log", [row]), now=NOW)
    written = openpyxl.load_workbook(book)["Export log"]["H2"].value
    assert len(written) == 32767 and written.startswith(hashes[:1000])
    assert written.endswith("... (cut: 39,598 characters; a cell holds 32,767)")
    from toolkit.book.edits import cell_value

    wide = cell_value("\U0001F600" * 20000)  # two UTF-16 units each, as Excel counts
    assert 32700 < len(wide.encode("utf-16-le")) // 2 <= 32767
    assert cell_value("x" * 32767) == "x" * 32767


def test_delete_rows_shrinks_the_table(book):
    write_back(book, Edits().delete_rows("Customers", [3, 5]), now=NOW)
    ws = openpyxl.load_workbook(book)["Customers"]
    assert [r["Customer id"] for r in by_header(ws)] == ["C1", "C3"]
    assert ws.tables["Customers"].ref.endswith("3")


def test_edit_then_delete_uses_row_numbers_of_the_file_as_read(book):
    edits = Edits().set("Customers", 4, "accounting_number", "100001").delete_rows("Customers", [2])
    write_back(book, edits, now=NOW)
    rows = by_header(openpyxl.load_workbook(book)["Customers"])
    assert [(r["Customer id"], r["Accounting customer number"]) for r in rows] == [
        ("C2", None), ("C3", "100001"), ("C4", None)]


def test_settings_by_label_even_when_rows_moved(book):
    wb = openpyxl.load_workbook(book)
    wb["Settings"].insert_rows(2, 3)  # the user added rows above
    wb.save(book)
    write_back(book, Edits().set_setting("customer_number_start", 200000).set_setting("export_customers", False), now=NOW)
    ws = openpyxl.load_workbook(book)["Settings"]
    values = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}
    assert values["Customer number start"] == 200000
    assert values["Export customers"] == "no"
    assert values["Company country"] == "BE"  # untouched


def test_values_keep_layout_formats(book):
    write_back(book, Edits().set("Customers", 2, "payment_terms", 30)
               .append_rows("Invoice lines", [["F1", 1, "Work", Decimal("2"), Decimal("12.50")]]), now=NOW)
    wb = openpyxl.load_workbook(book)
    lines = wb["Invoice lines"]
    assert lines["E2"].value == 12.5 and lines["E2"].number_format == "#,##0.00"
    assert lines["A2"].number_format == "@"


def test_missing_output_sheet_is_created(book):
    wb = openpyxl.load_workbook(book)
    del wb["Check"]
    del wb["Export log"]
    wb.save(book)
    row = ["2026-Q1-001", "2026-02-01 09:30", "winbooks", "2026-01-01 to 2026-03-31", 3, 2, "ACT.txt", "ab" * 32]
    write_back(book, Edits().replace_rows("Check", [["error", "x", "Invoices", "A2", "m"]], links=["#'Invoices'!A2"])
               .append_rows("Export log", [row]), now=NOW)
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames[-2:] == ["Check", "Export log"]
    log = wb["Export log"]
    assert [c.value for c in log[1]] == [c.header for c in layout.EXPORT_LOG.columns]
    assert [c.value for c in log[2]] == row
    assert log.tables["ExportLog"].ref == "A1:H2"
    assert log["A2"].fill.fgColor.rgb.endswith("F2F2F2")  # an output column, grey as in the template
    check = wb["Check"]
    assert check.tables["CheckFindings"].ref == "A1:F2" and check["D2"].hyperlink.location == "'Invoices'!A2"
    assert {f.code for f in read_workbook(book).findings} <= {"settings.missing"}  # the empty template


def test_a_created_sheet_is_named_in_excels_document_properties():
    from toolkit.book.package import _app_titles

    app = (b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
           b'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><HeadingPairs>'
           b'<vt:vector size="4" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant>'
           b'<vt:variant><vt:i4>2</vt:i4></vt:variant><vt:variant><vt:lpstr>Named Ranges</vt:lpstr></vt:variant>'
           b'<vt:variant><vt:i4>1</vt:i4></vt:variant></vt:vector></HeadingPairs><TitlesOfParts>'
           b'<vt:vector size="3" baseType="lpstr"><vt:lpstr>Settings</vt:lpstr><vt:lpstr>Invoices</vt:lpstr>'
           b'<vt:lpstr>Invoices!Print_Area</vt:lpstr></vt:vector></TitlesOfParts></Properties>')
    after = _app_titles(app, "Export log")
    assert b"<vt:i4>3</vt:i4></vt:variant><vt:variant><vt:lpstr>Named Ranges" in after
    assert (b'<vt:vector size="4" baseType="lpstr"><vt:lpstr>Settings</vt:lpstr><vt:lpstr>Invoices</vt:lpstr>'
            b"<vt:lpstr>Export log</vt:lpstr><vt:lpstr>Invoices!Print_Area</vt:lpstr>") in after
    assert _app_titles(b"<Properties/>", "Export log") == b"<Properties/>"


def test_missing_input_sheet_is_a_clear_error_and_changes_nothing(book):
    wb = openpyxl.load_workbook(book)
    del wb["Customers"]
    wb.save(book)
    before = book.read_bytes()
    with pytest.raises(WriteBackError, match="no sheet named 'Customers'"):
        write_back(book, Edits().set("Customers", 2, "accounting_number", "100001"), now=NOW)
    assert book.read_bytes() == before
    assert sorted(p.name for p in book.parent.iterdir()) == ["Company.xlsx"]


def test_locked_file_on_replace(book, monkeypatch):
    before = book.read_bytes()

    def locked(src, dst):
        raise PermissionError(13, "The process cannot access the file")

    monkeypatch.setattr(writeback.os, "replace", locked)
    with pytest.raises(WorkbookLocked, match="Company.xlsx is open in another program.*Close it"):
        write_back(book, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    assert book.read_bytes() == before
    assert sorted(p.name for p in book.parent.iterdir()) == ["Company.xlsx"]


def test_locked_file_is_detected_before_any_work(book, monkeypatch):
    def no_write(path, mode="r", *args, **kwargs):
        raise PermissionError(13, "locked")

    monkeypatch.setattr(writeback, "open", no_write, raising=False)
    monkeypatch.setattr(writeback, "_Patcher", lambda *a, **k: pytest.fail("loaded"))
    with pytest.raises(WorkbookLocked):
        write_back(book, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)


def test_excel_s_owner_file_beside_the_workbook_stops_the_write_back_on_every_system(book, capsys):
    """Linux wrote under a workbook Excel had open on a shared drive (only Windows's lock stopped
    it): the user's next save in Excel overwrote the write-back, or it their edits. A stale owner
    file (Excel crashed) is common: the message says how to go on."""
    from toolkit import cli

    owner = book.with_name("~$Company.xlsx")
    owner.write_bytes(b"\x04jdoe")
    before = book.read_bytes()
    with pytest.raises(WorkbookLocked) as refused:
        write_back(book, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    message = str(refused.value)
    assert "Company.xlsx is open in Excel" in message and "Close it in Excel" in message
    assert "delete ~$Company.xlsx" in message and message.endswith("The workbook was not changed.")
    assert cli.main(["workbook", "upgrade", str(book)]) == 2
    assert "delete ~$Company.xlsx" in capsys.readouterr().err
    assert book.read_bytes() == before and not [p for p in book.parent.iterdir() if "backup" in p.name or "upgrade" in p.name]

    owner.unlink()  # the stale file deleted: the write-back goes ahead
    write_back(book, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    assert by_header(openpyxl.load_workbook(book)["Invoices"])[0]["Exported in"] == "X"


def test_xlsm_keeps_macros_and_ribbon(tmp_path):
    path = tmp_path / "Company.xlsm"
    xlsm.build_xlsm(path, sample={"Invoices": INVOICES})
    with zipfile.ZipFile(path) as z:
        vba_before = z.read("xl/vbaProject.bin")
    write_back(path, Edits().set("Invoices", 2, "exported_in", "EXP-9")
               .replace_rows("Check", [["error", "x", "Invoices", "A2", "m"]], links=["#'Invoices'!A2"]), now=NOW)
    with zipfile.ZipFile(path) as z:
        assert z.read("xl/vbaProject.bin") == vba_before
        rels = xlsm.ET.fromstring(z.read("_rels/.rels"))
        assert [r.get("Target") for r in rels if r.get("Type") == xlsm.RIBBON_REL_TYPE] == [xlsm.RIBBON_PART]
        assert z.read(xlsm.RIBBON_PART) == xlsm.ribbon_xml()
        ct = z.read("[Content_Types].xml").decode()
        assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in ct
        assert "vbaProject" in z.read("xl/_rels/workbook.xml.rels").decode()
    parser = VBA_Parser(str(path))
    names = {stream.split("/")[-1] for _, stream, _, _ in parser.extract_macros()}
    parser.close()
    assert {"LedgerExport", "xlwings", "ThisWorkbook"} <= names
    wb = openpyxl.load_workbook(path, keep_vba=True)
    assert by_header(wb["Invoices"])[0]["Exported in"] == "EXP-9"
    assert wb.sheetnames[0] == "Start" and wb.code_name == "ThisWorkbook"
    assert path.with_name("Company.backup-20260201-093000.xlsm").exists()


def test_untouched_parts_are_copied_byte_for_byte(tmp_path):
    # A big Invoice lines sheet costs nothing when only the Check sheet and a small sheet change.
    rows = [["F%05d" % i, 1, "Line", Decimal("1"), Decimal("9.99"), None, Decimal("21")] for i in range(20000)]
    path = tmp_path / "Big.xlsx"
    template.save_template(path, {"Invoice lines": rows, "Invoices": INVOICES})
    with zipfile.ZipFile(path) as z:
        before = {i.filename: (z.read(i.filename), i.CRC, i.compress_size) for i in z.infolist()}
    start = time.perf_counter()
    write_back(path, Edits().replace_rows("Check", [["error", "x", "Invoice lines", "A2", "m"]])
               .set("Invoices", 2, "exported_in", "E1"), now=NOW)
    assert time.perf_counter() - start < 1.0
    with zipfile.ZipFile(path) as z:
        after = {i.filename: (z.read(i.filename), i.CRC, i.compress_size) for i in z.infolist()}
    changed = {name for name in before if before[name] != after[name]}
    part = lambda name: f"xl/worksheets/sheet{layout.ALL_SHEETS.index(name) + 1}.xml"  # noqa: E731 - sheets in layout order
    assert changed == {part("Invoices"), part("Check")}
    assert set(after) == set(before)


def test_missing_column_goes_right_of_a_paste_wider_than_the_headers(book):
    # A list pasted under the Customer import placeholder reaches past row 1's only header.
    wb = openpyxl.load_workbook(book)
    ws = wb[layout.CUSTOMER_IMPORT.name]
    for r, row in enumerate([["100001", "Alpha", "BE0477472701", "9000", "Gent"],
                             ["100002", "Beta", None, "2000", "Antwerpen"]], start=2):
        for c, value in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=value)
    wb.save(book)
    write_back(book, Edits().set(layout.CUSTOMER_IMPORT.name, 2, "action", "assign number")
               .set(layout.CUSTOMER_IMPORT.name, 3, "note", "checked"), now=NOW)
    ws = openpyxl.load_workbook(book)[layout.CUSTOMER_IMPORT.name]
    assert [c.value for c in ws[1]] == ["Pasted data", None, None, None, None, "Action", "Note"]
    assert [c.value for c in ws[2]][:6] == ["100001", "Alpha", "BE0477472701", "9000", "Gent", "assign number"]
    assert ws["G3"].value == "checked" and ws["E3"].value == "Antwerpen"


def test_setting_none_empties_the_cell(book):
    write_back(book, Edits().set("Invoices", 2, "exported_in", "EXP-1").set("Invoices", 3, "exported_in", "EXP-1"), now=NOW)
    write_back(book, Edits().set("Invoices", 2, "exported_in", None), now=NOW + dt.timedelta(seconds=1))
    assert [r["Exported in"] for r in by_header(openpyxl.load_workbook(book)["Invoices"])] == [None, "EXP-1", None]


def test_pasted_duplicate_blank_and_numeric_headers_still_make_a_valid_table(book):
    # What Excel itself does when such a row is pasted over a table's header: text, unique
    # ignoring case, "Column<n>" for a blank; header cells and table column names agree.
    wb = openpyxl.load_workbook(book)
    ws = wb["Customers"]
    ws["B1"], ws["C1"], ws["D1"] = "customer ID", None, 2026
    wb.save(book)
    write_back(book, Edits().set("Customers", 2, "accounting_number", "100001"), now=NOW)
    ws = openpyxl.load_workbook(book)["Customers"]
    table = ws.tables["Customers"]
    names = [c.name for c in table.tableColumns]
    assert names[:4] == ["Customer id", "customer ID2", "Column3", "2026"]
    assert len({n.casefold() for n in names}) == len(names)
    assert names == [c.value for c in ws[1]]
    assert table.ref == f"A1:{layout.column_letter(len(layout.CUSTOMERS.columns) - 1)}5"


def test_the_table_takes_the_headers_next_to_it_not_a_users_columns_or_table_past_a_gap(book):
    # The table grew to the last header of its row: a note column two columns away and the user's own
    # table beside it became columns of Invoices, "Column<n>" was written over the gap, and two
    # tables overlapped (a file Excel repairs by removing a table).
    wb = openpyxl.load_workbook(book)
    ws = wb["Invoices"]
    last = len(layout.INVOICES.columns)  # 1-based: the table's last column
    ws.cell(1, last + 1, "My flag")  # typed right next to the table: Excel takes it in, so does the toolkit
    ws.cell(1, last + 3, "Code"), ws.cell(1, last + 4, "Meaning"), ws.cell(2, last + 3, "A")
    mine = f"{layout.column_letter(last + 2)}1:{layout.column_letter(last + 3)}2"
    ws.add_table(openpyxl.worksheet.table.Table(displayName="MyCodes", ref=mine))
    wb.save(book)
    write_back(book, Edits().set("Invoices", 2, "exported_in", "EXP-1"), now=NOW)
    ws = openpyxl.load_workbook(book)["Invoices"]
    assert ws.tables["Invoices"].ref == f"A1:{layout.column_letter(last)}4"
    assert [c.name for c in ws.tables["Invoices"].tableColumns][-1] == "My flag"
    assert ws.tables["MyCodes"].ref == mine
    assert [c.value for c in ws[1]][last + 1:] == [None, "Code", "Meaning"]


def test_table_column_names():
    assert writeback.table_column_names(["A", "a", "A", None, " ", 7.0, "Column4"]) == [
        "A", "a2", "A3", "Column4", "Column5", "7", "Column42"]


def test_a_full_disk_is_a_clear_error_naming_both_places_and_leaves_the_workbook(book, monkeypatch):
    """The rewritten sheet may wait in the temporary folder, the new workbook is made beside the
    old one: a full disk in either says where to free space."""
    import errno
    import tempfile

    before = book.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writeback.tempfile, "mkstemp", full)
    with pytest.raises(WriteBackError) as caught:
        write_back(book, Edits().set(layout.INVOICES.name, 2, "exported_in", "X"))
    assert str(book) in str(caught.value) and tempfile.gettempdir() in str(caught.value)
    assert "not changed" in str(caught.value) and book.read_bytes() == before


def test_a_name_too_long_for_its_backup_is_said_as_such_not_check_the_disk(book):
    """A workbook name of 235 bytes fits the file system, its backup's (23 more) does not: the
    write-back said 'Check the disk', and every later command failed the same way."""
    from toolkit.book.writeback import WriteBackError

    long = book.with_name("a" * 230 + ".xlsx")
    book.rename(long)
    before = long.read_bytes()
    with pytest.raises(WriteBackError) as refused:
        write_back(long, Edits().set("Invoices", 2, "exported_in", "X"), now=NOW)
    message = str(refused.value)
    assert "too long" in message and "shorter name" in message and "Check the disk" not in message
    assert long.read_bytes() == before and sorted(p.name for p in long.parent.iterdir()) == [long.name]


def test_a_workbook_opened_through_a_symbolic_link_is_updated_where_it_is_and_the_link_stays(book):
    """`export work/Company.xlsx`, a link to the office's file: the write-back replaced the link
    with a changed copy (the user's link gone, the real workbook not updated)."""
    work = book.parent / "work"
    work.mkdir()
    link = work / "Company.xlsx"
    link.symlink_to(book)
    backup = write_back(link, Edits().set("Invoices", 2, "exported_in", "EXP-1"), now=NOW)
    assert link.is_symlink() and link.resolve() == book.resolve()
    assert by_header(openpyxl.load_workbook(book)["Invoices"])[0]["Exported in"] == "EXP-1"
    assert backup.parent == book.parent and list(work.iterdir()) == [link]
