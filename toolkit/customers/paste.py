"""Make sense of a customer list pasted (or exported) from an accounting package.

The list comes in any column order, with headers in Dutch, French, English or German, or without
headers at all; then each column is recognised by what it holds (VAT numbers, postal codes, ...).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from stdnum.eu import vat as eu_vat

from toolkit.book import limits as _limits
from toolkit.book.survey import SPREADSHEET_STARTS, looks_like_text, survey
from toolkit.customers.normalize import fold
from toolkit.errors import UserError

# The fields a pasted row can carry (the names match() reads).
FIELDS = ("number", "name", "vat", "street", "postal_code", "city", "country", "language", "email", "phone")

# Header names per field, compared without case, accents, spaces and punctuation.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "number": (
        "nummer", "nr", "klantnummer", "klantnr", "klantcode", "debiteurnummer", "debiteurnr",
        "debiteur", "relatienummer", "relatiecode", "referentie", "code",
        "numero", "no", "numeroclient", "noclient", "codeclient", "reference", "ref", "compte",
        "number", "customernumber", "customerno", "customercode", "customerid", "accountnumber", "account", "id",
        "kundennummer", "kundennr", "debitor", "debitorennummer", "debitornummer", "konto", "kontonummer",
    ),
    "name": (
        "naam", "klantnaam", "bedrijf", "bedrijfsnaam", "firmanaam", "omschrijving",
        "nom", "raisonsociale", "denomination", "societe", "nomclient",
        "name", "customername", "company", "companyname",
        "firma", "firmenname", "kundenname", "name1",
    ),
    "vat": (
        "btw", "btwnummer", "btwnr", "ondernemingsnummer", "btwidentificatienummer",
        "tva", "ntva", "notva", "numerotva", "numerodetva", "tvaintracom", "numeroentreprise",
        "vat", "vatnumber", "vatno", "vatid", "taxid",
        "ustidnr", "ustid", "ustidnummer", "umsatzsteuerid", "umsatzsteueridentifikationsnummer",
    ),
    "street": (
        "adres", "straat", "straatennummer", "adresse", "rue", "address", "street", "addressline1",
        "strasse", "anschrift",
    ),
    "postal_code": (
        "postcode", "postnummer", "codepostal", "cp", "postalcode", "zip", "zipcode", "postcodeplaats",
        "plz", "postleitzahl",
    ),
    "city": (
        "gemeente", "plaats", "woonplaats", "stad", "localite", "ville", "commune", "city", "town",
        "ort", "stadt",
    ),
    "country": ("land", "landcode", "pays", "codepays", "country", "countrycode", "staat"),
    "language": ("taal", "langue", "language", "sprache"),
    "email": ("email", "emailadres", "mail", "courriel", "adresseemail", "emailadresse"),
    "phone": ("telefoon", "tel", "telefoonnummer", "gsm", "telephone", "phone", "telefon", "telefonnummer"),
}
# When no alias matches exactly, a header containing one counts; earlier fields win, so
# "Numéro de TVA" is a VAT number and "Telefoonnummer" a phone number, not a customer number.
_CONTAINS_ORDER = ("vat", "email", "postal_code", "phone", "number", "name", "street", "city", "country", "language")
_CONTAINS_MIN = 3


def _header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


_EXACT = {_header_key(alias): f for f, aliases in HEADER_ALIASES.items() for alias in aliases}


def cell_text(value: object) -> str:
    """A cell as text the way the user sees it: 100001.0 -> "100001", spaces tidied."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).replace("\u00a0", " ")
    if text.strip() in ("#N/A", "#VALUE!", "#REF!", "#NAME?"):
        return ""
    return re.sub(r"\s+", " ", text).strip()


def header_field(header: str) -> str | None:
    """The field a header names, or None."""
    key = _header_key(header)
    if not key:
        return None
    if key in _EXACT:
        return _EXACT[key]
    for f in _CONTAINS_ORDER:
        if any(len(a) >= _CONTAINS_MIN and _header_key(a) in key for a in HEADER_ALIASES[f]):
            return f
    return None


def recognise_header(cells: Sequence[str]) -> dict[int, str]:
    """column -> field for a row that is a header row, else {}.

    A header row names at least two fields (or is a single cell naming one). Data rarely does:
    a customer called "Code" sits beside a number, not beside another header word.
    """
    found: dict[int, str] = {}
    for i, cell in enumerate(cells):
        f = header_field(cell) if cell and not re.search(r"\d{3}", cell) else None
        if f and f not in found.values():
            found[i] = f
    filled = sum(1 for c in cells if c)
    return found if len(found) >= 2 or (found and filled == 1) else {}


# ---- recognition by content ---------------------------------------------------------------------

