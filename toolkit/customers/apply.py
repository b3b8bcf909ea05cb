"""Carry out the actions the user accepted on the Customer import sheet.

Nothing here writes: the result says which numbers to set, which customers to create, and what
each row now reads, so the caller can write it all in one go (or nothing, if it fails). After an
apply every applied row reads "already correct" (or "skip"), so applying twice changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from rapidfuzz import fuzz
from stdnum.eu import vat as eu_vat

from toolkit.customers.match import AMBIGUOUS, ASSIGN, CONFLICT, CORRECT, NEW, OVERWRITE, SKIP, ACTIONS
from toolkit.customers.normalize import name_key, number_key, vat_key
from toolkit.model import Customer


SAME_NAME_MIN = 50  # below this (token set ratio) a row is not taken for the customer it names


@dataclass(frozen=True)
class ImportRow:
    """A reviewed row: the pasted fields, and the customer id and action as the user left them."""

    label: str  # "row 7", for messages
    fields: Mapping[str, str]
    customer_id: str = ""
    action: str = ""


@dataclass(frozen=True)
class RowOutcome:
    customer_id: str
    action: str
    note: str
    applied: bool


@dataclass(frozen=True)
class ApplyResult:
    numbers: dict[str, str]  # customer id -> accounting number to set (source "imported")
    new_customers: list[Customer]
    rows: list[RowOutcome]  # one per input row, what its result columns should now read
    summary: Counter = field(default_factory=Counter)

    @property
    def refused(self) -> list[tuple[int, str]]:
        return [(i, r.note) for i, r in enumerate(self.rows) if r.note.startswith("refused")]


def next_customer_ids(existing: Iterable[str], count: int) -> list[str]:
    """`count` fresh ids in the workbook's own style: after C0042 comes C0043 (default C0001)."""
    existing = set(existing)
    prefixes: Counter = Counter()
    highest: dict[str, int] = {}
    padded: dict[str, int] = {}  # prefix -> width of its zero-padded numbers (C0042 -> 4)
    for cid in existing:
        m = re.fullmatch(r"(.*?)(\d+)", cid)
        if m:
            prefix, digits = m.groups()
            prefixes[prefix] += 1
            highest[prefix] = max(highest.get(prefix, 0), int(digits))
            if digits.startswith("0"):
                padded[prefix] = max(padded.get(prefix, 0), len(digits))
    prefix = max(prefixes, key=lambda p: (prefixes[p], p)) if prefixes else "C"
    width = padded.get(prefix, 1) if prefixes else 4
    n = highest.get(prefix, 0)
    ids = []
    while len(ids) < count:
        n += 1
        cid = f"{prefix}{n:0{width}d}"
        if cid not in existing:
            ids.append(cid)
    return ids


def _stored_vat(raw: str, country: str) -> str:
    """A pasted VAT number as the Customers sheet wants it (BE0477472701) when it is valid."""
    key = vat_key(raw, country)
    return key if key and eu_vat.is_valid(key) else raw.strip()


def _unlike(fields: Mapping[str, str], customer: Customer, company_country: str) -> str:
    """Why a row cannot be that customer, or "".

    Every match proposal passes; this catches a customer id typed into the wrong row and results
    left beside a list pasted over the one they were made for.
    """
    row_vat = vat_key(str(fields.get("vat") or ""), str(fields.get("country") or "") or company_country)
    own_vat = vat_key(customer.vat_number, customer.country or company_country)
    if row_vat and own_vat:
        return "" if row_vat == own_vat else f"VAT number {row_vat} against {own_vat}"
    row_name = name_key(str(fields.get("name") or ""))
    if not row_name:
        return "the row has no name or VAT number to confirm it"
    similarity = fuzz.token_set_ratio(row_name, name_key(customer.name))
    return "" if similarity >= SAME_NAME_MIN else f"the names are only {similarity:.0f}% alike"


