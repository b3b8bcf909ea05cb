"""Pure text functions of rendering: values -> text, pictures, encodings, XML escapes, file names.

Nothing here holds state or knows about specs; the plans (`plans.py`) and the runtime call these.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import operator
import re
import sys
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from itertools import compress, count
from typing import Any, Callable, Mapping

# Transliterations NFKD cannot find (it only strips accents).
TRANSLITERATIONS = {
    "ß": "ss", "ẞ": "SS", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d",
    "Ł": "L", "ł": "l", "Þ": "Th", "þ": "th", "ı": "i", "€": "EUR", "£": "GBP", "‘": "'", "’": "'", "‚": "'",
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "–": "-", "—": "-", "‐": "-", "−": "-", "…": "...",
    "•": "*", "\u00a0": " ", "\u202f": " ", "™": "TM", "©": "(c)", "®": "(R)", "°": "o",
}
# Characters XML 1.0 cannot hold, and nothing else should either: C0 controls but tab, LF and CR;
# U+FFFE, U+FFFF; lone surrogates.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A cell a spreadsheet may run as a formula starts with one of these (OWASP, CSV injection).
FORMULA_STARTS = "=+-@"
XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*(:[A-Za-z_][A-Za-z0-9._-]*)?")
# Characters a file name cannot hold on some file system: controls (C0, DEL, C1), Windows' reserved
# punctuation, and the line and paragraph separators.
_NOT_IN_NAMES = re.compile('[\x00-\x1f\x7f-\x9f<>"|?*\u2028\u2029]')
RESERVED_NAMES = frozenset({"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10)})


# ---- file names ---------------------------------------------------------------------------------


_NOT_IN_A_NAME_PART = re.compile(r"[/\\:]|" + _NOT_IN_NAMES.pattern)  # and the separators a whole name is refused for


def name_part(value: str) -> str:
    """A document's value (its number) as a part of a file name: each character a file name cannot
    hold becomes '_'. Belgian invoice numbers are often 2026/0008: an e-invoice per document could
    not be written at all. The name as a whole is still checked (`unsafe_name`), and two documents
    whose names come out the same are an error (2026/0008 beside 2026_0008)."""
    return _NOT_IN_A_NAME_PART.sub("_", value)


def unsafe_name(name: str) -> str:
    """Why a file name could leave the output folder or break on a file system; "" when safe."""
    if not name.strip():
        return "is empty"
    if "/" in name or "\\" in name:
        return f"{name!r} contains a path separator"
    if ".." in name:
        return f"{name!r} contains '..'"
    if ":" in name:
        return f"{name!r} contains ':' (drive letter or stream)"
    if _NOT_IN_NAMES.search(name):
        return f"{name!r} contains a character that file names cannot hold"
    if name.endswith((".", " ")) or name.split(".")[0].strip().casefold() in RESERVED_NAMES:
        return f"{name!r} is not a usable file name on Windows"
    if len(name.encode("utf-8")) > 255:  # every file system's limit (255 UTF-8 bytes fit 255 UTF-16 units)
        return f"{name[:40]!r}... is too long: {len(name.encode('utf-8'))} bytes, file systems take 255"
    return ""


# ---- hostile text -------------------------------------------------------------------------------


def starts_formula(s: str) -> bool:
    """Whether a spreadsheet opening the cell could take it for a formula: it starts with a tab or
    CR, or with = + - @ after leading spaces, tabs and line breaks. A compatibility form of those
    (fullwidth ＝, small ﹢) counts too: some spreadsheets fold it."""
    if not s:
        return False
    if s[0] in "\t\r":
        return True
    first = s.lstrip(" \t\r\n")[:1]
    if not first:
        return False
    if first.isascii():
        return first in FORMULA_STARTS
    return unicodedata.normalize("NFKC", first) in tuple(FORMULA_STARTS)


def neutralised(s: str) -> str:
    """The cell as OWASP recommends for CSV injection: a leading single quote, shown as text."""
    return "'" + s


# ---- formatters (value -> text) -----------------------------------------------------------------


def plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def canonical_decimal(value: Decimal) -> str:
    """21.00 -> '21', 5.50 -> '5.5', -0 -> '0'."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def plain_number(zero_empty: bool) -> Callable:
    def fmt(v):
        if v is None or (zero_empty and not v):
            return ""
        return canonical_decimal(v) if isinstance(v, Decimal) else str(v)
    return fmt


