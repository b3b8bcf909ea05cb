"""Peppol identifiers and VAT categories, from what the workbook holds (pure functions).

- Endpoint IDs (BT-34, BT-49) are `scheme:identifier`, the scheme an EAS code. A Belgian company
  is reached by its 10-digit enterprise number under 0208 (mod-97 checked, PEPPOL-COMMON-R043),
  never by its VAT number; other countries' companies by their VAT number under their country's
  VAT scheme (9930 DE, 9944 NL, 9957 FR, ...), or the organisation number where Peppol uses it
  (0007 SE, 0192 NO). A "Peppol ID" typed on the customer wins over all of this.
- The Belgian structured communication goes in PaymentID as +++123/4567/89012+++.
- The VAT category of a line follows from its regime and rate (UNCL5305 codes, VATEX reasons).
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import NamedTuple

from stdnum import ean, luhn
from stdnum.au import abn
from stdnum.be import ogm_vcs
from stdnum.no import orgnr as no_orgnr

from toolkit.customers.normalize import vat_key

# The VAT number schemes of the EAS code list (Peppol 2026.5), by VAT prefix. Belgium is left
# out on purpose: Belgian companies are addressed by enterprise number (0208).
VAT_SCHEMES = {
    "AT": "9914", "BG": "9926", "CH": "9927", "CY": "9928", "CZ": "9929", "DE": "9930", "EE": "9931",
    "GB": "9932", "EL": "9933", "HR": "9934", "IE": "9935", "LI": "9936", "LT": "9937", "LU": "9938",
    "LV": "9939", "MC": "9940", "ME": "9941", "MK": "9942", "MT": "9943", "NL": "9944", "PL": "9945",
    "PT": "9946", "RO": "9947", "RS": "9948", "SI": "9949", "SK": "9950", "SM": "9951", "TR": "9952",
    "VA": "9953", "FR": "9957", "ES": "9920", "HU": "9910", "IT": "0211",
}
# Every scheme a typed Peppol ID may use (the EAS list the Peppol rules accept).
EAS_CODES = frozenset((
    "0002 0007 0009 0060 0088 0096 0097 0106 0130 0135 0142 0151 0183 0184 0188 0190 0191 0192 0195 0196 "
    "0198 0199 0200 0201 0204 0208 0209 0210 0211 0216 0218 0221 0225 0230 0235 0240 0242 0244 0245 0246 "
    "0248 9910 9913 9914 9915 9918 9919 9920 9922 9923 9924 9925 9926 9927 9928 9929 9930 9931 9932 9933 "
    "9934 9935 9936 9937 9938 9939 9940 9941 9942 9943 9944 9945 9946 9947 9948 9949 9950 9951 9952 9953 "
    "9957 9959").split())
ENTERPRISE = "0208"


class Endpoint(NamedTuple):
    scheme: str
    id: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.id}"


def enterprise_number(text: str) -> str:
    """'0477.472.701', 'BE 0477 472 701' or '477472701' -> '0477472701' when it passes the mod-97
    check of the Belgian enterprise number; '' otherwise."""
    digits = re.sub(r"^BE", "", re.sub(r"[^0-9A-Z]", "", str(text).upper()))
    if not re.fullmatch(r"[0-9]{9,10}", digits):  # ASCII digits: str.isdigit() takes other scripts' too
        return ""
    digits = digits.zfill(10)
    valid = digits[0] in "01" and 97 - int(digits[:8]) % 97 == int(digits[8:])
    return digits if valid else ""


def seller_enterprise_number(typed: str, company_vat: str, company_country: str) -> str:
    """The Settings' enterprise number, else the one inside a Belgian company VAT number."""
    if str(typed).strip():
        return enterprise_number(typed)
    key = vat_key(company_vat, company_country)
    return enterprise_number(key) if key.startswith("BE") else ""


# The check digits of the schemes below, as python-stdnum computes them; the Peppol rules check
# exactly these (tests/test_peppol_identifiers.py holds them to the official stylesheet).
def _gln(ident: str) -> bool:
    """GS1 check digit, on a GLN of any length (the rule does not fix one)."""
    return bool(re.fullmatch(r"[0-9]+", ident)) and ean.calc_check_digit(ident[:-1]) == ident[-1]


def _mod11(ident: str) -> bool:
    """Norwegian organisation number: 9 digits, the last a mod-11 check digit (not all zeros)."""
    return bool(re.fullmatch(r"[0-9]{9}", ident)) and int(ident) > 0 and no_orgnr.is_valid(ident)


def _luhn(ident: str) -> bool:
    """Swedish organisation number: 10 digits, the last a Luhn check digit."""
    return bool(re.fullmatch(r"[0-9]{10}", ident)) and luhn.is_valid(ident)


def _abn(ident: str) -> bool:
    """Australian Business Number: 11 digits with their mod-89 check."""
    return bool(re.fullmatch(r"[0-9]{11}", ident)) and abn.is_valid(ident)


