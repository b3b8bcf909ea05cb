"""Recovery of the workbook: a committed export whose write-back never reached the workbook."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from toolkit import layout
from toolkit.app.export import ExportRequest, run_export
from toolkit.app.recovery import workbook_repair, writing
from toolkit.app.register import Register
from toolkit.book.read import read_workbook
from toolkit.book.writeback import write_back

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def carried(path: Path):
    """What the workbook says about its exports: Exported in, customer numbers, Export log."""
    wb = read_workbook(path)
    log = list(openpyxl.load_workbook(path, read_only=True)[layout.EXPORT_LOG.name].iter_rows(min_row=2, values_only=True))
    return ({i.number: i.exported_in for i in wb.invoices},
            {c.customer_id: (c.accounting_number, c.number_source) for c in wb.customers},
            [row for row in log if any(v is not None for v in row)])


def test_a_workbook_that_missed_its_write_back_is_repaired_as_the_export_would_have(demo, tmp_path):
    twin = tmp_path / "twin" / "demo.xlsx"  # the same export, written back normally, to compare
    twin.parent.mkdir()
    shutil.copy(demo, twin)
    result = run_export(ExportRequest(demo))
    assert result.status == "written" and result.entry["generated_numbers"]
    root = demo.parent / "demo-exports"
    write_back(twin, result.edits)

    with writing(demo) as op:  # the crash came before the write-back: the next operation repairs
        assert op.root == root
        assert len(op.notes) == 1 and result.entry["id"] in op.notes[0] and "64 document(s)" in op.notes[0]
    assert carried(demo) == carried(twin)
    exported, numbers, log = carried(demo)
    assert set(exported.values()) == {result.entry["id"]} and len(log) == 1

    with writing(demo) as op:  # repaired once: nothing more to do
        assert op.notes == []
    assert carried(demo) == carried(twin)


def test_repair_fills_only_empty_cells_and_skips_what_is_not_this_workbooks(demo, tmp_path):
    result = run_export(ExportRequest(demo))
    loaded = Register(demo.parent / "demo-exports").load()
    wb = read_workbook(demo)
    first = min(wb.invoices, key=lambda i: i.where.row)
    customer = next(c for c in wb.customers if c.customer_id in result.entry["generated_numbers"])
    from toolkit.book.writeback import Edits

    write_back(demo, Edits().set(layout.INVOICES.name, first.where.row, "exported_in", "typed by hand")
               .set(layout.CUSTOMERS.name, customer.where.row, "accounting_number", "999"))
    edits, notes = workbook_repair(demo, loaded)
    assert len(notes) == 1 and "63 document(s)" in notes[0]
    write_back(demo, edits)
    exported, numbers, log = carried(demo)
    assert exported[first.number] == "typed by hand" and numbers[customer.customer_id][0] == "999"
    assert len(log) == 1
    # another workbook's exports in the same folder are not this one's to repair
    other = tmp_path / "other.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", other)
    assert workbook_repair(other, loaded) == (Edits(), [])


def test_export_no_write_back_leaves_the_workbook_alone(demo):
    run_export(ExportRequest(demo))
    before = demo.read_bytes()
    with writing(demo, repair_workbook=False) as op:
        assert op.notes == []
    assert demo.read_bytes() == before


# ---- through the command line --------------------------------------------------------------------

from toolkit import cli  # noqa: E402
from toolkit.app import lock  # noqa: E402
from toolkit.app.register import FILE_NAME  # noqa: E402


def test_register_check_verifies_every_recorded_file(demo, capsys):
    root = demo.parent / "demo-exports"
    assert cli.main(["register", "check", str(demo)]) == 0
    assert "No export register" in capsys.readouterr().out
    assert cli.main(["export", str(demo)]) == 0
    assert cli.main(["export", str(demo), "--include-exported"]) == 0
    capsys.readouterr()
    assert cli.main(["register", "check", str(demo)]) == 0
    assert "2 export(s) recorded" in capsys.readouterr().out
    first, second = Register(root).entries()
    (root / first["id"] / "ACT.txt").write_bytes(b"edited by hand")
    (root / second["id"] / "CSF.txt").unlink()
    (root / "20260402-100000-winbooks").mkdir()
    assert cli.main(["register", "check", "--out", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"export {first['id']}: ACT.txt was changed since the export (its SHA-256 differs)",
                   f"export {second['id']}: CSF.txt is missing",
                   "20260402-100000-winbooks: an export folder that no finished export in the register accounts for.",
                   f"3 problem(s) in {root / FILE_NAME}."]


def test_register_check_refuses_an_out_that_is_a_file_empty_or_missing(demo, capsys):
    """`--out FILE` said "No export register in FILE yet", exit 0; `--out ""` checked the current
    folder: a script's mistake passed for a clean register."""
    (demo.parent / "notes.txt").write_text("not a folder")
    for out, said in ((demo.parent / "notes.txt", "is a file, not a folder"), (demo.parent / "exprots", "does not exist")):
        assert cli.main(["register", "check", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"The export folder {out}" in err and said in err and "--out" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as ended:
        cli.main(["register", "check", str(demo), "--out", ""])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "--out" in err and "it is empty" in err


@pytest.mark.parametrize("loss", ["deleted", "emptied"])
def test_a_lost_register_never_costs_an_export_folder(demo, capsys, loss):
    """Recovery used to remove a finished export's folder (files perhaps already sent to the
    accountant) when the register had lost its lines, saying its documents were not exported."""
    from toolkit import cli

    root = demo.parent / "demo-exports"
    assert cli.main(["export", str(demo)]) == 0
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    register = root / "export-register.jsonl"
    register.unlink() if loss == "deleted" else register.write_bytes(b"")
    capsys.readouterr()
    assert cli.main(["export", str(demo)]) == 0
    said = capsys.readouterr()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    assert f"{folder.name} is not in the export register" in said.err and "Nothing new to export" in said.out


@pytest.mark.parametrize("junk", [b"garbage\n", b"\x00\x00\x00\n", b'{"company": "x"}\n', b"\xff\xfe{}\n"])
def test_a_damaged_register_stops_every_command_with_a_message(demo, capsys, junk):
    root = demo.parent / "demo-exports"
    assert cli.main(["export", str(demo), "--no-write-back"]) == 0
    with open(root / FILE_NAME, "ab") as handle:
        handle.write(junk)
    handle_lines = (root / FILE_NAME).read_bytes().count(b"\n")
    capsys.readouterr()
    for argv in (["export", str(demo)], ["check", str(demo), "--write"], ["customers", "assign", str(demo)]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert f"{root / FILE_NAME} is damaged at line {handle_lines}" in err and "Traceback" not in err
    assert cli.main(["register", "check", str(demo)]) == 1
    assert f"line {handle_lines}" in capsys.readouterr().out


def test_a_partial_last_line_is_repaired_and_said(demo, capsys):
    root = demo.parent / "demo-exports"
    assert cli.main(["export", str(demo), "--to", "2026-01-31"]) == 0
    with open(root / FILE_NAME, "ab") as handle:
        handle.write(b'{"v": 2, "event": "pending", "id": "20260402-0')  # the disk was full
    capsys.readouterr()
    assert cli.main(["register", "check", str(demo)]) == 1  # reported, not repaired by a reader
    assert cli.main(["export", str(demo)]) == 0
    captured = capsys.readouterr()
    assert "Recovered: The register's last line was incomplete" in captured.err
    assert "Exported" in captured.out
    assert cli.main(["register", "check", str(demo)]) == 0


@contextlib.contextmanager
def _locked_elsewhere(workbook: Path):
    """Another process holding the workbook's lock (as a running export does) until the block ends."""
    code = ("import sys; from pathlib import Path; from toolkit.app.lock import locked\n"
            "with locked(Path(sys.argv[1])):\n    print('locked', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(workbook)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.close()
        holder.wait(10)


def test_a_second_export_waits_then_refuses(demo, capsys, monkeypatch):
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.3)
    with _locked_elsewhere(demo):
        assert cli.main(["export", str(demo)]) == 2
    err = capsys.readouterr().err
    assert "Another export of this workbook is running" in err and "Nothing was changed" in err
    assert not (demo.parent / "demo-exports").exists()
    assert cli.main(["export", str(demo)]) == 0


def test_no_write_back_is_remembered(demo, capsys):
    before = demo.read_bytes()
    assert cli.main(["export", str(demo), "--no-write-back"]) == 0
    [entry] = Register(demo.parent / "demo-exports").entries()
    assert entry["write_back"] is False
    assert cli.main(["check", str(demo), "--write"]) in (0, 1)
    assert "Recovered" not in capsys.readouterr().err
    assert all(not i.exported_in for i in read_workbook(demo).invoices) and demo.read_bytes() != before


def test_recovery_that_cannot_write_is_a_message(demo, monkeypatch, capsys):
    from toolkit.app import transaction

    class Crash(BaseException):
        """Stands for the process dying after the rename: nothing catches it, nothing cleans up."""

    def crash(step):
        if step == "visible":
            raise Crash
    monkeypatch.setattr(transaction, "reached", crash)
    with pytest.raises(Crash):
        with writing(demo):
            from toolkit.app.export import ExportRequest, commit, plan_export

            commit(plan_export(ExportRequest(demo)))
    monkeypatch.undo()

    def read_only(self, record):
        raise PermissionError(13, "Permission denied", str(self.path))
    monkeypatch.setattr(Register, "_append", read_only)
    assert cli.main(["export", str(demo)]) == 2
    err = capsys.readouterr().err
    assert "finishing it failed" in err and "can be written" in err and "Traceback" not in err


def read_only(monkeypatch, book: Path) -> None:
    """What a read-only file does, even to root (who may write any file)."""
    import builtins
    import os

    from toolkit.book import writeback

    real_open, real_access = builtins.open, os.access

    def read_only_open(file, mode="r", *args, **kwargs):
        if Path(file) == book and ("+" in mode or "w" in mode):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)
    monkeypatch.setattr(writeback, "open", read_only_open, raising=False)
    monkeypatch.setattr(os, "access", lambda path, how, **kw: how != os.W_OK if Path(path) == book else real_access(path, how, **kw))


def test_an_export_into_a_workbook_turned_read_only_says_it_is_written_and_the_next_command_carries_the_update_in(demo, monkeypatch, capsys):
    """The workbook could be updated when the export began, not after its commit: the message
    ended "... was not updated ... Nothing was changed" while the export's files were written and
    recorded: its last words contradicted its first."""
    from toolkit.app import transaction

    def turns_read_only(step):
        if step == "committed":  # after the check before the commit, before the write-back
            read_only(monkeypatch, demo)
    monkeypatch.setattr(transaction, "reached", turns_read_only)
    before = demo.read_bytes()
    assert cli.main(["export", str(demo)]) == 2
    out, err = capsys.readouterr()
    export_id = Register(demo.parent / "demo-exports").entries()[-1]["id"]
    assert export_id in out and (demo.parent / "demo-exports" / export_id).is_dir()
    assert f"Export {export_id} is written and recorded, but {demo} was not updated" in err
    assert "read-only" in err and "Make it writable" in err and "Nothing was changed" not in err
    assert err.rstrip().endswith("the next export of the workbook (or any command that changes it) carries the update in, and says so.")
    assert demo.read_bytes() == before
    monkeypatch.undo()
    _the_next_export_carries_the_update_in(demo, capsys, export_id)


@pytest.mark.parametrize("why", ["open in Excel", "read-only"])
def test_an_export_whose_workbook_cannot_be_updated_is_refused_before_anything_is_exported(demo, monkeypatch, capsys, why):
    """It committed the export, then refused the write-back (exit 2): the export was written
    and recorded, the workbook's update waited for a later command. Now nothing is exported, and
    the message says how to export without updating the workbook."""
    root = demo.parent / "demo-exports"
    owner = demo.with_name("~$demo.xlsx")
    if why == "open in Excel":
        owner.write_bytes(b"\x04jdoe")  # Excel's owner file: the workbook is open in Excel
    else:
        read_only(monkeypatch, demo)
    before = demo.read_bytes()
    assert cli.main(["export", str(demo)]) == 2
    out, err = capsys.readouterr()
    assert "Exported" not in out and not (root / FILE_NAME).exists() and not list(root.glob("*/"))
    said = err.strip().removeprefix("ledger-export: ")
    if why == "open in Excel":
        assert said.startswith("demo.xlsx is open in Excel (its owner file ~$demo.xlsx is beside it")
    else:
        assert said.startswith(f"{demo} is read-only, so it cannot be updated. Make it writable")
        assert "copy" not in said  # recovery carries an export's update into the workbook's own path only
    assert "the workbook was not changed. Nothing was exported or recorded" in said.replace("The workbook", "the workbook")
    assert said.endswith("To export without updating the workbook, add --no-write-back.")
    assert demo.read_bytes() == before and "\n" not in said

    assert cli.main(["export", str(demo), "--no-write-back"]) == 0  # as the message says
    [entry] = Register(root).entries()
    assert len(entry["documents"]) == 64 and entry["write_back"] is False and demo.read_bytes() == before
    capsys.readouterr()


def test_an_export_that_updates_nothing_goes_ahead_beside_excel(demo, capsys):
    """Nothing new, a re-creation (--again writes nothing back) and a dry run leave the workbook
    as it is: Excel having it open stops none of them."""
    root = demo.parent / "demo-exports"
    assert cli.main(["export", str(demo)]) == 0
    [entry] = Register(root).entries()
    demo.with_name("~$demo.xlsx").write_bytes(b"\x04jdoe")
    before = demo.read_bytes()
    assert cli.main(["export", str(demo)]) == 0
    assert "Nothing new to export" in capsys.readouterr().out
    assert cli.main(["export", str(demo), "--again", entry["id"]]) == 0
    assert "identical to the original" in capsys.readouterr().out and (root / f"{entry['id']}-again").is_dir()
    assert cli.main(["export", str(demo), "--dry-run", "--include-exported"]) == 0
    assert demo.read_bytes() == before


def _the_next_export_carries_the_update_in(demo, capsys, export_id: str) -> None:
    """The export was committed but the workbook not updated: the next export writes its marks back
    (recovery, said), and finds nothing new."""
    assert cli.main(["export", str(demo)]) == 0
    out, err = capsys.readouterr()
    assert "Recovered" in err and export_id in err and "Nothing new to export" in out
    assert set(carried(demo)[0].values()) == {export_id}


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError(28, "No space left on device")], ids=["ctrl-c", "disk-full"])
def test_an_export_stopped_before_its_first_register_line_leaves_no_empty_export_folder(demo, monkeypatch, capsys, stop):
    """Ctrl-C (or a full disk) between making '<workbook>-exports' and the register's first line
    left the folder behind, empty; one that was there before stays."""
    def stopped(self, entry):
        raise stop
    monkeypatch.setattr(Register, "record_pending", stopped)
    root = demo.parent / "demo-exports"
    assert cli.main(["export", str(demo)]) == (130 if stop is KeyboardInterrupt else 2)
    assert not root.exists()
    assert cli.main(["export", str(demo), "--out", str(demo.parent / "new" / "exports")]) in (130, 2)
    assert not (demo.parent / "new" / "exports").exists()  # new/ holds the folder's lock file
    root.mkdir()
    assert cli.main(["export", str(demo)]) in (130, 2)
    assert root.is_dir() and not list(root.iterdir())
    capsys.readouterr()


