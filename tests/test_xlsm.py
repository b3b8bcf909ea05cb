"""The macro workbook: VBA project, ribbon, package parts, reproducibility, LibreOffice."""

import ast
import inspect
import random
import re
import subprocess
import zipfile
from pathlib import Path

import olefile
import openpyxl
import pytest
import xmlschema
from oletools.olevba import VBA_Parser, decompress_stream
from pyopenvba import ExcelFile, check_file

from toolkit import excel, layout, resources
from toolkit.book import formulas, vba, xlsm

from external import need, soffice_convert

SCHEMA = Path(__file__).parent / "schemas" / "customui14.xsd"
README_IN_EXCEL = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8").split("## In Excel", 1)[-1]
PYTHON = r"C:\Users\demo\ledger\Scripts\python.exe"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsm") / "Ledger.xlsm"
    xlsm.build_xlsm(path, python_executable=PYTHON)
    return path


@pytest.fixture(scope="module")
def parts(built):
    with zipfile.ZipFile(built) as z:
        return {n: z.read(n) for n in z.namelist()}


def expected_sources(built) -> dict[str, str]:
    """Module name -> source as it must read back (CRLF-normalised, Attribute lines dropped)."""
    wb = openpyxl.load_workbook(built)
    out = {"ThisWorkbook": ""}
    out.update({ws.sheet_properties.codeName: "" for ws in wb.worksheets})
    for m in xlsm.our_modules() + [vba.standard_module(xlsm.xlwings_bas())]:
        out[m.name] = m.source
    return {name: normalise(src) for name, src in out.items()}


def normalise(source: str) -> str:
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line for line in lines if not line.startswith("Attribute VB_")).strip("\n")


# ---- ribbon -------------------------------------------------------------------------------------


def test_ribbon_validates_against_customui14_schema():
    schema = xmlschema.XMLSchema(SCHEMA)
    schema.validate(xlsm.ribbon_xml())


def test_schema_catches_mistakes():
    # The validator is only worth something if it fails on real mistakes.
    schema = xmlschema.XMLSchema(SCHEMA)
    good = xlsm.ribbon_xml().decode()
    for bad in (good.replace('size="large"', 'size="huge"', 1),
                good.replace('onAction="OnValidate"', 'onAction=""'),
                good.replace('id="SuggestAccountsButton"', 'id="ValidateButton"')):
        assert not schema.is_valid(bad)


def _public_subs() -> dict[str, str]:
    """Sub name -> first parameter declaration, over every .bas source of the workbook."""
    subs = {}
    for bas in resources.workbook_dir().glob("*.bas"):
        for m in re.finditer(r"^Public Sub (\w+)\(([^)]*)\)", bas.read_text(), re.M):
            subs[m.group(1)] = m.group(2).split(",")[0].strip()
    return subs


def test_every_ribbon_callback_exists_in_the_vba():
    root = xlsm.ET.fromstring(xlsm.ribbon_xml())
    callbacks = {el.get(attr) for el in root.iter() for attr in el.keys()
                 if attr.startswith("on") or attr.startswith("get")} - {None}
    subs = _public_subs()
    assert callbacks, "the ribbon names no callback"
    for name in callbacks:
        assert subs.get(name) == "control As IRibbonControl", name
    # and no ribbon-style sub is left dangling without a button
    assert {s for s, p in subs.items() if "IRibbonControl" in p} == callbacks


def test_ribbon_buttons_are_the_expected_ones():
    labels = [b.label for b in xlsm.ribbon_buttons()]
    assert labels == ["Validate", "Suggest accounts", "Assign customer numbers",
                      "Match pasted customer numbers", "Apply matched customer numbers", "Generate export", "E-invoices", "Export again\u2026",
                      "Open export folder", "Help"]
    assert all(len(b.lines) == 2 for b in xlsm.ribbon_buttons())


