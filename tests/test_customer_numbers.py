import datetime as dt
import re

import pytest
from hypothesis import given, settings, strategies as st

from toolkit.customers.numbers import (
    NumberingError,
    assign_numbers,
    check_number,
    duplicate_number_findings,
    invalid_number_findings,
    order_for_numbering,
    start_value_findings,
)
from toolkit.model import Customer, Where

DATEV = {"pattern": r"\d{5}", "min": 10000, "max": 69999}


def customers(*ids):
    return [Customer(cid, f"Customer {cid}") for cid in ids]


def test_next_free_from_start_skips_used_and_fills_gaps():
    got = assign_numbers(customers("A", "B", "C"), {"100000", "100002", "100500"}, 100000, {})
    assert got == {"A": "100001", "B": "100003", "C": "100004"}


def test_same_inputs_same_numbers():
    args = (customers("A", "B"), {"100001"}, 100000, {})
    assert assign_numbers(*args) == assign_numbers(*args)


def test_used_number_with_leading_zeros_is_not_reused():
    got = assign_numbers(customers("A"), {"0100000", " 100001 "}, 100000, {})
    assert got == {"A": "100002"}


def test_non_numeric_used_numbers_are_ignored_for_counting():
    assert assign_numbers(customers("A"), {"C100", "ABC"}, 100000, {}) == {"A": "100000"}


def test_order_first_invoice_date_then_customer_id():
    cs = customers("C10", "C2", "C1", "C3")
    dates = {"C10": dt.date(2025, 1, 5), "C2": dt.date(2025, 1, 5), "C3": dt.date(2025, 1, 1)}
    ordered = [c.customer_id for c in order_for_numbering(cs, dates)]
    assert ordered == ["C3", "C2", "C10", "C1"]  # C1 has no invoice: last
    assert assign_numbers(order_for_numbering(cs, dates), set(), 100000, {}) == {
        "C3": "100000",
        "C2": "100001",
        "C10": "100002",
        "C1": "100003",
    }


def test_datev_range_fits():
    assert assign_numbers(customers("A", "B"), {"10000"}, 10000, DATEV) == {"A": "10001", "B": "10002"}


def test_datev_range_exhausted_is_an_error():
    used = {str(n) for n in range(69990, 70000)}
    with pytest.raises(NumberingError, match="exhausted.*69999"):
        assign_numbers(customers("A"), used, 69990, DATEV)


def test_exhaustion_raises_before_returning_anything():
    # 2 numbers left, 3 customers: the whole call fails, no partial result to write.
    with pytest.raises(NumberingError, match="1 customer"):
        assign_numbers(customers("A", "B", "C"), set(), 69998, DATEV)


def test_default_start_above_datev_max_is_an_error():
    with pytest.raises(NumberingError, match="start value 100000 is above"):
        assign_numbers(customers("A"), set(), 100000, DATEV)


def test_start_below_min_breaks_the_rules():
    with pytest.raises(NumberingError, match="below the package's lowest number 10000"):
        assign_numbers(customers("A"), set(), 500, {"min": 10000})


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"pattern": r"\d{5}"}, "does not match the package's pattern"),
        ({"max_length": 5}, "longer than 5"),
        ({"min_length": 7}, "shorter than 7"),
        ({"max": 99999}, "above"),
    ],
)
def test_rule_violations_raise(rules, message):
    with pytest.raises(NumberingError, match=message):
        assign_numbers(customers("A"), set(), 100000, rules)


def test_unknown_rule_key_is_refused():
    with pytest.raises(NumberingError, match="unknown customer number rule"):
        assign_numbers(customers("A"), set(), 100000, {"width": 6})


def test_check_number():
    assert check_number("100000", {"pattern": r"\d{6}", "min": 100000}) is None
    assert "pattern" in check_number("A100", {"pattern": r"\d+"})
    assert "whole number" in check_number("A100", {"min": 1})
    assert "above" in check_number("70000", DATEV)


def test_start_value_warning():
    where = Where("Settings", 19, {"value": "B"})
    assert start_value_findings(100000, where) == []
    [finding] = start_value_findings(1000, where)
    assert finding.code == "settings.customer_number_start.low"
    assert finding.severity == "warning"
    assert finding.cell == "B19"
    assert "consult your accountant" in finding.message.lower()


