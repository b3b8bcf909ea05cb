"""The well-formedness check of XML files: in the process for a small file, in a child process
fed as the file is written for a big one; the same verdict either way."""

import io

import pytest

from toolkit import spec as specs
from toolkit.spec import wellformed
from toolkit.spec.wellformed import Checker, problem

GOOD = b'<?xml version="1.0" encoding="UTF-8"?>\r\n<Root>\r\n' + b"".join(
    b'  <Line number="%d"><Text>caf\xc3\xa9 &amp; co</Text></Line>\r\n' % n for n in range(2000)) + b"</Root>\r\n"
BAD = GOOD.replace(b'<Line number="1500"><Text>caf\xc3\xa9', b'<Line number="1500"><Text>a < b')


def fed(data: bytes, piece: int = 997) -> Checker:
    """A checker given `data` as a writer gives it: a piece at a time into a BytesIO."""
    checker, buffer = Checker(), io.BytesIO()
    for at in range(0, len(data), piece):
        buffer.write(data[at:at + piece])
        checker.written(buffer, data[at:at + piece])
    return checker


def test_problem_says_where():
    assert problem([GOOD]) == ""
    assert problem([BAD]).startswith("line 1503, column ") and "not well-formed" in problem([BAD])
    assert problem([b"<a>", b"</a>"]) == "" and "no element found" in problem([b"<a>"])


