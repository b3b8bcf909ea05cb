"""The ribbon buttons' functions, run unchanged through the openpyxl-backed xlwings test engine:
same files and findings as the CLI, results written into the book."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolkit.book import edits
from toolkit import excel, layout
from toolkit.app import export
from toolkit.app.check import check
from toolkit.book.read import read_workbook
from toolkit.book.writeback import write_back
from xlwings_engine import mock_caller

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def check_rows(book):
    values = book.sheets[layout.CHECK.name].range("A2").expand().options(ndim=2).value
    return values if values and values[0][0] else []


def test_validate_writes_the_same_findings_as_the_cli_and_highlights(tmp_path):
    path = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    expected = edits.check_rows(check(path))  # the Check sheet's rows: grouped by sheet
    with mock_caller(path) as book:
        excel.validate()
        rows = check_rows(book)
        assert [(r[0], r[1], r[2]) for r in rows] == [(f.severity, f.code, f.sheet) for f in expected]
        assert rows[0][3] == expected[0].cell  # the cell, as text, linked to the cell itself
        assert book.sheets[layout.CHECK.name].range("D2").hyperlink == f"#'{expected[0].sheet}'!{expected[0].cell}"
        assert book.api[layout.CHECK.name]["D2"].data_type == "s"  # a link, not a HYPERLINK formula
        line_sheet = book.sheets[layout.INVOICE_LINES.name]
        assert line_sheet.range("I8").color == excel.HIGHLIGHT  # line.account.missing
        alert = book.app.impl.alerts[-1]
        assert "15 error(s) and 2 warning(s)" in alert.prompt and "Check sheet" in alert.prompt
        # fixed and validated again: the Check sheet empties, the highlight goes
        line_sheet.range("I8").value = "700000"
        book.save()  # what VBA's SaveCopyAs gives Python: the book as it is now
        excel.validate()
        assert line_sheet.range("I8").color is None
        assert all(r[1] != "line.account.missing" for r in check_rows(book))


def test_generate_export_matches_the_cli_files_and_updates_the_book(demo):
    with mock_caller(demo) as book:
        message = excel.generate_export()
        assert "Exported 64 document(s)" in message
        folder = next(p for p in (demo.parent / "demo-exports").iterdir() if p.is_dir())
        for name in ("ACT.txt", "CSF.txt"):
            assert (folder / name).read_bytes() == (SAMPLES / "golden" / "winbooks" / name).read_bytes()
        log = book.sheets[layout.EXPORT_LOG.name].range("A2").value
        assert log == folder.name
        exported_in = layout.column_letter(layout.INVOICES.keys.index("exported_in"))
        exported = book.sheets[layout.INVOICES.name].range(f"{exported_in}2:{exported_in}65").value
        assert set(exported) == {folder.name}
        numbers = book.sheets[layout.CUSTOMERS.name].range("M2:N16").value
        assert ["100000", "generated"] in [[str(n), s] for n, s in numbers if s == "generated"]
        assert "Ledger export: Writing files…" in book.app.impl.status_bar_history
        book.save()
        assert "Nothing new to export" in excel.generate_export()
    assert all(i.exported_in for i in read_workbook(demo).invoices)


def test_einvoices_button_writes_the_peppol_files_apart_from_the_bookkeeping_export(demo):
    golden = SAMPLES / "golden" / "peppol-bis3"
    with mock_caller(demo) as book:
        message = excel.generate_einvoices()
        sent = len(list(golden.iterdir()))
        assert f"Exported {sent} document(s)" in message and "private persons" in message
        folder = next(p for p in (demo.parent / "demo-exports").iterdir() if p.is_dir())
        assert folder.name.endswith("-peppol-bis3")
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in golden.iterdir())
        einvoice_in = layout.column_letter(layout.INVOICES.keys.index("einvoice_in"))
        exported_in = layout.column_letter(layout.INVOICES.keys.index("exported_in"))
        marked = book.sheets[layout.INVOICES.name].range(f"{einvoice_in}2:{einvoice_in}65").value
        assert marked.count(folder.name) == sent and set(marked) <= {folder.name, None}
        assert set(book.sheets[layout.INVOICES.name].range(f"{exported_in}2:{exported_in}65").value) == {None}
        assert book.sheets[layout.EXPORT_LOG.name].range("A2").value == folder.name
        book.save()
        assert "Nothing new to export" in excel.generate_einvoices()
        assert "Exported 64 document(s)" in excel.generate_export()  # the bookkeeping stream is its own


def test_a_book_closed_unsaved_after_an_export_gets_it_back_at_the_next_click(demo, tmp_path):
    """The export is committed in the register; the open book learnt it, but Excel was closed
    without saving. The next button that writes puts it back into the open book, and says so."""
    with mock_caller(demo):
        first = excel.generate_export()
    export_id = first.split("demo-exports/")[1].split(":")[0]
    assert all(not i.exported_in for i in read_workbook(demo).invoices)  # the file never learnt
    with mock_caller(demo) as book:
        message = excel.generate_export(copy=save_copy(book, tmp_path))
        assert message.startswith(f"Recovered: demo.xlsx missed what export {export_id} writes back")
        assert "Exported in for 64 document(s)" in message and "Nothing new to export" in message
        assert book.sheets[layout.EXPORT_LOG.name].range("A2").value == export_id
        assert book.sheets[layout.EXPORT_LOG.name].range("A3").value is None
        exported_in = layout.column_letter(layout.INVOICES.keys.index("exported_in"))
        assert set(book.sheets[layout.INVOICES.name].range(f"{exported_in}2:{exported_in}65").value) == {export_id}
        assert not excel.suggest_accounts(copy=save_copy(book, tmp_path)).startswith("Recovered")  # once


def test_blocked_export_shows_its_errors(tmp_path):
    path = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    with mock_caller(path) as book:
        message = excel.generate_export()
        assert "nothing was written" in message and "see the Check sheet" in message
        assert any(r[1] == "line.account.missing" for r in check_rows(book))
    assert not (tmp_path / "mistakes-exports").exists()


def test_suggest_accounts_in_the_book(demo):
    write_back(demo, edits.Edits().set(layout.INVOICE_LINES.name, 2, "ledger_account", None), keep_backups=0)
    with mock_caller(demo) as book:
        excel.suggest_accounts()
        assert book.sheets[layout.INVOICE_LINES.name].range("I2:J2").value == ["700000", "suggested"]
        assert "1 empty account(s) filled" in book.app.impl.alerts[-1].prompt


def test_assign_customer_numbers(demo):
    with mock_caller(demo) as book:
        excel.assign_customer_numbers()
        rows = book.sheets[layout.CUSTOMERS.name].range("A2:N16").value
        generated = [r for r in rows if r[13] == "generated"]
        assert len(generated) == 7 and all(str(r[12]).startswith("1000") for r in generated)
        assert "7 customer(s) got a number" in book.app.impl.alerts[-1].prompt


def test_an_exception_is_a_message_and_a_log(demo, monkeypatch):
    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "read_workbook", broken)
    with mock_caller(demo):
        message = excel.validate()
    assert "Something went wrong: disk on fire" in message and "Traceback" not in message
    log = (demo.parent / excel.LOG_NAME).read_text()
    assert "Traceback" in log and "disk on fire" in log


def test_an_exception_beside_a_folder_that_cannot_be_written_logs_in_the_temp_folder(demo, monkeypatch, tmp_path):
    """The details must not be lost when the workbook's folder takes no log (a read-only share):
    the message said "The details are in (the log could not be written); send that file"."""
    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "read_workbook", broken)
    monkeypatch.setattr(excel.tempfile, "gettempdir", lambda: str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    (demo.parent / excel.LOG_NAME).mkdir()  # no file can be written under that name
    with mock_caller(demo):
        message = excel.validate()
    log = tmp_path / "temp" / excel.LOG_NAME
    assert f"The details are in {log}; send that file" in message
    assert "disk on fire" in log.read_text() and "Traceback" in log.read_text()


def test_messages_name_the_open_workbook_not_the_copy_python_read(tmp_path):
    """VBA saves the book to the temp folder for Python to read: a message about what Python read
    (a limit passed, a damaged part) names the workbook the user has open, not that copy."""
    book = tmp_path / "Company.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    copy = tmp_path / "Temp" / "LedgerExport-20261202-101500-42.xlsx"
    copy.parent.mkdir()
    copy.write_bytes(b"PK\x03\x04 cut off while saving")
    with mock_caller(book):
        message = excel.validate(copy=str(copy))
    assert message.startswith(f"{book.resolve()} is damaged") and "LedgerExport-" not in message


def test_user_errors_are_plain_messages(demo):
    with mock_caller(demo):
        message = excel.validate(copy=str(demo.parent / "gone.xlsx"))
    assert "no such file" in message and not (demo.parent / excel.LOG_NAME).exists()


# ---- customer numbers pasted from the accounting package ---------------------------------------

PASTED = [  # as copied from the package: its own headers, its own column order
    ["Nummer", "Naam", "BTW", "Postcode", "Gemeente"],
    ["C4711", "CLAEYS SOFIE", None, "8200", "Sint-Andries"],
    ["C4712", "Studio Pixel", "0536.185.712", "9000", "Gent"],
    ["C4713", "Ontwerpbureau Lijn B.V.", "NL 0044.95.445.B01", "1015CX", "Amsterdam"],
    ["C4714", "Imprimerie Lefevre", "BE 0403 170 701", "5000", "Namur"],
    ["C4720", "Drukkerij Nieuw", None, "8500", "Kortrijk"],
]
TAKEN_OVER = {"C004": "C4711", "C006": "C4712", "C009": "C4713", "C014": "C4714"}


def save_copy(book, folder: Path) -> str:
    """What the VBA of a button hands Python: SaveCopyAs of the book as it is, unsaved edits
    included, while the book's own file stays as it was (Excel keeps it locked)."""
    copy = folder / f"copy-{len(list(folder.glob('copy-*')))}.xlsx"
    book.api.save(copy)  # the test engine's api is the openpyxl workbook
    return str(copy)


