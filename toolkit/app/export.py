"""The export as a plan, then a commit.

`plan_export` (the next export) and `plan_again` (an earlier export, re-created byte for byte) read
the workbook, validate, select, number customers, account and render — and write nothing. The
plan holds every finding, the documents, the rendered files, the register entry and the workbook
edits. `commit` writes the files and records the export; the front end then applies the edits to
the workbook (the file, or the open book in Excel). `check` and `preview` are the same plan,
shown: whatever the export would refuse, they report first. A plan made only to be committed
(`to_commit`: the export's front ends) may keep less of the documents than a shown one: what
the files do not show (an e-invoice's bookings, see `_account`).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import operator
import zipfile
from dataclasses import dataclass, field, replace
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Callable

from toolkit import checks, collector, layout, memory
from toolkit.accounting import GROSS_THEN_DISCOUNT, Unbalanced, build_document
from toolkit.app.context import company_key, history, now, output_root
from toolkit.app.numbering import number_customers, number_edits, number_findings
from toolkit.app.register import STREAM_COLUMNS, Register, exported_documents, stream_of
from toolkit.peppol import einvoice
from toolkit.app import transaction
from toolkit.app.transaction import ExportFailed, free_id  # noqa: F401 - ExportFailed: raised by commit
from toolkit.book.read import forget_grid, read_workbook
from toolkit.book.writeback import Edits
from toolkit.errors import UserError
from toolkit.model import SHOWN, Batch, Customer, Document, Finding, Invoice, LedgerAccount, Workbook, error, first_named, warning
from toolkit.spec import RenderError, SpecError, list_specs, load_spec, period_findings, render, resolve_params
from toolkit.spec import spool
from toolkit.spec.spool import Spooled, pieces
from toolkit.resources import specs_dir
from toolkit.values import shown_amount
from toolkit.vatrules import RuleBook, package_vat_codes, unknown_packages

Progress = Callable[[str], None]


def _quiet(stage: str) -> None:
    pass


@dataclass
class ExportRequest:
    workbook: Path
    package: str | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    out_dir: Path | None = None
    include_exported: bool = False
    zip: bool = False  # also write <export id>.zip: the export's files flat (and the e-invoices' PDFs)
    again: str | None = None  # `run_export` only: re-create this earlier export (see `plan_again`)
    read_from: Path | None = None  # a saved copy of `workbook` to read (Excel's unsaved edits)


@dataclass
class ExportPlan:
    """Everything an export would do, decided; nothing written yet."""

    status: str  # ready | blocked | nothing
    message: str
    findings: list[Finding]  # every finding of the workbook, blocking or not
    blocking: list[Finding]  # the errors that stop this export (none when ready)
    workbook: Workbook
    root: Path  # the export folder's root (the register lives there)
    selected: list[Invoice] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    generated: dict[str, str] = field(default_factory=dict)  # customer id -> new accounting number
    files: list[tuple[str, bytes | Spooled]] = field(default_factory=list)  # a big file's bytes wait in a temporary file
    entry: dict | None = None  # the register line
    edits: Edits = field(default_factory=Edits)  # what the workbook learns once committed
    again_of: dict | None = None  # the earlier export re-created
    in_period: list[Invoice] = field(default_factory=list)  # the period's documents, new or exported before
    exported: dict[str, str] = field(default_factory=dict)  # document number -> the export of this stream that carried it
    skipped: dict[str, str] = field(default_factory=dict)  # document number -> why this package does not write it
    zip: bool = False  # add <export id>.zip to the files


@dataclass
class ExportResult:
    status: str  # written | blocked | nothing
    message: str
    findings: list[Finding] = field(default_factory=list)
    folder: Path | None = None
    entry: dict | None = None
    edits: Edits = field(default_factory=Edits)
    workbook: Workbook | None = None


# ---- the plans -------------------------------------------------------------------------------------


def plan_export(request: ExportRequest, progress: Progress = _quiet, to_commit: bool = False) -> ExportPlan:
    """The next export: the period's documents that no earlier export carried. `to_commit`: the
    plan is committed (or dropped), never shown (see the module docstring)."""
    progress("Reading the workbook")
    wb = read_workbook(request.read_from or request.workbook)
    forget_grid()
    memory.give_back()  # what reading freed, before the documents and files are made
    settings = wb.settings
    root = output_root(settings, request.workbook, request.out_dir)
    earlier_exports = history(wb, root)
    period_from = request.period_from or settings.period_from
    period_to = request.period_to or settings.period_to
    if (request.period_from or request.period_to) and period_from and period_to and period_from > period_to:
        # asked for on the command line (a reversed Settings period is a finding on its cells)
        raise UserError(f"The period asked for runs backwards: from {period_from:%d/%m/%Y} to {period_to:%d/%m/%Y}. "
                        f"The first date must not come after the last.")

    progress("Checking")
    spec, params, findings = validate(wb, request.package, period_from, period_to)

    stream = spec.stream if spec else "bookkeeping"  # each stream exports a document once
    exported = exported_documents(earlier_exports, stream)
    column = STREAM_COLUMNS[stream]
    for invoice in wb.invoices:
        if getattr(invoice, column):
            exported.setdefault(invoice.number, getattr(invoice, column))
    in_period = [i for i in wb.invoices if i.number and i.date and _within(i.date, period_from, period_to)]
    selected = [i for i in in_period if request.include_exported or i.number not in exported]
    if stream == "bookkeeping":
        findings += _left_before(wb, period_from, exported)
    if not request.include_exported:
        findings += _taken_elsewhere(in_period, column, exported, earlier_exports, request.workbook)
    findings += _marked_not_carried(wb, column, earlier_exports)
    findings += _changed_since_export(wb, column, stream, earlier_exports, request.workbook)
    skipped = _not_einvoices(wb, selected) if stream == "einvoice" else {}
    selected = [i for i in selected if i.number not in skipped]
    # An invoice without a readable date or number cannot be placed in or out of the period: its
    # errors block, so it is never left out without a word.
    unplaced = [i for i in wb.invoices if not (i.number and i.date)]

    plan = ExportPlan("blocked", "", findings, [], wb, root, selected, in_period=in_period, exported=exported,
                      skipped=skipped, zip=request.zip)
    created = now()
    base_id = f"{created:%Y%m%d-%H%M%S}-{spec.id if spec else 'export'}"
    return _finish(plan, spec, params, period_from, period_to, earlier_exports, unplaced, created,
                   free_id(base_id, Register(root)), request.workbook, progress, to_commit,
                   nothing=None if selected else
                   f"Nothing new to export for {_period(period_from, period_to)}: "
                   + (f"{len(in_period)} document(s) in it were exported before." if in_period and not skipped else
                      f"{len(skipped)} document(s) in it are not for this package." if skipped else "it holds no documents."))


def plan_again(workbook: Path, export_id: str, out_dir: Path | None = None, read_from: Path | None = None,
               progress: Progress = _quiet, to_commit: bool = False) -> ExportPlan:
    """An earlier export re-created: its documents, package, parameters and time, into a new
    folder `<id>-again`. Identical bytes unless the workbook changed since. `to_commit`: as
    `plan_export`'s."""
    progress("Reading the workbook")
    wb = read_workbook(read_from or workbook)
    forget_grid()
    memory.give_back()  # what reading freed, before the documents and files are made
    root = output_root(wb.settings, workbook, out_dir)
    earlier_exports = history(wb, root)
    earlier = next((e for e in earlier_exports if e["id"] == export_id), None)
    if earlier is None:
        known = ", ".join(e["id"] for e in earlier_exports[-5:]) or "none yet"
        raise UserError(f"No export {export_id} in {Register(root).path} (latest: {known}).")
    period_from, period_to = _date(earlier["period_from"]), _date(earlier["period_to"])
    wb = replace(wb, settings=_booked_as(wb.settings, earlier))
    progress("Checking")
    # The parameters the earlier export used (stored as text), typed by the spec again.
    spec, params, findings = validate(wb, earlier["package"], period_from, period_to, earlier["parameters"])
    wanted = set(earlier["documents"])
    selected = [i for i in wb.invoices if i.number in wanted]
    missing = wanted - {i.number for i in selected}
    if missing:
        raise UserError(f"Export {earlier['id']} carried documents no longer in the workbook: "
                        f"{', '.join(sorted(missing))}. It cannot be re-created.")
    plan = ExportPlan("blocked", "", findings, [], wb, root, selected, again_of=earlier, in_period=selected,
                      zip=bool(earlier.get("zip")))
    return _finish(plan, spec, params, period_from, period_to, earlier_exports, [],
                   dt.datetime.fromisoformat(earlier["created_at"]),
                   free_id(f"{earlier['id']}-again", Register(root)), workbook, progress, to_commit)


