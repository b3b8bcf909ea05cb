"""Render a package spec over a Batch: the accounting output -> the bytes of the package's files.

The spec's plans were compiled once at load (`compile.py`); here each file gets a `FileRun` that
binds its plans to this batch (parameters and batch-level values become constants) and a writer
(`lines.py` for delimited, tagged and fixed-width files, `xml.py` for XML) that runs the cells per
line. Nothing here computes money: values are chosen, formatted and checked.

Warnings (`text.truncated`, ...) go into `Rendered.warnings`; errors (`text.too_long`,
`text.unrepresentable`, ...) all together into one `RenderError`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from operator import itemgetter

from toolkit.errors import UserError
from toolkit.model import Batch, Finding
import toolkit.spec.text as text
from toolkit.spec.cells import Ctx, FileRun
from toolkit.spec.lines import write_lines
from toolkit.spec.load import Spec
from toolkit.spec.plans import FilePlan
from toolkit.spec.sink import Codec, Sink
from toolkit.spec.spool import Spooled, Spools
from toolkit.spec.wellformed import IN_PROCESS, Many
import toolkit.spec.xml as xml
from toolkit.spec.xml import write_xml


WAITING_BYTES = 1 << 20  # small XML files kept and checked together (`_Files.wait`): some 130 e-invoices


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
    out = _Files(spec)
    for plan in spec.plans.files:
        if plan.per_document and plan.layout.kind == "xml":
            _xml_documents(spec, batch, params, plan, findings, out)
            continue
        for run in _runs(spec, batch, params, plan, findings):
            for name, content in _file(run, out):
                out.add(run, name, content)
    out.spools.finish()  # the files spooled together are written and hashed
    for position, problem in sorted(out.small.problems().items()):
        run, name = out.checked_file(position)
        run.file_name = name
        _malformed(run, problem)
    errors = [f for f in _unique(findings) if f.is_error]
    if errors:
        raise RenderError(errors)
    return Rendered(out.files, [f for f in _unique(findings) if not f.is_error])


class _Files:
    """The render's files as they come: their names (two the same are an error), their bytes
    (where they wait: `spools`) and their XML check (`small`: the small files', whose verdicts
    come at the end)."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.files: list[tuple[str, bytes | Spooled]] = []
        self.names: set[str] = set()
        self.spools = Spools()  # where the files' bytes wait (spool.py)
        self.small = Many()  # the small XML files' well-formedness, known at the end (wellformed.py)
        self.checked: dict[int, tuple[FileRun, str]] = {}  # their position there -> (run, file name)
        # ... and of the files checked together (`flush`), by runs of positions: (first position, first
        # file's place in `files`, run); no entry per file for 70,000 e-invoices
        self.checked_together: list[tuple[int, int, FileRun]] = []
        self.waiting: list[bytes] = []  # files' bytes waiting to be kept and checked: see `wait`
        self.waiting_at, self.waiting_run, self.waiting_bytes = 0, None, 0  # the first one's place in `files` ...

    def add(self, run: FileRun, name: str, content: bytes | Spooled) -> None:
        self.flush()  # (a file's bytes are kept and checked as it is made: flush before that, too)
        self.claim(run, name)
        self.files.append((name, content))

    def claim(self, run: FileRun, name: str) -> None:
        if name.casefold() in self.names:
            run.error("file.name", None, run.ctx, f"{self.spec.name}: two files would be named {name!r}")
        self.names.add(name.casefold())

    def wait(self, run: FileRun, name: str, data: bytes) -> None:
        """A small XML file (a whole per-document file), its name reported now as `add` does; its
        bytes are kept and checked with the others waiting (`flush`), WAITING_BYTES at a time: a
        spool write and a piece for the check's child per hundred files, not per file, and only a
        few such pieces in memory (queued for the spool's thread and the child)."""
        if self.waiting and run is not self.waiting_run:
            self.flush()
        self.claim(run, name)
        self.files.append((name, None))
        if not self.waiting:
            self.waiting_at, self.waiting_run = len(self.files) - 1, run
        self.waiting.append(data)
        self.waiting_bytes += len(data)
        if self.waiting_bytes >= WAITING_BYTES:
            self.flush()

    def flush(self) -> None:
        """The waiting files, kept and sent to their XML check together, in their order (they
        follow each other in `files`: a file added otherwise flushes them first)."""
        if not self.waiting:
            return
        contents = self.spools.keep(self.waiting)
        first = self.small.add_many(contents, self.waiting)
        files, at = self.files, self.waiting_at
        for n, content in enumerate(contents, at):
            files[n] = (files[n][0], content)
        self.checked_together.append((first, at, self.waiting_run))
        self.waiting.clear()
        self.waiting_run, self.waiting_bytes = None, 0

    def checked_file(self, position: int) -> tuple[FileRun, str]:
        """The run and name of the file at this position in the XML check (`small`)."""
        if position in self.checked:
            return self.checked[position]
        first, at, run = self.checked_together[bisect.bisect_right(self.checked_together, position, key=itemgetter(0)) - 1]
        return run, self.files[at + position - first][0]


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
        _scope(run, document)
        yield run
    run.release()