def import_columns(book) -> dict[str, list]:
    """Header -> values of rows 2.. of the Customer import sheet, as the user sees it."""
    rows = book.sheets[layout.CUSTOMER_IMPORT.name].used_range.options(ndim=2).value
    return {h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0]) if h}


def customers_by_id(book) -> dict[str, dict]:
    rows = book.sheets[layout.CUSTOMERS.name].range("A1").expand().options(ndim=2).value
    return {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}


def test_match_and_apply_pasted_customer_numbers_in_the_open_book(demo, tmp_path):
    before = demo.read_bytes()
    with mock_caller(demo) as book:
        book.sheets[layout.CUSTOMER_IMPORT.name].range("A1").value = PASTED  # pasted over the placeholder
        message = excel.match_customers(copy=save_copy(book, tmp_path))
        assert message.startswith("Matched 5 pasted row(s) (recognised by headers")
        sheet = import_columns(book)
        assert list(sheet) == PASTED[0] + [c.header for c in layout.CUSTOMER_IMPORT.columns]  # beside the paste
        assert sheet["Action"] == ["assign number"] * 4 + ["new customer"]
        assert sheet["Match: customer id"] == list(TAKEN_OVER) + [None]
        assert sheet["Nummer"] == [r[0] for r in PASTED[1:]]  # the paste itself untouched

        message = excel.apply_customer_matches(copy=save_copy(book, tmp_path))
        assert "4 numbers assigned" in message and "1 customers created" in message
        customers = customers_by_id(book)
        for cid, number in TAKEN_OVER.items():
            assert (customers[cid]["Accounting customer number"], customers[cid]["Number source"]) == (number, "imported")
        new = customers["C016"]
        assert (new["Name"], new["Accounting customer number"], new["Postal code"]) == ("Drukkerij Nieuw", "C4720", "8500")
        assert new["Import batch"].startswith("IMP-")
        assert import_columns(book)["Action"] == ["already correct"] * 5
        assert excel.apply_customer_matches(copy=save_copy(book, tmp_path)).startswith("Applied: 5 already correct.")
    assert demo.read_bytes() == before  # everything went into the open book, not its file


