"""An export, from workbook file to committed files: select, check, number, account, render, commit.

Nothing is written while errors remain. Files go into a hidden folder that is renamed into place
only when every file is on disk, and the export counts as done only once its register line is
written; a failure on the way removes what was written. What the workbook should learn (Exported
in, generated customer numbers, an Export log row) comes back as `Edits`, applied by the
caller: to the file by the CLI, through xlwings by the Excel buttons.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from toolkit.errors import UserError
from toolkit import checks, layout
from toolkit.spec import render, specs
from toolkit.accounting import Unbalanced, build_document
from toolkit.customers import numbers
from toolkit.model import Batch, Customer, Document, Finding, Invoice, LedgerAccount, Settings, Workbook, error
from toolkit.book.read import read_workbook
from toolkit.app.register import Register, exported_documents, given_numbers
from toolkit.vatrules import RuleBook
from toolkit.book.writeback import Edits

Progress = Callable[[str], None]


class ExportFailed(UserError):
    """Writing failed after the checks passed; nothing of the export was kept."""


@dataclass
class ExportRequest:
    workbook: Path
    package: str | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    out_dir: Path | None = None
    include_exported: bool = False
    again: str | None = None  # re-create this earlier export, byte for byte
    read_from: Path | None = None  # a saved copy of `workbook` to read (Excel's unsaved edits)


@dataclass
class ExportResult:
    status: str  # written | blocked | nothing
    message: str
    findings: list[Finding] = field(default_factory=list)
    folder: Path | None = None
    entry: dict | None = None
    edits: Edits = field(default_factory=Edits)
    workbook: Workbook | None = None


def output_root(settings: Settings, book: Path, out_dir: Path | None = None) -> Path:
    """--out, else the Settings' output folder (relative to the workbook), else '<name>-exports'
    beside the workbook. `book` is the workbook's own path (not the copy Excel saved to read)."""
    book = Path(book).resolve()
    if out_dir:
        return Path(out_dir)
    if settings.output_folder:
        return book.parent / settings.output_folder
    return book.parent / f"{book.stem}-exports"


def company_key(wb: Workbook) -> str:
    return wb.settings.company_vat or wb.settings.company_name


