"""Exports: written once, recorded, reproducible; nothing written on errors or failures."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from toolkit import cli, layout, sample
from toolkit.app import transaction
from toolkit.app.export import ExportFailed, ExportRequest, run_export
from toolkit.book.read import read_workbook
from toolkit.app.register import FILE_NAME, Register
from toolkit.resources import specs_dir
from toolkit.book.writeback import Edits, write_back

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_export_writes_records_and_updates_the_workbook(demo, capsys):
    assert cli.main(["export", str(demo)]) == 0
    out = demo.parent / "demo-exports"
    [entry] = Register(out).entries()
    folder = out / entry["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["ACT.txt", "CSF.txt"]
    assert (folder / "ACT.txt").read_bytes() == (SAMPLES / "golden" / "winbooks" / "ACT.txt").read_bytes()
    assert len(entry["documents"]) == 64 and entry["period_from"] == "2026-01-01"
    wb = read_workbook(demo)
    assert {i.exported_in for i in wb.invoices} == {entry["id"]}
    generated = {c.customer_id: (c.accounting_number, c.number_source) for c in wb.customers if c.number_source == "generated"}
    assert generated == {cid: (number, "generated") for cid, number in entry["generated_numbers"].items()}
    # first invoice date, then id: the numbers follow the customers' first invoices
    assert sorted(entry["generated_numbers"].values()) == [str(n) for n in range(100000, 100000 + len(generated))]
    assert "Exported 64 document(s)" in capsys.readouterr().out
    import openpyxl
    rows = list(openpyxl.load_workbook(demo)[layout.EXPORT_LOG.name].iter_rows(min_row=2, values_only=True))
    assert rows[0][0] == entry["id"] and rows[0][4] == 64


def test_second_export_has_nothing_new_and_again_reproduces(demo, capsys):
    first = run_export(ExportRequest(demo))
    write_back(demo, first.edits)
    second = run_export(ExportRequest(demo))
    assert second.status == "nothing" and "64 document(s) in it were exported before" in second.message
    again = run_export(ExportRequest(demo, again=first.entry["id"]))
    assert again.status == "written" and "identical" in again.message
    for name in first.entry["files"]:
        assert (again.folder / name).read_bytes() == (first.folder / name).read_bytes()
    assert again.entry["again_of"] == first.entry["id"]


def test_register_alone_prevents_a_second_export(demo):
    """Excel closed unsaved: the workbook never learnt, but the register did."""
    first = run_export(ExportRequest(demo))
    assert first.status == "written"
    again = run_export(ExportRequest(demo))
    assert again.status == "nothing"
    included = run_export(ExportRequest(demo, include_exported=True))
    assert included.status == "written"
    assert included.entry["generated_numbers"] == first.entry["generated_numbers"]  # numbers never change


def test_period_selection(demo):
    result = run_export(ExportRequest(demo, period_from=dt.date(2026, 2, 1), period_to=dt.date(2026, 2, 28)))
    dates = {i.number: i.date for i in read_workbook(demo).invoices}
    assert result.status == "written"
    assert all(dt.date(2026, 2, 1) <= dates[n] <= dt.date(2026, 2, 28) for n in result.entry["documents"])
    assert result.entry["period_to"] == "2026-02-28"


def test_errors_write_nothing(tmp_path):
    book = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", book)
    result = run_export(ExportRequest(book, out_dir=tmp_path / "out"))
    assert result.status == "blocked"
    assert not (tmp_path / "out").exists()
    assert cli.main(["export", str(book), "--out", str(tmp_path / "out")]) == 1


def test_failure_while_writing_leaves_nothing(demo, monkeypatch):
    calls = []

    def broken_rename(src, dst):
        calls.append(dst)
        raise OSError("disk full")

    monkeypatch.setattr(transaction.os, "rename", broken_rename)
    with pytest.raises(ExportFailed, match="nothing was kept"):
        run_export(ExportRequest(demo))
    root = demo.parent / "demo-exports"
    assert calls and [p.name for p in root.iterdir()] == [FILE_NAME]  # no folder, no partial folder
    assert Register(root).entries() == [] and list(Register(root).load().status.values()) == ["failed"]
    monkeypatch.undo()
    assert run_export(ExportRequest(demo)).status == "written"  # and nothing counts as exported


def test_manual_customer_numbers_must_be_filled(demo):
    write_back(demo, Edits().set_setting("customer_numbering", "manage manually"))
    result = run_export(ExportRequest(demo))
    missing = [f for f in result.findings if f.code == "customer.number.missing"]
    assert result.status == "blocked" and missing
    assert {(f.sheet, f.cell[0]) for f in missing} == {("Customers", "M")}


def test_numbers_outside_the_package_range_block(demo, tmp_path):
    spec = json.loads((specs_dir() / "winbooks.json").read_text())
    spec["customer_numbers"] = {"pattern": "^[0-9]+$", "max": 400113}  # the sample's numbers are 4001xx
    custom = tmp_path / "narrow.json"
    custom.write_text(json.dumps(spec))
    write_back(demo, Edits().set_setting("customer_number_start", 400108))  # 4 free numbers, 7 customers need one
    result = run_export(ExportRequest(demo, package=str(custom)))
    assert result.status == "blocked"
    assert [f.code for f in result.findings if f.is_error] == ["customer.number.generate"]


def test_low_start_value_warns(demo):
    write_back(demo, Edits().set_setting("customer_number_start", 500))
    result = run_export(ExportRequest(demo))
    assert result.status == "written"
    assert "settings.customer_number_start.low" in {f.code for f in result.findings}


def test_cli_user_mistakes_are_messages_not_tracebacks(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "absent.xlsx")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    assert cli.main(["check", str(bad)]) == 2
    assert "not an Excel workbook" in capsys.readouterr().err
    assert cli.main(["export", str(SAMPLES / "demo.xlsx"), "--package", "nosuch", "--out", str(tmp_path)]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_check_writes_the_check_sheet_with_links(tmp_path, capsys):
    import openpyxl

    book = tmp_path / "mistakes.xlsx"
    shutil.copy(SAMPLES / "mistakes.xlsx", book)
    assert cli.main(["check", str(book), "--write"]) == 1
    ws = openpyxl.load_workbook(book)[layout.CHECK.name]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(sample.mistakes()[2]) and rows[0][:4] == ("error", "settings.missing", "Settings", "B2")
    assert ws["D2"].hyperlink.location == "'Settings'!B2"
    assert list(tmp_path.glob("mistakes.backup-*.xlsx"))
    assert cli.main(["check", str(book), "--json"]) == 1
    assert '"code": "settings.missing"' in capsys.readouterr().out


def test_again_uses_the_parameters_of_the_earlier_export(demo):
    import openpyxl

    first = run_export(ExportRequest(demo))
    book = openpyxl.load_workbook(demo)
    book[layout.SETTINGS_SHEET].append(["WinBooks book year", "3"])  # changed since
    book.save(demo)
    assert run_export(ExportRequest(demo, include_exported=True)).entry["files"] != first.entry["files"]
    again = run_export(ExportRequest(demo, again=first.entry["id"]))
    assert again.entry["files"] == first.entry["files"] and "identical" in again.message


@pytest.mark.parametrize("folder, says", [
    ("x" * 300, "cannot be used (File name too long)"),  # a traceback from the stat of the folder
    pytest.param("C:\\Users\\Anne\\Exports", "is a Windows path", marks=pytest.mark.skipif(os.name == "nt", reason="a path there")),
    pytest.param("\\\\server\\share", "is a Windows path", marks=pytest.mark.skipif(os.name == "nt", reason="a path there")),
])
def test_an_output_folder_this_computer_cannot_use_is_a_message(tmp_path, capsys, folder, says):
    """A Windows path on another system became a folder named 'C:\\Users\\...' beside the workbook."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    edited = openpyxl.load_workbook(book)
    ws = edited[layout.SETTINGS_SHEET]
    [row] = [r for r in ws.iter_rows(min_row=2) if r[0].value == "Output folder"]
    row[1].value = folder
    edited.save(book)
    assert cli.main(["export", str(book)]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["demo.xlsx"]  # the lock stays


@pytest.mark.skipif(os.name == "nt", reason="a path there")
@pytest.mark.parametrize("folder", ["C:\\Users\\Anne\\Exports", "\\\\server\\share\\exports"])
def test_an_out_that_is_a_windows_path_on_another_system_is_a_message(tmp_path, capsys, monkeypatch, folder):
    """--out '\\\\server\\share' on Linux exported into a folder of that name in the current folder,
    exit 0, where the same path on Settings is refused."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    monkeypatch.chdir(tmp_path)
    for argv in (["export", str(book), "--out", folder], ["register", "check", "--out", folder]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "--out is a Windows path" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["demo.xlsx"]


def test_a_backup_of_the_workbook_exports_into_the_workbooks_folder_and_books_nothing_twice(tmp_path, capsys):
    """Opened and exported, the backup the export made (its rows without 'Exported in') got a folder
    and a register of its own, and booked all 64 documents a second time."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book)]) == 0
    [backup] = tmp_path.glob("demo.backup-*.xlsx")
    assert not any(i.exported_in for i in read_workbook(backup).invoices)
    capsys.readouterr()
    assert cli.main(["export", str(backup)]) == 0
    assert "Nothing new to export" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["demo-exports"]


def test_a_document_dated_before_the_period_and_never_exported_is_said(tmp_path, capsys):
    """An invoice typed 20/01/2025 in a 2026 workbook, or added after its quarter was exported, was
    left out of this export and of every later one without a word."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book), "--from", "2026-02-01", "--to", "2026-02-28"]) == 0
    said = capsys.readouterr().out
    assert "export.before_period" in said and "dated before the period (from 01/02/2026) were never exported" in said
    assert "2026-0001 (05/01/2026)" in said and "more." in said
    assert cli.main(["export", str(book), "--to", "2026-01-31"]) == 0  # January exported: nothing left before March
    capsys.readouterr()
    assert cli.main(["export", str(book), "--from", "2026-03-01"]) == 0
    assert "export.before_period" not in capsys.readouterr().out


def test_exporting_documents_again_on_purpose_says_how_many_were_exported_before(tmp_path, capsys):
    """--include-exported wrote 21 documents booked a month earlier again without a word."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book), "--to", "2026-01-31"]) == 0
    first = Register(tmp_path / "demo-exports").entries()[0]["id"]
    capsys.readouterr()
    for dry in (["--dry-run"], []):
        assert cli.main(["export", str(book), "--include-exported", *dry]) == 0
        out = capsys.readouterr().out
        assert f"21 of them were exported before (2026-0001 in {first}, ...)" in out and "a second time" in out
    assert cli.main(["export", str(book), "--from", "2026-02-01"]) in (0, 1)
    assert "exported before (" not in capsys.readouterr().out


def test_a_number_another_workbook_exported_is_said_on_its_row(tmp_path, capsys):
    """Two workbooks of one company sharing an export folder (a workbook per year whose numbers start
    again): the second one's invoices counted as 'exported before' without a word of why."""
    shared = tmp_path / "shared"
    for name in ("2026.xlsx", "2027.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", tmp_path / name)
    assert cli.main(["export", str(tmp_path / "2026.xlsx"), "--out", str(shared)]) == 0
    first = Register(shared).entries()[0]["id"]
    capsys.readouterr()
    assert cli.main(["export", str(tmp_path / "2027.xlsx"), "--out", str(shared)]) == 0
    out = capsys.readouterr().out
    assert out.count("export.number_taken") == 64
    assert f"2026-0001 counts as exported: export {first} of the workbook 2026.xlsx" in out
    assert cli.main(["export", str(tmp_path / "2026.xlsx"), "--out", str(shared)]) == 0
    assert "export.number_taken" not in capsys.readouterr().out  # its own export


def test_a_row_marked_with_an_export_that_did_not_carry_it_is_said_on_its_row(tmp_path, capsys):
    """A row copied with its 'Exported in' to make a new invoice (or a number changed after its
    export) counted as exported and was never exported: "Nothing new to export", exit 0."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book), "--to", "2026-01-31"]) == 0
    [entry] = Register(tmp_path / "demo-exports").entries()
    workbook = openpyxl.load_workbook(book)
    invoices, lines = workbook["Invoices"], workbook["Invoice lines"]
    header = [c.value for c in invoices[1]]
    copied = [c.value for c in invoices[2]]  # 2026-0001, exported
    copied[header.index("Invoice number")] = "2026-0099"
    invoices.append(copied)
    lines.append(["2026-0099", 1, "Copied", 1, 100, None, 21, "domestic", "700000", "manual"])
    workbook.save(book)
    capsys.readouterr()
    assert cli.main(["check", str(book)]) == 0
    out = capsys.readouterr().out
    assert out.count("export.not_carried") == 1
    assert (f"2026-0099 is marked as exported in {entry['id']} ('Exported in'), but that export did not carry it"
            in " ".join(out.split()))
    assert cli.main(["export", str(book), "--to", "2026-01-31"]) == 0
    assert "export.not_carried" in capsys.readouterr().out
    _edit(book, "Invoices", "Invoice number", {"2026-0099": {"Exported in": None}})
    assert cli.main(["export", str(book), "--to", "2026-01-31"]) == 0
    assert "Exported 1 document(s)" in capsys.readouterr().out
    assert Register(tmp_path / "demo-exports").entries()[-1]["documents"] == ["2026-0099"]


def test_an_output_folder_under_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    from toolkit.app.context import output_root
    from toolkit.model import Settings

    assert output_root(Settings(output_folder="~/Exports"), tmp_path / "demo.xlsx") == tmp_path / "home" / "Exports"
    monkeypatch.setenv("LEDGER_TEST_DIR", str(tmp_path / "elsewhere"))
    assert output_root(Settings(output_folder="$LEDGER_TEST_DIR/x"), tmp_path / "demo.xlsx") == tmp_path / "elsewhere" / "x"


def test_a_period_asked_for_backwards_or_an_output_folder_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    from toolkit import cli

    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book), "--from", "2026-12-01", "--to", "2026-01-01"]) == 2
    assert "runs backwards: from 01/12/2026 to 01/01/2026" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert cli.main(["export", str(book), "--out", str(tmp_path / "afile")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not any(i.exported_in for i in read_workbook(book).invoices)


def _edit(book: Path, sheet: str, number_column: str, changes: dict[str, dict[str, object]]) -> None:
    """Set cells of the rows whose `number_column` holds a key of `changes`, by header."""
    workbook = openpyxl.load_workbook(book)
    ws = workbook[sheet]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        for column, value in changes.get(row[header.index(number_column)].value, {}).items():
            row[header.index(column)].value = value
    workbook.save(book)


def test_an_invoice_changed_after_its_export_is_named_not_left_silently(tmp_path, capsys):
    """An exported invoice is never exported again, so a change made to it afterwards (another
    customer, another date, other amounts) would never reach the books without a word."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book)]) == 0
    [entry] = Register(tmp_path / "demo-exports").entries()
    booked = {d.number: d for d in read_workbook(book).invoices}
    then = {n: [entry["booked"][k][entry["documents"].index(n)] for k in ("date", "customer", "total")]
            for n in ("2026-0001", "2026-0002", "2026-0003")}
    assert then["2026-0001"][:2] == [booked["2026-0001"].date.isoformat(), booked["2026-0001"].customer_id]
    capsys.readouterr()
    assert cli.main(["check", str(book)]) == 0
    assert "export.changed" not in capsys.readouterr().out  # nothing changed: nothing said

    other = next(c.customer_id for c in read_workbook(book).customers if c.customer_id != then["2026-0001"][1])
    new_total = (abs(D(then["2026-0003"][2])) + D("100.00"))
    _edit(book, "Invoices", "Invoice number", {
        "2026-0001": {"Customer id": other},
        "2026-0002": {"Date": dt.datetime(2026, 2, 27)},
        "2026-0003": {"Total": float(new_total)},  # what Excel shows once a line changed
    })
    assert cli.main(["export", str(book)]) == 0
    out = capsys.readouterr().out
    assert out.count("export.changed") == 3
    assert f"2026-0001 is not what export {entry['id']} booked: customer {other} now, {then['2026-0001'][1]} then" in out
    assert f"dated 27/02/2026 now, {dt.date.fromisoformat(then['2026-0002'][0]):%d/%m/%Y} then" in out
    assert f"total {new_total:,.2f} now, {abs(D(then['2026-0003'][2])):,.2f} then" in out
    assert "Nothing new to export" in out  # still not exported again


def test_bookings_the_register_does_not_hold_as_written_are_not_compared(tmp_path, capsys):
    """A register line edited by hand (or by a later version) is not a traceback: its bookings
    are left out of the comparison."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    assert cli.main(["export", str(book)]) == 0
    _edit(book, "Invoices", "Invoice number", {n: {"Date": dt.datetime(2026, 3, 30)} for n in ("2026-0001", "2026-0002")})
    capsys.readouterr()
    assert cli.main(["check", str(book)]) == 0
    assert capsys.readouterr().out.count("export.changed") == 2  # as the export wrote them: compared
    register = tmp_path / "demo-exports" / FILE_NAME
    lines = register.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    count = len(first["documents"])
    for booked in ({"date": ["not a date"] * count, "customer": ["C001"] * count, "total": ["x"] * count},
                   {"date": 7}, {"date": ["2026-01-01"], "customer": ["C001"], "total": ["1.00"]}, []):
        first["booked"] = booked
        register.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
        assert cli.main(["check", str(book)]) == 0
        assert "export.changed" not in capsys.readouterr().out
