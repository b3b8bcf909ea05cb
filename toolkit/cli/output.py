"""What the command line prints: findings by sheet and cell, a status line, the exit codes."""

from __future__ import annotations

import contextlib
import json
import sys

from toolkit.model import Finding, report_order

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a command ended by SIGINT


def print_findings(findings: list[Finding], as_json: bool = False, out=None) -> None:
    out = out or sys.stdout
    if as_json:
        json.dump([f.__dict__ for f in findings], out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    sheet = None
    lines = []  # written at once: an e-invoice export can name 30,000 documents it leaves out
    for f in sorted(findings, key=report_order):
        if f.sheet != sheet:
            sheet = f.sheet
            lines.append(sheet or "Workbook")
        lines.append(f"  {f.severity:<7} {f.cell or '-':<6} {f.code:<34} {f.message}")
    errors = sum(f.is_error for f in findings)
    lines.append(f"{errors} error(s), {len(findings) - errors} warning(s).")
    out.write("\n".join(lines) + "\n")


def progress(stage: str) -> None:
    """One status line on a terminal, rewritten in place (nothing when output is piped)."""
    if sys.stderr.isatty():
        print(f"\r\033[K… {stage}", end="", file=sys.stderr, flush=True)


def end_progress() -> None:
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)  # the status line goes


def print_preview(shown, out=None) -> None:
    """The Preview's rows as text: one block per section, amounts right-aligned."""
    out = out or sys.stdout
    section = None
    for row in shown.rows:
        if row["section"] != section:
            section = row["section"]
            count = sum(1 for r in shown.rows if r["section"] == section)
            print(f"{section}s ({count}):" if section in ("Document", "Customer") else f"{section}:", file=out)
        amounts = " ".join(f"{_amount(row[k]):>13}" for k in ("net", "vat", "total"))
        if section == "Document":
            print(f"  {row['item']:<14} {row['date']:%d/%m/%Y}  {row['customer'][:28]:<28} {row['accounting_number'] or '':<14} "
                  f"{row['journal'] or '':<6}{amounts}  {row['status']}", file=out)
        elif section == "Customer":
            print(f"  {row['item']:<14} {row['customer'][:40]:<40} {row['accounting_number']:<14} {row['status']}", file=out)
        else:
            print(f"  {row['item']:<14} {amounts}", file=out)
    print(shown.message, file=out)


def _amount(value) -> str:
    return "" if value is None else f"{value:,.2f}"


@contextlib.contextmanager
def writing(workbook, **options):
    """An operation that writes: the locks held for the block, and first a recovery of what a
    crash left (toolkit.app.recovery), said on stderr (stdout may be JSON)."""
    from toolkit.app.recovery import writing as recovered

    with recovered(workbook, **options) as operation:
        for note in operation.notes:
            print(note, file=sys.stderr)
        yield operation
