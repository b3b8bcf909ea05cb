"""Accounting customer numbers: hand out the next free ones, check them against the package rules.

"Next free" means the lowest integer >= start that no customer holds yet. Gaps left below the
highest number in use are filled: the accounting package only cares that a number is unique and
fits its rules, and a number once given is stored on the customer, so nothing is ever renumbered.
A number counts as in use when its text matches, or when it is all digits and its integer value
matches ("0100001" blocks 100001): packages that store numbers as integers (DATEV) would see
those two as one account.

Package rules come from the package spec; the keys are `pattern` (a regular expression the whole
number must match), `min_length`, `max_length` (characters) and `min`, `max` (numeric range,
inclusive), all optional.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Iterable, Mapping, Sequence

from toolkit.customers.normalize import number_key
from toolkit.model import Customer, Finding, Where, error, warning

_DIGITS = re.compile("[0-9]+")
RULE_KEYS = frozenset({"pattern", "min_length", "max_length", "min", "max"})
SAFE_START = 100000

# A safety net, not a rule: without a `max` we still stop after this many taken numbers in a row.
_MAX_SCAN = 10_000_000


class NumberingError(Exception):
    """A customer number cannot be given without breaking a rule; nothing may be written."""


def _check_rules(rules: Mapping) -> None:
    unknown = set(rules) - RULE_KEYS
    if unknown:
        raise NumberingError(
            f"unknown customer number rule(s) {', '.join(sorted(unknown))}; "
            f"the package spec may use {', '.join(sorted(RULE_KEYS))}"
        )


def check_number(number: str, rules: Mapping) -> str | None:
    """Why `number` breaks the package rules, or None when it fits them."""
    _check_rules(rules)
    number = str(number)
    pattern = rules.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, number):
        return f"customer number {number!r} does not match the package's pattern {pattern}"
    if rules.get("min_length") is not None and len(number) < rules["min_length"]:
        return f"customer number {number!r} is shorter than {rules['min_length']} characters"
    if rules.get("max_length") is not None and len(number) > rules["max_length"]:
        return f"customer number {number!r} is longer than {rules['max_length']} characters"
    low, high = rules.get("min"), rules.get("max")
    if low is not None or high is not None:
        if not _DIGITS.fullmatch(number):
            return f"customer number {number!r} must be a whole number between {low} and {high}"
        if low is not None and int(number) < low:
            return f"customer number {number} is below the package's lowest number {low}"
        if high is not None and int(number) > high:
            return f"customer number {number} is above the package's highest number {high}"
    return None


def _in_use(used: Iterable[str]) -> tuple[set[str], set[int]]:
    texts = {str(u).strip() for u in used if str(u).strip()}
    return texts, {int(t) for t in texts if _DIGITS.fullmatch(t)}


def assign_numbers(
    needing: Sequence[Customer], used: set[str], start: int, rules: Mapping
) -> dict[str, str]:
    """customer id -> new number for each of `needing`, in the given order.

    Raises NumberingError, before returning anything, when a number would break the rules or the
    package's range is exhausted. The same inputs always give the same numbers.
    """
    _check_rules(rules)
    if start < 0:
        raise NumberingError(f"the customer number start value {start} is negative")
    texts, ints = _in_use(used)
    high = rules.get("max")
    result: dict[str, str] = {}
    candidate = start
    for customer in needing:
        scanned = 0
        while str(candidate) in texts or candidate in ints:
            candidate += 1
            scanned += 1
            if scanned > _MAX_SCAN:
                raise NumberingError(f"no free customer number found after {start}")
        if high is not None and candidate > high and candidate == start:
            raise NumberingError(
                f"the customer number start value {start} is above the package's highest number {high}"
            )
        if high is not None and candidate > high:
            raise NumberingError(
                f"the package's customer number range is exhausted: customer {customer.customer_id} "
                f"would get {candidate}, above the highest allowed number {high} "
                f"({len(needing) - len(result)} customer(s) still need a number)"
            )
        number = str(candidate)
        problem = check_number(number, rules)
        if problem:
            raise NumberingError(f"customer {customer.customer_id} would get a number that breaks the rules: {problem}")
        result[customer.customer_id] = number
        ints.add(candidate)
        candidate += 1
    return result


def natural_key(text: str) -> tuple:
    """Sort key that puts C2 before C10."""
    return tuple((0, int(p), "") if _DIGITS.fullmatch(p) else (1, 0, p.casefold()) for p in re.split("([0-9]+)", text) if p)


def order_for_numbering(
    customers: Iterable[Customer], first_invoice_date: Mapping[str, dt.date]
) -> list[Customer]:
    """First invoice date (customers without invoices last), then customer id (C2 before C10)."""
    return sorted(
        customers,
        key=lambda c: (
            first_invoice_date.get(c.customer_id) is None,
            first_invoice_date.get(c.customer_id) or dt.date.min,
            natural_key(c.customer_id),
            c.customer_id,
        ),
    )


def default_start(rules: Mapping) -> int:
    """Where numbering starts when Settings leave it empty: 100000 where the package takes it,
    else the package's lowest valid number (DATEV, Sachkontenlänge 4: 10000)."""
    if check_number(str(SAFE_START), rules) is None:
        return SAFE_START
    low = rules.get("min")
    if low is None and rules.get("min_length"):
        low = 10 ** (rules["min_length"] - 1)
    return low if low is not None and check_number(str(low), rules) is None else SAFE_START


