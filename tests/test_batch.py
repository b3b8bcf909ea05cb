"""`ledger-export export BOOK... --jobs N`: every workbook exported in its own process; a broken
one fails alone; a table at the end; a non-zero exit when any workbook was not exported."""

from __future__ import annotations

import shutil
from pathlib import Path

from toolkit import cli
from toolkit.app.register import Register
from toolkit.book.read import read_workbook

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_two_workbooks_and_a_broken_one_with_two_jobs(tmp_path, capsys):
    office = tmp_path / "office"
    office.mkdir()
    for name in ("alpha.xlsx", "beta.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", office / name)
    (office / "broken.xlsx").write_bytes(b"not a workbook at all")
    (office / "~$gamma.xlsx").write_bytes(b"Excel's owner file")  # skipped, as are backups
    shutil.copy(SAMPLES / "mistakes.xlsx", tmp_path / "mistakes.xlsx")

    code = cli.main(["export", str(office), str(tmp_path / "mistakes.xlsx"), "--jobs", "2"])
    out = capsys.readouterr().out
    assert code != 0

    for name in ("alpha", "beta"):
        [entry] = Register(office / f"{name}-exports").entries()
        assert len(entry["documents"]) == 64
        assert {i.exported_in for i in read_workbook(office / f"{name}.xlsx").invoices} == {entry["id"]}
    rows = {line.split()[0]: line for line in out.split("\nworkbook")[1].splitlines()[1:] if line.strip()}
    assert rows["alpha.xlsx"].split()[1:3] == ["exported", "64"] and "ACT.txt, CSF.txt" in rows["alpha.xlsx"]
    assert rows["beta.xlsx"].split()[1:3] == ["exported", "64"]
    assert rows["broken.xlsx"].split()[1] == "failed" and "not an Excel workbook" in rows["broken.xlsx"]
    assert rows["mistakes.xlsx"].split()[1] == "blocked" and "error(s) block the export" in rows["mistakes.xlsx"]
    assert "~$gamma.xlsx" not in out and out.count("] ") == 4  # one progress line per workbook
    assert "4 workbook(s): 2 done, 2 not exported." in out

    # The month-end run again: nothing new anywhere, exit 0 once the broken ones are gone.
    (office / "broken.xlsx").unlink()
    assert cli.main(["export", str(office)]) == 0
    again = capsys.readouterr().out
    assert "2 workbook(s): 2 done, 0 not exported." in again and again.count("Nothing new to export") == 4


def test_again_needs_a_single_workbook(tmp_path, capsys):
    shutil.copy(SAMPLES / "demo.xlsx", tmp_path / "a.xlsx")
    shutil.copy(SAMPLES / "demo.xlsx", tmp_path / "b.xlsx")
    assert cli.main(["export", str(tmp_path / "a.xlsx"), str(tmp_path / "b.xlsx"), "--again", "x"]) == 2
    assert "--again re-creates one export of one workbook" in capsys.readouterr().err