_POSTAL = re.compile(r"(?:[A-Z]{1,2}-)?(?:\d{4,5}|\d{4} ?[A-Z]{2})")
_CODE = re.compile(r"[A-Za-z]{0,4}[-_.]?\d{1,12}")
_PHONE = re.compile(r"\+?[\d ()./-]{8,}")
_STREET = re.compile(r"[^\W\d_]{3,}.*\s\d+\w{0,3}(\s*(bus|bte|box)\s*\w+)?$|^\d+\w?,?\s+[^\W\d_]{3,}", re.I)
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_LANGUAGES = {"nl", "fr", "en", "de", "n", "f", "e", "d", "nederlands", "francais", "english", "deutsch"}


def _looks_like_vat(value: str, default_country: str) -> bool:
    compact = re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if len(compact) < 8:
        return False
    candidates = [compact]
    if compact[0].isdigit():
        candidates += [c + compact for c in {default_country.upper(), "BE", "NL"} if c]
    return any(eu_vat.is_valid(c) for c in candidates)


def _column_scores(values: list[str], position: int, default_country: str) -> dict[str, float]:
    n = len(values)
    frac = lambda test: sum(1 for v in values if test(v)) / n  # noqa: E731
    unique = len(set(values)) / n
    avg_len = sum(map(len, values)) / n
    street = frac(lambda v: bool(_STREET.search(v)))
    text = frac(lambda v: bool(_LETTERS.search(v)) and "@" not in v)
    letters_only = frac(lambda v: not re.search(r"\d", v) and bool(_LETTERS.search(v)))
    vat = frac(lambda v: _looks_like_vat(v, default_country))
    return {
        "email": frac(lambda v: re.fullmatch(r"[^@\s]+@[^@\s]+\.\w+", v) is not None),
        "vat": vat,
        "phone": 0.9 * frac(lambda v: _PHONE.fullmatch(v) is not None and len(re.sub(r"\D", "", v)) >= 8) - vat,
        # Customer numbers are unique and usually come first; postal codes repeat.
        "number": frac(lambda v: _CODE.fullmatch(v) is not None) * (0.6 + 0.35 * unique + (0.05 if position == 0 else 0)),
        "postal_code": frac(lambda v: _POSTAL.fullmatch(v.upper()) is not None) * (0.75 + 0.2 * (1 - unique)),
        "street": street,
        "name": (text - 0.5 * street) * (0.6 + 0.2 * unique + 0.2 * min(1.0, avg_len / 20)),
        "city": (letters_only - street) * (0.6 + 0.2 * (1 - unique) + 0.2 * (1 - min(1.0, avg_len / 20))),
        "country": 0.85 * frac(lambda v: _COUNTRY.fullmatch(v) is not None and v.casefold() not in _LANGUAGES - {"nl", "fr", "de"}),
        "language": 0.8 * frac(lambda v: v.casefold() in _LANGUAGES),
    }


def recognise_content(
    rows: Sequence[Sequence[str]], skip: dict[int, str] | None = None, default_country: str = "", minimum: float = 0.6
) -> dict[int, str]:
    """column -> field judged from the values, for columns (and fields) not already in `skip`."""
    skip = skip or {}
    sample = rows[:500]
    width = max((len(r) for r in sample), default=0)
    scores = []
    for col in range(width):
        if col in skip:
            continue
        values = [r[col] for r in sample if col < len(r) and r[col]]
        if not values:
            continue
        for f, score in _column_scores(values, col, default_country).items():
            if f not in skip.values() and score >= minimum:
                scores.append((score, -col, f, col))
    found: dict[int, str] = {}
    for score, _, f, col in sorted(scores, reverse=True):
        if col not in found and f not in found.values():
            found[col] = f
    return found


# ---- the paste as a whole -----------------------------------------------------------------------


@dataclass(frozen=True)
class Paste:
    columns: dict[int, str]  # 0-based column -> field
    header_row: int | None  # index in the rows given, None when there are no headers
    records: list[dict[str, str]]  # one per non-empty data row: field -> text
    rows: list[int] = field(default_factory=list)  # index in the rows given of each record
    how: str = ""  # "headers", "headers and content" or "content"

    def describe(self) -> str:
        names = ", ".join(f"{f} = column {i + 1}" for i, f in sorted(self.columns.items()))
        return f"recognised by {self.how}: {names}" if names else "no column recognised"