def _booked_as(settings, earlier: dict):
    """The Settings that decide amounts, as the earlier export had them, so it is re-created with
    the same amounts. An entry without "rounding" predates the setting: it was "gross then discount"."""
    return replace(settings, rounding=earlier.get("rounding", GROSS_THEN_DISCOUNT),
                   vat_booking=earlier.get("vat_booking", settings.vat_booking))


def einvoice_package() -> str:
    """The shipped package whose spec declares the e-invoice stream (the ribbon's E-invoices
    button exports to it, whatever the Settings' bookkeeping package)."""
    found = [spec.id for spec in list_specs() if spec.stream == "einvoice"]
    if len(found) != 1:
        raise UserError(f"Expected one e-invoice package among the package specs, found {len(found)}: "
                        f"{', '.join(found) or 'none'}.")
    return found[0]


def validate(wb: Workbook, package: str | None = None, period_from: dt.date | None = None,
             period_to: dt.date | None = None, parameters: dict | None = None):
    """The one validation stage, before selection: the workbook's rules, the package's (its
    parameters — the Settings' rows, or `parameters` recorded by an earlier export —, period,
    account format, VAT codes) and the customer numbers. Returns (spec or None, params, findings);
    the Settings' package that cannot be loaded is a finding on its cell; an unknown `package`
    asked for by name raises SpecError (a usage mistake, not the workbook's)."""
    findings = checks.check_workbook(wb)
    if package:
        spec = load_spec(package)
    else:
        try:
            spec = load_spec(wb.settings.package)
        except SpecError as exc:
            where = wb.settings.cell("package")
            return None, {}, findings + [error("settings.package.unknown", where, "value", f"Accounting package: {exc}.")]
    settings = wb.settings if parameters is None else replace(wb.settings, extra=parameters)
    params, more = resolve_params(spec, settings)
    findings += more
    findings += period_findings(spec, params, period_from, period_to, wb.settings)  # e.g. one fiscal year
    findings += checks.check_spec(wb, spec, params)
    if wb.vat_codes:
        shipped = {p.stem for p in specs_dir().glob("*.json")} - {"schema"}
        findings += unknown_packages(wb.vat_codes, shipped | {spec.id})
    findings += number_findings(wb, spec.customer_number_rules(params))
    return spec, params, checks.one_per_cell(findings)  # no follow-on findings about a cell already reported


