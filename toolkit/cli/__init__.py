"""The command line: `ledger-export` (also `python -m toolkit`).

User mistakes (a missing file, a bad date argument, a workbook open in Excel, a broken spec) end
with a one-paragraph message and exit status 2, never a traceback. `check` exits 1 when the
workbook has errors; `export` exits 1 when errors blocked it; `customers import` and `customers
apply` exit 1 when rows are left undone (a conflict or an ambiguous match to decide, a refused action).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import textwrap
from pathlib import Path
from typing import Callable

from toolkit import __version__, collector, layout
from toolkit.errors import UserError
from toolkit.cli.output import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, end_progress, print_findings, print_preview, progress, writing


def _text_arg(text: str) -> str:
    """An option's value that must be there: `--again ""` (a script's empty variable) ran a new
    export, `--package ""` the Settings' package, as if the option had been left out."""
    if not text.strip():
        raise argparse.ArgumentTypeError("it is empty: give a value, or leave the option out")
    return text.strip()


def _folder_arg(text: str) -> Path:
    return Path(_text_arg(text))  # Path("") is the current folder, wherever that is


def _date_arg(text: str) -> dt.date:
    from toolkit.values import Invalid, parse_date

    try:
        return parse_date(_text_arg(text))
    except Invalid as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workbook_arg(text: str) -> Path:
    from toolkit.book.survey import existing_file

    return existing_file(text)  # a WorkbookError is one line and exit 2, not argparse's usage text