def parse_paste(raw_rows: Sequence[Sequence[object]], default_country: str = "") -> Paste:
    """Recognise the columns of a paste and return its records. Blank rows are skipped."""
    rows = [[cell_text(v) for v in r] for r in raw_rows]
    filled = [i for i, r in enumerate(rows) if any(r)]
    if not filled:
        return Paste({}, None, [], [], "")
    first = filled[0]
    columns = recognise_header(rows[first])
    header_row = first if columns else None
    data_idx = [i for i in filled if i != header_row]
    data = [rows[i] for i in data_idx]
    if columns:
        # Unnamed columns may still hold a field the headers did not name; be stricter there.
        extra = recognise_content(data, skip=columns, default_country=default_country, minimum=0.8)
        unnamed = {c: f for c, f in extra.items() if not header_field(rows[first][c] if c < len(rows[first]) else "")}
        how = "headers and content" if unnamed else "headers"
        columns = {**columns, **unnamed}
    else:
        columns = recognise_content(data, default_country=default_country)
        how = "content"
    records = [{f: (r[c] if c < len(r) else "") for c, f in columns.items()} for r in data]
    return Paste(dict(sorted(columns.items())), header_row, records, data_idx, how)


# ---- files --------------------------------------------------------------------------------------

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}


def _bom_encoding(data: bytes) -> str | None:
    """The encoding a byte order mark (or UTF-16's zero bytes) gives away, else None."""
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            return encoding
    if data[1:200:2].count(0) > 20 and data[0:200:2].count(0) == 0:
        return "utf-16-le"  # UTF-16 without BOM ("Unicode text" without marker)
    return None


def decode(data: bytes) -> str:
    """Text of a CSV file: BOM first, then UTF-8, then Windows-1252 (what Excel saves as "CSV")."""
    encoding = _bom_encoding(data)
    if encoding:
        return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields most often."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    best, best_score = ",", -1.0
    for delimiter in (";", "\t", ",", "|"):
        counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        if not counts:
            continue
        modal = max(set(counts), key=counts.count)
        if modal < 2:
            continue
        score = counts.count(modal) / len(counts) + modal / 1000  # ties: more fields
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_table_file(path: str | Path, max_rows: int | None = None) -> list[list[object]]:
    """The rows of a CSV/text file or of the first sheet of a spreadsheet file. A file of more than
    `max_rows` rows (default: the import limit, `toolkit.book.limits`) is refused as soon as the
    row past the limit is read, so a huge list costs neither the time nor the memory to read it."""
    path = Path(path)
    limits = _limits.current()
    cap = max_rows or limits.import_rows
    if path.suffix.lower() in SPREADSHEET_SUFFIXES and not _is_text(path):
        rows = _spreadsheet_rows(path, cap)
    else:
        rows = _csv_rows(path, cap)
    if len(rows) > cap:
        raise UserError(f"{path} has more than {cap:,} rows, more than one customer import takes "
                        f"({_limits.how_to_raise('import_rows', limits)}). Split the list into smaller "
                        "files and import them one after the other.")
    return rows


def _is_text(path: Path) -> bool:
    """A CSV saved under a spreadsheet's name (renamed by hand, or so named by the program that
    wrote it) is read as the CSV it is: by its first bytes, not by its name. A spreadsheet starts
    with a zip's or an old Excel file's signature, and has zero bytes near its start."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False  # the spreadsheet reader says why it cannot be read
    return looks_like_text(head) or (not head.startswith(SPREADSHEET_STARTS) and bool(_bom_encoding(head)))  # or UTF-16


def _spreadsheet_rows(path: Path, cap: int) -> list[list[object]]:
    from python_calamine import CalamineWorkbook

    found = survey(path, spreadsheet_only=True)  # bounded, and refused when damaged
    first = next(iter(found.sheets.values()), None)
    if first is not None and first.last_row_tag > cap + 1:
        return [[]] * (cap + 1)  # the sheet says how long it is: no need to read it
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(found.data))
        return [list(r) for r in book.get_sheet_by_index(0).to_python(skip_empty_area=False, nrows=cap + 1)]
    except BaseException as exc:  # calamine raises many types (a panic, too) for a bad file
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise UserError(f"{path} cannot be read as a spreadsheet ({str(exc).strip()[:200]}): open it in Excel, "
                        "save it as .xlsx or .csv, and try again.") from None


def _csv_rows(path: Path, cap: int) -> list[list[str]]:
    """The CSV rows, read as a stream: UTF-8, else Windows-1252, else Latin-1 (from the start
    again when a byte proves the guess wrong)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
        bom = _bom_encoding(head)
        delimiter = detect_delimiter(head.decode(bom or "utf-8", errors="ignore"))
        for encoding in (bom,) if bom else ("utf-8", "cp1252", "latin-1"):
            rows: list[list[str]] = []
            try:
                with path.open("r", encoding=encoding, newline="") as text:
                    for row in csv.reader(text, delimiter=delimiter):
                        rows.append(row)
                        if len(rows) > cap:
                            break
                return rows
            except UnicodeDecodeError:
                continue
    except (OSError, csv.Error) as exc:
        raise UserError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    raise UserError(f"{path} is not a text file in a known encoding: save it from Excel as CSV UTF-8 and try again.")