@pytest.mark.parametrize("data", [GOOD, BAD, GOOD[:-20], b"\xff\xfe<a/>" * 2000], ids=["good", "unescaped", "cut", "garbage"])
def test_a_child_gives_the_verdict_of_the_process(data, monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", 5000)
    checker = fed(data)
    assert checker.child is not None  # the file passed IN_PROCESS: a child parses it
    assert checker.verdict(data) == problem([data])
    assert checker.child is None


def test_a_small_file_is_parsed_in_the_process():
    checker = fed(BAD)
    assert checker.child is None
    assert checker.verdict(BAD) == problem([BAD]) != ""


def test_without_an_interpreter_the_process_decides(monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", 5000)
    monkeypatch.setattr(wellformed.sys, "executable", "/no/such/python")
    starts = []
    start = wellformed._start
    monkeypatch.setattr(wellformed, "_start", lambda *options: starts.append(options) or start(*options))
    checker = fed(BAD)
    assert checker.child is None and len(starts) == 1  # tried once, not once per piece after
    assert checker.verdict(BAD) == problem([BAD]) != ""


@pytest.mark.parametrize("executable", ["C:/Program Files/Microsoft Office/EXCEL.EXE", ""])
def test_a_program_embedding_python_is_never_started(executable, monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", 5000)
    monkeypatch.setattr(wellformed.sys, "executable", executable)
    started = []
    monkeypatch.setattr(wellformed.subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    checker = fed(BAD)
    assert started == [] and checker.child is None
    assert checker.verdict(BAD) == problem([BAD]) != ""


def test_a_child_that_dies_leaves_the_verdict_to_the_process(monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", 5000)
    checker = fed(BAD[:len(BAD) // 2])
    checker.child.kill()
    checker.child.wait()
    rest = BAD[len(BAD) // 2:]
    buffer = io.BytesIO(BAD)
    checker.written(buffer, rest)  # the pipe is broken now: no exception
    assert checker.verdict(BAD) == problem([BAD]) != ""


def test_an_abandoned_check_stops_its_child(monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", 5000)
    checker = fed(GOOD[:20000])
    child = checker.child
    checker.abandon()
    assert child.poll() is not None and checker.child is None


def test_a_big_rendered_file_with_a_writer_bug_is_refused(tmp_path, monkeypatch):
    """What test_hostile_content checks for a small file, through the child."""
    from tests.test_hostile_content import XML_FILE, batch, invoice_doc, spec_of
    from toolkit.spec import text

    monkeypatch.setattr(wellformed, "IN_PROCESS", 64)
    docs = [invoice_doc(description="plain")] * 30 + [invoice_doc(description="a < b")]
    good = specs.render(spec_of(tmp_path, XML_FILE), batch(docs[:30]))
    assert good.files and b"plain" in good.files[0][1]
    monkeypatch.setattr(text, "xml_text", lambda s: s)  # a writer bug: text no longer escaped
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, XML_FILE), batch(docs))
    [finding] = caught.value.findings
    assert finding.code == "xml.malformed" and "out.xml" in finding.message and "not well-formed" in finding.message


# ---- many small files (an e-invoice per document) -----------------------------------------------

SMALL = [GOOD[:30_000] + b"</Root>", BAD, b"<a>\xc3\xa9</a>", b"<a>", GOOD]


@pytest.mark.parametrize("threshold", [10 ** 9, 40_000, 0], ids=["all-here", "some-here", "all-in-child"])
def test_many_small_files_get_the_verdicts_of_the_process(threshold, monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", threshold)
    many = wellformed.Many()
    positions = [many.add(data) for data in SMALL]
    assert positions == list(range(len(SMALL)))
    assert (many.child is not None) == (threshold < 10 ** 9)
    expected = {n: problem([data]) for n, data in enumerate(SMALL) if problem([data])}
    assert set(expected) == {0, 1, 3}  # cut inside an element, unescaped "<", no end tag
    assert many.problems() == expected


def test_many_whose_child_dies_are_parsed_here(monkeypatch):
    monkeypatch.setattr(wellformed, "IN_PROCESS", 0)
    many = wellformed.Many()
    many.add(SMALL[0])
    many.child.kill()
    many.child.wait()
    for data in SMALL[1:]:
        many.add(data)  # the pipe is broken now: no exception
    assert many.problems() == {n: problem([data]) for n, data in enumerate(SMALL) if problem([data])}


def test_a_broken_e_invoice_among_many_is_named(tmp_path, monkeypatch):
    """Per-document XML files past IN_PROCESS together go to one child; a file a writer bug broke
    is an error naming that file, reported after the render like the others."""
    from tests.test_hostile_content import batch, invoice_doc, spec_of
    from toolkit.spec import text

    monkeypatch.setattr(wellformed, "IN_PROCESS", 200)
    per_document = {"name": "{document.number}.xml", "per_document": True, "encoding": "utf-8", "line_ending": "lf",
                    "trailing_newline": True, "layout": {"kind": "xml", "root": "Doc"},
                    "records": [{"element": "Text", "fields": [{"name": "Value", "source": "document.description"}]}]}
    docs = [invoice_doc(number=f"F{n:03d}", description="a < b" if n in (7, 12) else "plain") for n in range(20)]
    monkeypatch.setattr(text, "xml_text", lambda s: s)  # a writer bug: text no longer escaped
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, per_document), batch(docs))
    findings = caught.value.findings
    assert [f.code for f in findings] == ["xml.malformed"] * 2
    assert "F007.xml" in findings[0].message and "F012.xml" in findings[1].message


def test_many_checks_the_pieces_the_writer_kept_without_reading_the_file_back(monkeypatch):
    from toolkit.spec import spool

    monkeypatch.setattr(wellformed, "IN_PROCESS", 0)
    monkeypatch.setattr(spool, "pieces", lambda data: pytest.fail("read back from the temporary file"))
    many = wellformed.Many()
    for data in SMALL:
        many.add(spool.Spooled(None, 0, len(data)), [data[:100], data[100:]])
    assert many.problems() == {n: problem([data]) for n, data in enumerate(SMALL) if problem([data])}


def test_the_writer_goes_on_while_the_child_parses(monkeypatch):
    """The child is fed from a thread: handing it megabytes does not wait for it to read them (a
    pipe holds 64 KB; the render used to wait at each chunk for the child to parse it)."""
    import time
    monkeypatch.setattr(wellformed, "IN_PROCESS", 5000)
    sleepy = [wellformed.sys.executable, "-c", "import sys, time; time.sleep(3); sys.stdin.buffer.read()"]
    monkeypatch.setattr(wellformed, "_start", lambda *options: wellformed.subprocess.Popen(
        sleepy, stdin=wellformed.subprocess.PIPE, stdout=wellformed.subprocess.PIPE))
    checker, buffer = Checker(), io.BytesIO()
    started = time.monotonic()
    for piece in (GOOD[:6000], b"<!-- x -->" * 200_000):  # the child starts, then 2 MB
        buffer.write(piece)
        checker.written(buffer, piece)
    assert time.monotonic() - started < 2
    checker.abandon()