def test_callbacks_call_the_toolkit_functions():
    bas = (resources.workbook_dir() / "LedgerExport.bas").read_text()
    called = re.findall(r'RunToolkit "(\w+)"', bas)
    assert called == ["validate", "suggest_accounts", "assign_customer_numbers", "match_customers",
                      "apply_customer_matches", "generate_export", "generate_einvoices", "export_again", "open_export_folder"]
    assert all(callable(getattr(excel, func, None)) for func in called)
    assert 'PY_CALL As String = "import toolkit.excel; toolkit.excel."' in bas


# ---- VBA project --------------------------------------------------------------------------------


def test_olevba_reads_back_exactly_our_modules(built):
    expected = expected_sources(built)
    parser = VBA_Parser(str(built))
    got = {Path(stream).name: normalise(code) for _, stream, _, code in parser.extract_macros()}
    parser.close()
    assert set(got) == set(expected)
    for name in expected:
        assert got[name] == expected[name], name


def test_pyopenvba_reads_back_exactly_our_modules(built):
    expected = expected_sources(built)
    project = ExcelFile(str(built)).vba_project()
    got = {m.name: normalise(m.source) for m in project.modules}
    assert set(got) == set(expected)
    for name in expected:
        assert got[name] == expected[name], name
    kinds = {m.name: m.kind.name for m in project.modules}
    assert kinds["LedgerExport"] == kinds["xlwings"] == "standard"
    assert kinds["ThisWorkbook"] == kinds["Sheet1"] == "other"  # document modules
    assert all(m.text_offset == 0 for m in project.modules)  # source only, no p-code
    assert check_file(str(built)).ok


def test_xlwings_module_keeps_its_bsd_header(built):
    parser = VBA_Parser(str(built))
    code = {Path(s).name: c for _, s, _, c in parser.extract_macros()}["xlwings"]
    parser.close()
    assert "xlwings is distributed under a BSD 3-clause license." in code
    assert "Public Function RunPython(" in code


def test_project_structure(parts, built):
    ole = olefile.OleFileIO(parts["xl/vbaProject.bin"])
    streams = {"/".join(s) for s in ole.listdir()}
    module_streams = {s.split("/", 1)[1] for s in streams if s.startswith("VBA/")} - {"dir", "_VBA_PROJECT"}
    project = ole.openstream("PROJECT").read().decode("cp1252")
    declared = set(re.findall(r"^(?:Document|Module)=(\w+)", project, re.M))
    dir_stream = vba.decompress(ole.openstream("VBA/dir").read())
    count_at = dir_stream.index(b"\x0f\x00\x02\x00\x00\x00")
    dir_count = int.from_bytes(dir_stream[count_at + 6:count_at + 8], "little")
    assert module_streams == declared == set(expected_sources(built))
    assert dir_count == len(declared)
    assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("CC61FFFF000300")
    # CMG / DPB / GC decrypt, with the key of the project id, to "unprotected, no password, visible"
    project_id = re.search(r'^ID="(\{[0-9A-F-]+\})"', project, re.M).group(1)
    key = sum(project_id.encode()) & 0xFF
    for field, plain in (("CMG", bytes(4)), ("DPB", bytes(1)), ("GC", b"\xff")):
        value = re.search(rf'^{field}="([0-9A-F]+)"', project, re.M).group(1)
        assert vba.decrypt(value) == (key, plain)
    ole.close()


def test_code_names_match_document_modules(built):
    wb = openpyxl.load_workbook(built, keep_vba=True)
    assert wb.code_name == "ThisWorkbook"
    names = [ws.sheet_properties.codeName for ws in wb.worksheets]
    assert names == [f"Sheet{i}" for i in range(1, len(wb.worksheets) + 1)]


def test_compression_round_trips_through_olevba():
    rnd = random.Random(7)
    samples = [b"", b"a", b"abc" * 3000, xlsm.xlwings_bas().encode("cp1252")]
    samples += [bytes(rnd.choice(b"ab \r\n") for _ in range(n)) for n in (4095, 4096, 4097, 10000)]
    samples += [rnd.randbytes(4096 * 3)]  # incompressible: raw chunks
    for data in samples:
        packed = vba.compress(data)
        assert bytes(decompress_stream(bytearray(packed))) == data
        assert vba.decompress(packed) == data


