"""A maximum of records per file (`max_records`): more are split into numbered parts, each with the
file's header lines; a file within the limit keeps its name. DATEV: 99,999 bookings per file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal as D

import pytest

from test_render import batch, invoice_doc, spec_of, text_file
from toolkit import spec as specs
from toolkit.model import RevenueGroup
from toolkit.spec import spool
from toolkit.spec.spool import pieces

DATEV = {"berater": 1001, "mandant": 1, "fiscal_year_start": dt.date(2024, 1, 1), "account_length": 6, "skr": ""}


def numbered(count: int):
    return [invoice_doc(f"F{n}", row=n + 1) for n in range(1, count + 1)]


def split_file(max_records=2, **extra):
    return text_file([{"collection": "documents", "fields": [{"name": "number", "source": "document.number"}]}],
                     header=[{"text": "HEAD"}], max_records=max_records, part_name="out_{part}.txt", **extra)


def test_more_records_than_the_maximum_are_split_into_numbered_parts(tmp_path):
    result = specs.render(spec_of(tmp_path, split_file()), batch(numbered(5)))
    assert result.files == [("out_001.txt", b"HEAD\nF1\nF2"), ("out_002.txt", b"HEAD\nF3\nF4"), ("out_003.txt", b"HEAD\nF5")]


@pytest.mark.parametrize("count", [1, 2])
def test_a_file_within_the_maximum_keeps_its_name(tmp_path, count):
    result = specs.render(spec_of(tmp_path, split_file()), batch(numbered(count)))
    assert result.files == [("out.txt", ("HEAD\n" + "\n".join(f"F{n}" for n in range(1, count + 1))).encode())]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])  # utf-8-sig: a BOM and an encoder per part
def test_parts_in_the_temporary_file_are_the_same_bytes(tmp_path, monkeypatch, encoding):
    """Parts that wait in the render's temporary file (spool.py) are each written whole before the
    next starts, trailing newline included: the same bytes as in memory."""
    file = split_file(trailing_newline=True, encoding=encoding)
    in_memory = specs.render(spec_of(tmp_path, file), batch(numbered(7))).files
    monkeypatch.setattr(spool, "SPOOL_BYTES", 4)  # every part to the temporary file
    spooled = specs.render(spec_of(tmp_path, file), batch(numbered(7))).files
    assert [(name, b"".join(pieces(data))) for name, data in spooled] == in_memory
    assert [name for name, _ in in_memory] == ["out_001.txt", "out_002.txt", "out_003.txt", "out_004.txt"]
    assert in_memory[0][1].decode(encoding) == "HEAD\nF1\nF2\n"


@pytest.mark.parametrize("change, expected", [
    (lambda f: f.pop("part_name"), r"\$\.files\[0\]: max_records and part_name go together"),
    (lambda f: f.update(part_name="out.txt"), r"\$\.files\[0\]\.part_name: the parts need different names"),
    (lambda f: f.update(part_name="../{part}.txt"), r"\$\.files\[0\]\.part_name: the file name"),
    (lambda f: f.update(name="{part}.txt"), r"\$\.files\[0\]\.name: unknown placeholder \{part\}"),
])
def test_split_declarations_are_checked_at_load(tmp_path, change, expected):
    file = split_file()
    change(file)
    with pytest.raises(specs.SpecError, match=expected):
        spec_of(tmp_path, file)


def test_datev_splits_more_than_99999_bookings(tmp_path):
    """100,000 bookings (one document with 100,000 revenue groups): two files, 99,999 and 1 bookings,
    each with the EXTF header record and the column names."""
    group = RevenueGroup("700000", D(21), "domestic", "", D("1.00"), D("0.00"), D("1.00"), D("0.21"))
    doc = dataclasses.replace(invoice_doc("F1"), revenue_groups=(group,) * 100_000)
    result = specs.render(specs.load_spec("datev"), batch([doc], params=DATEV))
    files = dict(result.files)
    assert [n for n in files if n.startswith("EXTF_Buchungsstapel")] == ["EXTF_Buchungsstapel_001.csv",
                                                                         "EXTF_Buchungsstapel_002.csv"]
    # (the first part is big enough to wait in the render's temporary file: read with `pieces`)
    first = b"".join(pieces(files["EXTF_Buchungsstapel_001.csv"])).decode("cp1252").split("\r\n")
    second = b"".join(pieces(files["EXTF_Buchungsstapel_002.csv"])).decode("cp1252").split("\r\n")
    assert first[:2] == second[:2] and first[0].startswith('"EXTF";700;21;') and first[1].startswith('"Umsatz')
    assert (len(first) - 3, len(second) - 3) == (99_999, 1)  # minus the header record, the names and the final ""
    assert first[2] == second[2] and first[2].startswith("1,21;")


def test_datev_declares_the_limit():
    [booking] = [f for f in specs.load_spec("datev").plans.files if f.name == "EXTF_Buchungsstapel.csv"]
    assert booking.max_records == 99_999


# ---- length limits of a column (DATEV: Beleginfo 20, Buchungstext 60, Belegfeld 1 12) ---------------


def columns_file(**column):
    return {**text_file([{"collection": "documents", "fields": [{"name": "text", "source": "document.description"}]}]),
            "columns": [{"name": "text", **column}]}


def test_a_field_gets_its_columns_limit(tmp_path):
    result = specs.render(spec_of(tmp_path, columns_file(max_length=5)), batch([invoice_doc(description="Consulting")]))
    assert result.files[0][1] == b"Consu"
    assert [w.code for w in result.warnings] == ["text.truncated"]
    with pytest.raises(specs.RenderError) as caught:
        specs.render(spec_of(tmp_path, columns_file(max_length=5, overflow="error")), batch([invoice_doc(description="Consulting")]))
    assert [f.code for f in caught.value.findings] == ["text.too_long"]


def test_a_field_cannot_be_longer_than_its_column(tmp_path):
    file = columns_file(max_length=5)
    file["records"][0]["fields"][0]["max_length"] = 6
    with pytest.raises(specs.SpecError, match=r"\$\.files\[0\]\.records\[0\]\.fields\[0\]\.max_length: longer than the column's max_length 5"):
        spec_of(tmp_path, file)


def test_datev_columns_carry_the_package_limits():
    [booking] = [f for f in specs.load_spec("datev").plans.files if f.name == "EXTF_Buchungsstapel.csv"]
    for record in booking.records[0].children:  # the booking and the reversed booking of a document
        fields = {f.name: f for f in record.fields}
        assert (fields["Buchungstext"].max_length, fields["Buchungstext"].overflow) == (60, "truncate-and-warn")
        assert (fields["Belegfeld 1"].max_length, fields["Belegfeld 1"].overflow) == (12, "error")
        assert fields["Belegfeld 1"].text.allowed == "A-Za-z0-9$&%*+\\-/"
    spec = specs.load_spec("datev")
    raw = {c["name"]: c for c in json.loads(spec.path.read_text(encoding="utf-8"))["files"][0]["columns"]
           if isinstance(c, dict)}
    assert all(raw[f"Beleginfo - Art {i}"]["max_length"] == 20 for i in range(1, 9))