def integer_formatter(zero_empty: bool) -> Callable:
    def fmt(v):
        return "" if v is None or (zero_empty and not v) else str(v)
    return fmt


def decimal_formatter(places: int | None, sign: str, side: str | None, other_side: str | None,
                      sep: str, thousands: str, zero_empty: bool) -> Callable:
    exponent = Decimal(1).scaleb(-places) if places is not None else None
    grouping = ",f" if thousands else "f"
    table = str.maketrans({",": thousands, ".": sep}) if thousands or sep != "." else None

    # Amounts come already at their places (0.01): str() of such a Decimal is its fixed-point text,
    # several times cheaper than quantize + format. `places` digits after a point and no exponent
    # (str writes 1.5E+5 for some values) prove the Decimal needs no rounding.
    point = -places - 1 if places and not thousands else 0

    def number(v: Decimal) -> str:
        if point and v and type(v) is Decimal:
            text = str(v)
            if len(text) > -point and text[point] == "." and "E" not in text:
                return text.translate(table) if table else text
        if exponent is not None:
            v = v.quantize(exponent, ROUND_HALF_UP)
        if not v:
            v = abs(v)  # no "-0.00"
        if not thousands and type(v) is Decimal:
            # str() is format(v, "f") unless it writes an exponent, at a third of the cost (a VAT
            # rate, without places, is formatted on every line)
            text = str(v)
            if "E" not in text:
                return text.translate(table) if table else text
        text = format(v, grouping)
        return text.translate(table) if table else text

    zero = "" if zero_empty else number(Decimal(0))
    other = number(Decimal(0)) if other_side == "zero" else ""
    column = _fixed_column(places, sign, side, sep, zero, other) if point else None
    if places is None and not thousands and sign == "signed" and side is None:
        column = _plain_column(sep, zero)

    if side == "debit":
        def render(v):
            if v is None:
                return ""
            return other if v < 0 else (number(v) if v else zero)
    elif side == "credit":
        def render(v):
            if v is None:
                return ""
            return number(-v) if v < 0 else other
    else:
        if sign == "absolute":
            pre = abs
        elif sign == "negate":
            pre = operator.neg
        else:
            pre = None

        def render(v):
            if v is None:
                return ""
            if not v:
                return zero
            if pre is None and point and type(v) is Decimal:  # number()'s fast path, without its call
                text = str(v)
                if len(text) > -point and text[point] == "." and "E" not in text:
                    return text.translate(table) if table else text
            return number(pre(v) if pre else v)
    render.column = column  # values -> their texts at once (or None: then one by one)
    render.alphabet = "0123456789-." + sep + thousands  # what its texts are made of
    return render


def _fixed_column(places: int, sign: str, side: str | None, sep: str, zero: str, other: str) -> Callable | None:
    """values -> the decimal format's texts of a whole column, or None where the column is not all
    Decimals already at `places` (then render them one by one). str() of such a Decimal is its
    text; one regular expression over the joined column proves them all of that form (a C loop,
    where calling the formatter per value is a Python call per amount)."""
    if sign != "signed":
        return None
    fixed = re.compile(rf"-?[0-9]+\.[0-9]{{{places}}}(?:\n-?[0-9]+\.[0-9]{{{places}}})*")

    def column(values: list) -> list[str] | None:
        if not values:
            return []
        if type(values[0]) is not Decimal:
            return None
        texts = _signed_texts(values, places, sep, fixed)
        if texts is None:
            return None
        if side == "debit":
            texts = [other if t[0] == "-" else t for t in texts]
        elif side == "credit":
            texts = [t[1:] if t[0] == "-" else other for t in texts]
        else:
            texts = list(texts)  # the shared list stays as it is
        # A zero takes the text render() gives it ("-0.00" never; on the credit side the other
        # side's), put in place afterwards: a column with some zeros (the VAT base of a revenue
        # posting) stays a column instead of going one value at a time.
        return _zeros_as(texts, values, other if side == "credit" else zero)
    return column


