"""Propose, for each pasted row, the existing customer it belongs to and what to do with its number.

Matching goes from the surest evidence to the weakest: the VAT number, then the name (without
legal form) with the postal code, then the customer number itself when the names agree, and last
a fuzzy name comparison that only proposes and never decides close calls: two candidates close
together, or one that is merely similar, give "ambiguous" for the user to settle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from toolkit.customers.normalize import name_key, number_key, postal_key, vat_key
from toolkit.layout import IMPORT_ACTIONS
from toolkit.model import Customer

# Actions, as written in the Action column (declared in the layout). The user may change a
# proposal into any of them.
ACTIONS = IMPORT_ACTIONS
ASSIGN, CORRECT, CONFLICT, NEW, AMBIGUOUS, OVERWRITE, SKIP = ACTIONS

# Methods, as written in the Match: method column.
BY_VAT = "VAT number"
BY_NAME_POSTAL = "name and postal code"
BY_NAME = "name"
BY_NUMBER = "customer number"
BY_FUZZY = "similar name"

# Fuzzy name scores (0-100, rapidfuzz ratio on the sorted words without legal forms).
SURE = 92  # at or above: proposed as the match
REVIEW = 75  # from here up to SURE: shown as a possible match, for the user to confirm
CLOSE = 5  # two candidates within this many points are too close to choose between
POSTAL_BONUS = 5  # same postal code
POSTAL_PENALTY = 15  # both have a postal code and they differ
VAT_PENALTY = 40  # both have a VAT number and they differ: different legal entities
NUMBER_NAME_MIN = 60  # a row whose number a customer holds is that customer if the names agree this much
_TOP = 50  # fuzzy candidates (best raw scores) weighed with postal code and VAT per row
_CHUNK = 2000  # rows per cdist call: bounds memory to _CHUNK x customers bytes


@dataclass(frozen=True)
class Match:
    customer_id: str  # "" when no customer was found
    confidence: int  # 0-100
    method: str
    action: str
    note: str = ""


@dataclass(frozen=True)
class _Found:
    customer: Customer | None
    confidence: int = 0
    method: str = ""
    note: str = ""
    ambiguous: bool = False


def _label(c: Customer) -> str:
    return f"{c.customer_id} ({c.name})"


class _Index:
    def __init__(self, customers: Sequence[Customer], company_country: str):
        self.customers = list(customers)
        self.company_country = company_country
        self.vat: list[str] = []
        self.name: list[str] = []
        self.postal: list[str] = []
        self.by_vat: dict[str, list[int]] = {}
        self.by_vat_digits: dict[str, list[int]] = {}
        self.by_name_postal: dict[tuple[str, str], list[int]] = {}
        self.by_name: dict[str, list[int]] = {}
        self.by_number: dict[str, int] = {}
        for i, c in enumerate(self.customers):
            key = vat_key(c.vat_number, c.country or company_country)
            self.vat.append(key)
            self.name.append(name_key(c.name))
            self.postal.append(postal_key(c.postal_code))
            if key:
                self.by_vat.setdefault(key, []).append(i)
                self.by_vat_digits.setdefault(_without_country(key), []).append(i)
            self.by_name_postal.setdefault((self.name[i], self.postal[i]), []).append(i)
            self.by_name.setdefault(self.name[i], []).append(i)
            if c.accounting_number.strip():
                self.by_number.setdefault(number_key(c.accounting_number), i)


def _without_country(key: str) -> str:
    return key[2:] if key[:2].isalpha() else key


class _Row:
    def __init__(self, row: Mapping[str, str], company_country: str):
        get = lambda f: str(row.get(f) or "").strip()  # noqa: E731
        self.number = get("number")
        self.name = get("name")
        self.vat_raw = get("vat")
        self.vat = vat_key(self.vat_raw, get("country") or company_country)
        self.vat_has_prefix = self.vat_raw[:2].isalpha()
        self.name_key = name_key(self.name)
        self.postal = postal_key(get("postal_code"))


def _vat_conflict(index: _Index, i: int, row: _Row) -> bool:
    return bool(row.vat and index.vat[i] and index.vat[i] != row.vat)


def _pick(index: _Index, found: list[int], row: _Row, method: str, confidence: int) -> _Found:
    """One candidate is the match; several are narrowed by number, then name and postal code."""
    if len(found) == 1:
        return _Found(index.customers[found[0]], confidence, method)
    narrowed = [i for i in found if row.number and number_key(index.customers[i].accounting_number) == number_key(row.number)]
    if len(narrowed) != 1:
        narrowed = [i for i in found if index.name[i] == row.name_key and (index.postal[i] == row.postal or not row.postal)]
    if len(narrowed) == 1:
        return _Found(index.customers[narrowed[0]], confidence, method)
    names = ", ".join(_label(index.customers[i]) for i in found)
    return _Found(None, confidence, method, f"{len(found)} customers share this {method}: {names}", ambiguous=True)


def _exact(index: _Index, row: _Row) -> _Found | None:
    if row.vat:
        found = index.by_vat.get(row.vat, [])
        if not found and not row.vat_has_prefix:
            found = index.by_vat_digits.get(_without_country(row.vat), [])
        if found:
            return _pick(index, found, row, BY_VAT, 100)
    if row.name_key:
        if row.postal:
            found, method, confidence = index.by_name_postal.get((row.name_key, row.postal), []), BY_NAME_POSTAL, 95
        else:
            found, method, confidence = index.by_name.get(row.name_key, []), BY_NAME, 90
        clean = [i for i in found if not _vat_conflict(index, i, row)]
        if clean:
            return _pick(index, clean, row, method, confidence)
        if found:
            names = ", ".join(_label(index.customers[i]) for i in found)
            return _Found(None, confidence, method, f"same {method} as {names}, but another VAT number", ambiguous=True)
    if row.number and number_key(row.number) in index.by_number:
        i = index.by_number[number_key(row.number)]
        similarity = round(fuzz.token_set_ratio(row.name_key, index.name[i])) if row.name_key else 0
        if similarity >= NUMBER_NAME_MIN and not _vat_conflict(index, i, row):
            return _Found(index.customers[i], similarity, BY_NUMBER)
    return None


def _adjusted(index: _Index, i: int, row: _Row, score: float) -> float:
    if row.postal and index.postal[i]:
        score += POSTAL_BONUS if row.postal == index.postal[i] else -POSTAL_PENALTY
    if _vat_conflict(index, i, row):
        score -= VAT_PENALTY
    return min(score, 99.0)  # only an exact key is certain


def _fuzzy(index: _Index, rows: dict[int, _Row]) -> dict[int, _Found]:
    """Best similar-name candidates for many rows at once (rapidfuzz cdist, all cores)."""
    results: dict[int, _Found] = {}
    order = [r for r in rows if rows[r].name_key]
    if not order or not index.customers:
        return results
    for start in range(0, len(order), _CHUNK):
        chunk = order[start : start + _CHUNK]
        scores = process.cdist(
            [rows[r].name_key for r in chunk],
            index.name,
            scorer=fuzz.ratio,
            score_cutoff=REVIEW - POSTAL_BONUS,
            dtype=np.uint8,
            workers=-1,
        )
        # Most scores are 0 (below the cutoff): look only at the others.
        hit_rows, hit_cols = np.nonzero(scores)
        bounds = np.searchsorted(hit_rows, np.arange(len(chunk) + 1))
        for pos, r in enumerate(chunk):
            cols = hit_cols[bounds[pos] : bounds[pos + 1]]
            if len(cols) > _TOP:
                cols = cols[np.argsort(-scores[pos, cols].astype(np.int16), kind="stable")[:_TOP]]
            candidates = [(_adjusted(index, int(i), rows[r], float(scores[pos, i])), int(i)) for i in cols]
            candidates.sort(key=lambda t: (-t[0], t[1]))
            if not candidates or candidates[0][0] < REVIEW:
                continue
            best, i = candidates[0]
            close = [j for s, j in candidates[1:] if s >= REVIEW and s > best - CLOSE]
            customer = index.customers[i]
            if close:
                names = ", ".join(_label(index.customers[j]) for j in [i] + close)
                results[r] = _Found(None, round(best), BY_FUZZY, f"similar names, too close to choose: {names}", ambiguous=True)
            elif best < SURE:
                note = f"possibly {_label(customer)}: set the action to '{ASSIGN}' if it is"
                results[r] = _Found(customer, round(best), BY_FUZZY, note, ambiguous=True)
            else:
                results[r] = _Found(customer, round(best), BY_FUZZY)
    return results


def _decide(found: _Found, row: _Row, index: _Index) -> Match:
    c = found.customer
    if found.ambiguous:
        return Match(c.customer_id if c else "", found.confidence, found.method, AMBIGUOUS, found.note)
    holder_i = index.by_number.get(number_key(row.number)) if row.number else None
    holder = index.customers[holder_i] if holder_i is not None else None
    if c is None:
        if not row.number:
            return Match("", 0, "", SKIP, "no customer number in this row")
        if holder is not None:
            return Match("", 0, "", CONFLICT, f"number {row.number} is already used by customer {_label(holder)}, which does not match this row")
        return Match("", 0, "", NEW, found.note)
    m = lambda action, note="": Match(c.customer_id, found.confidence, found.method, action, note)  # noqa: E731
    current = c.accounting_number.strip()
    if not row.number:
        return m(SKIP, "no customer number in this row")
    if current and number_key(current) == number_key(row.number):
        return m(CORRECT)
    if holder is not None and holder.customer_id != c.customer_id:
        return m(CONFLICT, f"number {row.number} is already used by customer {_label(holder)}")
    if current:
        return m(CONFLICT, f"customer {c.customer_id} already has number {current}; set the action to '{OVERWRITE}' to replace it")
    return m(ASSIGN)


def _cross_check(matches: list[Match], rows: list[_Row], labels: Sequence[str]) -> list[Match]:
    """Rows that contradict each other: one number for two customers, two numbers for one customer."""
    out = list(matches)
    by_number: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row.number and out[i].action in (ASSIGN, CORRECT, NEW, CONFLICT):
            by_number.setdefault(number_key(row.number), []).append(i)
    for idx in by_number.values():
        if len(idx) < 2:
            continue
        targets = {out[i].customer_id for i in idx}
        if len(targets) == 1 and "" not in targets:
            for i in idx[1:]:  # the same row pasted twice
                out[i] = _with(out[i], SKIP, f"same as {labels[idx[0]]}")
            continue
        where = ", ".join(labels[i] for i in idx)
        # A customer that already holds the number keeps it; the other rows are the odd ones.
        keep = [i for i in idx if out[i].action == CORRECT]
        for i in idx:
            if i not in keep:
                out[i] = _with(out[i], CONFLICT, f"number {rows[i].number} appears on {where} for different customers")
    by_customer: dict[str, list[int]] = {}
    for i, match in enumerate(out):
        if match.customer_id and match.action in (ASSIGN, CORRECT, CONFLICT):
            by_customer.setdefault(match.customer_id, []).append(i)
    for cid, idx in by_customer.items():
        if len({number_key(rows[i].number) for i in idx}) > 1:
            where = ", ".join(labels[i] for i in idx)
            for i in idx:
                if out[i].action != CORRECT:
                    out[i] = _with(out[i], CONFLICT, f"{where} give customer {cid} different numbers")
    return out


def _with(match: Match, action: str, note: str) -> Match:
    if match.note and match.note != note and match.action == action:
        note = f"{match.note}; {note}"
    return Match(match.customer_id, match.confidence, match.method, action, note)


def match_rows(
    rows: Sequence[Mapping[str, str]],
    customers: Sequence[Customer],
    company_country: str = "BE",
    labels: Sequence[str] | None = None,
) -> list[Match]:
    """One Match per pasted row (fields: number, name, vat, postal_code, country, ...).

    `labels` name the rows in notes ("row 7"); by default their 1-based position.
    """
    labels = list(labels) if labels is not None else [f"row {i + 1}" for i in range(len(rows))]
    index = _Index(customers, company_country)
    parsed = [_Row(r, company_country) for r in rows]
    found: dict[int, _Found] = {}
    for i, row in enumerate(parsed):
        exact = _exact(index, row)
        if exact is not None:
            found[i] = exact
    found.update(_fuzzy(index, {i: row for i, row in enumerate(parsed) if i not in found}))
    matches = [_decide(found.get(i, _Found(None)), row, index) for i, row in enumerate(parsed)]
    return _cross_check(matches, parsed, labels)