def test_cfb_streams_read_back_with_olefile():
    rnd = random.Random(3)
    streams = {("A",): b"", ("VBA", "small"): rnd.randbytes(63), ("VBA", "edge"): rnd.randbytes(4095),
               ("VBA", "big"): rnd.randbytes(4096), ("VBA", "bigger"): rnd.randbytes(70000)}
    streams.update({("VBA", f"m{i}"): rnd.randbytes(rnd.randrange(1, 9000)) for i in range(20)})
    ole = olefile.OleFileIO(vba.cfb(streams))
    assert {tuple(s) for s in ole.listdir()} == {k for k in streams}
    for path, data in streams.items():
        assert ole.openstream("/".join(path)).read() == data
    ole.close()


# ---- package ------------------------------------------------------------------------------------


def test_content_types_and_relationships(parts):
    ct = parts["[Content_Types].xml"].decode()
    assert 'PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"' in ct
    assert "spreadsheetml.sheet.main+xml" not in ct
    assert ct.count('Extension="bin"') == 1
    assert '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' in ct
    wb_rels = parts["xl/_rels/workbook.xml.rels"].decode()
    assert re.search(r'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject"'
                     r'[^>]*Target="vbaProject.bin"|Target="vbaProject.bin"[^>]*Type="http://schemas'
                     r'.microsoft.com/office/2006/relationships/vbaProject"', wb_rels)
    assert ribbon_rels(parts["_rels/.rels"]) == ["customUI/customUI14.xml"]
    assert parts["customUI/customUI14.xml"] == xlsm.ribbon_xml()
    assert list(parts)[0] == "[Content_Types].xml"


def ribbon_rels(rels: bytes) -> list[str]:
    root = xlsm.ET.fromstring(rels)
    return [r.get("Target") for r in root if r.get("Type") == xlsm.RIBBON_REL_TYPE]


def test_sheets_start_and_conf(built):
    wb = openpyxl.load_workbook(built)
    assert wb.sheetnames == ["Start", *layout.ALL_SHEETS, formulas.LISTS_SHEET, "xlwings.conf"]
    assert wb.active.title == "Start"
    assert [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected] == ["Start"]
    start = [c for row in wb["Start"].iter_rows(values_only=True) for c in row if c]
    for button in xlsm.ribbon_buttons():
        assert button.label.replace("\u2026", "...") in start
        for line in button.lines:
            assert line in start
    conf = wb["xlwings.conf"]
    # no tab of technical keys; the README says how to show it
    assert conf.sheet_state == "veryHidden" and wb[formulas.LISTS_SHEET].sheet_state == "hidden"
    assert "xlwings.conf" in README_IN_EXCEL and "Visible" in README_IN_EXCEL
    keys = []
    for row in conf.iter_rows(min_col=1, max_col=2, values_only=True):
        if row[0] is None:
            break  # xlwings reads column A down to the first empty cell
        keys.append(row)
    conf_map = dict(keys)
    assert conf_map["INTERPRETER_WIN"] == conf_map["INTERPRETER_MAC"] == PYTHON
    assert conf_map["ADD_WORKBOOK_TO_PYTHONPATH"] == "false"
    assert "PYTHONPATH" in conf_map and not conf_map["PYTHONPATH"]
    assert all(k == k.upper() for k in conf_map)
    for sheet in layout.TABLE_SHEETS:
        assert sheet.table in wb[sheet.name].tables


def test_two_builds_are_byte_identical(tmp_path, built):
    again = tmp_path / "again.xlsm"
    xlsm.build_xlsm(again, python_executable=PYTHON)
    assert again.read_bytes() == built.read_bytes()
    other = tmp_path / "other.xlsm"
    xlsm.build_xlsm(other, python_executable="/usr/bin/python3")
    assert other.read_bytes() != built.read_bytes()


def test_zip_entries_have_fixed_timestamps(built):
    with zipfile.ZipFile(built) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# ---- apply_ribbon -------------------------------------------------------------------------------


