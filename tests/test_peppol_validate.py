"""The official CEN EN 16931 and Peppol BIS 3 rules, run with saxonche over UBL files."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

import pytest

from toolkit.cli import main
from toolkit.peppol import validate

EXAMPLES = sorted((Path(__file__).parent / "peppol" / "examples").glob("*.xml"))


def test_the_examples_are_there():
    assert len(EXAMPLES) == 7


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_official_examples_pass_with_no_fatal_assert(path):
    failed = validate.validate_file(path)
    assert [a for a in failed if a.fatal] == []


def test_a_wrong_payable_amount_fires_br_co_16(tmp_path):
    text = (EXAMPLES[0].parent / "base-example.xml").read_text(encoding="utf-8")
    assert text.count(">1656.25</cbc:PayableAmount>") == 1
    tampered = tmp_path / "tampered.xml"
    tampered.write_text(text.replace(">1656.25</cbc:PayableAmount>", ">1656.26</cbc:PayableAmount>"), encoding="utf-8")
    fatal = [a for a in validate.validate_file(tampered) if a.fatal]
    assert [a.id for a in fatal] == ["BR-CO-16"]
    assert fatal[0].location == "/Invoice[1]/LegalMonetaryTotal[1]" and "BT-115" in fatal[0].text


def test_a_missing_buyer_reference_fires_the_peppol_rules(tmp_path):
    text = (EXAMPLES[0].parent / "base-example.xml").read_text(encoding="utf-8")
    start, end = text.index("<cbc:BuyerReference>"), text.index("</cbc:BuyerReference>") + len("</cbc:BuyerReference>")
    stripped = tmp_path / "no-reference.xml"
    stripped.write_text(text[:start] + text[end:], encoding="utf-8")
    fatal = [a for a in validate.validate_file(stripped) if a.fatal]
    assert {a.id for a in fatal} == {"PEPPOL-EN16931-R003"}
    assert {a.rules for a in fatal} == {"PEPPOL-EN16931-UBL.xslt"}


def test_validate_ubl_command(tmp_path, capsys):
    good = EXAMPLES[0].parent / "base-example.xml"
    assert main(["validate-ubl", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.xml"
    bad.write_text(good.read_text(encoding="utf-8").replace(">1656.25</cbc:PayableAmount>", ">1.00</cbc:PayableAmount>"), encoding="utf-8")
    assert main(["validate-ubl", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "bad.xml: REJECTED" in out and "BR-CO-16" in out and "1 of 2 file(s) valid." in out


def test_validate_ubl_on_junk_is_a_message(tmp_path, capsys):
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<Invoice><unclosed></Invoice>")
    assert main(["validate-ubl", str(junk)]) == 2
    assert "is not well-formed XML" in capsys.readouterr().err
    assert main(["validate-ubl", str(tmp_path / "absent.xml")]) == 2
    assert "Cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("doctype", [b'<!DOCTYPE x SYSTEM "file:///etc/passwd">',
                                     b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'])
def test_a_doctype_is_refused_before_the_validator_reads_it(tmp_path, capsys, doctype):
    """Saxon fetched an external DTD (here /etc/passwd, failing with a traceback) and expanded
    entities: a UBL file never declares a DOCTYPE, so one is refused with a message."""
    text = (EXAMPLES[0].parent / "base-example.xml").read_bytes()
    start = text.index(b"<Invoice")
    hostile = tmp_path / "hostile.xml"
    hostile.write_bytes(text[:start] + doctype + text[start:])
    assert main(["validate-ubl", str(hostile)]) == 2
    err = capsys.readouterr().err
    assert "declares a DOCTYPE" in err and "Traceback" not in err


def test_one_unreadable_file_among_several_does_not_stop_the_others(tmp_path, capsys):
    """The first file that was not XML stopped the command: the files after it were not checked."""
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<Invoice><unclosed></Invoice>")
    good = EXAMPLES[0].parent / "base-example.xml"
    assert main(["validate-ubl", str(junk), str(good)]) == 1
    out = capsys.readouterr().out
    assert f"{junk}: REJECTED, not checked: " in out and "is not well-formed XML" in out
    assert f"{good}: valid" in out and "1 of 2 file(s) valid." in out


def test_without_saxonche_the_command_says_how_to_install_it(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_saxon(name, *args, **kwargs):
        if name == "saxonche":
            raise ImportError("No module named 'saxonche'")
        return real_import(name, *args, **kwargs)

    validate._executables.cache_clear()
    monkeypatch.delitem(sys.modules, "saxonche", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_saxon)
    try:
        assert main(["validate-ubl", str(EXAMPLES[0])]) == 2
    finally:
        monkeypatch.undo()
        validate._executables.cache_clear()
    err = capsys.readouterr().err
    assert 'pip install "ledger-export-toolkit[peppol]"' in err and "Traceback" not in err