def test_a_dry_run_over_several_workbooks_says_what_it_would_export_and_writes_nothing(tmp_path, capsys):
    for name in ("a.xlsx", "b.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", tmp_path / name)
    assert cli.main(["export", str(tmp_path / "a.xlsx"), str(tmp_path / "b.xlsx"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.split("\nworkbook")[1].splitlines()[1:] if line.strip()}
    for name in ("a.xlsx", "b.xlsx"):
        assert rows[name].split()[1:4] == ["would", "export", "64"] and "ACT.txt, CSF.txt" in rows[name]
    assert "2 workbook(s): 2 done, 0 not exported (a dry run: nothing written)." in out
    assert not list(tmp_path.glob("*-exports")) and not any(i.exported_in for i in read_workbook(tmp_path / "a.xlsx").invoices)


def test_two_workbooks_of_the_same_name_in_two_folders_are_told_apart(tmp_path, capsys):
    books = []
    for office in ("north", "south"):
        (tmp_path / office).mkdir()
        books.append(tmp_path / office / "Company.xlsx")
        shutil.copy(SAMPLES / "demo.xlsx", books[-1])
    assert cli.main(["export", *map(str, books)]) == 0
    out = capsys.readouterr().out
    header, *rows = out.split("\n\n")[1].splitlines()[:3]
    for book in books:
        assert f"] {book.resolve()}: exported" in out  # the progress line names which one
        [row] = [r for r in rows if r.startswith(str(book.resolve()))]
        assert row.split()[1:3] == ["exported", "64"]
        assert row.index("exported") == header.index("result")  # the columns line up under their heading


def test_the_table_lines_up_under_its_heading_with_short_names(tmp_path, capsys):
    shutil.copy(SAMPLES / "demo.xlsx", tmp_path / "a.xlsx")
    shutil.copy(SAMPLES / "demo.xlsx", tmp_path / "b.xlsx")
    assert cli.main(["export", str(tmp_path / "a.xlsx"), str(tmp_path / "b.xlsx")]) == 0
    header, first, second = capsys.readouterr().out.split("\n\n")[1].splitlines()[:3]
    assert first.startswith("a.xlsx ") and second.startswith("b.xlsx ")
    assert first.index("exported") == second.index("exported") == header.index("result")
    assert first.index("64") + 2 == header.index("documents") + len("documents")


def test_ctrl_c_starts_no_further_workbook_and_says_which_were_done(tmp_path, capsys, monkeypatch):
    """Ctrl-C in a month-end run: the workbooks under way end as they would alone, none starts
    after it, the table says which were exported and which were not started, and the exit is 130."""
    from toolkit.cli import batch

    for name in ("a.xlsx", "b.xlsx", "c.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", tmp_path / name)
    calls = []
    real_wait = batch.concurrent.futures.wait

    def wait_then_ctrl_c(futures, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C while the second workbook is exported
            raise KeyboardInterrupt
        return real_wait(futures, **kwargs)
    monkeypatch.setattr(batch.concurrent.futures, "wait", wait_then_ctrl_c)

    assert cli.main(["export", str(tmp_path), "--jobs", "1"]) == 130
    out, err = capsys.readouterr()
    assert not (tmp_path / "c-exports").exists()  # nothing starts after Ctrl-C
    [entry] = Register(tmp_path / "a-exports").entries()
    rows = {line.split()[0]: line for line in out.split("\nworkbook")[1].splitlines()[1:] if line.strip()}
    assert rows["a.xlsx"].split()[1:3] == ["exported", "64"]
    assert rows["b.xlsx"].split()[1] == "exported"  # under way at the Ctrl-C: it ended as it would alone
    assert rows["c.xlsx"].split()[1] == "interrupted" and "not started" in rows["c.xlsx"]
    assert "nothing half-written" not in err
    assert "interrupted: 2 of 3 workbook(s) done, 1 not started" in err


def test_what_recovery_did_to_a_workbook_is_said_in_the_run(tmp_path, capsys, monkeypatch):
    """A workbook whose last export missed its write-back is repaired by the run's export of it:
    the run said only 'nothing new', the 'Recovered: ...' note went nowhere."""
    from toolkit.book import writeback

    for name in ("a.xlsx", "b.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", tmp_path / name)
    monkeypatch.setattr(writeback, "write_back", lambda *args, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt))
    assert cli.main(["export", str(tmp_path / "a.xlsx")]) == 130
    monkeypatch.undo()
    [entry] = Register(tmp_path / "a-exports").entries()
    capsys.readouterr()

    assert cli.main(["export", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    progress = out.split("\nworkbook")[0]
    assert "a.xlsx: nothing new" in progress and f"Recovered: a.xlsx missed what export {entry['id']} writes back" in progress
    assert "b.xlsx: exported" in progress and progress.count("Recovered") == 1
    assert {i.exported_in for i in read_workbook(tmp_path / "a.xlsx").invoices} == {entry["id"]}


def test_a_workbook_open_in_excel_fails_alone_and_exports_nothing(tmp_path, capsys):
    """Each workbook's own verdict: one open in Excel is refused before it exports anything (it
    was exported, its update left for a later command), the other is exported and updated."""
    for name in ("a.xlsx", "b.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", tmp_path / name)
    (tmp_path / "~$a.xlsx").write_bytes(b"\x04jdoe")
    assert cli.main(["export", str(tmp_path / "a.xlsx"), str(tmp_path / "b.xlsx"), "--jobs", "2"]) == 2
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.split("\nworkbook")[1].splitlines()[1:] if line.strip()}
    assert rows["a.xlsx"].split()[1:3] == ["failed", "0"]
    assert "a.xlsx is open in Excel" in rows["a.xlsx"] and rows["a.xlsx"].endswith("add --no-write-back.")
    assert Register(tmp_path / "a-exports").load().status == {}
    assert rows["b.xlsx"].split()[1:3] == ["exported", "64"]
    [entry] = Register(tmp_path / "b-exports").entries()
    assert {i.exported_in for i in read_workbook(tmp_path / "b.xlsx").invoices} == {entry["id"]}
    assert "2 workbook(s): 1 done, 1 not exported." in out


def test_one_workbook_named_twice_is_exported_once(tmp_path, capsys):
    """The same file reached by several paths (itself, './x/../', a symbolic link, a hard link, its
    folder) is one workbook: a hard link under another name was exported twice at once, each
    into its own '<name>-exports', every invoice booked twice."""
    office = tmp_path / "office"
    office.mkdir()
    book = office / "a.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    (office / "link.xlsx").symlink_to("a.xlsx")
    try:
        (office / "hard.xlsx").hardlink_to(book)
    except OSError:
        pass  # a file system without hard links: the other names still count once
    named = [book, office / ".." / "office" / "a.xlsx", office, office / "link.xlsx", office / "hard.xlsx"]
    assert cli.main(["export", *map(str, named), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "1 workbook(s): 1 done, 0 not exported." in out
    exported = [p.name for p in office.iterdir() if p.name.endswith("-exports")]
    assert exported == ["a-exports"]
    [entry] = Register(office / "a-exports").entries()
    assert len(entry["documents"]) == 64


def _dies_on_b(argv, report=None):
    """cli.main, except that the process exporting b.xlsx dies (the system's out-of-memory killer,
    a kill -9)."""
    import os

    if argv[1].endswith("b.xlsx"):
        os._exit(9)
    return cli.main(argv, report=report)


def test_a_workbook_whose_process_dies_fails_alone(tmp_path, capsys):
    """A worker process killed (out of memory on a big workbook) broke the pool: the next workbook's
    start was a traceback, the rest of the run neither exported nor reported, no table."""
    from toolkit.cli import batch

    for name in ("a.xlsx", "b.xlsx", "c.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", tmp_path / name)
    assert batch.run(_dies_on_b, [tmp_path], [], 1) == 2
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.split("\nworkbook")[1].splitlines()[1:] if line.strip()}
    assert rows["a.xlsx"].split()[1:3] == ["exported", "64"] and rows["c.xlsx"].split()[1:3] == ["exported", "64"]
    assert rows["b.xlsx"].split()[1] == "failed" and "ended unexpectedly" in rows["b.xlsx"]
    assert "finishes or rolls back" in rows["b.xlsx"]
    assert "3 workbook(s): 2 done, 1 not exported." in out


def test_the_toolkits_backups_in_a_folder_are_not_exported(tmp_path, capsys):
    """The copy 'workbook upgrade' keeps (NAME.before-upgrade-...) was exported with the folder: the
    invoices added since were booked from the backup and marked in it, and the workbook itself,
    'nothing new', never learnt its 'Exported in'."""
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    for name in ("demo.before-upgrade-20260402-090000.xlsx", "demo.backup-20260402-090000.xlsx",
                 "demo.backup-20260402-090000-2.xlsx"):
        shutil.copy(SAMPLES / "demo.xlsx", tmp_path / name)
    assert cli.main(["export", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = out.split("\nworkbook")[1]
    assert "1 workbook(s): 1 done" in table and "before-upgrade" not in table and "backup" not in table
    [entry] = Register(tmp_path / "demo-exports").entries()
    assert entry["workbook"] == str(book.resolve())
    assert {i.exported_in for i in read_workbook(book).invoices} == {entry["id"]}
