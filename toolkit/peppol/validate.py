"""The official rules over a UBL file: CEN EN 16931 and Peppol BIS 3 (release 2026.5).

Both rule sets are Schematron compiled to XSLT 2.0 (`rules/`, with their README as the licence
notice); running them needs an XSLT 2.0 processor, `saxonche`, the optional extra `[peppol]`.
Each stylesheet is compiled once per process (about a second) and then runs in milliseconds.
A failed assert with flag "fatal" is a rejection by the network; "warning" is advice.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from xml.parsers import expat
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import UserError

RULES = Path(__file__).resolve().parent / "rules"
STYLESHEETS = ("CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt")
INSTALL = 'pip install "ledger-export-toolkit[peppol]"  (or: pip install saxonche)'
_SVRL = "{http://purl.oclc.org/dsdl/svrl}"


class ValidatorMissing(UserError):
    """saxonche is not installed."""


class NotXml(UserError):
    """The file is not well-formed XML."""


@dataclass(frozen=True)
class Assert:
    """One failed rule: its id (BR-CO-16, PEPPOL-EN16931-R003, ...), flag, text and location."""

    id: str
    flag: str  # fatal | warning
    text: str
    location: str
    rules: str  # the stylesheet that fired it

    @property
    def fatal(self) -> bool:
        return self.flag == "fatal"


@functools.cache
def _executables():
    try:
        from saxonche import PySaxonProcessor
    except ImportError:
        raise ValidatorMissing("Validating e-invoices needs the XSLT 2.0 processor saxonche, which is not "
                               f"installed. Install it with: {INSTALL}") from None
    processor = PySaxonProcessor(license=False)
    compiler = processor.new_xslt30_processor()
    compiled = [(name, compiler.compile_stylesheet(stylesheet_file=str(RULES / name))) for name in STYLESHEETS]
    return processor, compiled


def validate_bytes(data: bytes, name: str = "the document") -> list[Assert]:
    """Every failed assert of both rule sets over one UBL document, fatal and warnings."""
    _well_formed_without_doctype(data, name)
    processor, compiled = _executables()
    node = processor.parse_xml(xml_text=data.decode("utf-8"))
    failed = []
    for rules, executable in compiled:
        report = executable.transform_to_string(xdm_node=node)
        failed += _failed_asserts(report, rules)
    return failed


class _Doctype(Exception):
    pass


def _refuse_doctype(*_) -> None:
    raise _Doctype


def _well_formed_without_doctype(data: bytes, name: str) -> None:
    """Parsed once by expat, which stops at a DOCTYPE: a UBL e-invoice never has one, and Saxon
    would fetch its external DTD (a file of this machine, a web address) and expand its entities."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    try:
        parser.Parse(data, True)
    except _Doctype:
        raise NotXml(f"{name} was refused: it declares a DOCTYPE, which a UBL e-invoice never has (it could make "
                     f"the validator read other files). Validate the file as your invoicing software made it.") from None
    except expat.ExpatError as exc:
        raise NotXml(f"{name} is not well-formed XML ({exc}).") from None


def validate_file(path: Path) -> list[Assert]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotXml(f"{path} is not UTF-8 text; a UBL e-invoice is UTF-8 XML.") from None
    return validate_bytes(data, str(path))


def _failed_asserts(svrl: str, rules: str) -> list[Assert]:
    root = ET.fromstring(svrl.encode("utf-8"))
    found = []
    for node in root.iter(f"{_SVRL}failed-assert"):
        text = " ".join("".join(node.find(f"{_SVRL}text").itertext()).split()) if node.find(f"{_SVRL}text") is not None else ""
        found.append(Assert(node.get("id", ""), node.get("flag", "fatal"), text, _readable(node.get("location", "")), rules))
    return found


def _readable(location: str) -> str:
    """/*:Invoice[namespace-uri()='...'][1]/*:LegalMonetaryTotal[...][1] -> /Invoice[1]/LegalMonetaryTotal[1]."""
    return re.sub(r"\[namespace-uri\(\)='[^']*'\]", "", location).replace("*:", "")
