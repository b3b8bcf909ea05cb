"""`ledger-export customers ...`: the customer commands on the command line (thin: see commands)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from toolkit.cli.output import EXIT_FINDINGS, EXIT_OK, print_findings, writing


def _existing(text: str) -> Path:
    from toolkit.book.survey import existing_file

    return existing_file(text)


def add_customer_commands(sub) -> None:
    customers = sub.add_parser("customers", help="customer numbers: assign, match a pasted list, import, duplicates, merge, undo")
    actions = customers.add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(name, help_text, handler):
        p = actions.add_parser(name, help=help_text)
        p.add_argument("workbook", type=_existing)
        p.set_defaults(handler=handler)
        return p

    command("assign", "give each customer without an accounting customer number the next free one", _assign)
    command("match", "propose a customer and an action beside each row pasted on 'Customer import'", _run(lambda commands, a: commands.match_paste(a.workbook)))
    command("apply", "carry out the Action column of 'Customer import' (exit 1 when rows are left: a conflict, "
            "an ambiguous match or a refused action)", _run(lambda commands, a: commands.apply_matches(a.workbook)))
    imp = command("import", "match a CSV or XLSX customer list and apply the sure proposals (exit 1 when lines are "
                  "left: a conflict or an ambiguous match to decide, a refused action)", _run(
        lambda commands, a: commands.import_file(a.workbook, a.file, create_new=a.create_new, dry_run=a.dry_run)))
    imp.add_argument("file", type=_existing, help="CSV (any delimiter, encoding detected) or XLSX file")
    imp.add_argument("--create-new", action="store_true", help="create the customers the workbook does not have")
    imp.add_argument("--dry-run", action="store_true", help="show what would happen, write nothing")
    command("duplicates", "list likely duplicate customers with a suggested keeper", _run(lambda commands, a: commands.find_duplicates(a.workbook)))
    merge = command("merge", "move a duplicate's invoices to the keeper and remove the duplicate", _run(
        lambda commands, a: commands.merge_customers(a.workbook, a.keeper, a.duplicate)))
    merge.add_argument("keeper", help="customer id to keep")
    merge.add_argument("duplicate", help="customer id to remove")
    undo = command("undo-import", "remove the customers an import batch created (keeps numbered or invoiced ones)", _run(
        lambda commands, a: commands.undo_import(a.workbook, a.batch)))
    undo.add_argument("batch", help="the import batch id, e.g. IMP-20260115-093000")


def _assign(args) -> int:
    """Numbers as the next export would give them, written now (the 'Assign customer numbers' button)."""
    from toolkit.app.numbering import package_number_rules, plan_assign
    from toolkit.book.read import read_workbook
    from toolkit.book.writeback import write_back

    with writing(args.workbook):
        wb = read_workbook(args.workbook)
        edits, message, findings = plan_assign(wb, args.workbook, package_number_rules(wb))
        blocked = any(f.is_error for f in findings)
        if findings:
            print_findings(findings)
        print(message)
        if edits and not blocked:
            _tell_backup(write_back(args.workbook, edits))
    return EXIT_FINDINGS if blocked else EXIT_OK


def _tell_backup(backup: Path | None) -> None:
    if backup is not None:
        print(f"Backup of the workbook before this change: {backup.name}", file=sys.stderr)


def _run(call):
    """The handler of a customer command: `call(commands, args)`, with toolkit.app.customers
    imported only now (it brings numpy and rapidfuzz: a quarter of a second every other command
    would pay at start)."""
    def handler(args) -> int:
        from toolkit.app import customers as commands
        from toolkit.errors import UserError

        try:
            with contextlib.nullcontext() if getattr(args, "dry_run", False) else writing(args.workbook):
                outcome = call(commands, args)
        except commands.CustomerCommandError as exc:
            raise UserError(str(exc)) from None
        print(outcome.text())
        _tell_backup(outcome.backup)
        return EXIT_FINDINGS if outcome.left else EXIT_OK  # rows left undone: a script must not take it for done

    return handler
