"""VAT rules looked up by rate, regime and invoice date (rates and their accounts are date-effective)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from toolkit.model import Finding, VatRule, error

# Regimes that carry no VAT on the invoice: the customer or nobody pays it.
ZERO_VAT_REGIMES = frozenset({"intra-EU goods", "intra-EU services", "export", "reverse charge"})


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