def now() -> dt.datetime:
    """The export time; SOURCE_DATE_EPOCH pins it for reproducible builds and golden tests."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).replace(tzinfo=None)
    return dt.datetime.now().replace(microsecond=0)


def run_export(request: ExportRequest, progress: Progress = lambda stage: None) -> ExportResult:
    progress("Reading the workbook")
    wb = read_workbook(request.read_from or request.workbook)
    settings = wb.settings
    spec = specs.load_spec(request.package or settings.package)
    root = output_root(settings, request.workbook, request.out_dir)
    register = Register(root)
    history = register.entries(company_key(wb))
    earlier = None
    if request.again:
        earlier = next((e for e in history if e["id"] == request.again), None)
        if earlier is None:
            known = ", ".join(e["id"] for e in history[-5:]) or "none yet"
            return ExportResult("blocked", f"No export {request.again} in {register.path} (latest: {known}).", workbook=wb)
        spec = specs.load_spec(earlier["package"])
    period_from = _date(earlier["period_from"]) if earlier else request.period_from or settings.period_from
    period_to = _date(earlier["period_to"]) if earlier else request.period_to or settings.period_to

    progress("Checking")
    findings = checks.check_workbook(wb)
    findings += checks.check_spec(wb, spec)
    # Again: the parameters the earlier export used (stored as text), typed by the spec again.
    params, param_findings = specs.resolve_params(spec, replace(settings, extra=earlier["parameters"]) if earlier else settings)
    findings += param_findings
    findings += specs.period_findings(spec, params, period_from, period_to, settings)  # e.g. one fiscal year per file

    exported = exported_documents(history)
    for invoice in wb.invoices:
        if invoice.exported_in:
            exported.setdefault(invoice.number, invoice.exported_in)
    if earlier:
        wanted = set(earlier["documents"])
        selected = [i for i in wb.invoices if i.number in wanted]
        missing = wanted - {i.number for i in selected}
        if missing:
            return ExportResult("blocked", f"Export {earlier['id']} carried documents no longer in the workbook: "
                                f"{', '.join(sorted(missing))}. It cannot be re-created.", findings, workbook=wb)
    else:
        in_period = [i for i in wb.invoices if i.date and i.number and _within(i.date, period_from, period_to)]
        selected = [i for i in in_period if request.include_exported or i.number not in exported]
        if not selected:
            detail = f"{len(in_period)} document(s) in it were exported before" if in_period else "it holds no documents"
            return ExportResult("nothing", f"Nothing new to export for {_period(period_from, period_to)}: {detail}.",
                                findings, workbook=wb)

    customers = {c.customer_id: c for c in wb.customers}
    chosen = {c: customers[c] for c in dict.fromkeys(i.customer_id for i in selected) if c in customers}
    findings += numbers.start_value_findings(settings.customer_number_start, settings.cell("customer_number_start"))
    findings += numbers.duplicate_number_findings(wb.customers)
    findings += numbers.invalid_number_findings(chosen.values(), spec.customer_numbers)
    generated, number_findings = _number_customers(wb, chosen, selected, history, spec)
    findings += number_findings

    blocking = _blocking(findings, wb, selected)
    if blocking:
        return ExportResult("blocked", f"{len(blocking)} error(s) block the export; nothing was written.", findings, workbook=wb)

    numbered = {cid: _with_number(c, generated.get(cid)) for cid, c in chosen.items()}
    rules = RuleBook(wb.vat_rules)
    vat_code = functools.cache(spec.vat_code)  # a handful of combinations, asked per VAT group
    documents = []
    step = max(len(selected) // 20, 1)
    try:
        for n, invoice in enumerate(sorted(selected, key=lambda i: (i.date, i.number))):
            if n % step == 0:
                progress(f"Accounting: {n:,} of {len(selected):,} documents")
            documents.append(build_document(invoice, numbered[invoice.customer_id], settings, rules, vat_code))
    except Unbalanced as exc:
        return ExportResult("blocked", "A document does not balance; nothing was written.", findings + [exc.finding], workbook=wb)
    documents = _sequenced(documents)

    created = dt.datetime.fromisoformat(earlier["created_at"]) if earlier else now()
    export_id = _free_id(f"{earlier['id']}-again" if earlier else f"{created:%Y%m%d-%H%M%S}-{spec.id}", history, root)
    batch = Batch(
        export_id=earlier["id"] if earlier else export_id,
        created_at=created,
        period_from=period_from or min(d.date for d in documents),
        period_to=period_to or max(d.date for d in documents),
        settings=settings,
        params=params,
        documents=tuple(documents),
        customers=tuple(numbered[c] for c in sorted(numbered)) if settings.export_customers else (),
        accounts=_accounts_used(wb, documents),
    )
    progress("Rendering files")
    try:
        rendered = render.render(spec, batch)
    except render.RenderError as exc:
        return ExportResult("blocked", "The package's format rejects some values; nothing was written.",
                            findings + list(exc.findings), workbook=wb)
    findings += rendered.warnings

    progress("Writing files")
    entry = {
        "id": export_id,
        "company": company_key(wb),
        "created_at": created.isoformat(),
        "package": spec.id,
        "period_from": batch.period_from.isoformat(),
        "period_to": batch.period_to.isoformat(),
        "parameters": _jsonable(params),
        "documents": [d.number for d in documents],
        "customers": len(batch.customers),
        "generated_numbers": generated,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in rendered.files},
        "workbook": str(Path(request.workbook).resolve()),
    }
    if earlier:
        entry["again_of"] = earlier["id"]
    folder = _commit(root, export_id, rendered.files, register, entry)
    if earlier:
        same = entry["files"] == earlier["files"]
        message = (f"Re-created export {earlier['id']} in {folder}: "
                   + ("identical to the original, byte for byte." if same else "the files DIFFER from the original (the workbook changed since)."))
    else:
        message = f"Exported {len(documents)} document(s) to {folder}: {', '.join(entry['files'])}."
    return ExportResult("written", message, findings, folder, entry, _edits(wb, documents, generated, entry), wb)


# ---- steps -------------------------------------------------------------------------------------


def _within(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or start <= day) and (end is None or day <= end)


def _period(start, end) -> str:
    if start is None and end is None:
        return "all dates"
    return f"{start:%d/%m/%Y} to {end:%d/%m/%Y}" if start and end else f"from {start}" if start else f"until {end}"


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _number_customers(wb, chosen: dict[str, Customer], invoices: list[Invoice], history, spec):
    """Numbers for `chosen` customers that have none: generated (in order of first invoice date,
    then id; a number an earlier export gave is given again), or an error on the customer's cell
    in manual mode."""
    missing = [c for c in chosen.values() if not c.accounting_number]
    if not missing:
        return {}, []
    if wb.settings.customer_numbering == "manage manually":
        return {}, [error("customer.number.missing", c.where, "accounting_number",
                          f"Customer {c.customer_id} is in this export but has no accounting customer number: "
                          f"type it, or set 'Customer numbers' to generate automatically.") for c in missing]
    earlier = given_numbers(history)
    generated = {c.customer_id: earlier[c.customer_id] for c in missing if c.customer_id in earlier}
    first_date: dict[str, dt.date] = {}
    for invoice in invoices:
        if invoice.date and (invoice.customer_id not in first_date or invoice.date < first_date[invoice.customer_id]):
            first_date[invoice.customer_id] = invoice.date
    needing = numbers.order_for_numbering([c for c in missing if c.customer_id not in generated], first_date)
    used = {c.accounting_number for c in wb.customers if c.accounting_number} | set(earlier.values())
    try:
        generated.update(numbers.assign_numbers(needing, used, wb.settings.customer_number_start, spec.customer_numbers))
    except numbers.NumberingError as exc:
        where = wb.settings.cell("customer_number_start")
        return {}, [error("customer.number.generate", where, "value", f"Cannot generate customer numbers: {exc}.")]
    return generated, []


def assign_customer_numbers(wb: Workbook, book: Path, out_dir: Path | None = None) -> tuple[Edits, str, list[Finding]]:
    """'Assign customer numbers': every customer without a number gets one now, as an export would
    give it (same order, same rules, numbers handed out by earlier exports kept)."""
    if wb.settings.customer_numbering == "manage manually":
        return Edits(), "Customer numbers are managed manually (see Settings): nothing was assigned.", []
    spec = specs.load_spec(wb.settings.package)
    history = Register(output_root(wb.settings, book, out_dir)).entries(company_key(wb))
    customers = {c.customer_id: c for c in wb.customers if c.customer_id}
    generated, findings = _number_customers(wb, customers, list(wb.invoices), history, spec)
    edits = Edits()
    for customer_id, number in generated.items():
        row = customers[customer_id].where.row
        edits.set(layout.CUSTOMERS.name, row, "accounting_number", number)
        edits.set(layout.CUSTOMERS.name, row, "number_source", "generated")
    if findings:
        return edits, f"No numbers assigned: {findings[0].message}", findings
    if not generated:
        return edits, "Every customer already has an accounting customer number.", []
    numbers_given = sorted(generated.values(), key=numbers.natural_key)
    return edits, f"{len(generated)} customer(s) got a number ({numbers_given[0]} to {numbers_given[-1]}).", []


def _with_number(customer: Customer, number: str | None) -> Customer:
    if not number:
        return customer
    return replace(customer, accounting_number=number, number_source="generated")


def _blocking(findings: list[Finding], wb: Workbook, selected: list[Invoice]) -> list[Finding]:
    """Errors block, except those on invoices (and their lines) outside this export."""
    outside = set()
    chosen = {i.number for i in selected}
    for invoice in wb.invoices:
        if invoice.number not in chosen:
            outside.add((layout.INVOICES.name, invoice.where.row))
            outside.update((layout.INVOICE_LINES.name, line.where.row) for line in invoice.lines)
    return [f for f in findings if f.is_error and (f.sheet, _row(f.cell)) not in outside]


def _row(cell: str) -> int:
    digits = cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return int(digits) if digits.isdigit() else 0


def _sequenced(documents: list[Document]) -> list[Document]:
    """Number the documents 1.. per journal, in date order (FEC wants continuous numbering)."""
    counters: dict[str, int] = {}
    for document in documents:
        counters[document.journal] = counters.get(document.journal, 0) + 1
        document.sequence = counters[document.journal]
    return documents


def _accounts_used(wb: Workbook, documents: list[Document]):
    names = {a.account: a for a in wb.accounts}
    used = sorted({p.account for d in documents for p in d.postings})
    return tuple(names.get(a) or LedgerAccount(a, "", "other") for a in used)


def _free_id(base: str, history: list[dict], root: Path) -> str:
    taken = {e["id"] for e in history} | ({p.name for p in root.iterdir()} if root.is_dir() else set())
    export_id, n = base, 1
    while export_id in taken:
        n += 1
        export_id = f"{base}-{n}"
    return export_id


def _jsonable(params: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v) if not isinstance(v, (int, bool, type(None))) else v)
            for k, v in params.items()}


def _commit(root: Path, export_id: str, files: list[tuple[str, bytes]], register: Register, entry: dict) -> Path:
    """Write every file into a hidden folder, rename it into place, then record the export."""
    folder = root / export_id
    staging = root / f".{export_id}.partial"
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name, data in files:
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.rename(staging, folder)
        register.append(entry)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
        raise ExportFailed(f"Writing the export to {root} failed ({exc}); nothing was kept.") from exc
    return folder


def _edits(wb: Workbook, documents: list[Document], generated: dict[str, str], entry: dict) -> Edits:
    edits = Edits()
    if entry.get("again_of"):
        return edits
    for document in documents:
        edits.set(layout.INVOICES.name, document.invoice.where.row, "exported_in", entry["id"])
    customers = {c.customer_id: c for c in wb.customers}
    for customer_id, number in generated.items():
        row = customers[customer_id].where.row
        edits.set(layout.CUSTOMERS.name, row, "accounting_number", number)
        edits.set(layout.CUSTOMERS.name, row, "number_source", "generated")
    edits.append_rows(layout.EXPORT_LOG.name, [export_log_row(entry)])
    return edits


def export_log_row(entry: dict) -> list:
    values = {
        "export_id": entry["id"],
        "created_at": entry["created_at"].replace("T", " "),
        "package": entry["package"],
        "period": f"{entry['period_from']} to {entry['period_to']}",
        "documents": len(entry["documents"]),
        "customers": entry["customers"],
        "files": ", ".join(entry["files"]),
        "sha256": ", ".join(entry["files"].values()),
    }
    return [values[key] for key in layout.EXPORT_LOG.keys]
