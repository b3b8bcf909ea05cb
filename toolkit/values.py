"""Parsing cell values the way Excel users type them.

Each parser takes what python-calamine returns for a cell (str, int, float, bool, date, datetime)
and returns the typed value, None for an empty cell, or raises `Invalid` with a message that says
what was expected. Numbers read from Excel are binary floats; they become `Decimal` through the
15 significant digits Excel keeps and shows (12.1 -> Decimal('12.1')), never through float
arithmetic: a formula's result such as =0.1+0.2 is 0.30000000000000004 in the file, 0.3 on screen.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation
from itertools import filterfalse, repeat

EXCEL_EPOCH = dt.date(1899, 12, 30)
# normalize() without rounding any digit a cell's text can hold: with 100 digits, a price typed as
# '10.004' followed by 150 nines became 10.005 and was booked 10.01 (it is 10.00).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
_SPACES = str.maketrans({"\xa0": " ", "\u202f": " ", "\u2007": " ", "\t": " "})
_DATE_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_YMD = re.compile(r"^(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_NUMBER_JUNK = re.compile(r"[\s'€$£%]|EUR", re.IGNORECASE)
_GROUPED = {sep: re.compile(r"[+-]?\d{1,3}(?:%s\d{3})+" % re.escape(sep)) for sep in ",."}
_TRUE = {"yes", "y", "true", "1", "x", "ja", "j", "oui", "o", "waar", "vrai"}
_FALSE = {"no", "n", "false", "0", "nee", "non", "nein", "onwaar", "faux"}


class Invalid(ValueError):
    """A cell value that cannot be read as the column's type."""


def clean_text(value: str) -> str:
    """Trim ordinary and non-breaking spaces; Excel users paste both."""
    if "\xa0" in value or "\u202f" in value or "\t" in value or "\u2007" in value:
        value = value.translate(_SPACES)
    return value.strip()


def _plain(value) -> str | None:
    """Any cell as plain text: integral numbers lose their '.0' (account 700000.0 -> '700000')."""
    kind = type(value)
    if kind is str:
        text = clean_text(value)
        return text or None
    if kind is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return None if value is None else str(value).strip() or None


def parse_text(value):
    return _plain(value)


parse_code = parse_text


# Larger numbers are no amount, quantity or rate but a typing accident or a hostile file; Excel
# itself keeps only 15 significant digits. (Decimal would take 1E999999 and fail much later.)
TOO_LARGE = 10**15
# A float as Excel shows it: Excel keeps 15 significant digits, and the binary digits a formula
# leaves past them (0.30000000000000004 for =0.1+0.2, 21.000000000000004 for =0.21*100) are noise
# that made a total as issued differ from its booking, or a VAT rate miss its rule.
EXCEL_DIGITS = ".15g"
FLOAT_LIMIT = float(TOO_LARGE)  # the same bound, exactly; a float compares faster with a float than with a large int


def excel_number(value: float) -> Decimal:
    """A finite float from a cell as Excel shows it: a whole number stays whole (3.0 -> 3), others
    take their EXCEL_DIGITS significant digits (21.000000000000004 -> 21). The one rule of every
    float read (cells, percents, package parameters; `parsed_in_bulk` applies it a column at once)."""
    return Decimal(int(value)) if value.is_integer() else Decimal(format(value, EXCEL_DIGITS))


def shown_amount(value) -> Decimal:
    """A computed amount as the reader keeps it (`book.read`: the float its cell holds, or the
    Decimal a text in it read as) as the Decimal it reads as: `parse_decimal`'s rule."""
    return value if type(value) is Decimal else parse_decimal(value)


def parse_decimal(value):
    kind = type(value)
    if kind is float:
        if value != value or not -TOO_LARGE < value < TOO_LARGE:  # NaN, infinity, 1E+300
            raise Invalid(_too_large(value))
        return excel_number(value)
    if kind is int:
        if not -TOO_LARGE < value < TOO_LARGE:
            raise Invalid(_too_large(value))
        return Decimal(value)
    if kind is Decimal:  # a percent the reader scaled
        if not value.is_finite() or not -TOO_LARGE < value < TOO_LARGE:
            raise Invalid(_too_large(value))
        return value
    if kind is str:
        text = clean_text(value)
        if not text:
            return None
        return _decimal_from_text(text)
    if value is None:
        return None
    if kind is bool:
        raise Invalid("expected a number, found TRUE/FALSE")
    raise Invalid(f"expected a number, found {_plain(value)!r}")


def _decimal_from_text(text: str) -> Decimal:
    raw = text
    text = _NUMBER_JUNK.sub("", text)
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1]
    comma, dot = text.rfind(","), text.rfind(".")
    thousands, whole = None, text  # the thousands separator, and the digits it groups
    if comma >= 0 and dot >= 0:  # the last separator is the decimal one
        thousands, whole = ("." if comma > dot else ","), text[:max(comma, dot)]
    elif text.count(",") > 1 or text.count(".") > 1:
        thousands = "," if comma >= 0 else "."
    # A thousands separator groups three digits: '1,5.3' (15.3) or '1.2.3' (123) is a typo, not an
    # amount; and Decimal's own syntax is no Excel user's ('1_000').
    if (thousands and thousands in whole and not _GROUPED[thousands].fullmatch(whole)) or "_" in text:
        raise Invalid(f"expected a number, found {raw!r}")
    if thousands:
        text = text.replace(thousands, "")
    text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Invalid(f"expected a number, found {raw!r}") from None
    if not number.is_finite():
        raise Invalid(f"expected a number, found {raw!r}")
    if not -TOO_LARGE < number < TOO_LARGE:
        raise Invalid(_too_large(raw))
    # As the same number in a number cell reads (`excel_number`): '21,0 %' is 21, '2.50' is 2.5.
    # The digits typed past the last significant one would reach the files ('21.0' as a VAT percent).
    number = Decimal(int(number)) if number == number.to_integral_value() else number.normalize(_EXACT)
    return -number if negative else number