def test_openpyxl_save_drops_the_ribbon_and_apply_ribbon_restores_it(tmp_path, built):
    path = tmp_path / "user.xlsm"
    wb = openpyxl.load_workbook(built, keep_vba=True)
    wb["Settings"]["B2"] = "Changed"
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        assert ribbon_rels(z.read("_rels/.rels")) == []  # the trap this function exists for
    xlsm.apply_ribbon(path)
    first = path.read_bytes()
    xlsm.apply_ribbon(path)
    assert path.read_bytes() == first  # idempotent
    with zipfile.ZipFile(path) as z:
        assert ribbon_rels(z.read("_rels/.rels")) == ["customUI/customUI14.xml"]
        assert z.read("customUI/customUI14.xml") == xlsm.ribbon_xml()
        ct = z.read("[Content_Types].xml").decode()
        assert "macroEnabled.main+xml" in ct and ct.count('Extension="bin"') == 1
        assert z.read("xl/vbaProject.bin") == zipfile.ZipFile(built).read("xl/vbaProject.bin")
    assert openpyxl.load_workbook(path)["Settings"]["B2"].value == "Changed"


# ---- LibreOffice --------------------------------------------------------------------------------


@pytest.mark.needs("soffice", "pdftotext")
def test_libreoffice_opens_the_workbook_and_prints_the_start_sheet(built, tmp_path):
    pdf = soffice_convert(built, "pdf", tmp_path)
    text = subprocess.run([need("pdftotext"), "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert xlsm.START_TITLE in text
    for button in xlsm.ribbon_buttons():
        assert button.lines[0] in " ".join(text.split()), button.label


@pytest.mark.needs("soffice")
def test_libreoffice_reads_our_vba_project(built, tmp_path):
    # LibreOffice imports the project and writes it again with its own exporter: every module
    # must come back with its source, so LibreOffice understood our container and streams.
    again = soffice_convert(built, "xlsm:Calc MS Excel 2007 VBA XML", tmp_path)
    parser = VBA_Parser(str(again))
    got = {Path(stream).name: normalise(code) for _, stream, _, code in parser.extract_macros()}
    parser.close()
    assert got == expected_sources(built)


# ---- our VBA, run by pyOpenVBA's interpreter (a stub stands in for xlwings' RunPython) ----------

STUB_XLWINGS = '''Attribute VB_Name = "xlwings"
Public LastCommand As String
Public SavedCopy As String
Public StubPython As String
Public StubExists As Boolean
Public StubImports As Boolean
Public Function RunPython(PythonCommand As String)
    LastCommand = PythonCommand
End Function
Public Function TakeLast() As String
    TakeLast = LastCommand
    LastCommand = ""
End Function
Public Function TakeSaved() As String
    TakeSaved = SavedCopy
    SavedCopy = ""
End Function
'''


# The probes of the computer (the xlwings.conf sheet, the file system, starting Python, saving the
# copy) replaced by stubs the test sets: pyOpenVBA has no workbook, file system or shell.
COPY = r"C:\Users\José\AppData\Local\Temp\LedgerExport-20261202-101500-42.xlsm"
PROBES = {
    "ConfValue": "Private Function ConfValue(ByVal key As String) As String\n    ConfValue = StubPython\nEnd Function",
    "FileExists": "Private Function FileExists(ByVal path As String) As Boolean\n    FileExists = StubExists\nEnd Function",
    "ToolkitImports": "Private Function ToolkitImports(ByVal python As String) As Boolean\n    ToolkitImports = StubImports\nEnd Function",
    "TempCopyPath": f'Private Function TempCopyPath() As String\n    TempCopyPath = "{COPY}"\nEnd Function',
    "SaveCopy": "Private Sub SaveCopy(ByVal path As String)\n    SavedCopy = path\nEnd Sub",
    "DeleteCopy": "Private Sub DeleteCopy(ByVal path As String)\nEnd Sub",
}


def with_stub_probes(source: str) -> str:
    for name, stub in PROBES.items():
        source, n = re.subn(rf"Private (Function|Sub) {name}\(.*?\nEnd (Function|Sub)", stub.replace("\\", "\\\\"),
                            source, count=1, flags=re.S)
        assert n == 1, name
    return source


@pytest.fixture
def vba_runtime():
    from pyopenvba.interpreter import Interpreter

    runtime = Interpreter()
    source = (resources.workbook_dir() / "LedgerExport.bas").read_text()
    runtime.add_module(with_stub_probes(source), name="LedgerExport")
    runtime.add_module(STUB_XLWINGS, name="xlwings")
    set_python(runtime, r"C:\ledger-export\Scripts\python.exe", exists=True, imports=True)
    return runtime


def set_python(runtime, path: str, exists: bool, imports: bool) -> None:
    runtime.add_module(f'''Attribute VB_Name = "Setup"
Public Sub Arrange()
    StubPython = "{path}"
    StubExists = {exists}
    StubImports = {imports}
End Sub
''', name="Setup")
    runtime.run("Arrange")


@pytest.mark.parametrize("path, exists, imports, says", [
    ("", True, True, ["INTERPRETER_WIN", "xlwings.conf", "is empty"]),
    (r"C:\old\python.exe", False, True, ["Could not find Python at C:\\old\\python.exe", "INTERPRETER_WIN", "xlwings.conf"]),
    (r"C:\py\python.exe", True, False, ["does not have the toolkit installed", "-m pip install ."]),
])
def test_no_python_or_no_toolkit_is_a_message_that_says_what_to_fix(vba_runtime, path, exists, imports, says):
    from pyopenvba.interpreter import NOTHING

    set_python(vba_runtime, path, exists, imports)
    vba_runtime.run("OnValidate", [NOTHING])
    assert vba_runtime.run("TakeLast") == ""  # RunPython was not called
    kind, text = vba_runtime.dialogs[-1][0], " ".join(map(str, vba_runtime.dialogs[-1][1:]))
    assert kind == "MsgBox"
    for words in says + ["README", "In Excel"]:
        assert words in text, (words, text)
    assert "Troubleshooting" in README_IN_EXCEL and "xlwings.conf" in README_IN_EXCEL


CALLBACKS = [("OnValidate", "validate"), ("OnSuggestAccounts", "suggest_accounts"),
             ("OnAssignCustomerNumbers", "assign_customer_numbers"), ("OnMatchCustomers", "match_customers"),
             ("OnApplyCustomers", "apply_customer_matches"), ("OnGenerateExport", "generate_export"),
             ("OnGenerateEinvoices", "generate_einvoices"), ("OnOpenExportFolder", "open_export_folder")]


@pytest.mark.parametrize("callback, func", CALLBACKS, ids=[c for c, _ in CALLBACKS])
def test_every_button_sends_python_a_fresh_copy_of_the_book(vba_runtime, callback, func):
    """Every button reads the book as it is now, unsaved edits included: Open export folder opened
    the folder of the saved file's Output folder while Generate export wrote to the one just typed."""
    from pyopenvba.interpreter import NOTHING

    vba_runtime.run(callback, [NOTHING])
    command = vba_runtime.run("TakeLast")
    assert command.startswith(f"import toolkit.excel; toolkit.excel.{func}(copy=")
    call = ast.parse(command).body[1].value
    assert ast.unparse(call.func) == f"toolkit.excel.{func}" and not call.args
    assert [(k.arg, ast.literal_eval(k.value)) for k in call.keywords] == [("copy", COPY)]
    assert vba_runtime.run("TakeSaved") == COPY  # the copy Python reads is the one just saved
    inspect.signature(getattr(excel, func).__wrapped__).bind("session")  # no argument but the copy


def test_export_again_sends_the_id_and_a_fresh_copy(vba_runtime):
    from pyopenvba.interpreter import NOTHING

    vba_runtime.answers.append(" 2026-Q1'001 ")
    vba_runtime.run("OnExportAgain", [NOTHING])
    call = ast.parse(vba_runtime.run("TakeLast")).body[1].value
    assert [ast.literal_eval(a) for a in call.args] == ["2026-Q1'001"]
    assert [(k.arg, ast.literal_eval(k.value)) for k in call.keywords] == [("copy", COPY)]
    inspect.signature(excel.export_again.__wrapped__).bind("session", "2026-Q1'001")  # the id, then the copy


def test_export_again_cancelled_runs_nothing(vba_runtime):
    from pyopenvba.interpreter import NOTHING

    vba_runtime.answers.append("")
    vba_runtime.run("OnExportAgain", [NOTHING])
    assert vba_runtime.dialogs[0][0] == "InputBox"
    assert vba_runtime.run("TakeLast") == ""


@pytest.mark.parametrize("text", ["2026-Q1-001", r"C:\Users\José\O'Brien docs\50% \"x\".xlsm", "a\\'b"])
def test_pystring_makes_a_python_literal_safe_inside_cmd_quotes(vba_runtime, text):
    literal = vba_runtime.run("PyString", [text])
    assert '"' not in literal and "%" not in literal  # cmd.exe would act on these
    assert ast.literal_eval(literal) == text


def test_every_public_macro_has_an_error_handler():
    # A macro without one opens the VBA debugger on any error (a renamed Start sheet for Help).
    source = (resources.workbook_dir() / "LedgerExport.bas").read_text()
    for name, body in re.findall(r"Public Sub (\w+)\(.*?\)\n(.*?)\nEnd Sub", source, flags=re.S):
        calls_handled = re.fullmatch(r"\s*RunToolkit [^\n]*", body)  # RunToolkit has its own handler
        assert calls_handled or "On Error GoTo" in body, name
    assert "On Error GoTo Failed" in source.split("Private Sub RunToolkit", 1)[1].split("End Sub", 1)[0]



def test_help_shows_the_start_sheet_and_explains_when_it_cannot(built):
    """Help runs in pyOpenVBA's Excel model with the whole built project (xlwings module included).
    A hidden Start sheet is made visible first: Excel's Activate fails on a hidden sheet (error
    1004; pyOpenVBA's does not, so the checklist has Excel's case), and a renamed one is a message."""
    from pyopenvba.apps.excel import ExcelApplication
    from pyopenvba.interpreter import NOTHING

    app = ExcelApplication.open(built)
    app.add_module('''Attribute VB_Name = "Arrange"
Public Sub HideStart()
    ThisWorkbook.Worksheets("Settings").Activate
    ThisWorkbook.Worksheets("Start").Visible = 0
End Sub
Public Sub RenameStart()
    ThisWorkbook.Worksheets("Start").Name = "Begin"
End Sub
''')
    app.run("HideStart")
    app.run("OnHelp", NOTHING)
    start = app.workbook.Worksheets("Start")
    assert (start.Visible(), app.workbook.ActiveSheet().Name(), app.dialogs) == (-1, "Start", [])
    app.run("RenameStart")
    app.run("OnHelp", NOTHING)
    kind, text = app.dialogs[-1][0], " ".join(map(str, app.dialogs[-1][1:]))
    assert kind == "MsgBox" and "The Start sheet, which explains the buttons, cannot be shown" in text


def test_the_excel_checklist_matches_the_built_workbook(built):
    """docs/excel-checklist.md is followed by hand in Excel: its counts, labels and paths must be
    the workbook's (it said Sheet1 … Sheet11 and 8 buttons, and named toolkit/vba.py)."""
    root = Path(__file__).resolve().parents[1]
    text = " ".join((root / "docs" / "excel-checklist.md").read_text(encoding="utf-8").split())
    assert f"Sheet1 … Sheet{len(openpyxl.load_workbook(built).worksheets)} " in text
    buttons = xlsm.ribbon_buttons()
    ribbon = text.split("## Ribbon", 1)[1].split("##", 1)[0]
    assert f"{len(buttons)} buttons" in ribbon
    groups = [g.get("label") for g in xlsm.ET.fromstring(xlsm.ribbon_xml()).iter() if g.tag.endswith("}group")]
    for label in groups + [b.label for b in buttons]:
        assert label in ribbon, label
    for button in buttons:
        assert f"**{button.label}**" in text, button.label
    for path in re.findall(r"`((?:toolkit|workbook|docs|tests)/[\w/.]+)`", text):
        assert (root / path).exists(), path
