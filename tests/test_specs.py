"""Package specs: the shipped ones load; bad ones are refused with the file, the JSON path and what
was expected; parameters resolve from the Settings sheet; VAT codes are looked up."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal as D
from pathlib import Path

import jsonschema
import pytest

from toolkit import layout
from toolkit import spec as specs
from toolkit.model import Settings, Where
from toolkit.resources import specs_dir

DOC = Path(__file__).resolve().parents[1] / "docs" / "spec-reference.md"


def test_every_shipped_spec_loads_and_validates():
    loaded = specs.list_specs()
    assert {"winbooks", "csv-journal"} <= {s.id for s in loaded}
    for spec in loaded:
        assert spec.path.stem == spec.id
        assert spec.plans.files
        jsonschema.validate(json.loads(spec.path.read_text(encoding="utf-8")), specs.schema())


def test_the_schema_is_draft_2020_12_with_an_id():
    schema = specs.schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_lists_agree_with_the_code():
    schema = specs.schema()["$defs"]
    assert tuple(schema["vat_code"]["properties"]["regime"]["enum"]) == layout.VAT_REGIMES
    assert tuple(schema["vat_code"]["properties"]["doc_type"]["enum"]) == layout.DOC_TYPES
    from toolkit.spec.plans import COLLECTION_SCOPES, LINE_ENDINGS, XML_ENCODING_NAMES

    assert set(schema["collection"]["enum"]) == set(COLLECTION_SCOPES)
    assert set(schema["file"]["properties"]["line_ending"]["enum"]) == set(LINE_ENDINGS)
    assert set(schema["file"]["properties"]["encoding"]["enum"]) == set(XML_ENCODING_NAMES)
    from toolkit.customers.numbers import RULE_KEYS

    assert set(schema["number_rules"]["properties"]) == RULE_KEYS | {"length"}  # `length`: resolved to min/max_length


def test_unknown_id_names_the_known_packages():
    with pytest.raises(specs.SpecError, match="no package spec 'nope'; known packages: .*winbooks"):
        specs.load_spec("nope")


# ---- bad specs ----------------------------------------------------------------------------------

GOOD = {
    "id": "bad", "name": "Bad", "description": "", "countries": ["BE"], "format_version": "1",
    "parameters": [{"name": "journal", "label": "Journal", "type": "string", "help": ""}],
    "files": [{
        "name": "out.txt", "encoding": "cp1252", "line_ending": "crlf", "trailing_newline": True,
        "layout": {"kind": "delimited", "delimiter": ";"},
        "records": [{"collection": "postings", "fields": [
            {"name": "number", "source": "document.number"},
            {"name": "amount", "source": "posting.amount", "format": {"type": "decimal", "places": 2}},
            {"name": "journal", "param": "journal"},
        ]}],
    }],
}


def load(tmp_path, data) -> specs.Spec:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return specs.load_spec(path)


def refused(tmp_path, change) -> str:
    data = copy.deepcopy(GOOD)
    change(data)
    with pytest.raises(specs.SpecError) as caught:
        load(tmp_path, data)
    message = str(caught.value)
    assert str(tmp_path / "bad.json") in message  # names the file
    assert "Traceback" not in message
    return message


def field(data, i):
    return data["files"][0]["records"][0]["fields"][i]


def test_the_good_spec_loads(tmp_path):
    assert load(tmp_path, GOOD).id == "bad"


def test_wrong_type_names_the_json_path_and_the_expected_type(tmp_path):
    message = refused(tmp_path, lambda d: field(d, 1)["format"].update(places="2"))
    assert "$.files[0].records[0].fields[1].format.places: expected integer, got str '2'" in message


def test_unknown_key_is_named_with_the_allowed_ones(tmp_path):
    message = refused(tmp_path, lambda d: field(d, 0).update(colour="red"))
    assert "$.files[0].records[0].fields[0]: unknown key 'colour' (allowed: " in message


def test_a_field_needs_exactly_one_source(tmp_path):
    message = refused(tmp_path, lambda d: field(d, 0).update(constant="x"))
    assert "$.files[0].records[0].fields[0]: needs exactly one of source, constant, param" in message


def test_a_wrong_enum_value_lists_the_choices(tmp_path):
    message = refused(tmp_path, lambda d: d["files"][0].update(encoding="ebcdic"))
    assert "$.files[0].encoding: 'ebcdic' is not one of 'cp1252', 'latin-1'" in message


@pytest.mark.parametrize("name", ["../x.txt", "a/b.txt", "..\\x.txt", "/etc/passwd", "C:x.txt", "{export_id}/x.txt"])
def test_a_file_name_cannot_leave_the_output_folder(tmp_path, name):
    message = refused(tmp_path, lambda d: d["files"][0].update(name=name))
    assert "$.files[0].name: the file name" in message


def test_unknown_placeholder_in_a_file_name(tmp_path):
    message = refused(tmp_path, lambda d: d["files"][0].update(name="{__class__}.txt"))
    assert "$.files[0].name: unknown placeholder" in message
    message = refused(tmp_path, lambda d: d["files"][0].update(name="{param.siren}.txt"))
    assert "no parameter 'siren'" in message


def test_unknown_source_path_says_what_exists(tmp_path):
    message = refused(tmp_path, lambda d: field(d, 0).update(source="document.numbr"))
    assert "$.files[0].records[0].fields[0].source: 'document.numbr': document has no 'numbr' (it has: " in message
    assert "number" in message


@pytest.mark.parametrize("path, expected", [
    ("document.invoice.where", "document has no 'invoice'"),
    ("document.__class__", "is not a source path"),
    ("settings.extra", "settings has no 'extra'"),
    ("customer.where.sheet", "customer has no 'where'"),
    ("document.customer", "names a record, not a value"),
    ("account.name", "'account' is not available here"),
    ("os.system", "unknown scope 'os'"),
])
def test_source_paths_reach_only_model_values(tmp_path, path, expected):
    message = refused(tmp_path, lambda d: field(d, 0).update(source=path))
    assert expected in message


def test_unknown_parameter(tmp_path):
    message = refused(tmp_path, lambda d: field(d, 2).update(param="jurnal"))
    assert "$.files[0].records[0].fields[2].param: 'params.jurnal': no parameter 'jurnal' is declared" in message


def test_more_semantic_errors(tmp_path):
    assert "unknown date directive '%Z'" in refused(
        tmp_path, lambda d: field(d, 0).update(source="document.date", format={"type": "date", "pattern": "%Y%Z"}))
    assert "a decimal format needs a decimal or integer source, this one is text" in refused(
        tmp_path, lambda d: field(d, 0).update(format={"type": "decimal"}))
    assert "not a valid regular expression" in refused(
        tmp_path, lambda d: d["parameters"][0].update(pattern="(["))
    assert "cannot be written in cp1252" in refused(tmp_path, lambda d: d["files"][0]["records"][0]["fields"].__setitem__(
        0, {"name": "mark", "constant": "✓"}))
    assert "a second row for domestic" in refused(
        tmp_path, lambda d: d.update(vat_codes=[{"regime": "domestic", "rate": 21, "code": "A"},
                                                {"regime": "domestic", "rate": 21.0, "code": "B"}]))
    assert "an option can only come from a choice parameter" in refused(
        tmp_path, lambda d: d["files"][0]["layout"].update(delimiter={"param": "journal"}))
    assert "'2024-13-01' cannot be compared with a date value" in refused(
        tmp_path, lambda d: d["files"][0]["records"][0].update(
            when=[{"path": "document.date", "op": "gt", "value": "2024-13-01"}]))


def test_not_json(tmp_path):
    with pytest.raises(specs.SpecError, match=r"bad\.json: not valid JSON"):
        load(tmp_path, "{ nope")


def test_several_schema_errors_are_listed_together(tmp_path):
    def change(d):
        d["files"][0]["encoding"] = "x"
        d["files"][0]["line_ending"] = "crlf2"
    message = refused(tmp_path, change)
    assert "$.files[0].encoding" in message and "$.files[0].line_ending" in message


# ---- VAT codes ----------------------------------------------------------------------------------


def test_winbooks_vat_codes():
    spec = specs.load_spec("winbooks")
    assert spec.vat_code("domestic", D("21.00"), "invoice") == "211400"
    assert spec.vat_code("domestic", D("6"), "credit note") == "211200"
    assert spec.vat_code("domestic", D("0"), "invoice") == "211100"
    assert spec.vat_code("intra-EU goods", D("0"), "credit note") == "221000"
    assert spec.vat_code("reverse charge", D("21"), "invoice") == "212000"
    assert spec.vat_code("domestic", D("9"), "invoice") is None
    assert spec.vat_code("exempt", D("0"), "invoice") is None


def test_the_most_specific_vat_code_row_wins(tmp_path):
    data = copy.deepcopy(GOOD)
    data["vat_codes"] = [
        {"regime": "domestic", "code": "ANY"},
        {"regime": "domestic", "rate": 21, "code": "R21"},
        {"regime": "domestic", "doc_type": "credit note", "code": "CN"},
        {"regime": "domestic", "rate": 21, "doc_type": "credit note", "code": "CN21"},
    ]
    spec = load(tmp_path, data)
    assert [spec.vat_code("domestic", D(r), t) for r, t in [("21", "credit note"), ("21.0", "invoice"),
                                                            ("6", "credit note"), ("6", "invoice")]] == ["CN21", "R21", "CN", "ANY"]


# ---- parameters ---------------------------------------------------------------------------------


def test_parameters_resolve_by_label_or_name_with_types_and_defaults():
    spec = specs.load_spec("winbooks")
    settings = Settings(extra={"winbooks BOOK year ": "A", "payment_code": 14.0})
    values, findings = specs.resolve_params(spec, settings)
    assert findings == []
    assert values == {"book_year": "A", "period_style": "monthly", "payment_code": "14"}


def test_choice_parameters_are_canonical_and_checked():
    spec = specs.load_spec("winbooks")
    values, findings = specs.resolve_params(spec, Settings(extra={"WinBooks periods": "Quarterly"}))
    assert values["period_style"] == "quarterly" and findings == []
    where = {"WinBooks periods": Where("Settings", 31, {"value": "B"})}
    values, findings = specs.resolve_params(spec, Settings(extra={"WinBooks periods": "yearly"}, where=where))
    assert [(f.code, f.severity, f.sheet, f.cell) for f in findings] == [("param.invalid", "error", "Settings", "B31")]
    assert "must be one of monthly, quarterly, not 'yearly'" in findings[0].message


def test_parameter_pattern_and_required(tmp_path):
    spec = specs.load_spec("winbooks")
    _, findings = specs.resolve_params(spec, Settings(extra={"WinBooks book year": "2024"}))
    assert [f.code for f in findings] == ["param.invalid"] and "book year" in findings[0].message
    data = copy.deepcopy(GOOD)
    data["parameters"] = [
        {"name": "siren", "label": "SIREN", "type": "string", "required": True, "pattern": "^[0-9]{9}$", "help": "9 digits."},
        {"name": "journal", "label": "Journal", "type": "string", "default_setting": "invoice_journal", "help": ""},
        {"name": "year_start", "label": "Fiscal year start", "type": "date", "default": "2024-01-01", "help": ""},
        {"name": "length", "label": "Account length", "type": "integer", "min": 4, "max": 8, "default": 4, "help": ""},
        {"name": "cash", "label": "Cash basis", "type": "boolean", "default": False, "help": ""},
    ]
    spec = load(tmp_path, data)
    values, findings = specs.resolve_params(spec, Settings(invoice_journal="VK", extra={"Account length": "9", "cash": "yes"}))
    assert [f.code for f in findings] == ["param.missing", "param.invalid"]
    assert "SIREN' is required. 9 digits." in findings[0].message and "at most 8" in findings[1].message
    assert values["journal"] == "VK" and values["cash"] is True and str(values["year_start"]) == "2024-01-01"


def test_a_bad_default_is_a_spec_error(tmp_path):
    data = copy.deepcopy(GOOD)
    data["parameters"][0].update(type="integer", default="x")
    with pytest.raises(specs.SpecError, match=r"\$\.parameters\[0\]\.default: the default is not a valid integer"):
        load(tmp_path, data)


# ---- the reference documentation ---------------------------------------------------------------


def schema_keys(node, found=None) -> set[str]:
    found = set() if found is None else found
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            found.add(key)
            schema_keys(value, found)
        for key, value in node.items():
            if key != "properties":
                schema_keys(value, found)
    elif isinstance(node, list):
        for item in node:
            schema_keys(item, found)
    return found


def test_the_reference_documents_exactly_the_schema_keys():
    """Every key of the schema has a row in docs/spec-reference.md, and every documented key exists."""
    documented, in_key_table = set(), False
    for row in DOC.read_text(encoding="utf-8").splitlines():
        if row.startswith("| key |"):
            in_key_table = True
        elif not row.startswith("|"):
            in_key_table = False
        elif in_key_table and (m := re.match(r"\| `([^`]+)` \|", row)):
            documented.add(m.group(1))
    keys = schema_keys(specs.schema())
    assert keys - documented == set(), "keys missing from docs/spec-reference.md"
    assert documented - keys == set(), "documented keys the schema does not have"


def test_the_reference_names_every_enum_value():
    text = DOC.read_text(encoding="utf-8")
    values = set()

    def walk(node):
        if isinstance(node, dict):
            values.update(v for v in node.get("enum", ()) if isinstance(v, str))
            if isinstance(node.get("const"), str):
                values.add(node["const"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(specs.schema())
    missing = {v for v in values if f"`{v}`" not in text}
    assert missing == set()


def test_specs_dir_holds_the_schema():
    assert (specs_dir() / "schema.json").is_file()


def test_every_problem_of_a_spec_is_reported_at_once_with_its_json_path(tmp_path):
    def change(d):
        field(d, 0)["source"] = "document.numbr"  # unknown source path
        field(d, 1)["format"] = {"type": "date", "pattern": "%Y%Q"}  # a date format on a number, bad directive
        d["files"][0]["name"] = "{export_idd}.txt"  # unknown placeholder
        d["parameters"].append(dict(d["parameters"][0]))  # a parameter declared twice
    with pytest.raises(specs.SpecError) as caught:
        load(tmp_path, _changed(change))
    problems = [(p.at, p.message.split(":")[0]) for p in caught.value.problems]
    assert [at for at, _ in problems] == [
        "$.parameters[1].name",
        "$.files[0].records[0].fields[0].source",
        "$.files[0].records[0].fields[1].format.type",
        "$.files[0].name",
    ]
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'bad.json'}: 4 problems:\n")
    for p in caught.value.problems:
        assert f"\n  {p.at}: {p.message}" in message


def test_three_mistakes_in_different_files_records_and_conditions(tmp_path):
    data = _changed(lambda d: None)
    second = copy.deepcopy(data["files"][0])
    second["name"] = "two.txt"
    second["records"][0]["when"] = [{"path": "document.date", "op": "gt", "value": "2024-13-01"}]
    second["records"][0]["fields"][2]["param"] = "jurnal"
    data["files"].append(second)
    data["files"][0]["layout"]["delimiter"] = ""
    with pytest.raises(specs.SpecError) as caught:
        load(tmp_path, data)
    assert [p.at for p in caught.value.problems] == [
        "$.files[0].layout.delimiter",
        "$.files[1].records[0].fields[2].param",
        "$.files[1].records[0].when[0].value",
    ]


def _changed(change) -> dict:
    data = copy.deepcopy(GOOD)
    change(data)
    return data


def test_compiled_plans_are_immutable_and_hold_no_json_and_no_compiler():
    """Every object reachable from a shipped spec's plans is a frozen dataclass, a tuple or a plain
    value; functions (getters, conditions) capture nothing mutable and no compiler."""
    import dataclasses as dc
    import datetime as dt_
    from operator import attrgetter

    from toolkit.spec import compile as compiler

    seen: set[int] = set()

    def walk(obj, path):
        if id(obj) in seen or obj is None or isinstance(obj, (str, int, bool, D, dt_.date, frozenset)):
            return
        seen.add(id(obj))
        assert not isinstance(obj, (dict, list, set, compiler._Compiler)), f"{path} is a {type(obj).__name__}"
        if dc.is_dataclass(obj):
            assert type(obj).__dataclass_params__.frozen, f"{path}: {type(obj).__name__} is not frozen"
            for f in dc.fields(obj):
                walk(getattr(obj, f.name), f"{path}.{f.name}")
        elif isinstance(obj, tuple):
            for i, item in enumerate(obj):
                walk(item, f"{path}[{i}]")
        elif isinstance(obj, attrgetter):
            pass
        elif callable(obj):
            for i, cell in enumerate(getattr(obj, "__closure__", None) or ()):
                walk(cell.cell_contents, f"{path}<closure {i}>")
        else:
            raise AssertionError(f"{path} is a {type(obj).__name__}")

    for spec in specs.list_specs():
        walk(spec.plans, spec.id)
    assert len(seen) > 1000
