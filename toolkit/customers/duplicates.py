"""Likely duplicate customers, merging two of them, and undoing a customer import.

All functions here decide; none writes. The caller turns the plans into workbook edits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from toolkit.customers.normalize import name_key, number_key, postal_key, vat_key
from toolkit.customers.numbers import natural_key
from toolkit.model import Customer, Invoice

NAME_THRESHOLD = 90  # rapidfuzz ratio of the names without legal forms, within one postal code


class MergeError(Exception):
    """The two customers cannot be merged; nothing was changed."""


@dataclass(frozen=True)
class DuplicateGroup:
    keeper: str  # suggested customer to keep
    duplicates: tuple[str, ...]  # the others, each with why it is a likely duplicate
    reasons: Mapping[str, str]
    blocked: Mapping[str, str] = field(default_factory=dict)  # duplicate -> why merge would refuse


def invoice_counts(invoices: Iterable[Invoice]) -> Counter:
    return Counter(inv.customer_id for inv in invoices)


def _keeper_key(c: Customer, counts: Mapping[str, int]):
    # The one with an accounting number, else the one with more invoices, else the older id.
    return (not c.accounting_number.strip(), -counts.get(c.customer_id, 0), natural_key(c.customer_id), c.customer_id)


def _numbers_clash(a: Customer, b: Customer) -> bool:
    na, nb = a.accounting_number.strip(), b.accounting_number.strip()
    return bool(na and nb and number_key(na) != number_key(nb))


class _Groups:
    """Union-find over customer positions, remembering the first evidence that joined each pair."""

    def __init__(self, n: int):
        self.parent = list(range(n))
        self.reason: dict[int, str] = {}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int, reason: str) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[rj] = ri
            self.reason.setdefault(i, reason)
            self.reason.setdefault(j, reason)


def find_duplicates(
    customers: Sequence[Customer],
    counts: Mapping[str, int] | None = None,
    company_country: str = "BE",
    threshold: int = NAME_THRESHOLD,
) -> list[DuplicateGroup]:
    """Groups of likely duplicates: same VAT number, or same postal code and similar names."""
    counts = counts or {}
    groups = _Groups(len(customers))
    blocks: dict[tuple[str, str], list[int]] = {}
    names = [name_key(c.name) for c in customers]
    for i, c in enumerate(customers):
        vat = vat_key(c.vat_number, c.country or company_country)
        if vat:
            blocks.setdefault(("vat", vat), []).append(i)
        postal = postal_key(c.postal_code)
        if postal and names[i]:
            blocks.setdefault(("postal", postal), []).append(i)
    for (kind, value), members in blocks.items():
        if len(members) < 2:
            continue
        if kind == "vat":
            for j in members[1:]:
                groups.join(members[0], j, f"same VAT number {value}")
            continue
        scores = process.cdist([names[i] for i in members], [names[i] for i in members], scorer=fuzz.ratio,
                               score_cutoff=threshold, dtype=np.uint8, workers=-1)
        for a, b in zip(*np.nonzero(np.triu(scores, k=1))):
            groups.join(members[a], members[b], f"same postal code {value}, names {scores[a, b]}% alike")
    by_root: dict[int, list[int]] = {}
    for i in range(len(customers)):
        by_root.setdefault(groups.find(i), []).append(i)
    result = []
    for members in by_root.values():
        if len(members) < 2:
            continue
        ordered = sorted((customers[i] for i in members), key=lambda c: _keeper_key(c, counts))
        keeper, others = ordered[0], ordered[1:]
        position = {customers[i].customer_id: i for i in members}
        result.append(
            DuplicateGroup(
                keeper.customer_id,
                tuple(c.customer_id for c in others),
                {c.customer_id: groups.reason.get(position[c.customer_id], "") for c in others},
                {
                    c.customer_id: f"{keeper.customer_id} has number {keeper.accounting_number.strip()} and "
                    f"{c.customer_id} has {c.accounting_number.strip()}"
                    for c in others
                    if _numbers_clash(keeper, c)
                },
            )
        )
    return sorted(result, key=lambda g: natural_key(g.keeper))


@dataclass(frozen=True)
class MergePlan:
    keeper: str
    duplicate: str  # to be removed
    invoices: tuple[str, ...]  # invoice numbers moving from the duplicate to the keeper
    number: str = ""  # the duplicate's accounting number, for a keeper that has none


def merge(customers: Sequence[Customer], invoices: Iterable[Invoice], keeper: str, duplicate: str) -> MergePlan:
    """Plan moving `duplicate`'s invoices to `keeper` and removing `duplicate`.

    Refused when both carry different accounting numbers: each number is an account in the
    package with its own history, and merging them here would hide that. A keeper without a
    number takes the duplicate's, so the number stays with the customer it was given to.
    """
    by_id = {c.customer_id: c for c in customers}
    if keeper == duplicate:
        raise MergeError(f"cannot merge customer {keeper} with itself")
    for cid in (keeper, duplicate):
        if cid not in by_id:
            raise MergeError(f"there is no customer {cid!r}")
    k, d = by_id[keeper], by_id[duplicate]
    if _numbers_clash(k, d):
        raise MergeError(
            f"customers {keeper} and {duplicate} carry different accounting numbers "
            f"({k.accounting_number.strip()} and {d.accounting_number.strip()}): merge them in the accounting "
            "package first, then clear one number here"
        )
    moving = tuple(inv.number for inv in invoices if inv.customer_id == duplicate)
    number = d.accounting_number.strip() if not k.accounting_number.strip() else ""
    return MergePlan(keeper, duplicate, moving, number)


@dataclass(frozen=True)
class UndoPlan:
    batch: str
    removed: tuple[str, ...]
    kept: tuple[tuple[str, str], ...]  # (customer id, why it stays)


def undo_import(customers: Sequence[Customer], invoices: Iterable[Invoice], batch: str) -> UndoPlan:
    """The customers import `batch` created, less those that got a number or invoices since."""
    counts = invoice_counts(invoices)
    removed, kept = [], []
    for c in customers:
        if not batch.strip() or c.import_batch.strip() != batch.strip():
            continue
        reasons = []
        if c.accounting_number.strip() and c.number_source != "imported":
            reasons.append(f"it got accounting number {c.accounting_number.strip()} ({c.number_source or 'typed'}) since the import")
        if counts.get(c.customer_id):
            reasons.append(f"it has {counts[c.customer_id]} invoice(s)")
        if reasons:
            kept.append((c.customer_id, " and ".join(reasons)))
        else:
            removed.append(c.customer_id)
    return UndoPlan(batch, tuple(removed), tuple(kept))
