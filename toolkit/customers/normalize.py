"""Keys for comparing customers: VAT numbers and names as a person reads them."""

from __future__ import annotations

import functools
import re
import unicodedata

from stdnum.eu import vat as eu_vat

# Legal forms dropped from names before comparing: "BVBA Janssens" is "Janssens BV".
# BE/NL, FR/LU, DE/AT/CH, UK/IE/US, and their old forms.
LEGAL_FORMS = frozenset(
    """
    nv bv bvba cvba cva commv commva vof cv vzw ivzw bvoa esv srl bv cvoa eenmanszaak
    sa sprl sprlu scrl scri scrs sc scs sca snc sas sasu sarl eurl asbl aisbl sci
    gmbh ag kg ohg ug gbr ev eg kgaa mbh
    ltd limited plc llp llc inc corp co
    """.split()
)
# Legal forms written with spaces between their parts once the dots are gone ("Comm. V.", "e. V.").
_SPLIT_FORMS = {("comm", "v"), ("comm", "va"), ("e", "v"), ("b", "v"), ("n", "v"), ("s", "a"), ("co", "kg")}

_EU_PREFIXES = {cc.upper() for cc in eu_vat.MEMBER_STATES} | {"EL"}


def fold(text: str) -> str:
    """Lower case without accents: "Société" -> "societe"."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def name_tokens(name: str) -> list[str]:
    """The words of a name without case, accents, punctuation and legal forms."""
    text = fold(name)
    text = re.sub(r"(?<=\w)\.(?=\w)", "", text)  # "b.v.b.a" -> "bvba"
    words = re.findall(r"[^\W_]+", text)
    kept: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and (words[i], words[i + 1]) in _SPLIT_FORMS:
            i += 2
            continue
        if words[i] not in LEGAL_FORMS:
            kept.append(words[i])
        i += 1
    # A name that is nothing but a legal form ("NV") keeps its words rather than becoming empty.
    return kept or words


def name_key(name: str) -> str:
    """Comparable name: its words sorted, so word order does not matter either."""
    return " ".join(sorted(name_tokens(name)))


def postal_key(postal_code: str) -> str:
    """"1000 ", "B-1000" and "1000.0" are the same postal code; "1234 ab" is "1234AB"."""
    text = str(postal_code).strip().upper()
    text = re.sub(r"^[A-Z]{1,2}-", "", text)  # country prefix "B-1000", "NL-1234 AB"
    text = re.sub(r"\.0$", "", text)  # a number that went through Excel
    return re.sub(r"[\s\-]", "", text)


# Asked once per document of an e-invoice export, for a few thousand customers: remembered (typed,
# so 1 and 1.0 from Excel stay apart; bounded, for a long-lived Excel session).
@functools.lru_cache(maxsize=1 << 16, typed=True)
def vat_key(number: str, default_country: str = "") -> str:
    """Compact VAT number with its country prefix, or "" for an empty one.

    A number without prefix gets `default_country` (the customer's, else the company's), so
    "0477.472.701" and "BE 0477 472 701" meet. Numbers python-stdnum does not know stay as their
    letters and digits, upper case, so they can still be compared with each other.
    """
    text = re.sub(r"^(\d+)\.0$", r"\1", str(number).strip())  # a number Excel made a float
    raw = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if not raw:
        return ""
    if raw[:2] == "GR":
        raw = "EL" + raw[2:]
    country = (default_country or "").strip().upper().replace("GR", "EL")
    if raw[0].isdigit() and country in _EU_PREFIXES:
        raw = country + raw
    try:
        return eu_vat.compact(raw)
    except Exception:  # not a number stdnum knows: compare it as written
        return raw


def number_key(number: str) -> str:
    """Accounting numbers compared: trimmed, any case, and "000123" is 123 (Excel drops the zeros)."""
    text = str(number).strip().casefold()
    return (text.lstrip("0") or "0") if re.fullmatch("[0-9]+", text) else text
