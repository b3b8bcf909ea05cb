"""The commit protocol, its recovery and the locks, step by step (in-process; the crash tests in
separate processes are in test_export_faults.py)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.app import recovery, transaction
from toolkit.app.lock import Busy, locked
from toolkit.app.register import Register
from toolkit.app.transaction import ExportFailed, commit, free_id

FILES = [("ACT.txt", b"act lines\r\n"), ("CSF.txt", b"customers\r\n")]


def entry(export_id: str, files=FILES) -> dict:
    return {"id": export_id, "company": "BE0123", "created_at": "2026-04-02T09:00:00", "package": "winbooks",
            "period_from": "2026-01-01", "period_to": "2026-03-31", "parameters": {}, "documents": ["F1", "F2"],
            "customers": 1, "generated_numbers": {}, "workbook": "/nowhere/demo.xlsx",
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files}}


class Crash(BaseException):
    """Stands for the process dying: nothing catches it, nothing cleans up."""


def crash_at(monkeypatch, step: str, nth: int = 1):
    seen = []

    def reached(name):
        seen.append(name)
        if name == step and seen.count(step) == nth:
            raise Crash(step)

    monkeypatch.setattr(transaction, "reached", reached)


def visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def test_commit_records_pending_then_committed(tmp_path):
    folder = commit(tmp_path, FILES, entry("20260402-090000-winbooks"))
    assert folder == tmp_path / "20260402-090000-winbooks"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == dict(FILES)
    register = Register(tmp_path)
    assert [e["id"] for e in register.entries()] == ["20260402-090000-winbooks"]
    events = [l.split('"event": "')[1].split('"')[0] for l in register.path.read_text().splitlines()]
    assert events == ["pending", "committed"]
    assert visible(tmp_path) == ["20260402-090000-winbooks"]


@pytest.mark.parametrize("syncfs", [True, False], ids=["one syncfs", "an fsync per file"])
def test_the_files_are_durable_before_the_folder_becomes_visible(tmp_path, monkeypatch, syncfs):
    """Many files (an e-invoice each) are made durable at once where the system can (one syncfs),
    else one fsync each; either way before the rename that makes the export visible."""
    order = []
    real_fsync = transaction.os.fsync
    monkeypatch.setattr(transaction, "_syncfs", lambda folder: order.append(("syncfs", folder.name)) or syncfs)
    monkeypatch.setattr(transaction.os, "fsync", lambda fd: order.append(("fsync", fd)) or real_fsync(fd))
    real_rename = transaction.os.rename
    monkeypatch.setattr(transaction.os, "rename", lambda a, b: order.append(("rename", Path(b).name)) or real_rename(a, b))
    files = [(f"INV-{n}.xml", b"<Invoice/>") for n in range(5)]
    commit(tmp_path, files, entry("20260402-090000-peppol", files))
    steps = [step for step, _ in order]
    rename = steps.index("rename")
    assert steps.index("syncfs") < rename and ("syncfs", ".20260402-090000-peppol.partial") in order
    # the register's pending line, then (without syncfs) one fsync per file, then the folder, all before the rename
    assert steps[:rename].count("fsync") == 1 + (0 if syncfs else len(files)) + 1
    assert sorted(p.name for p in (tmp_path / "20260402-090000-peppol").iterdir()) == sorted(name for name, _ in files)


def test_syncfs_is_used_on_linux_only(tmp_path):
    """syncfs(2) is Linux's; elsewhere `_syncfs` says so and each file is fsynced."""
    assert transaction._syncfs(tmp_path) is sys.platform.startswith("linux")


def test_ids_stay_unique_within_one_second(tmp_path):
    register = Register(tmp_path)
    base = "20260402-090000-winbooks"
    assert free_id(base, register) == base
    commit(tmp_path, FILES, entry(base))
    assert free_id(base, register) == f"{base}-2"
    register.record_pending({**entry(f"{base}-2"), "company": "another company"})  # any company, any state
    (tmp_path / f".{base}-3.partial").mkdir()
    assert free_id(base, register) == f"{base}-4"
    with pytest.raises(ExportFailed, match="already exists"):
        commit(tmp_path, FILES, entry(base))
    with pytest.raises(ExportFailed, match="not a valid export id"):
        commit(tmp_path, FILES, entry("../outside"))