def test_pasted_numbers_reach_the_winbooks_files_through_the_buttons(demo, tmp_path):
    with mock_caller(demo) as book:
        book.sheets[layout.CUSTOMER_IMPORT.name].range("A1").value = PASTED[:5]
        excel.match_customers(copy=save_copy(book, tmp_path))
        excel.apply_customer_matches(copy=save_copy(book, tmp_path))
        message = excel.generate_export(copy=save_copy(book, tmp_path))
        assert "Exported 64 document(s)" in message
        generated = [r for r in customers_by_id(book).values() if r["Number source"] == "generated"]
        assert {r["Customer id"] for r in generated}.isdisjoint(TAKEN_OVER)
    folder = next(p for p in (demo.parent / "demo-exports").iterdir() if p.is_dir())
    csf = (folder / "CSF.txt").read_text(encoding="cp1252")
    act = (folder / "ACT.txt").read_text(encoding="cp1252")
    for cid, number in TAKEN_OVER.items():  # each of them has invoices in the demo
        assert f'"{number}"' in csf and f'"{number}"' in act, cid


def test_a_list_without_headers_pasted_under_the_placeholder(demo, tmp_path):
    with mock_caller(demo) as book:
        sheet = book.sheets[layout.CUSTOMER_IMPORT.name]
        sheet.range("A2").value = PASTED[1:5]
        message = excel.match_customers(copy=save_copy(book, tmp_path))
        assert "recognised by content" in message
        assert sheet.range("A1:F1").value == ["Pasted data", None, None, None, None, "Match: customer id"]
        assert sheet.range("I2:I5").value == ["assign number"] * 4
        # A shorter list pasted over it: the results of the row that is gone go too.
        sheet.range("A5:E5").clear_contents()
        excel.match_customers(copy=save_copy(book, tmp_path))
        assert sheet.range("F5:J5").value == [None] * 5
        assert sheet.range("I2:I4").value == ["assign number"] * 3