def _workbook_or_folder_arg(text: str) -> Path:
    path = Path(text)
    try:
        folder = path.is_dir()
    except OSError:  # a name too long for the file system: `_workbook_arg` says so
        folder = False
    return path if folder else _workbook_arg(text)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, found {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger-export",
        description="Turn an Excel invoicing workbook into the import files of an accounting package.",
        epilog="Start with: ledger-export workbook new Company.xlsx --sample; ledger-export check Company.xlsx",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    wb = sub.add_parser("workbook", help="create or upgrade a workbook").add_subparsers(dest="action", required=True, metavar="ACTION")
    new = wb.add_parser("new", help="write an empty workbook (.xlsx) or the macro workbook with the ribbon (.xlsm)")
    new.add_argument("path", type=Path, help="file to create: .xlsx or .xlsm")
    new.add_argument("--sample", action="store_true", help="fill it with the demo company's data")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.set_defaults(handler=cmd_workbook_new)
    upgrade = wb.add_parser("upgrade", help="move a workbook's data into a fresh workbook of this version (keeps a backup)")
    upgrade.add_argument("path", type=_workbook_arg)
    upgrade.set_defaults(handler=cmd_workbook_upgrade)

    check = sub.add_parser("check", help="list every problem in a workbook, by sheet and cell")
    check.add_argument("workbook", type=_workbook_arg)
    check.add_argument("--package", type=_text_arg, help="also check against this package (default: the Settings' package)")
    check.add_argument("--json", action="store_true", help="print findings as JSON")
    check.add_argument("--write", action="store_true", help="also write the findings into the workbook's Check sheet")
    check.set_defaults(handler=cmd_check)

    export = sub.add_parser("export", help="write the accounting package's import files",
                            description="Export one workbook, or many (files and folders of workbooks), each in its own process.")
    export.add_argument("workbooks", nargs="+", type=_workbook_or_folder_arg, metavar="WORKBOOK",
                        help="a workbook, or several workbooks and folders of workbooks")
    export.add_argument("--package", type=_text_arg, help="package id (default: the Settings' package; see `ledger-export packages`)")
    export.add_argument("--from", dest="period_from", type=_date_arg, metavar="DATE", help="first invoice date (default: Settings)")
    export.add_argument("--to", dest="period_to", type=_date_arg, metavar="DATE", help="last invoice date (default: Settings)")
    export.add_argument("--out", type=_folder_arg, metavar="DIR", help="output folder (default: Settings, else '<workbook>-exports')")
    export.add_argument("--again", type=_text_arg, metavar="EXPORT_ID", help="re-create an earlier export byte for byte")
    export.add_argument("--include-exported", action="store_true", help="export documents that were exported before, on purpose")
    export.add_argument("--zip", action="store_true", help="also write <export id>.zip: the export's files flat (and the "
                        "e-invoices' PDFs), the one file to send the accountant; its SHA-256 is in the register")
    export.add_argument("--no-write-back", action="store_true", help="leave the workbook file untouched")
    export.add_argument("--dry-run", action="store_true", help="check and show what would be exported; write nothing")
    export.add_argument("--jobs", type=_positive_int, default=1, metavar="N", help="with several workbooks: how many to export at once (default 1)")
    export.set_defaults(handler=cmd_export)

    preview = sub.add_parser("preview", help="show what the next export would carry: documents, customers, totals")
    preview.add_argument("workbook", type=_workbook_arg)
    preview.add_argument("--package", type=_text_arg, help="package id (default: the Settings' package)")
    preview.add_argument("--from", dest="period_from", type=_date_arg, metavar="DATE", help="first invoice date (default: Settings)")
    preview.add_argument("--to", dest="period_to", type=_date_arg, metavar="DATE", help="last invoice date (default: Settings)")
    preview.add_argument("--out", type=_folder_arg, metavar="DIR", help="output folder whose register counts (default: as export)")
    preview.add_argument("--write", action="store_true", help="also write it into the workbook's Preview sheet")
    preview.set_defaults(handler=cmd_preview)

    suggest = sub.add_parser("suggest-accounts", help="fill empty ledger accounts of invoice lines from the VAT rules")
    suggest.add_argument("workbook", type=_workbook_arg)
    suggest.add_argument("--resuggest", action="store_true", help="also refresh accounts suggested before (never typed ones)")
    suggest.set_defaults(handler=cmd_suggest)

    packages = sub.add_parser("packages", help="list the accounting packages, or show one")
    packages.add_argument("action", nargs="?", choices=["show"], help="show one package's parameters")
    packages.add_argument("package", nargs="?", help="package id")
    packages.set_defaults(handler=cmd_packages)

    ubl = sub.add_parser("validate-ubl", help="check UBL e-invoices against the CEN EN 16931 and Peppol BIS 3 rules")
    ubl.add_argument("files", type=Path, nargs="+", metavar="FILE", help="UBL Invoice or CreditNote XML files")
    ubl.add_argument("--warnings", action="store_true", help="also list the rules' warnings (advice, not rejections)")
    ubl.set_defaults(handler=cmd_validate_ubl)

    from toolkit.cli.customers import add_customer_commands
    from toolkit.cli.register import add_register_commands

    add_customer_commands(sub)
    add_register_commands(sub, _folder_arg)
    return parser


def script() -> None:
    """`ledger-export` and `python -m toolkit`: the command, then the end of the process.

    The process ends without freeing what the command made object by object: at 100,000 invoices
    that is ten million objects and half a second, for memory the system takes back at once. So
    a command hands its plan to `kept` instead of dropping it (an export keeps it through its
    write-back too: see `_export`), and the process ends with os._exit once what it printed is
    flushed (every file it wrote is closed and synced by then).
    """
    kept: list = []
    code = main(keep=kept.append)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (`| head`) or a closed stream: nothing left to say
            pass
    os._exit(code)


def main(argv: list[str] | None = None, report: dict | None = None, keep: Callable[[object], None] | None = None) -> int:
    """Run one command; `report`, when given, receives a summary of an export (the batch run's
    workers read it: documents, files, message). `keep` receives the big objects a command is done
    with when the process ends right after (`script`); without it they are freed as usual."""
    try:
        from toolkit.book.writeback import one_run  # within the handlers: a Ctrl-C while it is imported too

        args = build_parser().parse_args(argv)  # a bad workbook argument is a UserError too
        args.report = report if report is not None else {}
        args.keep = keep
        with one_run(), collector.paused():  # one backup of the workbook per command, before its first change
            return args.handler(args)
    except UserError as exc:
        print(f"ledger-export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:  # a command past its point of no return says where it stopped (`_export`)
        print(f"ledger-export: {exc.args[0] if exc.args else 'interrupted; nothing half-written was kept.'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # whoever read the output stopped (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FINDINGS


# ---- commands ----------------------------------------------------------------------------------


def cmd_workbook_new(args) -> int:
    from toolkit import sample
    from toolkit.book import template

    path: Path = args.path
    if os.path.exists(path) and not args.force:  # False for a name too long to look up: the write says why
        raise UserError(f"{path} already exists; pass --force to overwrite it.")
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm"):
        raise UserError(f"{path}: the workbook must end in .xlsx (plain) or .xlsm (with the ribbon and macros).")
    data = None
    if args.sample:
        settings, tables = sample.demo()
        data = {**tables, layout.SETTINGS_SHEET: settings}
    from toolkit.app.lock import locked

    # --force over a workbook: it waits for (or refuses) an export writing it, as every writer does;
    # written under an export, the export's update landed on the new workbook's rows.
    with locked(path) if os.path.isfile(path) else contextlib.nullcontext():
        if suffix == ".xlsm":
            from toolkit.book import xlsm

            xlsm.build_xlsm(path, data)
        else:
            template.save_template(path, data)
    print(f"Wrote {path}{' with the demo company' if args.sample else ''}.")
    return EXIT_OK


def cmd_workbook_upgrade(args) -> int:
    from toolkit.book import upgrade

    with writing(args.path):
        done = upgrade.upgrade(args.path)
    print(f"Upgraded {done.path}; the previous version is kept as {done.backup.name}.")
    for note in done.notes:
        print(note)
    if done.dropped:
        print("Not carried (the new workbook is built afresh; they are still in the backup):\n  " + "\n  ".join(done.dropped))
    return EXIT_OK


def cmd_check(args) -> int:
    from toolkit.app.check import plan_check
    from toolkit.book.writeback import Edits, write_back

    with writing(args.workbook, read_whole=True) if args.write else contextlib.nullcontext():
        plan = plan_check(args.workbook, args.package, progress=progress)
        end_progress()
        print_findings(plan.findings, args.json)
        if args.keep:
            args.keep(plan)
        if args.write:
            backup = write_back(args.workbook, Edits().show_findings(plan.findings))
            print(f"Findings written to the Check sheet of {args.workbook} (backup: {backup.name}).", file=sys.stderr)
    return EXIT_FINDINGS if any(f.is_error for f in plan.findings) else EXIT_OK


def cmd_export(args) -> int:
    if len(args.workbooks) > 1 or args.workbooks[0].is_dir():
        return _export_many(args)
    args.workbook = args.workbooks[0]
    if args.again:
        _again_as_made(args)
    if args.dry_run:  # writes nothing: no lock, no recovery
        return _export(args)
    with writing(args.workbook, out_dir=args.out, repair_workbook=not args.no_write_back, read_whole=True) as operation:
        args.report["notes"] = tuple(operation.notes)  # what recovery did: a batch run says it too
        return _export(args)


def _again_as_made(args) -> None:
    """--again takes the package, period, documents and zip the export was made with: an option
    that would change one of them is refused, not dropped (`--again ID --zip` made no zip, exit 0)."""
    given = [name for name, value in (("--package", args.package), ("--from", args.period_from), ("--to", args.period_to),
                                      ("--include-exported", args.include_exported), ("--zip", args.zip)) if value]
    if given:
        raise UserError(f"--again re-creates export {args.again} as it was made (its package, period, documents "
                        f"and zip): leave out {', '.join(given)}; nothing was written.")


def _export_many(args) -> int:
    from toolkit.cli import batch

    if args.again:
        raise UserError("--again re-creates one export of one workbook: name a single workbook.")
    options = [*(["--package", args.package] if args.package else []),
               *(["--from", args.period_from.isoformat()] if args.period_from else []),
               *(["--to", args.period_to.isoformat()] if args.period_to else []),
               *(["--out", str(args.out)] if args.out else []),
               *(["--include-exported"] if args.include_exported else []),
               *(["--zip"] if args.zip else []),
               *(["--no-write-back"] if args.no_write_back else []),
               *(["--dry-run"] if args.dry_run else [])]
    return batch.run(main, args.workbooks, options, args.jobs)


def _export(args) -> int:
    from toolkit.app import export
    from toolkit.app.register import STREAM_COLUMNS
    from toolkit.book.writeback import write_back

    try:
        if args.again:
            plan = export.plan_again(args.workbook, args.again, args.out, progress=progress, to_commit=True)
        else:
            request = export.ExportRequest(args.workbook, args.package, args.period_from, args.period_to, args.out,
                                           args.include_exported, zip=args.zip)
            plan = export.plan_export(request, progress=progress, to_commit=True)
        if args.keep:
            args.keep(plan)  # the process ends after the command: its end frees the plan at once
        if plan.entry and args.no_write_back:
            plan.entry["write_back"] = False  # recovery is not to write it back later either
        committing = plan.status == "ready" and not args.dry_run
        # The workbook is updated after the commit (an --again updates nothing): asked first whether
        # it can be, so that an export is not written and recorded with its update left for later.
        writes_back = committing and bool(plan.edits) and not args.no_write_back
        if writes_back:
            _updatable_before_export(args.workbook)
        result = export.commit(plan) if committing else None
    finally:
        end_progress()
    args.report.update(message=plan.message, documents=0, files=())
    shown = plan.blocking if plan.status == "blocked" else [f for f in plan.findings if not f.is_error]
    if shown:
        print_findings(shown)
    if result is None:
        if plan.status == "ready":  # a dry run: what the export would write
            args.report.update(documents=len(plan.documents), files=tuple(name for name, _ in plan.files), dry_run=True)
        print(plan.message if plan.status != "ready" else f"Dry run, nothing written: {plan.message}")
        return EXIT_FINDINGS if plan.status == "blocked" else EXIT_OK
    print(result.message)
    args.report.update(message=result.message, documents=len(plan.documents), files=tuple(result.entry["files"]))
    if writes_back:
        column = layout.INVOICES.column(STREAM_COLUMNS[result.entry.get("stream", "bookkeeping")]).header
        updated = f"{column}, Export log{', customer numbers' if plan.generated else ''}"
        edits = result.edits
        # Kept (`keep`), the plan stays to the process's end: freeing it first would cost ~0.5 s at
        # 100,000 invoices, and the write-back adds ~7 MB to it (Peppol, the biggest: 994 MiB).
        # Not kept (a batch worker, a test), it goes before the write-back, which needs none of it.
        export_id = result.entry["id"]
        plan = result = None
        try:
            write_back(args.workbook, edits)
        except UserError as exc:  # the export itself is committed and recorded in the register
            raise UserError(f"Export {export_id} is written and recorded, but {args.workbook} was not updated "
                            f"({updated}): {exc} The export itself is done: once that is fixed, the next export of "
                            "the workbook (or any command that changes it) carries the update in, and says so.") from None
        except KeyboardInterrupt:  # Ctrl-C: the write-back is all or nothing, and recovery carries it in later
            raise KeyboardInterrupt(f"interrupted: export {export_id} is written and recorded, but {args.workbook} was "
                                    f"not updated ({updated}); the next export of it (or any command that changes "
                                    "it) carries that in, and says so.") from None
        print(f"Workbook updated: {updated}.")
    return EXIT_OK


def _updatable_before_export(workbook: Path) -> None:
    """The workbook an export will update can be (writeback.updatable: not open in Excel, not
    read-only), else nothing is exported. Asked again by the write-back: it may change meanwhile."""
    from toolkit.book.writeback import WriteBackError, updatable

    try:
        updatable(workbook)
    except WriteBackError as exc:
        raise UserError(f"{exc} Nothing was exported or recorded: an export updates the workbook once its files are "
                        "written. To export without updating the workbook, add --no-write-back.") from None


def cmd_preview(args) -> int:
    from toolkit.app.check import plan_check
    from toolkit.app.preview import preview, preview_edits
    from toolkit.book.writeback import write_back

    with writing(args.workbook, out_dir=args.out) if args.write else contextlib.nullcontext():
        plan = plan_check(args.workbook, args.package, args.period_from, args.period_to, args.out, progress=progress)
        end_progress()
        shown = preview(plan)
        print_preview(shown)
        if plan.blocking:
            print_findings(plan.blocking)
        if args.write:
            backup = write_back(args.workbook, preview_edits(shown))
            print(f"Preview written to the Preview sheet of {args.workbook} (backup: {backup.name}).", file=sys.stderr)
    return EXIT_FINDINGS if plan.blocking else EXIT_OK


def cmd_suggest(args) -> int:
    from toolkit.book.read import read_workbook
    from toolkit.app.suggest import suggest_accounts
    from toolkit.book.writeback import write_back

    with writing(args.workbook):
        result = suggest_accounts(read_workbook(args.workbook), args.resuggest)
        if result.edits:
            write_back(args.workbook, result.edits)
    print(result.message)
    return EXIT_OK


def _period_rule(spec) -> str:
    """The spec's `period` rule in words."""
    parts = []
    for key, words in (("fiscal_year_start", "starting on"), ("fiscal_year_end", "ending on")):
        if spec.period.get(key):
            param = spec.parameter(spec.period[key])
            kind = "the 1st of the month in" if param.type == "integer" else "the date in"
            parts.append(f"within one fiscal year, {words} {kind} '{param.label}'")
    rule = "must lie " + " and ".join(parts) + "." if parts else ""
    return f"{rule} {spec.period.get('reason', '')}".strip()


def cmd_packages(args) -> int:
    from toolkit.spec import list_specs, load_spec

    if args.action == "show":
        if not args.package:
            raise UserError("which package? e.g. `ledger-export packages show winbooks`")
        spec = load_spec(args.package)
        wrap = textwrap.TextWrapper(width=100, break_on_hyphens=False)
        print(wrap.fill(f"{spec.name} ({spec.id}), format {spec.format_version}; countries: {', '.join(spec.countries) or 'any'}"))
        print(wrap.fill(f"Files: {', '.join(spec.file_names)}"))
        print(wrap.fill(spec.description))
        if spec.period:
            print("\n" + wrap.fill("Export period: " + _period_rule(spec)))
        print("\nParameters (rows of the Settings sheet, by label):" if spec.parameters else "\nParameters: none.")
        help_wrap = textwrap.TextWrapper(width=100, initial_indent=" " * 6, subsequent_indent=" " * 6, break_on_hyphens=False)
        for p in spec.parameters:
            default = f"; default {p.default}" if p.default not in (None, "") else ""
            if p.default_setting:  # tried before `default`
                setting = layout.SETTINGS_BY_KEY[p.default_setting].label
                default = f"; default: the '{setting}' setting" + (f", else {p.default}" if default else "")
            choices = f"; one of {', '.join(p.choices)}" if p.choices else ""
            print(f"  {p.label} [{p.type}{', required' if p.required else ''}{choices}{default}]\n{help_wrap.fill(p.help)}")
        return EXIT_OK
    for spec in list_specs():
        params = ", ".join(p.label for p in spec.parameters) or "none"
        print(f"{spec.id:<14} {spec.name} [{', '.join(spec.countries) or 'any country'}]\n{'':<14} files: {', '.join(spec.file_names)}; parameters: {params}")
    return EXIT_OK


def cmd_validate_ubl(args) -> int:
    """Exit 0 when every file passes (no fatal assert), 1 when one is rejected, 2 when saxonche is missing."""
    from toolkit.peppol.validate import ValidatorMissing, validate_file

    rejected = 0
    for path in args.files:
        try:
            failed = validate_file(path)
        except UserError as exc:  # this file only: the others are still checked and reported
            if len(args.files) == 1 or isinstance(exc, ValidatorMissing):
                raise
            rejected += 1
            print(f"{path}: REJECTED, not checked: {exc}")
            continue
        fatal = [a for a in failed if a.fatal]
        warnings = [a for a in failed if not a.fatal]
        rejected += bool(fatal)
        verdict = f"REJECTED, {len(fatal)} fatal" if fatal else "valid"
        print(f"{path}: {verdict}, {len(warnings)} warning(s)")
        for a in fatal + (warnings if args.warnings else []):
            print(f"  {a.flag:<7} {a.id}: {a.text}\n          at {a.location}")
    if len(args.files) > 1:
        print(f"{len(args.files) - rejected} of {len(args.files)} file(s) valid.")
    return EXIT_FINDINGS if rejected else EXIT_OK