def apply_actions(
    rows: Sequence[ImportRow], customers: Sequence[Customer], batch_id: str, company_country: str = "BE"
) -> ApplyResult:
    by_id = {c.customer_id: c for c in customers}
    holders = {number_key(c.accounting_number): c.customer_id for c in customers if c.accounting_number.strip()}
    numbers: dict[str, str] = {}
    pending_new: list[tuple[int, ImportRow, str]] = []
    outcomes: list[RowOutcome | None] = [None] * len(rows)
    summary: Counter = Counter()

    def refuse(i: int, row: ImportRow, reason: str) -> None:
        outcomes[i] = RowOutcome(row.customer_id, row.action, f"refused: {reason}", False)
        summary["refused"] += 1

    for i, row in enumerate(rows):
        action = " ".join(row.action.split()).casefold()
        number = str(row.fields.get("number") or "").strip()
        if action in ("", SKIP, CONFLICT, AMBIGUOUS):
            outcomes[i] = RowOutcome(row.customer_id, row.action, "", False)
            summary["left for review" if action in (CONFLICT, AMBIGUOUS) else "skipped"] += 1
            continue
        if action not in ACTIONS:
            refuse(i, row, f"unknown action {row.action!r}; use one of {', '.join(ACTIONS)}")
            continue
        if action == NEW:
            name = str(row.fields.get("name") or "").strip()
            if not name:
                refuse(i, row, "a new customer needs a name")
            elif number and number_key(number) in holders:
                refuse(i, row, f"number {number} is already used by customer {holders[number_key(number)]}")
            else:
                if number:
                    holders[number_key(number)] = f"(new, {row.label})"
                pending_new.append((i, row, number))
            continue
        customer = by_id.get(row.customer_id.strip())
        if customer is None:
            refuse(i, row, f"no customer with id {row.customer_id!r}" if row.customer_id.strip() else "no customer id")
            continue
        if not number:
            refuse(i, row, "no customer number in this row")
            continue
        cid = customer.customer_id
        current = numbers.get(cid, customer.accounting_number.strip())
        holder = holders.get(number_key(number))
        unlike = _unlike(row.fields, customer, company_country)
        if current and number_key(current) == number_key(number):
            outcomes[i] = RowOutcome(cid, CORRECT, "", False)
            summary["already correct"] += 1
        elif holder is not None and holder != cid:
            refuse(i, row, f"number {number} is already used by customer {holder}")
        elif action == CORRECT:
            refuse(i, row, f"customer {cid} does not have number {number}; set the action to '{ASSIGN}'")
        elif unlike:
            refuse(i, row, f"this row does not look like customer {cid} ({customer.name}): {unlike}. Match again, or "
                           "correct the customer id; if it is that customer, fix its name or VAT number first")
        elif current and action != OVERWRITE:
            refuse(i, row, f"customer {cid} already has number {current}; set the action to '{OVERWRITE}' to replace it")
        else:
            if current:
                holders.pop(number_key(current), None)
            numbers[cid] = number
            holders[number_key(number)] = cid
            replaced = f" (was {current})" if current else ""
            outcomes[i] = RowOutcome(cid, CORRECT, f"applied: number {number} given to {cid}{replaced}", True)
            summary["numbers overwritten" if current else "numbers assigned"] += 1

    new_ids = next_customer_ids(by_id, len(pending_new))
    new_customers = []
    for (i, row, number), cid in zip(pending_new, new_ids):
        get = lambda f: str(row.fields.get(f) or "").strip()  # noqa: E731
        new_customers.append(
            Customer(
                customer_id=cid,
                name=get("name"),
                vat_number=_stored_vat(get("vat"), get("country") or company_country),
                street=get("street"),
                postal_code=get("postal_code"),
                city=get("city"),
                country=get("country").upper(),
                language=get("language").upper(),
                email=get("email"),
                phone=get("phone"),
                accounting_number=number,
                number_source="imported" if number else "",
                import_batch=batch_id,
            )
        )
        outcomes[i] = RowOutcome(cid, CORRECT if number else SKIP, f"applied: created customer {cid} (import {batch_id})", True)
        summary["customers created"] += 1
    return ApplyResult(numbers, new_customers, [o for o in outcomes if o is not None], summary)
