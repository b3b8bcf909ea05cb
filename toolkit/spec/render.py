"""Render a package spec over a Batch: the accounting output -> the bytes of the package's files.

The spec's plans were compiled once at load (`compile.py`); here each file gets a `FileRun` that
binds its plans to this batch (parameters and batch-level values become constants) and a writer
(`lines.py` for delimited, tagged and fixed-width files, `xml.py` for XML) that runs the cells per
line. Nothing here computes money: values are chosen, formatted and checked.

Warnings (`text.truncated`, ...) go into `Rendered.warnings`; errors (`text.too_long`,
`text.unrepresentable`, ...) all together into one `RenderError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.errors import UserError
from toolkit.model import Batch, Finding
import toolkit.spec.text as text
from toolkit.spec.cells import Ctx, FileRun
from toolkit.spec.lines import write_lines
from toolkit.spec.load import Spec
from toolkit.spec.plans import FilePlan
from toolkit.spec.sink import Sink
from toolkit.spec.spool import Spooled, Spools
from toolkit.spec.wellformed import Many
from toolkit.spec.xml import write_xml


@dataclass
class Rendered:
    files: list[tuple[str, bytes | Spooled]]  # a big file's bytes wait in a temporary file (spool.py)
    warnings: list[Finding]


class RenderError(UserError):
    def __init__(self, findings: list[Finding]):
        self.findings = findings
        lines = "\n".join(f"  {f.sheet}!{f.cell}: {f.message}" if f.sheet else f"  {f.message}" for f in findings)
        super().__init__(f"{len(findings)} problem(s) prevent the export:\n{lines}")


def render(spec: Spec, batch: Batch) -> Rendered:
    """Every file of the spec for this batch, or RenderError listing all the problems."""
    params = dict(batch.params)
    for p in spec.parameters:
        params.setdefault(p.name, None)
    findings: list[Finding] = []
    files = []
    names = set()
    spools = Spools()  # where the files' bytes wait (spool.py)
    small = Many()  # the small XML files' well-formedness, known at the end (wellformed.py)
    checked: dict[int, tuple[FileRun, str]] = {}  # their position there -> (run, file name)
    for plan in spec.plans.files:
        for run in _runs(spec, batch, params, plan, findings):
            for name, content in _file(run, spools, small, checked):
                if name.casefold() in names:
                    run.error("file.name", None, run.ctx, f"{spec.name}: two files would be named {name!r}")
                names.add(name.casefold())
                files.append((name, content))
    for position, problem in sorted(small.problems().items()):
        run, name = checked[position]
        run.file_name = name
        _malformed(run, problem)
    errors = [f for f in _unique(findings) if f.is_error]
    if errors:
        raise RenderError(errors)
    return Rendered(files, [f for f in _unique(findings) if not f.is_error])


def _runs(spec: Spec, batch: Batch, params: dict, plan: FilePlan, findings: list[Finding]):
    """One run of the file, or (per_document) one per document, its scope on that document. The
    documents' runs are one FileRun with a fresh scope each: the fields are bound (and their
    memories filled) once, not once per document."""
    run = FileRun(spec, batch, params, plan, findings)
    if not plan.per_document:
        yield run
        run.release()
        return
    for document in batch.documents:
        if spec.stream == "einvoice" and document.einvoice is None:
            raise ValueError(f"{document.number}: an e-invoice package renders documents prepared by toolkit.peppol.einvoice")
        run.ctx = Ctx(batch, params)
        run.ctx.document, run.ctx.customer = document, document.customer
        yield run
    run.release()


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


def _file(run: FileRun, spools: Spools, small: Many, checked: dict) -> list[tuple[str, bytes | Spooled]]:
    """The file's (name, bytes), or its parts when it has more records than `max_records`; none
    when its condition does not hold or it is empty and may be omitted."""
    plan = run.plan
    if plan.when is not None and not plan.when(run.ctx):
        return []
    name = run.file_name = _name(run, plan.name_parts, plan.name)
    eol = "" if plan.layout.kind == "xml" and plan.layout.indent == "" else plan.eol
    sink = Sink(eol, plan.encoding, plan.max_records, xml=plan.layout.kind == "xml", spools=spools,
                trailing_newline=plan.trailing_newline)
    count = write_xml(run, sink) if plan.layout.kind == "xml" else write_lines(run, sink)
    parts = sink.close()
    if count == 0 and plan.omit_when_empty:
        return []
    if len(parts) == 1:  # the usual case: one file, named as always
        return [(name, _content(run, parts[0], small, checked))]
    files = []
    for number, part in enumerate(parts, 1):
        run.file_name = _name(run, plan.part_name_parts, plan.name, number)
        files.append((run.file_name, _content(run, part, small, checked)))
    return files


def _content(run: FileRun, part, small: Many, checked: dict) -> bytes | Spooled:
    plan = run.plan
    if part.failure is not None:  # a value that escaped the per-field checks: still no bad file
        exc = part.failure
        if not any(f.is_error for f in run.findings):
            run.error("text.unrepresentable", None, None, f"holds {exc.object[exc.start:exc.end]!r}, which {plan.encoding} cannot encode")
        return b""
    data = part.data()
    if plan.layout.kind == "xml":  # never an export with a broken file
        if not part.checker.big:  # `render` reports it with the other small files'
            checked[small.add(data, part.checker.kept)] = (run, run.file_name)
        elif problem := part.xml_problem(data):
            _malformed(run, problem)
    return data


def _malformed(run: FileRun, problem: str) -> None:
    run.error("xml.malformed", None, None, f"is not well-formed XML ({problem}); nothing is written")


def _name(run: FileRun, parts: tuple, pattern: str, number: int = 0) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        key, date_pattern = part
        if key == "part":
            value = f"{number:03d}"
        elif key.startswith("param."):
            value = run.params.get(key[6:])
        elif key.startswith("document."):
            value = getattr(run.ctx.document, key[9:])
        else:
            value = getattr(run.batch, key)
        out.append(text.date_formatter(date_pattern)(value) if date_pattern is not None else text.plain(value))
    name = "".join(out)
    problem = text.unsafe_name(name)
    if problem:
        run.error("file.name", None, None, f"cannot be written: the file name {problem}")
        return pattern
    return name