def _finish(plan: ExportPlan, spec, params, period_from, period_to, earlier_exports, unplaced,
            created: dt.datetime, export_id: str, workbook: Path, progress: Progress, to_commit: bool,
            nothing: str | None = None) -> ExportPlan:
    """Number, account and render the selection; the verdict, the register entry and the edits."""
    wb, selected = plan.workbook, plan.selected
    customers = {c.customer_id: c for c in wb.customers}
    chosen = [customers[c] for c in dict.fromkeys(i.customer_id for i in selected) if c in customers]
    plan.findings += _skipped_findings(wb, plan.skipped)
    if spec is not None and spec.stream == "bookkeeping":  # an e-invoice hands out no accounting numbers
        plan.generated, more = number_customers(wb, chosen, selected, earlier_exports, spec.customer_number_rules(params))
        plan.findings += more
    plan.blocking = _blocking(plan.findings, wb, selected + unplaced)
    if plan.blocking or spec is None:
        plan.message = f"{len(plan.blocking)} error(s) block the export; nothing was written."
        return plan
    if nothing:
        plan.status, plan.message = "nothing", nothing
        return plan

    numbered = {c.customer_id: _with_number(c, plan.generated.get(c.customer_id)) for c in chosen}
    # An e-invoice is prepared as its document is booked, from the line amounts the booking computed.
    preparation = einvoice.Preparation(wb.settings, workbook) if spec.stream == "einvoice" else None
    documents, problems, used = _account(selected, numbered, wb, spec, progress, preparation, to_commit)
    if problems:
        return _blocked(plan, problems, "Some documents cannot be booked; nothing was written.")
    if preparation is not None:
        prepared = preparation.done()
        if any(f.is_error for f in prepared.findings):
            return _blocked(plan, prepared.findings, "Some documents cannot be valid e-invoices; nothing was written.")
        plan.findings += prepared.findings
        documents = prepared.documents
    plan.documents = documents
    again_of = plan.again_of
    batch = Batch(
        export_id=again_of["id"] if again_of else export_id,
        created_at=created,
        period_from=period_from or min(d.date for d in documents),
        period_to=period_to or max(d.date for d in documents),
        settings=wb.settings,
        params=params,
        documents=tuple(documents),
        customers=tuple(numbered[c] for c in sorted(numbered)) if wb.settings.export_customers else (),
        accounts=_accounts_used(wb, used),
    )
    progress("Rendering files")
    try:
        rendered = render(spec, batch)
    except RenderError as exc:
        return _blocked(plan, list(exc.findings), "The package's format rejects some values; nothing was written.")
    plan.findings += rendered.warnings
    plan.files = rendered.files
    if plan.zip:  # named after the export it bundles (an again keeps the original's name inside)
        plan.files = plan.files + [(f"{batch.export_id}.zip", _bundle(plan.files, _pdfs(documents), created))]
    plan.entry = {
        "id": export_id,
        "company": company_key(wb),
        "created_at": created.isoformat(),
        "package": spec.id,
        "stream": spec.stream,
        "period_from": batch.period_from.isoformat(),
        "period_to": batch.period_to.isoformat(),
        "parameters": _jsonable(params),
        "documents": [d.number for d in documents],
        "booked": _booked(documents),
        "customers": len(batch.customers),
        "generated_numbers": plan.generated,
        "rounding": wb.settings.rounding,
        "vat_booking": wb.settings.vat_booking,
        "files": {name: _sha256(data) for name, data in plan.files},
        "workbook": str(Path(workbook).resolve()),
    }
    if plan.zip:
        plan.entry["zip"] = f"{batch.export_id}.zip"
    if again_of:
        plan.entry["again_of"] = again_of["id"]
    else:
        plan.edits = _edits(wb, documents, plan.generated, plan.entry)
    plan.status = "ready"
    plan.message = (f"{len(documents)} document(s) to export: {_files(plan.entry['files'])}."
                    + _not_written(plan.skipped) + _exported_before(plan))
    return plan


