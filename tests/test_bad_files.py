"""Any file, read safely: every bad file of the corpus (tests/badfiles.py) ends in one line that
names the file and says what to do, with exit status 2, from `check` and `export`, never a
traceback or an abort; hostile files are refused before they cost memory; cells Excel users get
wrong (1E999999, NaN, a VAT rate of 0.21) are one finding each."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from toolkit import cli, layout, sample
from toolkit.book import limits, template
from toolkit.book.read import WorkbookError, read_workbook
from toolkit.book.survey import survey

import badfiles
from external import need

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> bytes:
    settings, tables = sample.demo()
    path = tmp_path_factory.mktemp("demo") / "demo.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    return path.read_bytes()


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text and "panicked" not in text
    return lines[0]


@pytest.mark.parametrize("case", badfiles.REFUSED, ids=lambda c: c.name)
def test_every_bad_file_is_one_line_and_exit_2(case, demo, tmp_path, monkeypatch, capsys):
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    path = case.make(demo, tmp_path)
    out = tmp_path / "exports"
    commands = [["check", str(path)], ["export", str(path), "--out", str(out)]]
    if case.kind == "folder":
        commands = commands[:1]  # `export FOLDER` exports the workbooks in it (tests/test_batch.py)
    for command in commands:
        assert cli.main(command) == 2, command
        captured = capsys.readouterr()
        line = _one_line(captured.err)
        assert line.startswith(f"ledger-export: {path}"), line  # names the file
        assert case.says in line, line
        assert captured.out == ""
    assert not out.exists()  # nothing was written for a file that cannot be read


def test_the_corpus_is_large_and_distinct():
    names = [c.name for c in badfiles.REFUSED + badfiles.FINDINGS]
    assert len(badfiles.REFUSED) >= 40 and len(set(names)) == len(names)


SUBPROCESS = ["cell_at_xfd1048576", "cell_far_without_reference", "zip_bomb_lying_sizes", "malformed_sheet_cut",
              "bad_crc", "encrypted"]


@pytest.mark.parametrize("name", SUBPROCESS)
def test_no_traceback_and_no_abort_in_a_real_process(name, demo, tmp_path):
    """A fresh interpreter under a 2 GB address-space cap: an abort (calamine's 512 GB request), a
    panic or a traceback would show here, and a zip bomb inflated whole would not fit."""
    case = next(c for c in badfiles.REFUSED if c.name == name)
    path = case.make(demo, tmp_path)

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    for command in ("check", "export"):
        done = subprocess.run([sys.executable, "-m", "toolkit", command, str(path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, preexec_fn=cap_memory, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 2, done.stderr
        assert case.says in _one_line(done.stderr)


@pytest.mark.parametrize("case", badfiles.FINDINGS, ids=lambda c: c.name)
def test_bad_cells_are_one_finding_each(case, demo, tmp_path, capsys):
    path = tmp_path / f"{case.name}.xlsx"
    path.write_bytes(case.build(demo))
    assert cli.main(["check", str(path), "--json"]) == (1 if case.severity == "error" else 0)
    import json

    findings = json.loads(capsys.readouterr().out)
    sheet, cell = case.cell.split("!")
    here = [f for f in findings if (f["sheet"], f["cell"]) == (sheet, cell)]
    assert [(f["code"], f["severity"]) for f in here] == [(case.code, case.severity)]
    out = tmp_path / "exports"
    code = cli.main(["export", str(path), "--out", str(out), "--no-write-back"])
    assert code == (1 if case.severity == "error" else 0)
    assert "Traceback" not in capsys.readouterr().err


def test_vat_rate_typed_21_percent_is_21(demo, tmp_path):
    """`21%` typed in Excel is 0.21 with a percent format: read as 21, no finding at all."""
    path = tmp_path / "pct.xlsx"
    path.write_bytes(_with_percent_format(demo, {"G2": b"0.21", "F2": b"0.1"}))
    wb = read_workbook(path)
    line = wb.lines[0]
    assert (str(line.vat_rate), str(line.discount_pct)) == ("21", "10")
    assert wb.findings == ()


# ---- Excel's percent formats -----------------------------------------------------------------


def _with_percent_format(demo: bytes, cells: dict[str, bytes], fmt: bytes | None = None, part_name: str = badfiles.LINES) -> bytes:
    """The demo with the given Invoice lines cells holding raw values in a percent-formatted style
    (a new cellXfs entry: the built-in 0% (id 9), or a custom format code)."""
    def styles(part: bytes) -> bytes:
        start = part.index(b"<cellXfs")
        count = part[start:part.index(b">", start)].split(b'count="')[1].split(b'"')[0]
        self_index = int(count)
        fmt_id = b"9"
        if fmt is not None:
            fmt_id = b"190"
            numfmt = b'<numFmt numFmtId="190" formatCode="' + fmt + b'"/>'
            if b"<numFmts" in part:
                part = part.replace(b"</numFmts>", numfmt + b"</numFmts>", 1)
            else:
                part = part.replace(b"<fonts", b'<numFmts count="1">' + numfmt + b"</numFmts><fonts", 1)
        part = part.replace(b'<cellXfs count="' + count + b'"', b'<cellXfs count="' + str(self_index + 1).encode() + b'"', 1)
        part = part.replace(b"</cellXfs>", b'<xf numFmtId="' + fmt_id + b'" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/></cellXfs>', 1)
        _with_percent_format.style = str(self_index).encode()
        return part

    data = badfiles.rezip(demo, badfiles.edit("xl/styles.xml", styles))

    def sheet(part: bytes) -> bytes:
        for ref, value in cells.items():
            if f'<c r="{ref}"'.encode() not in part:  # no such cell yet: one at the start of its row
                row = part.index(f'<row r="{ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"'.encode())
                opened = part.index(b">", row) + 1
                part = part[:opened] + f'<c r="{ref}"></c>'.encode() + part[opened:]
            start = part.index(f'<c r="{ref}"'.encode())
            end = part.index(b"</c>", start) + 4
            part = part[:start] + f'<c r="{ref}" s="'.encode() + _with_percent_format.style + b'" t="n"><v>' + value + b"</v></c>" + part[end:]
        return part

    return badfiles.rezip(data, badfiles.edit(part_name, sheet))


def test_percent_formats_read_as_percents(demo, tmp_path):
    path = tmp_path / "pct.xlsx"
    path.write_bytes(_with_percent_format(demo, {"F2": b"0.1", "G2": b"0.06", "F3": b"0.055"}, fmt=b"0.0%"))
    wb = read_workbook(path)
    first, second = wb.lines[0], wb.lines[1]
    assert (first.discount_pct, first.vat_rate, second.discount_pct) == (10, 6, pytest.approx(5.5))
    assert str(second.discount_pct) == "5.5"  # through the float's repr, not float arithmetic


def test_invoice_discount_and_vat_rule_rates_typed_as_percents(demo, tmp_path):
    """`2%` in Invoice discount % and `21%` in the VAT rules' rate: 2 and 21."""
    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(demo)
    parts = {name: facts.part for name, facts in survey(plain).sheets.items()}
    letter = layout.column_letter(layout.INVOICES.keys.index("discount_pct"))
    data = _with_percent_format(demo, {f"{letter}2": b"0.02"}, part_name=parts["Invoices"])
    rate = layout.column_letter(layout.VAT_RULES.keys.index("rate"))
    data = _with_percent_format(data, {f"{rate}2": b"0.21"}, part_name=parts["VAT rules"])
    path = tmp_path / "pct.xlsx"
    path.write_bytes(data)
    wb = read_workbook(path)
    assert wb.invoices[0].discount_pct == 2 and wb.vat_rules[0].rate == 21
    assert read_workbook(plain).vat_rules[0].rate == 21  # what the demo has typed there


def test_a_percent_sign_in_quotes_is_not_a_percent_format(demo, tmp_path):
    """A format showing the number followed by a literal "%" (the user typed 10 meaning 10 %)."""
    path = tmp_path / "literal.xlsx"
    path.write_bytes(_with_percent_format(demo, {"F2": b"10"}, fmt=b'0.0&quot; %&quot;'))
    assert read_workbook(path).lines[0].discount_pct == 10


@pytest.mark.parametrize("code, percent", [
    ("0%", True), ("0.00%", True), ("#,##0.0%;[Red]-#,##0.0%", True), ('0.0" %"', False), ("0.0\\%", False),
    ("[$%-409]0.00", False), ("General", False), ('"Rate: "0%', True),
])
def test_percent_format_codes(code, percent):
    from toolkit.book.survey import is_percent_format

    assert is_percent_format(code) is percent


def test_discount_below_one_without_percent_format_stays(demo, tmp_path):
    """0.1 in a discount column without a percent format is 0.1 % (a valid discount): no finding."""
    path = tmp_path / "small.xlsx"
    path.write_bytes(badfiles.rezip(demo, badfiles.cell("F2", b"<v>0.1</v>")))
    wb = read_workbook(path)
    assert str(wb.lines[0].discount_pct) == "0.1" and wb.findings == ()


def test_vat_rate_fraction_is_one_finding_even_with_the_package_check(demo, tmp_path):
    """0.21 in VAT rate % (no percent format) once gave two errors, one about a VAT code for
    '0.21 % domestic on a invoice'; now the cell has one: the mistake itself."""
    from toolkit.app.check import check

    path = tmp_path / "frac.xlsx"
    path.write_bytes(badfiles.rezip(demo, badfiles.cell("G2", b"<v>0.21</v>")))
    for package in ("winbooks", "datev", "exact-globe", "csv-journal"):
        on_cell = [f for f in check(path, package) if (f.sheet, f.cell) == ("Invoice lines", "G2")]
        assert [f.code for f in on_cell] == ["line.vat_rate.fraction"], package
        assert "21%" in on_cell[0].message


def test_one_per_cell_keeps_distinct_cells_and_warnings_before_errors():
    from toolkit.checks import one_per_cell
    from toolkit.model import Finding

    findings = [Finding("a", "warning", "S", "A1", ""), Finding("b", "error", "S", "A1", ""),
                Finding("c", "error", "S", "A1", ""), Finding("d", "warning", "S", "A1", ""),
                Finding("e", "error", "S", "A2", ""), Finding("f", "error", "S", "", ""), Finding("g", "error", "S", "", "")]
    assert [f.code for f in one_per_cell(findings)] == ["a", "b", "e", "f", "g"]


# ---- control characters ------------------------------------------------------------------------


def test_control_characters_are_removed_and_named(demo, tmp_path):
    path = tmp_path / "ctl.xlsx"
    text = "Grafisch\x07 ontwerp\x1b\x85\x7f\tnu"
    data = badfiles.rezip(demo, badfiles.cell("C2", b"<is><t>" + text.encode() + b"</t></is>"))
    data = badfiles.rezip(data, badfiles.replace_in(badfiles.SETTINGS, b"Atelier", b"Atelier\x0b"))
    path.write_bytes(data)
    wb = read_workbook(path)
    assert wb.lines[0].description == "Grafisch ontwerp nu"
    assert "\x0b" not in wb.settings.company_name and wb.settings.company_name.startswith("Atelier")
    found = {(f.sheet, f.cell): f for f in wb.findings}
    assert set(found) == {("Invoice lines", "C2"), ("Settings", "B2")}
    message = found[("Invoice lines", "C2")].message
    assert all(code in message for code in ("U+0007", "U+001B", "U+0085", "U+007F")) and "U+0009" not in message
    assert {f.code for f in wb.findings} == {"cell.control_characters"}


def test_control_characters_as_excel_escapes_them(demo, tmp_path):
    """Excel writes a control character in XML as _x0007_; calamine decodes it, the reader removes it."""
    path = tmp_path / "escaped.xlsx"
    path.write_bytes(badfiles.rezip(demo, badfiles.cell("C2", b"<is><t>Graf_x0007_isch</t></is>")))
    wb = read_workbook(path)
    assert wb.lines[0].description == "Grafisch"
    assert [(f.code, f.cell) for f in wb.findings] == [("cell.control_characters", "C2")]


def test_invisible_marks_pasted_into_a_key_or_a_text_are_removed_and_named(demo, tmp_path):
    """A right-to-left mark before an invoice number made its lines 'of an unknown invoice' whose
    number the message showed exactly as the Invoices sheet did; an override reversed a text."""
    path = tmp_path / "marks.xlsx"
    data = badfiles.rezip(demo, badfiles.cell("A2", "<is><t>\u200f2026-0001</t></is>".encode()))
    data = badfiles.rezip(data, badfiles.cell("C2", "<is><t>\ufeffGrafisch \u202eontwerp\u2069\u200b</t></is>".encode()))
    path.write_bytes(data)
    wb = read_workbook(path)
    assert wb.lines[0].invoice_number == "2026-0001" and wb.lines[0].description == "Grafisch ontwerp"
    found = {f.cell: f for f in wb.findings}
    assert set(found) == {"A2", "C2"} and {f.code for f in wb.findings} == {"cell.control_characters"}
    assert "U+200F" in found["A2"].message
    assert all(code in found["C2"].message for code in ("U+FEFF", "U+202E", "U+2069", "U+200B"))


def test_formula_noise_past_excels_15_digits_is_no_finding(demo, tmp_path):
    """Excel writes a formula's result with 17 digits: =SUM() of the lines as 2550.9600000000005
    (a total as issued 'differing' from its booking of 2,550.96), =0.21*100 as 21.000000000000004
    (a VAT rate without a rule). Read as Excel shows them, both are what the user sees."""
    invoices = f"xl/worksheets/sheet{layout.ALL_SHEETS.index(layout.INVOICES.name) + 1}.xml"
    data = badfiles.rezip(demo, badfiles.replace_in(invoices, b'<c r="O2" s="10" t="n" />',
                                                    b'<c r="O2" s="10" t="n"><v>2550.9600000000005</v></c>'))
    data = badfiles.rezip(data, badfiles.cell("G2", b"<v>21.000000000000004</v>"))
    path = tmp_path / "noise.xlsx"
    path.write_bytes(data)
    wb = read_workbook(path)
    assert (wb.invoices[0].total_as_issued, wb.lines[0].vat_rate) == (D("2550.96"), D("21"))
    assert cli.main(["check", str(path)]) == 0


def test_the_total_row_of_an_excel_table_is_not_a_record(demo, tmp_path):
    """Excel's Table Design > Total Row on Invoices or Invoice lines was read as one more invoice
    ('Date is required', 'Customer id is required') and blocked the export; an upgrade carried it."""
    invoices = f"xl/worksheets/sheet{layout.ALL_SHEETS.index(layout.INVOICES.name) + 1}.xml"
    plain = read_workbook(_written(tmp_path / "plain.xlsx", demo))
    data = badfiles.rezip(demo, badfiles.replace_in("xl/tables/table5.xml", b'ref="A1:S65" headerRowCount="1"',
                                                    b'ref="A1:S66" headerRowCount="1" totalsRowCount="1"'))
    data = badfiles.rezip(data, badfiles.append_rows(invoices, b'<row r="66"><c r="A66" t="inlineStr"><is><t>Total</t></is></c>'
                                                               b'<c r="O66" t="e"><f>SUBTOTAL(109,Invoices[Total as issued])</f>'
                                                               b'<v>#DIV/0!</v></c></row>'))
    data = badfiles.rezip(data, badfiles.replace_in("xl/tables/table6.xml", b'ref="A1:M147" headerRowCount="1"',
                                                    b'ref="A1:M148" headerRowCount="1" totalsRowCount="1"'))
    data = badfiles.rezip(data, badfiles.append_rows(badfiles.LINES, b'<row r="148"><c r="A148" t="inlineStr"><is><t>Total</t></is></c>'
                                                                     b'<c r="D148"><f>SUBTOTAL(109,InvoiceLines[Quantity])</f><v>300</v></c></row>'))
    path = _written(tmp_path / "totals.xlsx", data)
    wb = read_workbook(path)
    assert wb.findings == () and (wb.invoices, wb.lines) == (plain.invoices, plain.lines)
    assert cli.main(["workbook", "upgrade", str(path)]) == 0
    upgraded = read_workbook(path)
    assert upgraded.findings == () and len(upgraded.invoices) == len(plain.invoices)


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- files that read fine -----------------------------------------------------------------------


def test_a_wide_short_sheet_and_a_formatted_far_cell_still_read(demo, tmp_path):
    """Only a rectangle past the limit is refused: one value in XFD2 of a 147-row sheet is 2.4
    million cells (read), and a formatted but empty cell at XFD1048576 (Excel's Ctrl+End trap)
    holds no value, so calamine allocates nothing for it."""
    path = tmp_path / "wide.xlsx"
    path.write_bytes(badfiles.rezip(demo, badfiles.replace_in(badfiles.LINES, b'<row r="2">', b'<row r="2"><c r="XFD2"><v>1</v></c>')))
    facts = survey(path).sheets["Invoice lines"]
    assert (facts.columns, facts.rows) == (16384, 147)
    assert len(read_workbook(path).lines) == len(read_workbook_demo(demo, tmp_path).lines)
    path.write_bytes(badfiles.rezip(demo, badfiles.append_rows(badfiles.LINES, b'<row r="1048576"><c r="XFD1048576" s="2"/></row>')))
    assert read_workbook(path).findings == ()


def read_workbook_demo(demo: bytes, tmp_path: Path):
    path = tmp_path / "plain.xlsx"
    path.write_bytes(demo)
    return read_workbook(path)


def test_a_read_only_workbook_is_checked(demo, tmp_path, capsys):
    path = tmp_path / "ro.xlsx"
    path.write_bytes(demo)
    path.chmod(0o444)
    try:
        assert cli.main(["check", str(path)]) == 0
    finally:
        path.chmod(0o644)


def test_unreadable_and_vanishing_workbooks(demo, tmp_path, monkeypatch):
    """Permission denied, and a file deleted between the check that it exists and the read."""
    path = tmp_path / "gone.xlsx"
    path.write_bytes(demo)
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(WorkbookError, match="permission denied"):
        read_workbook(path)

    def vanished(self, *args, **kwargs):
        if self == path:
            path.unlink(missing_ok=True)
            raise FileNotFoundError(2, "No such file or directory")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", vanished)
    with pytest.raises(WorkbookError, match="disappeared while it was being read"):
        read_workbook(path)


def test_the_bytes_read_are_the_bytes_checked(demo, tmp_path):
    """calamine reads the surveyed bytes: replacing the file after the survey changes nothing."""
    from toolkit.book.read import Grid

    path = tmp_path / "swap.xlsx"
    path.write_bytes(demo)
    grid = Grid(path)
    path.write_bytes(badfiles.rezip(demo, badfiles.append_rows(badfiles.LINES, b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')))
    assert len(grid.rows("Invoice lines")) == 147


def test_invoice_lines_read_ahead_give_what_a_plain_read_gives(demo, tmp_path, monkeypatch):
    """Invoice lines are parsed by a thread of their own while the other sheets are read: the
    workbook is the one read sheet after sheet."""
    from toolkit.book import read

    path = tmp_path / "book.xlsx"
    path.write_bytes(demo)
    ahead = read_workbook(path)
    read.forget_grid()
    monkeypatch.setattr(read.Grid, "read_ahead", lambda self, sheet, whole=True: None)
    plain = read_workbook(path)
    assert ahead.lines == plain.lines and ahead.invoices == plain.invoices and ahead.findings == plain.findings
    assert len(ahead.lines) == 146


def test_a_read_stopped_by_a_damaged_sheet_lets_the_read_ahead_go(demo, tmp_path):
    from toolkit.book import read

    invoices = f"xl/worksheets/sheet{layout.ALL_SHEETS.index(layout.INVOICES.name) + 1}.xml"
    path = tmp_path / "book.xlsx"
    path.write_bytes(badfiles.rezip(demo, badfiles.replace_in(invoices, b'<row r="3">', b'<row r="3"><c r="A3"><<v>1</v></row>')))
    with pytest.raises(WorkbookError, match="the sheet 'Invoices' cannot be read"):
        read_workbook(path)
    assert read.open_grid(path)._ahead == {}  # the Invoice lines' rows are not kept by the cached file


@pytest.mark.needs("soffice")
def test_real_xls_and_ods_files(demo, tmp_path, capsys):
    """Files LibreOffice writes in the old .xls and in .ods format (skipped without LibreOffice, except under CI)."""
    soffice = need("soffice")
    source = tmp_path / "demo.xlsx"
    source.write_bytes(demo)
    env = {**os.environ, "HOME": str(tmp_path)}  # a private LibreOffice profile
    for fmt, says in (("xls", "97-2003"), ("ods", "OpenDocument")):
        subprocess.run([soffice, "--headless", "--convert-to", fmt, "--outdir", str(tmp_path), str(source)],
                       check=True, capture_output=True, timeout=180, env=env)
        converted = tmp_path / f"demo.{fmt}"
        assert cli.main(["check", str(converted)]) == 2
        assert says in _one_line(capsys.readouterr().err)


def test_a_really_encrypted_workbook(demo, tmp_path, capsys):
    msoffcrypto = pytest.importorskip("msoffcrypto")
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(demo)
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as source, locked.open("wb") as target:
        OOXMLFile(source).encrypt("secret", target)
    assert msoffcrypto  # the library that wrote it
    assert cli.main(["check", str(locked)]) == 2
    assert "password" in _one_line(capsys.readouterr().err)


# ---- the limits -------------------------------------------------------------------------------


def test_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv("LEDGER_EXPORT_MAX_UNCOMPRESSED_MB", "3_000")
    monkeypatch.setenv("LEDGER_EXPORT_MAX_IMPORT_ROWS", "250")
    current = limits.current()
    assert (current.uncompressed_bytes, current.import_rows) == (3_000_000_000, 250)
    assert "LEDGER_EXPORT_MAX_IMPORT_ROWS" in limits.how_to_raise("import_rows", current)
    monkeypatch.setenv("LEDGER_EXPORT_MAX_SHEET_CELLS", "lots")
    with pytest.raises(Exception, match="LEDGER_EXPORT_MAX_SHEET_CELLS='lots' must be a whole number"):
        limits.current()


def test_a_bad_limit_setting_is_a_message_from_the_cli(monkeypatch, tmp_path, demo, capsys):
    path = tmp_path / "demo.xlsx"
    path.write_bytes(demo)
    monkeypatch.setenv("LEDGER_EXPORT_MAX_FILE_MB", "-5")
    assert cli.main(["check", str(path)]) == 2
    assert "LEDGER_EXPORT_MAX_FILE_MB=-5 must be above 0" in _one_line(capsys.readouterr().err)



def test_error_cells_are_looked_for_only_where_the_survey_saw_one(demo, tmp_path):
    """calamine reads #DIV/0! as an empty cell; the survey notes which sheet parts hold error
    cells (also when the marker straddles two inflated pieces) and the reader reports each one."""
    from toolkit.book.survey import SheetFacts, _SheetScan

    scan = _SheetScan(SheetFacts("s", "p"), frozenset(), limits.current())
    for piece in (b'<sheetData><row r="1"><c r="A1" t="', b'e"><v>#N/A</v></c></row>'):
        scan.feed(piece)
    assert scan.facts.errors
    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(demo)
    assert not any(f.errors for f in survey(plain).sheets.values())

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(badfiles.rezip(demo, badfiles.edit(badfiles.LINES, _error_cell("E3", "#DIV/0!"))))
    assert [name for name, facts in survey(broken).sheets.items() if facts.errors] == [layout.INVOICE_LINES.name]
    found = [(f.sheet, f.cell, f.message) for f in read_workbook(broken).findings if f.code == "cell.error"]
    assert found == [(layout.INVOICE_LINES.name, "E3", "Unit price holds the Excel error #DIV/0!: fix the formula or type the value.")]


def test_an_error_cell_on_settings_is_worded_as_on_a_table(demo, tmp_path):
    """One wording for one finding: an Excel error on a Settings value says what to do, like one
    in a table."""
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(badfiles.rezip(demo, badfiles.edit(badfiles.SETTINGS, _error_cell("B2", "#REF!"))))
    [found] = [f for f in read_workbook(broken).findings if f.code == "cell.error"]
    assert (found.sheet, found.cell) == (layout.SETTINGS_SHEET, "B2")
    assert found.message.endswith("holds the Excel error #REF!: fix the formula or type the value.")


def test_a_formula_whose_result_the_file_does_not_hold_is_an_error_where_a_value_is_typed(demo, tmp_path, capsys):
    """A workbook written by a program that does not calculate (openpyxl, XlsxWriter: calcPr
    fullCalcOnLoad, Excel calculates when it opens it) holds no result for its formulas, or a
    placeholder. calamine read a discount typed as =5 as an empty cell: the line was booked without
    its discount, silently; a quantity =2*3 was 'required: fill it in'. Each such cell of a typed
    column (or of Settings) is an error saying what to do; the computed columns' formulas, which
    the export never reads, are none."""
    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(demo)  # the toolkit's own workbook: formulas in its computed columns only
    assert survey(plain).uncalculated and not [f for f in read_workbook(plain).findings if f.code == "cell.error"]
    broken = tmp_path / "uncalculated.xlsx"
    data = badfiles.rezip(demo, badfiles.cell("F2", b"<f>5</f>"))
    data = badfiles.rezip(data, badfiles.cell("D3", b"<f>2*3</f><v>0</v>"))  # XlsxWriter's placeholder result
    broken.write_bytes(badfiles.rezip(data, badfiles.edit(badfiles.SETTINGS, _formula_cell("B2", b'<f>"Acme"</f>'))))
    found = [(f.sheet, f.cell, f.message) for f in read_workbook(broken).findings if f.code == "cell.error"]
    advice = ("is a formula whose result is not in the file: the program that wrote it leaves the calculation to "
              "Excel. Open the workbook in Excel and save it (or type the value), then try again.")
    assert sorted(found) == [(layout.INVOICE_LINES.name, "D3", f"Quantity {advice}"),
                             (layout.INVOICE_LINES.name, "F2", f"Discount % {advice}"),
                             (layout.SETTINGS_SHEET, "B2", f"Company name {advice}")]
    assert cli.main(["export", str(broken)]) == 1
    assert "Quantity is a formula whose result is not in the file" in capsys.readouterr().out
    assert not (tmp_path / "uncalculated-exports").exists() or not any(
        p.is_dir() for p in (tmp_path / "uncalculated-exports").iterdir())


def test_a_formula_with_the_result_excel_saved_is_read_as_that_result(demo, tmp_path):
    """The same formulas in a workbook Excel saved (no fullCalcOnLoad: Excel calculated it) are
    read as their results, as any cell."""
    saved = tmp_path / "saved.xlsx"
    data = badfiles.rezip(demo, badfiles.cell("F2", b"<f>5</f><v>5</v>"))
    saved.write_bytes(badfiles.rezip(data, badfiles.replace_in("xl/workbook.xml", b' fullCalcOnLoad="1"', b"")))
    assert not survey(saved).uncalculated
    wb = read_workbook(saved)
    assert not [f for f in wb.findings if f.code == "cell.error"]
    line = next(line for invoice in wb.invoices for line in invoice.lines if line.where.row == 2)
    assert line.discount_pct == D(5)


def _formula_cell(ref: str, xml: bytes):
    """A sheet part -> the same part with cell `ref` holding the raw XML `xml` (a formula ...)."""
    def change(part: bytes) -> bytes:
        start = part.index(b'<c r="%s"' % ref.encode())
        end = part.index(b"</c>", start) + 4
        return part[:start] + b'<c r="%s">%s</c>' % (ref.encode(), xml) + part[end:]
    return change


def _error_cell(ref: str, text: str):
    """A sheet part -> the same part with cell `ref` holding the Excel error `text`."""
    def change(part: bytes) -> bytes:
        start = part.index(b'<c r="%s"' % ref.encode())
        end = part.index(b"</c>", start) + 4
        return part[:start] + b'<c r="%s" t="e"><v>%s</v></c>' % (ref.encode(), text.encode()) + part[end:]
    return change


def _chart_in_place_of(tmp_path, name: str):
    """The demo workbook with the sheet `name` renamed away and a chart sheet of that name."""
    import openpyxl
    from openpyxl.chart import BarChart, Reference

    settings, tables = sample.demo()
    path = tmp_path / "demo.xlsx"
    template.save_template(path, {**tables, layout.SETTINGS_SHEET: settings})
    book = openpyxl.load_workbook(path)
    book[name].title = f"Old {name.lower()}"
    chart = BarChart()
    chart.add_data(Reference(book["Invoice lines"], min_col=5, min_row=1, max_row=10))
    book.create_chartsheet(name).add_chart(chart)
    book.save(path)
    return path


def test_a_chart_sheet_in_place_of_a_table_is_named_as_one(tmp_path):
    """A chart sheet named "Invoices" (the table renamed away, a chart moved to its own sheet) was
    reported as "No header row found", which sends the user looking for a header that cannot be."""
    path = _chart_in_place_of(tmp_path, "Invoices")
    [finding] = [f for f in read_workbook(path).findings if f.sheet == "Invoices"]
    assert finding.code == "sheet.missing" and finding.severity == "error"
    assert finding.message.startswith("'Invoices' is a chart sheet, not the sheet of that name: rename the chart sheet")
    assert "restore the sheet 'Invoices' with its header row: Invoice number, Type, Date" in finding.message


def test_a_chart_sheet_named_settings_is_named_as_one(tmp_path):
    """The same for Settings: read as an empty sheet, it gave the findings of every setting left empty."""
    path = _chart_in_place_of(tmp_path, "Settings")
    [finding] = [f for f in read_workbook(path).findings if f.sheet == "Settings"]
    assert finding.code == "sheet.missing" and finding.severity == "error"
    assert finding.message == ("'Settings' is a chart sheet, not the sheet of that name: rename the chart sheet (right-click "
                               "its tab, Rename), then restore the sheet 'Settings' with a row per setting, its label in "
                               "column A and its value in column B.")
    assert cli.main(["check", str(path)]) != 0


def test_the_survey_sees_the_same_sheet_however_its_bytes_are_cut():
    """The survey looks at each inflated piece in place, the tag cut between two pieces joined to
    the next one's start: whatever the cuts, what it finds of a sheet (odd cells, percent-formatted
    cells, error cells, formula cells, the last row tag, a walk for cells without references) is
    what one look at the whole part finds."""
    import random

    from toolkit.book.survey import CHUNK, SheetFacts, _SheetScan

    formula = b"<f>IF(InvoiceLines[[#This Row],[Net]]&gt;0,&quot;x&quot;,&quot;y&quot;)</f>"
    rows = [b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>a &gt; b s="3"</t></is></c><c r="B%d" s="3"><v>0.1</v></c>'
            b'<c r="K%d" s="11">%s<v>12.5</v></c><c r="C%d" s="3"/></row>' % (n, n, n, n, formula, n) for n in range(1, 60)]
    rows[20] = b'<row r="21"><c r="AB21" s="3"><v>1</v></c><c s="5" r="D21"><v>2</v></c><c r="E21" t="e"><v>#N/A</v></c></row>'
    rows[40] = b'<row r="41"><c r="F1000000"><v>3</v></c></row>'
    rows[30] = (b'<row r="31"><c r="G31"><f t="shared" ref="G31:G32" si="0"/><v>1</v></c><c s="4" r="H31"><f>1+1</f></c>'
                b'<c r="I31" t="inlineStr"><is><t>&lt;f&gt; of a text</t></is></c></row>')
    sheets = [b'<?xml version="1.0"?><worksheet><sheetData>' + b"".join(rows) + b"</sheetData></worksheet>",
              b'<?xml version="1.0"?><x:worksheet><x:sheetData><x:row><x:c><x:v>1</x:v></x:c></x:row></x:sheetData></x:worksheet>',
              b'<?xml version="1.0"?><worksheet><sheetData>' + b"".join(rows[:5]) + b'<row><c><v>1</v></c></row></sheetData></worksheet>']

    def seen(pieces) -> tuple:
        scan = _SheetScan(SheetFacts("s", "p"), frozenset({"3"}), limits.current(), formulas=True)
        for piece in pieces:
            scan.feed(piece)
        f = scan.facts
        if scan.walk:  # `finish` then walks the whole part from the start: what was seen so far does not count
            return True, f.errors
        scan.carry and scan._scan(scan.carry)  # as `finish` ends the look
        return (scan.walk, scan.narrow, scan.max_row, scan.max_col, f.errors, f.last_row_tag, sorted(f.percent),
                f.formulas)

    rng = random.Random(5)
    for sheet in sheets:
        whole = seen([sheet])
        assert seen([sheet[n:n + 1] for n in range(len(sheet))]) == whole  # a byte at a time
        for _ in range(200):
            cuts = sorted(rng.sample(range(1, len(sheet)), rng.randint(1, 12)))
            assert seen([sheet[a:b] for a, b in zip([0, *cuts], [*cuts, len(sheet)])]) == whole
    walk, narrow, max_row, max_col, errors, last_row, percent, formulas = seen([sheets[0]])
    assert formulas == [(n - 1, 10) for n in range(1, 21)] + [(n - 1, 10) for n in range(22, 31)] + [(30, 6), (30, 7)] + \
        [(n - 1, 10) for n in range(32, 41)] + [(n - 1, 10) for n in range(42, 60)]  # K (10), G and H of row 31
    assert not walk and narrow and (max_row, max_col) == (1_000_000, 28) and errors and last_row == 59
    assert (0, 1) in percent and (20, 27) in percent and (20, 3) not in percent  # s="3" in text is no cell's
    assert seen([sheets[1]]) == seen([sheets[2]]) == (True, False)  # a prefixed root, cells without references: walked
    assert CHUNK > len(sheets[0])


@pytest.mark.parametrize("command", [["check"], ["export"], ["preview"], ["customers", "import", "{book}"]])
def test_a_name_too_long_or_a_link_to_nowhere_is_told_not_a_traceback(tmp_path, capsys, command, demo):
    """A name longer than the file system allows raised from the lookup of the path (a traceback);
    a link leading to itself was said to be a missing file."""
    book = tmp_path / "book.xlsx"
    book.write_bytes(demo)
    loop = tmp_path / "loop.xlsx"
    loop.symlink_to(loop)
    for path, said in ((tmp_path / ("a" * 300 + ".xlsx"), "cannot be looked up (File name too long)"),
                       (loop, "is a link that leads to no file (or to itself)")):
        argv = [part.replace("{book}", str(book)) for part in command] + [str(path)]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err


def test_thousands_of_percent_styles_are_read_without_an_alternation_of_them_all(demo, tmp_path):
    """A workbook with 'too many different cell formats' (Excel allows 64,000) made a regular
    expression of every percent style's number, compiled for each sheet: 64,000 of them took 12 s
    of a check of the small demo. Past a few hundred any style is matched, and theirs kept."""
    import re

    from toolkit.book.survey import _STYLE, _percent_pattern

    first = []

    def many(part: bytes) -> bytes:
        count = int(re.search(rb'<cellXfs count="(\d+)"', part)[1])
        first.append(count)
        xfs = b'<xf numFmtId="9" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/>' * 2000
        part = part.replace(b"</cellXfs>", xfs + b"</cellXfs>", 1)
        return part.replace(f'<cellXfs count="{count}"'.encode(), f'<cellXfs count="{count + 2000}"'.encode(), 1)

    data = badfiles.rezip(demo, badfiles.edit("xl/styles.xml", many))
    data = _with_percent_format(data, {"F2": b"0.1", "G2": b"0.21"})  # a style after the 2,000
    middle = str(first[0] + 1000).encode()  # and one of them
    data = badfiles.rezip(data, badfiles.replace_in(badfiles.LINES, b'<c r="G3" s="6" t="n"><v>21</v>',
                                                    b'<c r="G3" s="' + middle + b'" t="n"><v>0.06</v>'))
    path = tmp_path / "styles.xlsx"
    path.write_bytes(data)
    wb = read_workbook(path)
    first_line, second_line = wb.lines[0], wb.lines[1]
    assert (str(first_line.discount_pct), str(first_line.vat_rate), str(second_line.vat_rate)) == ("10", "21", "6")
    assert str(first_line.unit_price) == "1455.99" and str(second_line.quantity) == "12.25"  # other styles: as typed
    assert _percent_pattern(frozenset(str(n) for n in range(1, 2002))) is _STYLE
    assert _percent_pattern(frozenset({"3", "17"})).search(b'<c r="A1" s="17">') is not None