def _scope(run: FileRun, document) -> None:
    """The run's scope set on one document of a per_document file."""
    if run.spec.stream == "einvoice" and document.einvoice is None:
        raise ValueError(f"{document.number}: an e-invoice package renders documents prepared by toolkit.peppol.einvoice")
    run.ctx = Ctx(run.batch, run.params)
    run.ctx.document, run.ctx.customer = document, document.customer


def _xml_documents(spec: Spec, batch: Batch, params: dict, plan: FilePlan, findings: list[Finding], out: _Files) -> None:
    """A per_document XML file's files, a chunk of documents at a time: a document's text by
    columns (xml.PerDocument), encoded, then kept and checked with the chunk's others (`_Files.wait`);
    a document it does not give (a finding to report, a text its encoding cannot write, a big
    file) is walked and written as `_runs` and `_file` do, after the ones before it (their order
    in the temporary file and in the XML check is the documents'). Findings come in the
    documents' order, as they would document by document."""
    run = FileRun(spec, batch, params, plan, findings)
    eol = "" if plan.layout.indent == "" else plan.eol
    documents = xml.PerDocument(run, eol)
    codec = Codec(plan.encoding)
    try:
        for docs in documents.chunks(batch.documents):
            for position, document in enumerate(docs):
                _scope(run, document)
                text = documents.text(position)
                data = codec.whole(text) if text is not None else None
                if data is None or len(data) > IN_PROCESS:  # a big one is checked on its own (wellformed.Checker)
                    out.flush()
                    for name, content in _file(run, out):
                        out.add(run, name, content)
                elif plan.when is None or plan.when(run.ctx):
                    run.file_name = _name(run, plan.name_parts, plan.name)
                    out.wait(run, run.file_name, data)
        out.flush()
    finally:
        documents.close()
        run.release()


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


def _file(run: FileRun, out: _Files) -> list[tuple[str, bytes | Spooled]]:
    """The file's (name, bytes), or its parts when it has more records than `max_records`; none
    when its condition does not hold or it is empty and may be omitted."""
    plan = run.plan
    if plan.when is not None and not plan.when(run.ctx):
        return []
    name = run.file_name = _name(run, plan.name_parts, plan.name)
    eol = "" if plan.layout.kind == "xml" and plan.layout.indent == "" else plan.eol
    sink = Sink(eol, plan.encoding, plan.max_records, xml=plan.layout.kind == "xml", spools=out.spools,
                trailing_newline=plan.trailing_newline)
    count = write_xml(run, sink) if plan.layout.kind == "xml" else write_lines(run, sink)
    parts = sink.close()
    if count == 0 and plan.omit_when_empty:
        return []
    if len(parts) == 1:  # the usual case: one file, named as always
        return [(name, _content(run, parts[0], out))]
    files = []
    for number, part in enumerate(parts, 1):
        run.file_name = _name(run, plan.part_name_parts, plan.name, number)
        files.append((run.file_name, _content(run, part, out)))
    return files


def _content(run: FileRun, part, out: _Files) -> bytes | Spooled:
    plan = run.plan
    if part.failure is not None:  # a value that escaped the per-field checks: still no bad file
        exc = part.failure
        if not any(f.is_error for f in run.findings):
            run.error("text.unrepresentable", None, None, f"holds {exc.object[exc.start:exc.end]!r}, which {plan.encoding} cannot encode")
        return b""
    data = part.data()
    if plan.layout.kind == "xml":  # never an export with a broken file
        if not part.checker.big:  # `render` reports it with the other small files'
            out.checked[out.small.add(data, part.checker.kept)] = (run, run.file_name)
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
            if date_pattern is None:  # the workbook's text (a number): what a name cannot hold becomes _
                out.append(text.name_part(text.plain(value)))
                continue
        else:
            value = getattr(run.batch, key)
        out.append(text.date_formatter(date_pattern)(value) if date_pattern is not None else text.plain(value))
    name = "".join(out)
    problem = text.unsafe_name(name)
    if problem:
        # named by its pattern (not the file made before it), and on its document's row when it has one
        run.file_name = pattern
        run.error("file.name", None, run.ctx if run.ctx.document is not None else None,
                  f"cannot be written: the file name {problem}")
        return pattern
    return name