def test_duplicate_numbers_are_errors_on_each_customer():
    w = lambda row: Where("Customers", row, {"accounting_number": "M"})  # noqa: E731
    cs = [
        Customer("C1", "A", accounting_number="100001", where=w(2)),
        Customer("C2", "B", accounting_number="0100001", where=w(3)),
        Customer("C3", "C", accounting_number="100002", where=w(4)),
        Customer("C4", "D", where=w(5)),
        Customer("C5", "E", where=w(6)),
    ]
    findings = duplicate_number_findings(cs)
    assert [(f.code, f.cell) for f in findings] == [("customer.number.duplicate", "M2"), ("customer.number.duplicate", "M3")]
    assert "C2" in findings[0].message and all(f.is_error for f in findings)


def test_invalid_existing_numbers():
    cs = [Customer("C1", "A", accounting_number="123"), Customer("C2", "B", accounting_number="12345")]
    [finding] = invalid_number_findings(cs, DATEV)
    assert finding.code == "customer.number.invalid" and "C1" in finding.message


@settings(max_examples=200, deadline=None)
@given(
    used=st.sets(st.one_of(st.integers(0, 300).map(str), st.integers(0, 300).map(lambda n: f"{n:06d}"), st.text(max_size=4))),
    count=st.integers(0, 40),
    start=st.integers(0, 250),
)
def test_generated_numbers_are_unique_and_never_used(used, count, start):
    got = assign_numbers(customers(*(f"C{i}" for i in range(count))), used, start, {})
    values = list(got.values())
    assert len(got) == count and len(set(values)) == count
    used_ints = {int(u.strip()) for u in used if re.fullmatch('[0-9]+', u.strip())}
    assert not set(values) & {u.strip() for u in used}
    assert not {int(v) for v in values} & used_ints
    assert all(int(v) >= start for v in values)


# ---- the package's own rules, from its parameters ---------------------------------------------------


@pytest.mark.parametrize("length", [4, 5, 6, 7, 8])
def test_datev_debtor_accounts_follow_the_sachkontenlaenge(length):
    """DATEV personal accounts have Sachkontenlänge + 1 digits; debtors are the ones starting 1-6
    (10000-69999 with 4). Written here from formats.md 5.3 and DATEV's standard charts."""
    from toolkit.customers.numbers import default_start
    from toolkit.spec import load_spec

    rules = load_spec("datev").customer_number_rules({"account_length": length})
    low, high = 10 ** length, 7 * 10 ** length - 1
    assert check_number(str(low), rules) is None and check_number(str(high), rules) is None
    for wrong in (low - 1, high + 1, 10 ** (length - 1), 10 ** (length + 1)):
        assert check_number(str(wrong), rules) is not None, wrong
    # 100000 stays the start where it is a debtor account (Sachkontenlänge 5), else the first debtor
    assert default_start(rules) == (100000 if length == 5 else low)
    # a parameter without a value (reported by the parameter check) drops the rules that need it
    assert load_spec("datev").customer_number_rules({"account_length": None}) == {"pattern": "^[1-9][0-9]*$"}


def test_a_new_datev_workbook_numbers_its_customers_as_debtor_accounts(tmp_path):
    """A new workbook leaves the start empty: the package's default, a valid debtor account."""
    from toolkit import layout
    from toolkit.app.numbering import package_number_rules, plan_assign
    from toolkit.book import template
    from toolkit.book.read import read_workbook

    path = tmp_path / "new.xlsx"
    template.save_template(path, {
        layout.SETTINGS_SHEET: {"company_name": "GmbH", "package": "datev", "DATEV Sachkontenlänge": 4},
        layout.CUSTOMERS.name: [["K1", "Erste GmbH"], ["K2", "Zweite GmbH"]],
    })
    wb = read_workbook(path)
    assert wb.settings.customer_number_start is None
    edits, message, findings = plan_assign(wb, path, package_number_rules(wb))
    assert findings == [] and "2 customer(s) got a number (10000 to 10001)" in message
    # a start typed below the package's default still warns; one the package cannot take is refused
    rules = package_number_rules(wb)
    assert [f.code for f in start_value_findings(5000, Where("Settings", 19, {"value": "B"}), usual=10000)] == [
        "settings.customer_number_start.low"]
    with pytest.raises(NumberingError, match="above the package's highest number 69999"):
        assign_numbers(customers("K1"), set(), 100000, rules)