def _pdfs(documents: list[Document]) -> list[tuple[str, bytes]]:
    """The PDFs the e-invoices carry, for the bundle: the ones their preparation attached, not the
    folder read again (that put a file the preparation refused as no PDF into the bundle)."""
    return [(d.einvoice.pdf_name, base64.b64decode(d.einvoice.pdf_base64))
            for d in documents if d.einvoice is not None and d.einvoice.pdf_name]


def _sha256(data: bytes | Spooled) -> str:
    return spool.sha256(data)  # a big file's was taken as it was written


def _bundle(files: list[tuple[str, bytes | Spooled]], extra: list[tuple[str, bytes]], created: dt.datetime) -> bytes:
    """One flat zip of the files (the one thing to mail to the accountant), the same bytes for the
    same export: members in order, stamped with the export's time, fixed attributes."""
    out = io.BytesIO()
    stamp = (max(created.year, 1980), created.month, created.day, created.hour, created.minute, created.second)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files + extra:
            info = zipfile.ZipInfo(name, stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            info.file_size = len(data)  # what writestr() sets: a member written a piece at a time is the same bytes
            with bundle.open(info, "w") as member:
                for piece in pieces(data):
                    member.write(piece)
    return out.getvalue()


def _not_einvoices(wb: Workbook, invoices: list[Invoice]) -> dict[str, str]:
    """The documents an e-invoice package leaves for another one, with the reason."""
    customers = {c.customer_id: c for c in wb.customers}
    return {i.number: einvoice.NOT_PEPPOL for i in invoices
            if i.customer_id in customers and not einvoice.is_peppol_customer(customers[i.customer_id])}


def _left_before(wb: Workbook, period_from: dt.date | None, exported: dict) -> list[Finding]:
    """Documents dated before the period that no export carried: no later period will take them
    either (an invoice dated 2025 for 2026, or one added after its quarter was exported), so they
    would never be booked without a word. One warning, on the first one's date."""
    if period_from is None:
        return []
    left = [i for i in wb.invoices if i.number and i.date and i.date < period_from and i.number not in exported]
    if not left:
        return []
    named = first_named([f"{i.number} ({i.date:%d/%m/%Y})" for i in left])
    return [warning("export.before_period", left[0].where, "date",
                    f"{len(left)} document(s) dated before the period (from {period_from:%d/%m/%Y}) were never exported: "
                    f"{named}. No later export takes them: check the date, or export them with --from (or an earlier "
                    f"'Period from'); if they were booked another way, type so (e.g. 'manual') in their 'Exported in'.")]


def _taken_elsewhere(in_period: list[Invoice], column: str, exported: dict, entries: list[dict],
                     workbook: Path) -> list[Finding]:
    """A row without its stream's mark whose number another workbook's export carried (same company,
    same export folder: a workbook per year whose numbers start again, a copy): it counts as
    exported and is not exported, which "N document(s) were exported before" alone left unexplained."""
    unmarked = [i for i in in_period if not getattr(i, column) and i.number in exported]
    if not unmarked:
        return []
    mine = str(Path(workbook).resolve())
    by_id = {e["id"]: e for e in entries}
    findings = []
    for invoice in unmarked:
        entry = by_id.get(exported[invoice.number])
        if entry is None or entry.get("workbook") in (None, mine):
            continue
        findings.append(warning(
            "export.number_taken", invoice.where, column,
            f"{invoice.number} counts as exported: export {entry['id']} of the workbook {Path(entry['workbook']).name} "
            f"(same company, same export folder) carried a document of that number. If this is another invoice, it is "
            f"not exported: give this workbook an Output folder of its own, or the invoice a number of its own."))
    return findings


def _marked_not_carried(wb: Workbook, column: str, entries: list[dict]) -> list[Finding]:
    """A row whose stream's mark names an export that did not carry its number (a row copied with its
    mark to make a new invoice, a number changed after its export): it counts as exported and is never
    exported, which "N document(s) were exported before" left unexplained. A mark that names no
    export ('manual') is the user's word and is kept."""
    carried = {e["id"]: e.get("documents", ()) for e in entries}
    numbers: dict[str, set] = {}  # the carried numbers of the exports the rows name, made as needed
    header = layout.INVOICES.column(column).header
    findings = []
    for invoice in wb.invoices:
        mark = getattr(invoice, column)
        if not invoice.number or mark not in carried:
            continue
        if mark not in numbers:
            numbers[mark] = set(carried[mark])
        if invoice.number not in numbers[mark]:
            findings.append(warning(
                "export.not_carried", invoice.where, column,
                f"{invoice.number} is marked as exported in {mark} ('{header}'), but that export did not carry it "
                f"(a row copied with its mark, or a number changed after the export?): it is not exported. Empty its "
                f"'{header}' to export it; if it was booked another way, type so (e.g. 'manual')."))
    return findings


def _booked(documents: list[Document]) -> dict[str, list[str]]:
    """What the export books of each document, for `_changed_since_export`: a list per field,
    aligned with the entry's documents (made and written in 0.07 s for 100,000 documents, a
    third of a record per document's time)."""
    return {"date": [d.isoformat() for d in map(attrgetter("date"), documents)],
            "customer": list(map(attrgetter("customer.customer_id"), documents)),
            "total": list(map(str, map(attrgetter("total"), documents)))}


def _changed_since_export(wb: Workbook, column: str, stream: str, entries: list[dict], workbook: Path) -> list[Finding]:
    """An exported invoice whose date, customer or total is no longer what its export booked
    (`booked` in the register entry): it is not exported again, so the change would never reach
    the books without a word. The export is the one its row names, else the last of this
    workbook's exports that carried its number. The total is compared where the row shows one
    (the sheet's Total, which Excel computes, or 'Total as issued'), without its sign: a credit
    note may be typed either way."""
    mine = str(Path(workbook).resolve())
    by_id: dict[str, dict[str, tuple]] = {}  # export id -> number -> (date, customer, total) it booked
    last: dict[str, str] = {}  # number -> this workbook's last export that carried it
    for entry in entries:
        if stream_of(entry) == stream and (booked := _bookings(entry)):
            by_id[entry["id"]] = booked
            if entry.get("workbook") in (None, mine):
                last.update(dict.fromkeys(booked, entry["id"]))
    findings = []
    for invoice in wb.invoices if by_id else ():
        export_id = getattr(invoice, column)
        if export_id not in by_id:
            export_id = last.get(invoice.number)
        then = by_id[export_id].get(invoice.number) if export_id else None
        changes = _changes(invoice, *then) if then else []
        if changes:
            findings.append(warning(
                "export.changed", invoice.where, changes[0][0],
                f"{invoice.number} is not what export {export_id} booked: {'; '.join(what for _, what in changes)}. "
                f"It is not exported again. An invoice that was issued is corrected with a credit note (and a new "
                f"invoice), not changed; if this was a typing mistake, undo it."))
    return findings


def _bookings(entry: dict) -> dict[str, tuple]:
    """number -> (date, customer, total) of an entry's `booked`; {} for an entry without it (an
    export of an earlier version) or with one this version did not write."""
    booked, numbers = entry.get("booked"), entry.get("documents")
    if not isinstance(booked, dict) or not isinstance(numbers, list):
        return {}
    columns = [booked.get(key) for key in ("date", "customer", "total")]
    if not all(isinstance(c, list) and len(c) == len(numbers) and all(isinstance(v, str) for v in c) for c in columns):
        return {}
    return dict(zip(numbers, zip(*columns)))


def _changes(invoice: Invoice, date: str, customer_id: str, total: str) -> list[tuple[str, str]]:
    """(column, what differs) between the invoice row and what its export booked (a value the
    register does not hold as the export wrote it is not compared)."""
    changes = []
    try:
        then_date, then_total = dt.date.fromisoformat(date), abs(Decimal(total))
    except (ValueError, ArithmeticError):
        return changes
    if invoice.date is not None and invoice.date != then_date:
        changes.append(("date", f"dated {invoice.date:%d/%m/%Y} now, {then_date:%d/%m/%Y} then"))
    if invoice.customer_id and invoice.customer_id != customer_id:
        changes.append(("customer_id", f"customer {invoice.customer_id} now, {customer_id} then"))
    total = invoice.shown[SHOWN.index("total")] if invoice.shown else None
    key = "total" if total is not None else "total_as_issued"
    shown = shown_amount(total) if total is not None else invoice.total_as_issued
    if shown is not None and then_total.is_finite() and abs(shown) != then_total:
        changes.append((key, f"total {abs(shown):,.2f} now, {then_total:,.2f} then"))
    return changes


def _skipped_findings(wb: Workbook, skipped: dict[str, str]) -> list[Finding]:
    if not skipped:
        return []
    by_number = {i.number: i for i in wb.invoices}
    return [warning("export.not_written", by_number[number].where, "customer_id", f"{number} is not written: {reason}.")
            for number, reason in skipped.items()]


def _not_written(skipped: dict[str, str]) -> str:
    return f" Not written: {len(skipped)} document(s) of private persons (not Peppol documents)." if skipped else ""


def _exported_before(plan: ExportPlan) -> str:
    """--include-exported: how many documents an earlier export carried, said with the result (they
    were exported again without a word, to be booked twice by a package that does not replace them)."""
    if plan.again_of is not None or not plan.exported:
        return ""
    again = [i.number for i in plan.selected if i.number in plan.exported]
    if not again:
        return ""
    return (f" {len(again)} of them were exported before ({again[0]} in {plan.exported[again[0]]}"
            f"{', ...' if len(again) > 1 else ''}): importing them books them a second time unless the package "
            f"replaces a document of the same number.")


def _files(names) -> str:
    names = list(names)
    return ", ".join(names) if len(names) <= 6 else f"{', '.join(names[:3])}, ... ({len(names)} files)"


def _blocked(plan: ExportPlan, problems: list[Finding], message: str) -> ExportPlan:
    plan.findings += problems
    plan.blocking = [f for f in problems if f.is_error]
    plan.message = message
    return plan


def _account(selected: list[Invoice], numbered: dict[str, Customer], wb: Workbook, spec, progress: Progress,
             preparation: einvoice.Preparation | None = None, to_commit: bool = False):
    """Balanced documents in date order, numbered per journal, and the accounts their postings
    use; or the findings that stop them. `preparation`: each document's e-invoice prepared as it
    is booked."""
    rules = RuleBook(wb.vat_rules)
    used: set[str] = set()
    # An e-invoice shows its lines and VAT categories, not the booking: in a plan only committed,
    # when no record of the spec walks the postings or groups, a document lets go of them once
    # prepared (at 100,000 invoices some 230 MB, kept until the render ends). A shown plan keeps
    # them: the preview totals the postings per account and VAT code.
    shed = to_commit and preparation is not None and not _reads_bookings(spec)
    # a handful of combinations, asked per VAT group
    vat_code = functools.cache(package_vat_codes(spec.id, spec.vat_code, wb.vat_codes))
    documents, problems = [], []
    step = max(len(selected) // 20, 1)
    # Each document adds some twenty objects and no reference cycle, and lives as long as the
    # export (toolkit.collector: half of this stage's time was the collector walking them).
    with collector.paused():
        for n, invoice in enumerate(sorted(selected, key=_DATE_NUMBER)):
            if n % step == 0:
                progress(f"Accounting: {n:,} of {len(selected):,} documents")
            lines = [] if preparation is not None else None
            try:
                document = build_document(invoice, numbered[invoice.customer_id], wb.settings, rules, vat_code, lines)
            except Unbalanced as exc:
                problems.append(exc.finding)
                continue
            if not document.total and not any(p.amount for p in document.postings):
                problems.append(error("document.zero", invoice.where, "number",
                                      f"{invoice.number} comes to 0.00: packages drop or refuse an empty booking. "
                                      f"Correct its lines, or move it out of the period."))
            documents.append(document)
            used.update(map(_ACCOUNT, document.postings))
            if preparation is not None and not problems:  # a booking problem blocks: no e-invoice is made
                preparation.add(document, lines)
                if shed:
                    document.postings = document.vat_groups = document.revenue_groups = ()
        collector.exempt()
    return _sequenced(documents), problems, used


_DATE_NUMBER, _ACCOUNT = operator.attrgetter("date", "number"), operator.attrgetter("account")  # C-level, per document
_BOOKINGS = frozenset({"postings", "vat_groups", "revenue_groups"})


def _reads_bookings(spec) -> bool:
    """Whether a record of the spec walks a document's postings, VAT groups or revenue groups
    (no source path reaches them: only a record's collection does)."""
    todo = [record for file in spec.plans.files for record in file.records]
    todo += [item for file in spec.plans.files for kind, item in file.header if kind == "record"]
    while todo:
        record = todo.pop()
        if record.collection in _BOOKINGS:
            return True
        todo.extend(record.children)
    return False


# ---- committing --------------------------------------------------------------------------------


def commit(plan: ExportPlan) -> ExportResult:
    """Write the plan's files and record the export (toolkit.app.transaction: pending, fsynced
    files, rename, committed). The caller holds the locks from planning on, and has recovered
    (toolkit.app.recovery.writing). The edits are returned for the front end to apply."""
    if plan.status != "ready":
        raise ValueError(f"only a ready plan is committed, not a {plan.status} one")
    entry = plan.entry
    folder = transaction.commit(plan.root, plan.files, entry)
    earlier = plan.again_of
    if earlier:
        same = entry["files"] == earlier["files"]
        message = (f"Re-created export {earlier['id']} in {folder}: "
                   + ("identical to the original, byte for byte." if same else "the files DIFFER from the original (the workbook changed since)."))
    else:
        message = (f"Exported {len(plan.documents)} document(s) to {folder}: {_files(entry['files'])}."
                   + _not_written(plan.skipped) + _exported_before(plan))
    return ExportResult("written", message, plan.findings, folder, entry, plan.edits, plan.workbook)


def run_export(request: ExportRequest, progress: Progress = _quiet) -> ExportResult:
    """Plan and commit in one call (the workbook edits are left to the caller)."""
    if request.again:
        plan = plan_again(request.workbook, request.again, request.out_dir, request.read_from, progress, to_commit=True)
    else:
        plan = plan_export(request, progress, to_commit=True)
    if plan.status != "ready":
        return ExportResult(plan.status, plan.message, plan.findings, workbook=plan.workbook)
    progress("Writing files")
    return commit(plan)


# ---- steps -------------------------------------------------------------------------------------


def _within(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or start <= day) and (end is None or day <= end)


def _period(start, end) -> str:
    if start is None and end is None:
        return "all dates"
    return f"{start:%d/%m/%Y} to {end:%d/%m/%Y}" if start and end else f"from {start}" if start else f"until {end}"


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _with_number(customer: Customer, number: str | None) -> Customer:
    if not number:
        return customer
    return replace(customer, accounting_number=number, number_source="generated")


def _blocking(findings: list[Finding], wb: Workbook, selected: list[Invoice]) -> list[Finding]:
    """Errors block, except those on invoices (and their lines) that this export does not carry."""
    errors = [f for f in findings if f.is_error]
    if not errors:  # the usual export: no need to find the rows it leaves out
        return errors
    chosen = {id(i) for i in selected}
    outside = set()
    for invoice in wb.invoices:
        if id(invoice) not in chosen:
            outside.add((layout.INVOICES.name, invoice.where.row))
            outside.update((layout.INVOICE_LINES.name, line.where.row) for line in invoice.lines)
    return [f for f in errors if (f.sheet, f.row) not in outside]


def _sequenced(documents: list[Document]) -> list[Document]:
    """Number the documents 1.. per journal, in date order (FEC wants continuous numbering)."""
    counters: dict[str, int] = {}
    for document in documents:
        counters[document.journal] = counters.get(document.journal, 0) + 1
        document.sequence = counters[document.journal]
    return documents


def _accounts_used(wb: Workbook, used: set[str]):
    names = {a.account: a for a in wb.accounts}
    return tuple(names.get(a) or LedgerAccount(a, "", "other") for a in sorted(used))


def _jsonable(params: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v) if not isinstance(v, (int, bool, type(None))) else v)
            for k, v in params.items()}


def _edits(wb: Workbook, documents: list[Document], generated: dict[str, str], entry: dict) -> Edits:
    edits = Edits()
    column = STREAM_COLUMNS[entry["stream"]]
    edits.set_rows(layout.INVOICES.name, [document.invoice.where.row for document in documents], column, entry["id"])
    number_edits(edits, wb, generated)
    edits.append_rows(layout.EXPORT_LOG.name, [export_log_row(entry)])
    return edits


def export_log_row(entry: dict) -> list:
    values = {
        "export_id": entry["id"],
        "created_at": dt.datetime.fromisoformat(entry["created_at"]).replace(tzinfo=None),  # a real date-time cell
        "package": entry["package"],
        "period": f"{entry['period_from']} to {entry['period_to']}",
        "documents": len(entry["documents"]),
        "customers": entry["customers"],
        "files": ", ".join(entry["files"]),
        "sha256": ", ".join(entry["files"].values()),
    }
    return [values[key] for key in layout.EXPORT_LOG.keys]