def _too_large(value) -> str:
    if isinstance(value, (float, Decimal)) and value != value:
        return "expected a number, found NaN (not a number): type the number"
    shown = value if isinstance(value, str) else ("infinity" if isinstance(value, float) and abs(value) == float("inf") else f"{value:.6g}")
    return f"expected a number, found {shown!r}, far beyond any amount (at most 15 digits before the decimal point)"


def parse_percent(value):
    """Percent columns hold the number of percents (21 for 21 %); '21%' typed as text is 21."""
    return parse_decimal(value)


def parse_int(value):
    if type(value) is int:
        return value
    number = parse_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise Invalid(f"expected a whole number, found {_plain(value)!r}")
    return int(number)


def parse_datetime(value):
    """A date and time (the Export log's Created at): a date-time cell, or text as an older
    workbook holds it ("2026-04-02 09:00:00")."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and clean_text(value):
        try:
            return dt.datetime.fromisoformat(clean_text(value))
        except ValueError:
            pass
    day = parse_date(value)
    return dt.datetime.combine(day, dt.time()) if day else None


def parse_date(value):
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    kind = type(value)
    if kind is float or kind is int:
        if 1 <= value < 2958466:  # Excel serials 1900-01-01 .. 9999-12-31
            return EXCEL_EPOCH + dt.timedelta(days=int(value))
        shown = _plain(value) if -TOO_LARGE < value < TOO_LARGE else f"{value:.6g}"  # not 1e308's 309 digits
        raise Invalid(f"expected a date, found the number {shown}")
    if kind is str:
        text = clean_text(value)
        if not text:
            return None
        match = _DATE_YMD.match(text)
        try:
            if match:
                return dt.date(int(match[1]), int(match[2]), int(match[3]))
            match = _DATE_DMY.match(text)
            if match:
                return dt.date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            raise Invalid(f"{text!r} is not a valid date") from None
        raise Invalid(f"expected a date such as 31/01/2026 or 2026-01-31, found {text!r}")
    if value is None:
        return None
    raise Invalid(f"expected a date, found {_plain(value)!r}")


def parse_bool(value):
    if type(value) is bool:
        return value
    text = _plain(value)
    if text is None:
        return None
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise Invalid(f"expected yes or no, found {text!r}")


def choice_parser(choices: tuple[str, ...]):
    """Case- and spacing-insensitive match against a closed list; returns the canonical value."""
    canonical = {_fold(c): c for c in choices}

    def parse_choice(value):
        text = _plain(value)
        if text is None:
            return None
        found = canonical.get(_fold(text))
        if found is None:
            raise Invalid(f"{text!r} is not one of: {', '.join(choices)}")
        return found

    return parse_choice


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.lower())


PARSERS = {
    "text": parse_text,
    "code": parse_code,
    "int": parse_int,
    "decimal": parse_decimal,
    "percent": parse_percent,
    "date": parse_date,
    "datetime": parse_datetime,
    "bool": parse_bool,
}


def parsed_in_bulk(parse, values: set) -> dict:
    """{value: parse(value)} for the common `values` of a column, parsed a whole column at a time
    at C speed (a 500,000-row sheet holds 100,000 distinct amounts and as many descriptions):
    floats within range for `parse_decimal` and `parse_percent`, text for `parse_text` and
    `parse_code`. The same results as `parse` one by one; the caller parses the rest that way."""
    if parse is parse_decimal or parse is parse_percent:
        # parse_decimal: a whole number stays whole (3.0 -> Decimal(3)), others go through their
        # 15 significant digits (12.1 -> Decimal('12.1')). NaN fails the range test and is left out.
        floats = [v for v in values if type(v) is float and -FLOAT_LIMIT < v < FLOAT_LIMIT]
        whole = list(filter(float.is_integer, floats))
        fractions = list(filterfalse(float.is_integer, floats))
        memo = dict(zip(whole, map(Decimal, map(int, whole))))
        memo.update(zip(fractions, map(Decimal, map(format, fractions, repeat(EXCEL_DIGITS)))))
        return memo
    if parse is parse_text:  # parse_code too
        texts = [v for v in values if type(v) is str]
        joined = "".join(texts)
        if any(chr(code) in joined for code in _SPACES):  # clean_text's translation, where it is needed
            memo = dict(zip(texts, map(str.strip, map(str.translate, texts, repeat(_SPACES)))))
        else:
            memo = dict(zip(texts, map(str.strip, texts)))
        for text in [t for t, clean in memo.items() if not clean]:
            memo[text] = None  # _plain: blank text is an empty cell
        return memo
    return {}


def parser_for(type_: str, choices: tuple[str, ...] = ()):
    if type_ == "choice":
        return choice_parser(choices)
    return PARSERS[type_]


def fold_header(text) -> str:
    """Header text compared without case, spacing, and the help marks some users add."""
    return re.sub(r"\s+", " ", clean_text(str(text or ""))).lower().rstrip(" *:")