def describe(rules: Mapping) -> str:
    """The package's rules in words, for messages."""
    parts = []
    if rules.get("min_length") is not None and rules.get("min_length") == rules.get("max_length"):
        parts.append(f"exactly {rules['min_length']} characters")
    elif rules.get("min_length") is not None or rules.get("max_length") is not None:
        parts.append(f"{rules.get('min_length', 1)} to {rules.get('max_length', 'any')} characters")
    if rules.get("min") is not None or rules.get("max") is not None:
        parts.append(f"from {rules.get('min', 0)} to {rules.get('max', 'any')}")
    if rules.get("pattern") and not parts:
        parts.append(f"matching {rules['pattern']}")
    return ", ".join(parts)


def start_value_findings(start: int, where: Where, key: str | None = "value", usual: int = SAFE_START) -> list[Finding]:
    """A loud warning when the start value is below the package's usual start (`default_start`)."""
    if start >= usual:
        return []
    return [
        warning(
            "settings.customer_number_start.low",
            where,
            key,
            f"Customer number start {start} is below {usual}: generated numbers may equal those of "
            "customers that already exist in the accounting package, and importing would overwrite them. "
            "Consult your accountant first.",
        )
    ]


def duplicate_number_findings(customers: Iterable[Customer]) -> list[Finding]:
    """An error on each customer whose accounting number another customer also carries.

    "c100" and "C100", "0100001" and "100001" count as one number: packages with
    case-insensitive codes or integer numbers would see one account.
    """
    holders: dict[str, list[Customer]] = {}
    for c in customers:
        if c.accounting_number.strip():
            holders.setdefault(number_key(c.accounting_number), []).append(c)
    findings = []
    for group in holders.values():
        if len(group) < 2:
            continue
        for c in group:
            others = ", ".join(o.customer_id for o in group if o is not c)
            findings.append(
                error(
                    "customer.number.duplicate",
                    c.where,
                    "accounting_number",
                    f"Accounting customer number {c.accounting_number.strip()} of customer {c.customer_id} "
                    f"is also used by {others}; one number must belong to one customer.",
                )
            )
    return findings


def invalid_number_findings(customers: Iterable[Customer], rules: Mapping) -> list[Finding]:
    """An error on each existing accounting number that breaks the package rules."""
    findings = []
    for c in customers:
        number = c.accounting_number.strip()
        problem = number and check_number(number, rules)
        if problem:
            findings.append(
                error("customer.number.invalid", c.where, "accounting_number",
                      f"Customer {c.customer_id}: {problem} (the package takes {describe(rules)}).")
            )
    return findings