# The schemes whose identifiers the Peppol rules (2026.5) check with a fatal assert
# (PEPPOL-COMMON-R040 to R053), each as the rule checks it and as the message says it: one that
# fails gives an e-invoice every access point rejects. 0208 is the enterprise number, above.
_FORMATS = {
    "0007": (_luhn, "Swedish organisation number (10 digits, the last a check digit)"),
    "0088": (_gln, "GLN (digits, the last the GS1 check digit)"),
    "0096": (lambda i: bool(re.fullmatch(r"[0-9]{10}", i)), "Danish P number (10 digits)"),
    "0151": (_abn, "Australian Business Number (11 digits with their check)"),
    "0184": (lambda i: bool(re.fullmatch(r"(DK)?[0-9]{8}", i)), "Danish CVR number (8 digits, or DK and 8 digits)"),
    "0192": (_mod11, "Norwegian organisation number (9 digits, the last a mod-11 check digit)"),
    "0198": (lambda i: bool(re.fullmatch(r"DK[0-9]{8}", i)), "Danish SE number (DK and 8 digits)"),
}


def _parse(text: str) -> Endpoint | str:
    """The endpoint of a typed Peppol ID, or why there is none."""
    text = re.sub(r"^iso6523-actorid-upis::", "", str(text).strip(), flags=re.I)
    match = re.fullmatch(r"([0-9]{4})\s*:\s*(\S+)", text)
    if not match or match[1] not in EAS_CODES:
        return "is not scheme:identifier with a known scheme (e.g. 0208:0477472701)"
    scheme, ident = match[1], match[2]
    if scheme == ENTERPRISE:
        ident = enterprise_number(ident)
        if not ident:
            return "is not a valid Belgian enterprise number under scheme 0208 (10 digits, e.g. 0477.472.701, mod-97 check)"
    elif scheme in _FORMATS and not _FORMATS[scheme][0](ident):
        return (f"is not a valid {_FORMATS[scheme][1]}, which the Peppol rules check for scheme {scheme}: "
                "the network would refuse the e-invoice")
    return Endpoint(scheme, ident)


def parse_peppol_id(text: str) -> Endpoint | None:
    """'0208:0477472701' (also 'iso6523-actorid-upis::0208:...') -> Endpoint; None if malformed, the
    scheme is not an EAS code, or the identifier fails its scheme's check in the Peppol rules."""
    found = _parse(text)
    return found if isinstance(found, Endpoint) else None


def peppol_id_problem(text: str) -> str:
    """Why a typed Peppol ID is not usable, as the rest of a sentence naming it; '' when it is."""
    found = _parse(text)
    return "" if isinstance(found, Endpoint) else found


def endpoint_from_vat(vat_number: str, country: str) -> Endpoint | None:
    """A company's endpoint derived from its VAT number; None when no scheme fits."""
    key = vat_key(vat_number, country)
    if not key:
        return None
    prefix = key[:2]
    if prefix == "BE":
        number = enterprise_number(key)
        return Endpoint(ENTERPRISE, number) if number else None
    if prefix == "SE" and re.fullmatch(r"SE\d{10}01", key) and _luhn(key[2:12]):
        return Endpoint("0007", key[2:12])
    if prefix == "NO" and re.fullmatch(r"NO\d{9}(MVA)?", key) and _mod11(key[2:11]):
        return Endpoint("0192", key[2:11])
    scheme = VAT_SCHEMES.get(prefix)
    return Endpoint(scheme, key) if scheme else None


@functools.lru_cache(maxsize=1 << 16, typed=True)  # once per document, for a few thousand customers
def buyer_endpoint(peppol_id: str, vat_number: str, country: str) -> Endpoint | None:
    """The typed Peppol ID, else the one the VAT number gives; None when neither is usable."""
    if str(peppol_id).strip():
        return parse_peppol_id(peppol_id)
    return endpoint_from_vat(vat_number, country)


def payment_id(reference: str) -> str:
    """A Belgian structured communication as +++123/4567/89012+++; any other reference as typed."""
    text = str(reference).strip()
    try:
        return f"+++{ogm_vcs.format(ogm_vcs.validate(text))}+++"
    except Exception:  # not a structured communication: a free reference
        return text


class VatCategory(NamedTuple):
    code: str  # UNCL5305: S, Z, E, AE, K, G, O
    reason_code: str = ""  # VATEX, for the categories that must say why no VAT is charged
    reason: str = ""


# Regime -> category of lines without VAT; "domestic" is S, or Z at 0 %.
_ZERO_CATEGORIES = {
    "intra-EU goods": VatCategory("K", "VATEX-EU-IC", "Intra-community supply"),
    "intra-EU services": VatCategory("AE", "VATEX-EU-AE", "Reverse charge"),
    "reverse charge": VatCategory("AE", "VATEX-EU-AE", "Reverse charge"),
    "export": VatCategory("G", "VATEX-EU-G", "Export outside the EU"),
    "export services": VatCategory("G", "VATEX-EU-G", "Export outside the EU"),
    "exempt": VatCategory("E", "", "Exempt from VAT"),
    "not subject": VatCategory("O", "VATEX-EU-O", "Not subject to VAT"),
}


_STANDARD, _DOMESTIC_ZERO = VatCategory("S"), VatCategory("Z")  # made once: this runs for every line


def vat_category(regime: str, rate: Decimal) -> VatCategory:
    """The category of a line: S (standard, any rate above 0), Z (domestic 0 %), or the category
    of a regime that carries no VAT (K, AE, G, E, O), which then must be at 0 %."""
    category = _ZERO_CATEGORIES.get(regime)
    if category is not None:
        return category
    return _STANDARD if rate else _DOMESTIC_ZERO