def test_a_failed_write_rolls_back_and_is_marked_failed(tmp_path, monkeypatch):
    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transaction.os, "rename", full_disk)
    with pytest.raises(ExportFailed, match="nothing was kept"):
        commit(tmp_path, FILES, entry("E1-x"))
    assert visible(tmp_path) == [] and Register(tmp_path).entries() == []
    assert Register(tmp_path).load().status == {"E1-x": "failed"}


@pytest.mark.parametrize("step, nth, outcome", [
    ("pending", 1, "failed"),
    ("file", 1, "failed"),
    ("file", 2, "failed"),
    ("staged", 1, "failed"),
    ("visible", 1, "committed"),
    ("committed", 1, "committed"),
])
def test_recovery_after_a_crash_at_each_step(tmp_path, monkeypatch, step, nth, outcome):
    export_id = "20260402-090000-winbooks"
    crash_at(monkeypatch, step, nth)
    with pytest.raises(Crash):
        commit(tmp_path, FILES, entry(export_id))
    monkeypatch.undo()
    loaded, notes = recovery.recover_folder(tmp_path)
    assert loaded.status == {export_id: outcome}
    assert Register(tmp_path).load().status == {export_id: outcome}  # and recorded so
    if outcome == "committed":
        assert visible(tmp_path) == [export_id]
        assert {p.name: p.read_bytes() for p in (tmp_path / export_id).iterdir()} == dict(FILES)
        assert bool(notes) == (step != "committed")
    else:
        assert visible(tmp_path) == []  # no visible folder, no .partial left
        assert any("rolled back" in n for n in notes)
    assert recovery.recover_folder(tmp_path)[1] == []  # recovery is done once
    # the next export goes on normally, under a new id
    assert commit(tmp_path, FILES, entry(free_id(export_id, Register(tmp_path)))).name == f"{export_id}-2"


def test_a_visible_folder_whose_files_differ_from_the_pending_entry_is_rolled_back(tmp_path, monkeypatch):
    crash_at(monkeypatch, "visible")
    with pytest.raises(Crash):
        commit(tmp_path, FILES, entry("20260402-090000-winbooks"))
    (tmp_path / "20260402-090000-winbooks" / "ACT.txt").write_bytes(b"something else")
    loaded, notes = recovery.recover_folder(tmp_path)
    assert loaded.status["20260402-090000-winbooks"] == "failed" and visible(tmp_path) == []


def test_failed_export_folders_go_unknown_ones_and_other_folders_stay(tmp_path):
    commit(tmp_path, FILES, entry("20260402-090000-winbooks"))
    Register(tmp_path).record_pending(entry("20260402-093000-winbooks"))
    Register(tmp_path).record_failed("20260402-093000-winbooks", "test")
    (tmp_path / "20260402-093000-winbooks").mkdir()  # its rollback was interrupted after the record
    (tmp_path / "20260402-100000-winbooks").mkdir()  # the register lost its lines: maybe sent to the accountant
    (tmp_path / "20260402-100000-winbooks" / "ACT.txt").write_bytes(b"x")
    (tmp_path / ".20260402-110000-winbooks.partial").mkdir()
    (tmp_path / "my notes").mkdir()  # the user's own folder
    loaded, notes = recovery.recover_folder(tmp_path)
    assert visible(tmp_path) == ["20260402-090000-winbooks", "20260402-100000-winbooks", "my notes"]
    assert (tmp_path / "20260402-100000-winbooks" / "ACT.txt").read_bytes() == b"x"
    assert len(notes) == 3 and any("no finished export" in n for n in notes)
    assert any("20260402-100000-winbooks is not in the export register" in n and "left as it is" in n for n in notes)