def test_customer_buttons_explain_what_to_do(demo, tmp_path):
    with mock_caller(demo) as book:
        assert "is empty: paste the customer list" in excel.match_customers(copy=save_copy(book, tmp_path))
        assert "no Action column yet: match the pasted rows first" in excel.apply_customer_matches(
            copy=save_copy(book, tmp_path))
        assert len(book.app.impl.alerts) == 2
    assert not (demo.parent / excel.LOG_NAME).exists()


def test_open_export_folder_before_any_export(demo):
    with mock_caller(demo):
        message = excel.open_export_folder()
    assert message == f"No exports yet: they will be written to {demo.parent.resolve() / 'demo-exports'}."


def test_validate_writes_the_preview_sheet(demo):
    with mock_caller(demo) as book:
        excel.validate()
        sheet = book.sheets[layout.PREVIEW.name]
        rows = sheet.range("A2").expand().options(ndim=2).value
        documents = [r for r in rows if r[0] == "Document"]
        assert len(documents) == 64 and {r[-1] for r in documents} == {"new"}
        assert [r[1] for r in rows if r[0] == "Total per journal"] == ["VF", "VFC"]


# ---- the open book as Excel keeps it: sheets renamed, protected, no file Python can find ---------


def test_validate_writes_into_the_preview_sheet_whatever_its_letters(demo):
    """The Preview sheet renamed "preview": Validate writes there (sheets are found without case,
    as everywhere), not a second "Preview" that Excel refuses as a name already taken."""
    with mock_caller(demo) as book:
        book.sheets[layout.PREVIEW.name].name = "preview"
        assert excel.validate() == "No problems found."
        assert [s.name for s in book.sheets if s.name.lower() == "preview"] == ["preview"]
        assert book.sheets["preview"].range("A2").value == "Document"
    assert not (demo.parent / excel.LOG_NAME).exists()


def test_a_workbook_python_cannot_find_is_a_message_not_a_traceback(demo, monkeypatch):
    """On OneDrive/SharePoint Excel gives the book's place as a web address; when xlwings cannot
    find the synchronised file it raises. RunPython shows what Python writes to stderr: the
    message, not a traceback."""
    import xlwings as xw

    def unreachable(self):
        raise xw.XlwingsError("Couldn't find your local OneDrive file, see: xlwings.org/error")

    with mock_caller(demo) as book:
        monkeypatch.setattr(type(book.impl), "fullname", property(unreachable))
        message = excel.validate(copy=str(demo))
        assert book.app.impl.alerts[-1].prompt == message
    assert "Couldn't find your local OneDrive file" in message and "ONEDRIVE_CONSUMER_WIN" in message
    assert "Traceback" not in message and "Something went wrong" not in message

    monkeypatch.setattr(xw.Book, "caller", classmethod(lambda cls: unreachable(None)))
    with pytest.raises(SystemExit) as stopped:  # no book to show a message in: xlwings shows stderr
        excel.validate(copy=str(demo))
    assert "Couldn't find your local OneDrive file" in str(stopped.value.code)
    assert "Traceback" not in str(stopped.value.code)


def test_a_protected_sheet_is_a_message_naming_the_sheet_and_cells(tmp_path):
    path = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    with mock_caller(path) as book:
        book.sheets[layout.CHECK.name].api.protection.sheet = True
        message = excel.validate()
    assert message.startswith(f"Excel refused to change the sheet '{layout.CHECK.name}' at A2:")
    assert "protected sheet" in message and "Unprotect Sheet" in message
    assert "Something went wrong" not in message and not (tmp_path / excel.LOG_NAME).exists()


def test_an_export_into_a_protected_invoices_sheet_says_the_files_are_written(demo, tmp_path):
    """The export is committed before the open book is updated: the message must not read as if
    nothing was exported, and once the sheet is unprotected the next button press carries the
    update in (recovery)."""
    with mock_caller(demo) as book:
        invoices = book.sheets[layout.INVOICES.name]
        invoices.api.protection.sheet = True
        message = excel.generate_export(copy=save_copy(book, tmp_path))
        assert "Exported 64 document(s)" in message
        assert f"Excel refused to change the sheet '{layout.INVOICES.name}'" in message
        assert "next" in message and "Something went wrong" not in message
        invoices.api.protection.sheet = False
        again = excel.validate(copy=save_copy(book, tmp_path))
        assert again.startswith("Recovered:")
        exported_in = layout.column_letter(layout.INVOICES.keys.index("exported_in"))
        assert None not in invoices.range(f"{exported_in}2:{exported_in}65").value
    assert not (demo.parent / excel.LOG_NAME).exists()


