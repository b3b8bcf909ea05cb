"""VAT rules looked up by rate, regime and invoice date (rates and their accounts are date-effective)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from typing import Callable, Iterable

from toolkit.model import Finding, VatCode, VatRule, error, warning

# Regimes that carry no VAT on the invoice: the customer or nobody pays it.
ZERO_VAT_REGIMES = frozenset({"intra-EU goods", "intra-EU services", "export", "export services", "reverse charge"})
EXPORT_REGIMES = frozenset({"export", "export services"})  # supplies outside the EU

VatCodeLookup = Callable[[str, Decimal, str], "str | None"]


def package_vat_codes(package: str, defaults: VatCodeLookup, rows: Iterable[VatCode]) -> VatCodeLookup:
    """(regime, rate, document type) -> the package's VAT code, or None when it has none: the
    workbook's VAT codes rows for `package` first, then the package spec's own table (`defaults`);
    within each, the most specific row wins (exact rate before any, exact type before both). Rows
    of other packages never apply: a WinBooks code does not leak into a DATEV export."""
    own: dict[tuple, str] = {}
    for row in rows:
        if row.package.strip().casefold() == package.casefold() and row.regime:
            own.setdefault((row.regime, row.rate, row.doc_type or None), row.code)

    def lookup(regime: str, rate: Decimal, doc_type: str) -> str | None:
        for key in ((regime, rate, doc_type), (regime, rate, None), (regime, None, doc_type), (regime, None, None)):
            if key in own:
                return own[key]
        return defaults(regime, rate, doc_type)

    return lookup


def unknown_packages(rows: Iterable[VatCode], known: set[str]) -> list[Finding]:
    """VAT codes rows for a package no spec has: a typo would leave the package's own code in use."""
    return [warning("vat_code.package.unknown", row.where, "package",
                    f"No package {row.package!r}: this code applies to no export. Known packages: {', '.join(sorted(known))}.")
            for row in rows if row.package.strip().casefold() not in known]


def duplicate_vat_codes(rows: Iterable[VatCode]) -> list[Finding]:
    """Two VAT codes rows for the same package, regime, rate and type: which one applies is unclear."""
    findings, first = [], {}
    for row in rows:
        key = (row.package.strip().casefold(), row.regime, row.rate, row.doc_type)
        earlier = first.setdefault(key, row)
        if earlier is not row:
            findings.append(error(
                "vat_code.duplicate", row.where, "code",
                f"A second {row.package} code for {row.regime}"
                f"{f' {row.rate} %' if row.rate is not None else ''}{f' on a {row.doc_type}' if row.doc_type else ''} "
                f"(the first is on row {earlier.where.row}): keep one row."))
    return findings


class RuleBook:
    def __init__(self, rules: tuple[VatRule, ...]):
        self._by_key: dict[tuple[Decimal, str], list[VatRule]] = defaultdict(list)
        for rule in rules:
            if rule.rate is not None and rule.regime:
                self._by_key[(rule.rate.normalize(), rule.regime)].append(rule)
        self._cache: dict[tuple, VatRule | None] = {}

    def rule_for(self, rate: Decimal, regime: str, day: dt.date) -> VatRule | None:
        key = (rate, regime, day)
        if key not in self._cache:
            self._cache[key] = next(
                (r for r in self._by_key.get((rate.normalize(), regime), ()) if r.covers(day)), None
            )
        return self._cache[key]

    def overlaps(self) -> list[Finding]:
        """Two rules for the same rate and regime whose validity periods share a day."""
        findings = []
        for (rate, regime), rules in self._by_key.items():
            ordered = sorted(rules, key=lambda r: r.valid_from or dt.date.min)
            for earlier, later in zip(ordered, ordered[1:]):
                if (earlier.valid_to or dt.date.max) >= (later.valid_from or dt.date.min):
                    findings.append(error(
                        "vat_rule.overlap", later.where, "valid_from",
                        f"This rule for {rate} % {regime} overlaps the rule on row {earlier.where.row}: "
                        f"end that one the day before this one starts.",
                    ))
        return findings