def test_stray_temporary_files_of_a_write_back_are_removed(tmp_path):
    book = tmp_path / "demo.xlsx"
    book.write_bytes(b"book")
    for name in (".demo.k2j4h1_x.xlsx.tmp", ".demo.xlsx.tmp", ".other.k2j4h1_x.xlsx.tmp", "demo.backup-20260101-000000.xlsx"):
        (tmp_path / name).write_bytes(b"")
    notes = recovery.clean_temp_files(book)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.k2j4h1_x.xlsx.tmp", "demo.backup-20260101-000000.xlsx", "demo.xlsx"]
    assert len(notes) == 2 and all("interrupted" in n for n in notes)


def test_the_temporary_files_of_another_workbook_of_a_like_name_are_left_alone(tmp_path):
    """The recovery of a.xlsx removed what a.b.xlsx (a.2025.xlsx) was writing at that moment under
    its own lock: '.a.*.xlsx.tmp' took '.a.b.k2j4h1_x.xlsx.tmp', and a.b's write-back failed."""
    book = tmp_path / "a.xlsx"
    book.write_bytes(b"book")
    others = [".a.b.k2j4h1_x.xlsx.tmp", ".a.b.xlsx.tmp", ".a.2025.k2j4h1_x.xlsx.tmp", ".a.k2j4h1_x.xlsm.tmp"]
    for name in [".a.k2j4h1_x.xlsx.tmp", ".a.xlsx.tmp", *others]:
        (tmp_path / name).write_bytes(b"")
    assert len(recovery.clean_temp_files(book)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.xlsx", *others])


def test_a_second_writer_waits_then_refuses(tmp_path):
    book = tmp_path / "demo.xlsx"
    book.write_bytes(b"book")
    code = ("import sys; from pathlib import Path; from toolkit.app.lock import locked\n"
            "with locked(Path(sys.argv[1]), Path(sys.argv[2])):\n"
            "    print('locked', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(book), str(tmp_path / "out")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Busy, match="Another export of this workbook is running"):
            with locked(book, wait=0.2):
                pass
        with pytest.raises(Busy, match=f"Another export into {tmp_path / 'out'} is running"):
            with locked(tmp_path / "other.xlsx", tmp_path / "out", wait=0.2):
                pass
    finally:
        holder.stdin.close()
        holder.wait(10)
    with locked(book, tmp_path / "out", wait=0.2):  # released when the holder ends
        with locked(book):  # and taken again by the same process without waiting
            pass


def test_workbooks_sharing_an_export_folder_queue_for_it(tmp_path, monkeypatch):
    """A month-end batch with one --out: the next workbook waits for the folder, it does not fail."""
    import time

    from toolkit.app import lock

    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.1)
    monkeypatch.setattr(lock, "FOLDER_WAIT_SECONDS", 30)
    code = ("import sys, time; from pathlib import Path; from toolkit.app.lock import locked\n"
            "with locked(Path(sys.argv[1]), Path(sys.argv[2])):\n"
            "    print('locked', flush=True); time.sleep(1.0)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "a.xlsx"), str(tmp_path / "out")],
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    try:
        assert holder.stdout.readline().strip() == "locked"
        began = time.perf_counter()
        with locked(tmp_path / "b.xlsx", tmp_path / "out"):
            waited = time.perf_counter() - began
        assert 0.3 < waited < 30
    finally:
        holder.wait(10)


def test_a_bad_lock_wait_in_the_environment_is_a_message(tmp_path, monkeypatch, capsys):
    from toolkit import cli

    book = tmp_path / "demo.xlsx"
    book.write_bytes((Path(__file__).resolve().parents[1] / "samples" / "demo.xlsx").read_bytes())
    monkeypatch.setenv("LEDGER_EXPORT_LOCK_WAIT", "abc")
    assert cli.main(["export", str(book)]) == 2
    assert "LEDGER_EXPORT_LOCK_WAIT='abc' must be a number of seconds" in capsys.readouterr().err


def test_a_workbook_name_too_long_for_its_lock_says_so(tmp_path):
    """'Cannot take the lock ... (File name too long): check that its folder can be written' sent
    the user to the folder's permissions."""
    book = tmp_path / ("x" * 240 + ".xlsx")
    with pytest.raises(Busy) as caught:
        with locked(book, wait=0):
            pass
    assert "too long for the file system" in str(caught.value) and "shorter name" in str(caught.value)


@pytest.mark.skipif(not Path("/proc/1").is_dir(), reason="needs a system folder where no file can be made (Linux /proc)")
def test_an_export_folder_where_no_lock_can_be_made_is_said_at_once():
    """`--out /proc/1`: the lock file cannot be created there; filelock took that for another
    writer's hold and waited the whole 300 s before a message."""
    import time

    started = time.monotonic()
    with pytest.raises(Busy, match=r"Cannot take the lock /proc/\.1\.ledger-export\.lock .*check that its folder can be written"):
        with locked(None, Path("/proc/1"), wait=60):
            pass
    assert time.monotonic() - started < 10


def test_an_export_folder_that_cannot_be_written_says_what_to_do(tmp_path, monkeypatch):
    """'Recording the export in .../export-register.jsonl failed ([Errno 1] ...)' said where, not
    what to do about it."""
    def read_only(self, record):
        raise PermissionError(1, "Operation not permitted", str(self.path))

    monkeypatch.setattr(Register, "_append", read_only)
    with pytest.raises(ExportFailed) as refused:
        commit(tmp_path, FILES, entry("E1-x"))
    message = str(refused.value)
    assert "(Operation not permitted)" in message and "[Errno" not in message
    assert "can be written" in message and "another output folder" in message and "nothing was written" in message
    assert visible(tmp_path) == []

    monkeypatch.undo()
    monkeypatch.setattr(transaction.os, "rename", lambda src, dst: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(ExportFailed) as failed:
        commit(tmp_path, FILES, entry("E2-x"))
    assert "(No space left on device)" in str(failed.value) and "another output folder" in str(failed.value)


def test_register_check_waits_for_an_export_under_way_instead_of_calling_it_interrupted(tmp_path, capsys):
    """`register check` while an export writes its files said 'unfinished (interrupted)' and the
    '.ID.partial' folder, exit 1: a false alarm about an export that was simply not done yet. It
    waits for the export folder as a second export does, then checks what the export left."""
    from toolkit import cli

    root = tmp_path / "out"
    code = ("import sys, time; from pathlib import Path; from toolkit.app import transaction\n"
            "from toolkit.app.lock import locked\n"
            "def reached(step):\n"
            "    if step == 'staged': print('staged', flush=True); time.sleep(1.0)\n"
            "transaction.reached = reached\n"
            "with locked(None, Path(sys.argv[1])):\n"
            f"    transaction.commit(Path(sys.argv[1]), {FILES!r}, {entry('20260402-090000-winbooks')!r})\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[1])
    try:
        assert writer.stdout.readline().strip() == "staged"  # pending in the register, files in '.ID.partial'
        assert cli.main(["register", "check", "--out", str(root)]) == 0
    finally:
        writer.wait(10)
    assert writer.returncode == 0
    out = capsys.readouterr().out
    assert "interrupted" not in out and "partial" not in out and "1 export(s) recorded" in out


def test_a_failed_write_that_cannot_be_rolled_back_does_not_say_nothing_was_kept(tmp_path, monkeypatch):
    """The disk full when the register's 'committed' line is written, and the folder not removable
    (a file held open): 'nothing was kept' was said, and the next command recorded the complete
    folder as a finished export."""
    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Register, "record_committed", full_disk)
    monkeypatch.setattr(Register, "record_failed", full_disk)
    monkeypatch.setattr(transaction.shutil, "rmtree", lambda *args, **kwargs: None)
    with pytest.raises(ExportFailed) as failed:
        commit(tmp_path, FILES, entry("20260402-090000-winbooks"))
    assert "nothing was kept" not in str(failed.value)
    assert "the next export of the workbook (or any command that changes it) finishes or rolls back" in str(failed.value)
    monkeypatch.undo()
    assert recovery.recover_folder(tmp_path)[0].status == {"20260402-090000-winbooks": "committed"}
