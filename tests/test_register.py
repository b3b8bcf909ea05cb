"""The register: versioned event lines, old lines still read, damage reported by line, never a traceback."""

from __future__ import annotations

import json

import pytest

from toolkit.app.register import FILE_NAME, Register, RegisterDamaged, file_problems


def entry(export_id: str, documents=("F1",), company="BE0123", files=None) -> dict:
    return {"id": export_id, "company": company, "created_at": "2026-04-02T09:00:00", "package": "winbooks",
            "period_from": "2026-01-01", "period_to": "2026-03-31", "parameters": {},
            "documents": list(documents), "customers": 1, "generated_numbers": {},
            "files": files or {"ACT.txt": "0" * 64}, "workbook": "/x/demo.xlsx"}


def write_lines(tmp_path, *lines: bytes) -> Register:
    (tmp_path / FILE_NAME).write_bytes(b"".join(lines))
    return Register(tmp_path)


def line(record: dict) -> bytes:
    return (json.dumps(record) + "\n").encode()


def test_only_committed_exports_count(tmp_path):
    register = Register(tmp_path)
    register.record_pending(entry("A"))
    register.record_committed("A")
    register.record_pending(entry("B", ["F2"]))
    register.record_failed("B", "disk full")
    register.record_pending(entry("C", ["F3"]))
    assert [e["id"] for e in register.entries()] == ["A"]
    assert register.entries()[0]["documents"] == ["F1"] and "event" not in register.entries()[0]
    assert [e["id"] for e in register.load().pending()] == ["C"]
    assert register.ids() == {"A", "B", "C"}  # never used again, whatever became of them
    assert register.find("B") is None and register.find("A")["company"] == "BE0123"


def test_version_1_lines_are_committed_exports(tmp_path):
    old = entry("20260101-090000-winbooks")
    register = write_lines(tmp_path, line(old))
    [read] = register.entries()
    assert read == old
    register.record_pending(entry("20260102-090000-winbooks", ["F2"]))
    register.record_committed("20260102-090000-winbooks")
    assert [e["id"] for e in register.entries("BE0123")] == ["20260101-090000-winbooks", "20260102-090000-winbooks"]
    assert register.entries("other company") == []


def test_every_line_is_whole_and_versioned(tmp_path):
    register = Register(tmp_path)
    register.record_pending(entry("A"))
    register.record_committed("A")
    raw = register.path.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 2
    records = [json.loads(l) for l in raw.splitlines()]
    assert [(r["v"], r["event"], r["id"]) for r in records] == [(2, "pending", "A"), (2, "committed", "A")]


@pytest.mark.parametrize("damage, expected", [
    (b"this is not json\n", "not a JSON record"),
    (b'{"id": "B", "documents": ["F9"]\x00\x00}\n', "NUL bytes"),
    (b'\x00\x00\x00\x00\n', "NUL bytes"),
    (b'{"id": "B", "company": "caf\xe9"}\n', "not UTF-8"),
    (b'{"company": "BE0123", "documents": ["F9"]}\n', "without an export id"),
    (b'{"id": 42}\n', "without an export id"),
    (b'["B"]\n', "not a record"),
    (b'{"id": "../../etc"}\n', "not a plain folder name"),
    (b'{"v": 9, "event": "pending", "id": "B"}\n', "newer ledger-export"),
    (b'{"v": 2, "event": "exploded", "id": "B"}\n', "unknown event"),
    (b'{"v": 2, "event": "committed", "id": "nobody"}\n', "no earlier line records"),
    (line(entry("B", files=["ACT.txt"])), "'files' field"),
    (line({**entry("B"), "generated_numbers": ["C1"]}), "'generated_numbers' field"),
    (line({**entry("B"), "period_to": "31/03/2026"}), "'period_to' field"),
    (line({k: v for k, v in entry("B").items() if k != "created_at"}), "'created_at' field"),
])
def test_a_damaged_line_names_the_file_the_line_and_what_to_do(tmp_path, damage, expected):
    register = write_lines(tmp_path, line(entry("A")), damage, line(entry("C", ["F3"])))
    with pytest.raises(RegisterDamaged) as caught:
        register.entries()
    message = str(caught.value)
    assert expected in message
    assert str(register.path) in message and "line 2" in message
    assert "text editor" in message or "install" in message
    with pytest.raises(RegisterDamaged):  # the repairing read refuses too: it only mends the last line
        register.load(repair=True)


