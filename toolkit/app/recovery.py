"""Every writing operation starts here: take the locks, then finish or roll back what a crash left.

    with writing(workbook, out_dir=args.out) as op:   # locks held until the block ends
        for note in op.notes: print(note)              # what recovery did, said to the user
        ... plan, commit, write back ...

In the export folder (the register is the source of truth, see toolkit.app.transaction):
  - a partial last register line is completed or cut away;
  - a *pending* export whose folder is in place with every file matching its SHA-256 is
    recorded as committed (the crash came between the rename and the register's line);
  - any other pending export is rolled back: its folders are removed, it is marked failed;
  - a leftover `.ID.partial` folder is removed, and so is the visible folder of a failed export;
    a folder the register does not know at all (it lost lines) is left in place, and said.
Beside the workbook: the temporary files of an interrupted write-back are removed. In the
workbook: a committed export of this workbook without its Export log row gets its write-back
again (Exported in, customer numbers, the Export log row), filling only empty cells, as `Edits`
applied by the front end's writer (the file, or the open book in Excel).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from toolkit import layout
from toolkit.app.context import output_root
from toolkit.app.export import export_log_row
from toolkit.app.lock import locked
from toolkit.app.numbering import number_edits
from toolkit.app.register import EXPORT_FOLDER, ID_PATTERN, STREAM_COLUMNS, Loaded, Register, file_problems, stream_of
from toolkit.book.read import BIG_SHEETS, Grid, forget_grid, open_grid, read_settings, read_table, read_workbook
from toolkit.book.edits import Edits
from toolkit.book.writeback import write_back
from toolkit.errors import UserError


@dataclass
class Operation:
    """A writing operation in progress: its workbook, its export folder, what recovery did."""

    workbook: Path
    root: Path
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def writing(workbook: Path, *, out_dir: Path | None = None, read_from: Path | None = None,
            write: Callable[[Edits], object] | None = None, repair_workbook: bool = True,
            read_whole: bool = False) -> Iterator[Operation]:
    """Lock `workbook` and its export folder, recover, and hold the locks for the block.

    `read_from` is the file that holds the workbook's current content (Excel's saved copy of the
    open book); `write` applies the workbook's repair (default: write_back to the file).
    `repair_workbook=False` (export --no-write-back) leaves the workbook untouched. `read_whole`:
    the block reads the whole workbook (an export): its big sheets are cut into pieces while the
    file is surveyed here (BIG_SHEETS), for the read to take."""
    workbook = Path(workbook)
    with locked(workbook):
        notes = _or_explain(clean_temp_files, workbook, workbook.parent)
        grid = functools.cache(lambda: open_grid(read_from or workbook, BIG_SHEETS if read_whole else ()))  # opened once, if needed (the plan reuses it)
        try:
            root = output_root(read_settings(grid(), []) if out_dir is None else None, workbook, out_dir)
            with locked(None, root):
                loaded, folder_notes = _or_explain(recover_folder, root, root)
                notes += folder_notes
                if repair_workbook and loaded.entries:
                    edits, repaired = workbook_repair(workbook, loaded, read_from, grid())
                    if edits:
                        (write or functools.partial(write_back, workbook))(edits)
                    notes += repaired
                grid.cache_clear()  # the plan opens the file through book.read's own cache; this one would hold it to the end
                yield Operation(workbook, root, notes)
        finally:
            if read_whole:
                forget_grid()  # pieces the block did not take (it stopped before the read) are removed


class RecoveryFailed(UserError):
    """What a crash left cannot be cleaned up (a folder that cannot be written)."""


def _or_explain(step, argument, where: Path):
    try:
        return step(argument)
    except OSError as exc:
        raise RecoveryFailed(f"An earlier export was interrupted, and finishing it failed: {exc}. Check that "
                             f"{where} can be written (not read-only, not full), then try again.") from None


# ---- the export folder ---------------------------------------------------------------------------


def recover_folder(root: Path) -> tuple[Loaded, list[str]]:
    """Bring the export folder and its register back to a committed state (under its lock)."""
    register = Register(root)
    if not root.is_dir():
        return register.load(), []
    loaded = register.load(repair=True)
    notes = [f"Recovered: {loaded.repaired}"] if loaded.repaired else []
    for entry in loaded.pending():
        export_id = entry["id"]
        folder = root / export_id
        files = set(entry.get("files", {}))
        if folder.is_dir() and {p.name for p in folder.iterdir()} == files and not file_problems(root, entry):
            register.record_committed(export_id)
            loaded.status[export_id] = "committed"
            notes.append(f"Recovered: export {export_id} was interrupted after its files were in place; "
                         f"they are complete and match the register, so it is now recorded as done.")
        else:
            _remove(folder)
            _remove(root / f".{export_id}.partial")
            register.record_failed(export_id, "interrupted before its files were complete; rolled back by recovery")
            loaded.status[export_id] = "failed"
            notes.append(f"Recovered: export {export_id} was interrupted before its files were complete; "
                         f"it was rolled back (nothing of it counts as exported; export again).")
    committed = {i for i, s in loaded.status.items() if s == "committed"}
    for path in sorted(root.iterdir()):
        if not path.is_dir():
            continue
        if path.name.startswith(".") and path.name.endswith(".partial"):
            _remove(path)
            notes.append(f"Recovered: removed the unfinished folder {path.name} that an interrupted export left.")
        elif not (EXPORT_FOLDER.fullmatch(path.name) and ID_PATTERN.fullmatch(path.name)) or path.name in committed:
            continue
        elif path.name in loaded.status:  # its export failed: rolled back, or its rollback was interrupted
            _remove(path)
            notes.append(f"Recovered: removed the export folder {path.name}, which no finished export in the "
                         f"register accounts for (an interrupted or rolled-back export; its documents were not exported).")
        else:
            # The register records an export before its folder becomes visible, so a folder it does
            # not know at all means the register lost lines (deleted, emptied, an older copy put back):
            # the folder may be a finished export already sent to the accountant, and stays.
            notes.append(f"Note: the export folder {path.name} is not in the export register {register.path} (was the "
                         f"register deleted, emptied or replaced by an older copy?); it was left as it is. Restore the "
                         f"register from a backup if you have one; otherwise move the folder away once you know what it "
                         f"holds. Its documents count as exported where the Invoices sheet's 'Exported in' says so.")
    return loaded, notes


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)


# ---- beside the workbook and in it -------------------------------------------------------------


def clean_temp_files(workbook: Path) -> list[str]:
    """The temporary files of an interrupted write: write-back's (and its backup's)
    `.NAME.xxxxxxxx.xlsx.tmp`, the template writer's `.NAME.xlsx.tmp`. Those names exactly: the
    middle is tempfile's (8 of a-z, 0-9, _), so that 'a.b.xlsx' writing beside 'a.xlsx' (under
    its own lock) does not lose its temporary file to a's recovery (`.a.*.xlsx.tmp` took it)."""
    workbook = Path(workbook)
    mine = re.compile(re.escape(f".{workbook.stem}.") + "[a-z0-9_]{8}" + re.escape(f"{workbook.suffix}.tmp")
                      + "|" + re.escape(f".{workbook.name}.tmp"))
    candidates = workbook.parent.glob(glob.escape(f".{workbook.stem}.") + "*.tmp")
    notes = []
    for stray in sorted(p for p in candidates if mine.fullmatch(p.name)):
        stray.unlink(missing_ok=True)
        notes.append(f"Recovered: removed {stray.name}, left by an interrupted write to {workbook.name}.")
    return notes