def _plain_column(sep: str, zero: str) -> Callable:
    """values -> the texts of a decimal format without fixed places (a VAT rate, a quantity, a
    unit price as typed: render() writes str() of the Decimal) for a whole column, or None where
    the column is not all Decimals or one writes an exponent (then one by one). A zero is `zero`."""
    def column(values: list) -> list[str] | None:
        if not values:
            return []
        if set(map(type, values)) != {Decimal}:
            return None
        joined = "\n".join(map(str, values))
        if "E" in joined:
            return None
        return _zeros_as(_split(joined, sep), values, zero)
    return column


def _split(joined: str, sep: str) -> list[str]:
    """The texts of a column joined by line feeds, with `sep` for the decimal point."""
    return (joined.replace(".", sep) if sep != "." else joined).split("\n")


def _zeros_as(texts: list[str], values: list, zero: str) -> list[str]:
    """`texts` with `zero` in the place of each zero value."""
    if not all(values):
        for at in compress(count(), map(operator.not_, values)):
            texts[at] = zero
    return texts


def _signed_texts(values: list, places: int, sep: str, fixed: re.Pattern) -> list[str] | None:
    """The signed fixed-point texts of a column of Decimals (None unless every one is at `places`).
    A journal's Debit and Credit render the same amounts (posting.amount) one after the other: the
    texts of the last column are kept per (places, separator), and a column of the very same
    objects takes them instead of turning every amount into text again."""
    last = _LAST_TEXTS.get((places, sep))
    if last is not None and len(last[0]) == len(values) and all(map(operator.is_, last[0], values)):
        return last[1]
    joined = "\n".join(map(str, values))
    if not fixed.fullmatch(joined):
        texts = None
    else:
        texts = _split(joined, sep)
    _LAST_TEXTS[(places, sep)] = (values, texts)
    return texts


_LAST_TEXTS: dict[tuple, tuple[list, list | None]] = {}