def test_a_users_own_check_sheet_keeps_what_the_user_wrote(tmp_path):
    """A sheet of the user's named Check (the toolkit's deleted, theirs made later): the findings go
    right of their cells, and the next Validate empties only the findings' columns. It emptied
    every column from A to the findings' last: the user's figures and formulas were gone."""
    path = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    own = [["My reconciliation", None], ["Bank", 1234.5], ["Cash", 100.0], ["Total", "=B2+B3"]]
    with mock_caller(path) as book:
        book.sheets[layout.CHECK.name].delete()
        sheet = book.sheets.add(name="Check", after=book.sheets[len(book.sheets) - 1])
        sheet.range("A1").value = own
        sheet.range("A2").color = (200, 230, 200)
        for _ in range(2):
            assert "15 error(s)" in excel.validate(copy=save_copy(book, tmp_path))
            assert sheet.range("A1:B4").value == own and sheet.range("A2").color == (200, 230, 200)
            assert sheet.range("C1:H1").value == [c.header for c in layout.CHECK.columns]
            assert sheet.range("D2").value == "settings.missing" and sheet.range("F2").hyperlink == "#'Settings'!B2"
        book.sheets["Settings"].range("B2").value = "Acme"  # one finding fewer: its row goes, the user's stay
        excel.validate(copy=save_copy(book, tmp_path))
        assert sheet.range("A1:B4").value == own
        assert sheet.range("C18:H18").value == [None] * 6 and sheet.range("C17").value is not None


def test_assign_customer_numbers_leaves_validates_check_sheet_and_names_the_cells(tmp_path):
    """Like `customers assign`, the button tells its findings and leaves the Check sheet alone: it
    rewrote it with its own findings only (none, mostly), so Validate's 15 errors and their
    highlights vanished while the errors were all still there."""
    path = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    with mock_caller(path) as book:
        excel.validate(copy=save_copy(book, tmp_path))
        listed = check_rows(book)
        message = excel.assign_customer_numbers(copy=save_copy(book, tmp_path))
        assert message.startswith("7 customer(s) got a number")
        assert check_rows(book) == listed and len(listed) == 17
        assert book.sheets[layout.INVOICE_LINES.name].range("I8").color == excel.HIGHLIGHT
    shutil.copy(SAMPLES / "mistakes.xlsx", path)
    with mock_caller(path) as book:
        excel.validate(copy=save_copy(book, tmp_path))
        settings = book.sheets[layout.SETTINGS_SHEET]
        labels = settings.range("A1:A40").value
        row = labels.index(layout.SETTINGS_BY_KEY["customer_number_start"].label) + 1
        settings.range(f"B{row}").value = "999999999999999"
        message = excel.assign_customer_numbers(copy=save_copy(book, tmp_path))
        assert message.startswith("No numbers assigned: Cannot generate customer numbers")
        assert message.endswith(f"Cell: Settings!B{row}.") and message.count("Cannot generate") == 1
        assert check_rows(book) == listed


@pytest.mark.parametrize("name", ["suggest_accounts", "assign_customer_numbers", "apply_customer_matches",
                                  "generate_export", "generate_einvoices"])
def test_a_workbook_open_read_only_is_refused_by_the_buttons_whose_changes_must_be_saved(demo, tmp_path, name):
    """Excel opened it read-only (a colleague has it open): numbers given, accounts suggested or an
    export recorded there could not be saved into the workbook everybody else opens. The command
    line refuses a read-only file likewise; Validate, which changes nothing to keep, still runs."""
    with mock_caller(demo) as book:
        book.api.ReadOnly = True
        before = check_rows(book), book.sheets[layout.CUSTOMERS.name].range("M2:N16").value
        message = getattr(excel, name)(copy=save_copy(book, tmp_path))
        assert message.startswith("demo.xlsx is open read-only") and message.endswith("Nothing was changed.")
        assert (check_rows(book), book.sheets[layout.CUSTOMERS.name].range("M2:N16").value) == before
        assert excel.validate(copy=save_copy(book, tmp_path)) == "No problems found."
    assert not (demo.parent / "demo-exports").exists()