def workbook_repair(workbook: Path, loaded: Loaded, read_from: Path | None = None,
                    grid: Grid | None = None) -> tuple[Edits, list[str]]:
    """What the workbook must learn again: the write-back of each committed export of this
    workbook that its Export log does not list. Only empty cells are filled."""
    mine = str(Path(workbook).resolve())
    entries = [e for e in loaded.committed() if e.get("workbook") == mine
               and not e.get("again_of") and e.get("write_back", True)]
    if not entries:
        return Edits(), []
    grid = grid or open_grid(read_from or workbook)  # its Export log alone says whether anything is missing
    if grid.find_sheet(layout.EXPORT_LOG.name) is None:
        return Edits(), [f"Note: {Path(workbook).name} has no '{layout.EXPORT_LOG.name}' sheet, so it cannot "
                         f"show which exports it carries; the register beside the exports keeps them."]
    logged = set(read_table(grid, layout.EXPORT_LOG, []).column("export_id"))
    missing = [e for e in entries if e["id"] not in logged]
    if not missing:
        return Edits(), []
    wb = read_workbook(read_from or workbook)
    edits, notes = Edits(), []
    for entry in missing:
        documents = set(entry.get("documents", ()))
        column = STREAM_COLUMNS[stream_of(entry)]
        rows = [i.where.row for i in wb.invoices if i.number in documents and not getattr(i, column)]
        for row in rows:
            edits.set(layout.INVOICES.name, row, column, entry["id"])
        generated = entry.get("generated_numbers", {})
        numbers = {c.customer_id: generated[c.customer_id] for c in wb.customers
                   if c.customer_id in generated and not c.accounting_number}
        number_edits(edits, wb, numbers)
        edits.append_rows(layout.EXPORT_LOG.name, [export_log_row(entry)])
        notes.append(f"Recovered: {Path(workbook).name} missed what export {entry['id']} writes back "
                     f"(a crash, or the workbook was closed unsaved); it now carries it again: "
                     f"{layout.INVOICES.column(column).header} for {len(rows)} document(s), {len(numbers)} customer number(s), "
                     f"its Export log row.")
    return edits, notes
