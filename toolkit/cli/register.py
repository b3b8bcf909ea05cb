"""`ledger-export register check`: verify the export register and every recorded export's files."""

from __future__ import annotations

from pathlib import Path


def add_register_commands(sub, folder_arg) -> None:
    """`folder_arg`: the command line's type of a folder option (it refuses an empty one)."""
    register = sub.add_parser("register", help="the export register beside the exports: check it")
    actions = register.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="verify every recorded export's files against their SHA-256 (exit 1 on any problem)")
    check.add_argument("workbook", type=Path, nargs="?", help="the workbook whose export folder to check")
    check.add_argument("--out", type=folder_arg, metavar="DIR", help="the export folder (default: the workbook's, from its Settings)")
    check.set_defaults(handler=_check)


def _check(args) -> int:
    from toolkit.app import register
    from toolkit.cli.output import EXIT_FINDINGS, EXIT_OK
    from toolkit.errors import UserError

    from toolkit.app.context import output_root
    from toolkit.app.lock import reading

    if args.out is None:
        if args.workbook is None:
            raise UserError("which export folder? Give the workbook, or --out DIR.")
        from toolkit.book.read import open_grid, read_settings

        root = output_root(read_settings(open_grid(args.workbook), []), args.workbook)
    else:  # a file given as the folder is refused where the export refuses it
        root = output_root(None, args.workbook or Path.cwd(), args.out)
        if not root.is_dir():  # a mistyped folder: not "nothing was exported there", exit 0
            raise UserError(f"The export folder {root} (--out) does not exist: give the folder that holds the "
                            f"exports and their {register.FILE_NAME}.")
    where = root / register.FILE_NAME
    with reading(root):  # an export under way is waited for, not reported as interrupted
        count, problems = register.check(root)
    if not problems and not where.exists():  # a lost register beside export folders is a problem
        print(f"No export register in {root} yet: nothing was exported there.")
        return EXIT_OK
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {where}.")
        return EXIT_FINDINGS
    print(f"{count} export(s) recorded in {where}: every file is there, unchanged.")
    return EXIT_OK