def test_an_export_recorded_twice_is_damage(tmp_path):
    register = write_lines(tmp_path, line(entry("A")), line(entry("A")))
    with pytest.raises(RegisterDamaged, match="line 2: export A is recorded twice"):
        register.entries()


@pytest.mark.parametrize("tail", [
    b'{"v": 2, "event": "pending", "id": "B", "docu',  # a full disk cut the write
    b'\x00\x00\x00\x00\x00\x00',  # a crash left the file longer than what was written
    b'{"v": 2, "event": "pend\xe9',  # cut inside a multibyte character
])
def test_a_partial_last_line_is_skipped_then_cut_away(tmp_path, tail):
    whole = line(entry("A"))
    register = write_lines(tmp_path, whole, tail)
    assert [e["id"] for e in register.entries()] == ["A"]  # a reader tolerates it
    assert register.path.read_bytes() == whole + tail  # and leaves the file alone
    loaded = register.load(repair=True)  # the writer (under the lock) repairs it
    assert "incomplete" in loaded.repaired and "line 2" in loaded.repaired
    assert register.path.read_bytes() == whole
    register.record_pending(entry("B", ["F2"]))
    register.record_committed("B")
    assert [e["id"] for e in register.entries()] == ["A", "B"]
    assert register.load(repair=True).repaired == ""


def test_a_complete_last_record_without_its_line_end_is_kept(tmp_path):
    """E.g. the file was opened and saved in an editor that drops the final newline."""
    whole = line(entry("A"))
    register = write_lines(tmp_path, whole, whole.replace(b'"A"', b'"B"').rstrip(b"\n"))
    assert [e["id"] for e in register.entries()] == ["A", "B"]
    assert "completed" in register.load(repair=True).repaired
    assert register.path.read_bytes().endswith(b"\n") and [e["id"] for e in register.entries()] == ["A", "B"]


def test_blank_lines_and_a_missing_register_are_fine(tmp_path):
    assert Register(tmp_path / "nowhere").entries() == []
    register = write_lines(tmp_path, b"\n", line(entry("A")), b"  \r\n")
    assert [e["id"] for e in register.entries()] == ["A"]


def test_file_problems_checks_each_recorded_sha256(tmp_path):
    import hashlib

    folder = tmp_path / "E1"
    folder.mkdir()
    (folder / "ACT.txt").write_bytes(b"act")
    (folder / "CSF.txt").write_bytes(b"csf")
    record = entry("E1", files={"ACT.txt": hashlib.sha256(b"act").hexdigest(),
                                "CSF.txt": hashlib.sha256(b"csf").hexdigest()})
    assert file_problems(tmp_path, record) == []
    (folder / "CSF.txt").write_bytes(b"csf changed")
    (folder / "ACT.txt").unlink()
    problems = file_problems(tmp_path, record)
    assert problems == ["export E1: ACT.txt is missing", "export E1: CSF.txt was changed since the export (its SHA-256 differs)"]
    assert file_problems(tmp_path, {**record, "id": "E2"}) == [f"export E2: its folder {tmp_path / 'E2'} is missing"]
    assert "not a plain file name" in file_problems(tmp_path, {**record, "files": {"../x": "0"}})[0]


def test_a_register_saved_by_a_text_editor_is_read(tmp_path):
    """The damage message says to fix a line in a text editor: saved by Windows' Notepad, the file
    starts with a byte order mark and its lines end in CR LF. The mark made line 1 'not a JSON
    record', every command refused, and no editor shows it."""
    register = write_lines(tmp_path, b"\xef\xbb\xbf" + line(entry("A")).replace(b"\n", b"\r\n"),
                           line(entry("B", ["F2"])).replace(b"\n", b"\r\n"))
    assert [e["id"] for e in register.entries()] == ["A", "B"]
    register.record_pending(entry("C", ["F3"]))
    register.record_committed("C")
    assert [e["id"] for e in register.entries()] == ["A", "B", "C"]
    assert register.load(repair=True).repaired == ""
    assert register.path.read_bytes().startswith(b"\xef\xbb\xbf")  # read as it is, not rewritten
    bom_only = write_lines(tmp_path, b"\xef\xbb\xbf")
    assert bom_only.entries() == [] and not bom_only.load().partial
