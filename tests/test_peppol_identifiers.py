"""Peppol identifiers from the workbook's facts: endpoint schemes, enterprise numbers, PaymentID,
VAT categories."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from stdnum.be import vat as be_vat

from toolkit.peppol.identifiers import (
    Endpoint, buyer_endpoint, endpoint_from_vat, enterprise_number, parse_peppol_id, payment_id,
    seller_enterprise_number, vat_category,
)


@pytest.mark.parametrize("typed", ["0477.472.701", "BE 0477 472 701", "477472701", "be0477472701", "0477472701"])
def test_enterprise_number_in_any_spelling(typed):
    assert enterprise_number(typed) == "0477472701"


@pytest.mark.parametrize("typed", ["0477472702", "2477472701", "12345", "", "BE047747270A"])
def test_enterprise_number_refuses_a_wrong_check(typed):
    assert enterprise_number(typed) == ""


@given(st.integers(min_value=1, max_value=19_999_999), st.integers(min_value=1, max_value=97))
def test_enterprise_number_agrees_with_stdnum(first, check):
    # stdnum also takes check digits 98 and 99 ((first + check) % 97 == 0); the Peppol rule
    # (PEPPOL-COMMON-R043) wants exactly 97 - first % 97, so only 01..97 are compared.
    digits = f"{first:08d}{check:02d}"
    assert bool(enterprise_number(digits)) == be_vat.is_valid("BE" + digits)


def test_the_seller_enterprise_number_comes_from_the_belgian_vat_number_when_empty():
    assert seller_enterprise_number("", "BE0477472701", "BE") == "0477472701"
    assert seller_enterprise_number("", "0477.472.701", "BE") == "0477472701"
    assert seller_enterprise_number("0403.170.701", "BE0477472701", "BE") == "0403170701"
    assert seller_enterprise_number("", "NL004495445B01", "NL") == ""


@pytest.mark.parametrize("vat, country, expected", [
    ("BE0405178106", "BE", ("0208", "0405178106")),
    ("0405.178.106", "BE", ("0208", "0405178106")),
    ("NL004495445B01", "NL", ("9944", "NL004495445B01")),
    ("DE136695976", "DE", ("9930", "DE136695976")),
    ("FR40303265045", "FR", ("9957", "FR40303265045")),
    ("ATU13585627", "AT", ("9914", "ATU13585627")),
    ("IT00743110157", "IT", ("0211", "IT00743110157")),
    ("GR094259216", "GR", ("9933", "EL094259216")),
    ("SE556188840401", "SE", ("0007", "5561888404")),
    ("NO974760673MVA", "NO", ("0192", "974760673")),
])
def test_endpoint_from_vat(vat, country, expected):
    assert endpoint_from_vat(vat, country) == Endpoint(*expected)


def test_no_endpoint_without_a_usable_number():
    assert endpoint_from_vat("", "BE") is None
    assert endpoint_from_vat("BE0123456789", "BE") is None  # wrong check digits
    assert endpoint_from_vat("DK13585628", "DK") is None  # no VAT scheme for Denmark: a Peppol ID is needed


def test_a_typed_peppol_id_wins():
    assert buyer_endpoint("0088:5790000435968", "BE0405178106", "BE") == Endpoint("0088", "5790000435968")
    assert buyer_endpoint("iso6523-actorid-upis::0208:0405.178.106", "", "BE") == Endpoint("0208", "0405178106")
    assert buyer_endpoint("", "BE0405178106", "BE") == Endpoint("0208", "0405178106")
    assert str(buyer_endpoint("0183:CHE116281710", "", "CH")) == "0183:CHE116281710"


@pytest.mark.parametrize("typed", ["0477472701", "1234:0477472701", "0208:0477472702", "0208:", "BE0477472701"])
def test_a_malformed_peppol_id_is_refused(typed):
    assert parse_peppol_id(typed) is None
    assert buyer_endpoint(typed, "BE0405178106", "BE") is None  # never silently replaced by the VAT number


def test_payment_id():
    # 0020260001 mod 97 = 96: a valid structured communication, in three spellings
    assert 20260001 % 97 == 96
    for typed in ("+++002/0260/00196+++", "002026000196", "002/0260/00196"):
        assert payment_id(typed) == "+++002/0260/00196+++"
    assert payment_id("+++002/0260/00197+++") == "+++002/0260/00197+++"  # a wrong check stays as typed
    assert payment_id("Order 17") == "Order 17"


@pytest.mark.parametrize("regime, rate, expected", [
    ("domestic", Decimal(21), ("S", "")),
    ("domestic", Decimal(6), ("S", "")),
    ("domestic", Decimal(0), ("Z", "")),
    ("reverse charge", Decimal(0), ("AE", "VATEX-EU-AE")),
    ("intra-EU services", Decimal(0), ("AE", "VATEX-EU-AE")),
    ("intra-EU goods", Decimal(0), ("K", "VATEX-EU-IC")),
    ("export", Decimal(0), ("G", "VATEX-EU-G")),
    ("exempt", Decimal(0), ("E", "")),
    ("not subject", Decimal(0), ("O", "VATEX-EU-O")),
])
def test_vat_category(regime, rate, expected):
    category = vat_category(regime, rate)
    assert (category.code, category.reason_code) == expected
    assert category.reason or category.code in ("S", "Z")