def test_ctrl_c_after_the_commit_says_the_export_is_written_and_the_next_command_carries_it_in(demo, monkeypatch, capsys):
    """Ctrl-C during the write-back: the export's files and register line are there, so the
    interrupt must not say that nothing was kept; the next command writes the marks back."""
    from toolkit.book import writeback

    def interrupted(path, edits, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(writeback, "write_back", interrupted)
    before = demo.read_bytes()
    assert cli.main(["export", str(demo)]) == 130
    out, err = capsys.readouterr()
    export_id = Register(demo.parent / "demo-exports").entries()[-1]["id"]
    assert export_id in out and "nothing half-written" not in err
    assert f"export {export_id} is written and recorded" in err and "demo.xlsx was not updated" in err
    assert "the next export" in err
    assert demo.read_bytes() == before
    monkeypatch.undo()
    _the_next_export_carries_the_update_in(demo, capsys, export_id)


def test_a_real_ctrl_c_while_the_files_are_written_rolls_the_export_back_at_once_and_says_so(demo, monkeypatch, capsys):
    """It said "nothing half-written was kept" while its pending register line and its
    '.ID.partial' folder stayed until the next command's recovery removed them."""
    import os
    import signal

    from toolkit.app import transaction

    seen = []

    def ctrl_c(step):
        seen.append(step)
        if seen.count("file") == 2 and step == "file":  # the second file of the export is written
            os.kill(os.getpid(), signal.SIGINT)  # the interrupt a terminal sends
    monkeypatch.setattr(transaction, "reached", ctrl_c)
    # Python's own handler, as in a terminal: a job a script starts in the background (a CI runner
    # may) inherits SIGINT ignored, and the interrupt would never arrive.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    root = demo.parent / "demo-exports"
    before = demo.read_bytes()
    try:
        code = cli.main(["export", str(demo)])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130
    out, err = capsys.readouterr()
    [export_id] = Register(root).load().status
    assert Register(root).load().status == {export_id: "failed"} and Register(root).entries() == []
    assert list(root.iterdir()) == [root / FILE_NAME]  # no .ID.partial, no export folder
    assert err.strip() == (f"ledger-export: interrupted while export {export_id} was written: it was rolled back, "
                           "nothing of it was kept or counts as exported.")
    assert "Exported" not in out and demo.read_bytes() == before
    monkeypatch.undo()

    assert cli.main(["export", str(demo)]) == 0
    out, err = capsys.readouterr()
    assert "Recovered" not in err and "Exported 64 document(s)" in out


def test_ctrl_c_whose_rollback_fails_leaves_it_to_the_next_command_and_says_so(demo, monkeypatch, capsys):
    from toolkit.app import transaction

    def ctrl_c(step):
        if step == "staged":
            raise KeyboardInterrupt
    monkeypatch.setattr(transaction, "reached", ctrl_c)
    monkeypatch.setattr(Register, "record_failed", lambda self, export_id, reason: (_ for _ in ()).throw(OSError(28, "No space")))
    assert cli.main(["export", str(demo)]) == 130
    err = capsys.readouterr().err
    assert "the next export of the workbook (or any command that changes it) finishes or rolls back" in err
    assert "nothing half-written" not in err
    monkeypatch.undo()
    assert cli.main(["export", str(demo)]) == 0
    assert "rolled back" in capsys.readouterr().err


@pytest.mark.parametrize("loss", ["deleted", "a folder"])
def test_register_check_of_a_lost_register_beside_export_folders_is_a_problem(demo, capsys, loss):
    """The register deleted (or a folder in its place) while export folders remain: `register
    check` said 'No export register yet: nothing was exported there', exit 0."""
    root = demo.parent / "demo-exports"
    assert cli.main(["export", str(demo)]) == 0
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    (root / FILE_NAME).unlink()
    if loss == "a folder":
        (root / FILE_NAME).mkdir()
    capsys.readouterr()
    assert cli.main(["register", "check", str(demo)]) == 1
    out = capsys.readouterr().out
    assert "nothing was exported" not in out and "Traceback" not in out
    assert (f"{folder.name}: an export folder that no finished export in the register accounts for" in out
            if loss == "deleted" else "cannot be read" in out)
    assert f"{FILE_NAME} is missing" in out if loss == "deleted" else True


def test_a_backup_cut_short_by_a_crash_is_never_left_under_a_backups_name(demo, monkeypatch, capsys):
    """The write-back's backup was copied straight to its name: a crash half-way left a damaged
    'demo.backup-....xlsx' beside the good ones, the copy a user would restore."""
    import zipfile

    from toolkit.book import writeback

    class Crash(BaseException):
        pass

    def dies_half_way(source, target, **kwargs):
        data = Path(source).read_bytes()
        Path(target).write_bytes(data[:len(data) // 2])
        raise Crash

    monkeypatch.setattr(writeback.shutil, "copy2", dies_half_way)
    with pytest.raises(Crash):
        cli.main(["export", str(demo)])
    monkeypatch.undo()
    assert not list(demo.parent.glob("demo.backup-*"))
    assert cli.main(["export", str(demo)]) == 0  # the write-back carried in, with a whole backup
    [backup] = demo.parent.glob("demo.backup-*")
    assert zipfile.ZipFile(backup).testzip() is None and not list(demo.parent.glob(".demo.*tmp"))


def test_a_new_workbook_forced_over_one_being_exported_waits_then_refuses(demo, capsys, monkeypatch):
    """`workbook new --force` took no lock: written while an export of that workbook ran, the
    export's update (Exported in, by row) landed on the new workbook's rows."""
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.3)
    before = demo.read_bytes()
    with _locked_elsewhere(demo):
        assert cli.main(["workbook", "new", str(demo), "--force"]) == 2
    assert "Another export of this workbook is running" in capsys.readouterr().err
    assert demo.read_bytes() == before
    assert cli.main(["workbook", "new", str(demo), "--force"]) == 0  # once it is done