DATE_DIRECTIVES = {
    "%Y": lambda d: f"{d.year:04d}",
    "%y": lambda d: f"{d.year % 100:02d}",
    "%m": lambda d: f"{d.month:02d}",
    "%d": lambda d: f"{d.day:02d}",
    "%H": lambda d: f"{getattr(d, 'hour', 0):02d}",
    "%M": lambda d: f"{getattr(d, 'minute', 0):02d}",
    "%S": lambda d: f"{getattr(d, 'second', 0):02d}",
    "%f": lambda d: f"{getattr(d, 'microsecond', 0):06d}",
    "%L": lambda d: f"{getattr(d, 'microsecond', 0) // 1000:03d}",
    "%q": lambda d: str((d.month - 1) // 3 + 1),
    "%%": lambda d: "%",
}


def date_parts(pattern: str) -> tuple | str:
    """A date pattern as a tuple of literal texts and directive functions, or the unknown directive."""
    parts = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch != "%":
            parts.append(ch)
            i += 1
            continue
        directive = pattern[i:i + 2]
        if directive not in DATE_DIRECTIVES:
            return directive
        parts.append(DATE_DIRECTIVES[directive])
        i += 2
    return tuple(parts)


def date_formatter(parts: tuple) -> Callable:
    cache: dict = {}  # an export has few distinct dates

    def fmt(d):
        if d is None:
            return ""
        text = cache.get(d)
        if text is None:
            text = cache[d] = "".join(p if isinstance(p, str) else p(d) for p in parts)
        return text
    return fmt


def map_key(value: Any) -> str:
    return plain(value).casefold()


def map_formatter(values: Mapping[str, str], default: str | None) -> Callable:
    """value -> its mapped text (keys are casefolded `map_key`s), else `default` or the value itself."""
    def fmt(v):
        found = values.get(map_key(v))
        if found is not None:
            return found
        return plain(v) if default is None else default
    return fmt


def apply_picture(text: str, masks: Mapping[str, str], prefix_length: int, keep_prefix: bool) -> str:
    """Compact the value, pick a mask by its letter prefix, lay the rest out on the mask.

    A value that does not fit its mask is written compacted, unmasked (validating it is the
    checks' job, not the renderer's).
    """
    compact = "".join(c for c in text if c.isalnum()).upper()
    prefix = ""
    while len(prefix) < prefix_length and len(prefix) < len(compact) and compact[len(prefix)].isalpha():
        prefix += compact[len(prefix)]
    if len(prefix) < prefix_length:
        prefix = ""
    body = compact[len(prefix):]
    mask = masks.get(prefix) or masks.get("*")
    out = body
    if mask is not None:
        slots = [c for c in mask if c in "9X"]
        if len(slots) == len(body) and all(s == "X" or b.isdigit() for s, b in zip(slots, body)):
            chars = iter(body)
            out = "".join(next(chars) if c in "9X" else c for c in mask)
    return (prefix + out) if keep_prefix else out


# ---- encodings ----------------------------------------------------------------------------------

_ASCII = bytes(range(128))


@functools.cache
def ascii_compatible(encoding: str) -> bool:
    """Whether the encoding writes ASCII text byte for byte as ASCII (no byte order mark)."""
    return _ASCII.decode("ascii").encode(encoding) == _ASCII


@functools.cache
def charmap_table(encoding: str):
    """For a code page whose codec looks every character up in a Python dict (cp437, cp850 and
    the other DOS code pages; cp1252 and iso-8859-x have a C table already): the same mapping as
    a C table (codecs.charmap_build), for `codecs.charmap_encode(text, "strict", table)`, several
    times faster and the same bytes. None for any other codec, or when the two mappings differ."""
    module = sys.modules.get(getattr(codecs.lookup(encoding).incrementalencoder, "__module__", ""))
    mapping, table = getattr(module, "encoding_map", None), getattr(module, "decoding_table", None)
    if type(mapping) is not dict or type(table) is not str:
        return None
    if {ord(ch): byte for byte, ch in enumerate(table) if ch != "\ufffe"} != mapping:
        return None  # e.g. a character two bytes decode to: the dict refuses it, a table would not
    return codecs.charmap_build(table)


@functools.cache
def latin1_exceptions(encoding: str) -> str | None:
    """For an 8-bit code page that writes most of Latin-1 as Latin-1 does (cp1252, iso-8859-15):
    the characters below U+0100 it writes otherwise, or cannot write. A text of Latin-1 characters
    without any of them is the same bytes through the Latin-1 codec, a copy in C where the code
    page's codec looks each character up. None for any other codec (UTF-8, the DOS code pages)."""
    if not ascii_compatible(encoding):
        return None
    differ = ""
    for code in range(128, 256):
        try:
            same = chr(code).encode(encoding) == bytes([code])
        except UnicodeEncodeError:
            same = False
        if not same:
            differ += chr(code)
    return differ if len(differ) <= 32 else None


def can_encode(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def encodable(s: str, encoding: str, transliterate: bool) -> str | None:
    """s itself when the encoding holds it; else its transliteration (or None when not allowed)."""
    try:
        s.encode(encoding)
        return s
    except UnicodeEncodeError:
        if not transliterate:
            return None
    out = []
    for ch in s:
        if can_encode(ch, encoding):
            out.append(ch)
            continue
        alt = TRANSLITERATIONS.get(ch)
        if alt is None:
            alt = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if alt[:1] in FORMULA_STARTS and not "".join(out).strip():
            alt = "?"  # a fullwidth ＝ or an en dash first must not become a formula's = or -
        out.append(alt if alt and can_encode(alt, encoding) else "?")
    return "".join(out)


# ---- xml ----------------------------------------------------------------------------------------


def xml_text(s: str) -> str:
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if "\r" in s:  # a parser would read a raw CR as LF
        s = s.replace("\r", "&#13;")
    return s


_ATTRIBUTE_WHITESPACE = str.maketrans({'"': "&quot;", "\t": "&#9;", "\n": "&#10;"})


def xml_attribute(s: str) -> str:
    """Escaped for a quoted attribute; tab and line breaks as references, which a parser keeps (it
    turns raw ones into spaces)."""
    s = xml_text(s)
    return s.translate(_ATTRIBUTE_WHITESPACE) if ('"' in s or "\t" in s or "\n" in s) else s
