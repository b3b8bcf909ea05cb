"""'Suggest accounts': fill empty ledger accounts of invoice lines from the VAT rules, in bulk.

An account someone typed is never touched; `resuggest` refreshes only the accounts the toolkit
suggested before (after the rules changed). The rule is the one valid on the invoice's date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolkit import layout
from toolkit.model import Workbook
from toolkit.vatrules import RuleBook
from toolkit.book.writeback import Edits


@dataclass
class Suggestions:
    edits: Edits = field(default_factory=Edits)
    filled: int = 0
    changed: int = 0
    unchanged: int = 0
    no_rule: list[int] = field(default_factory=list)  # rows without a covering rule

    @property
    def message(self) -> str:
        parts = [f"{self.filled} empty account(s) filled", f"{self.changed} suggestion(s) refreshed",
                 f"{self.unchanged} already right"]
        if self.no_rule:
            rows = ", ".join(str(r) for r in self.no_rule[:10]) + (" ..." if len(self.no_rule) > 10 else "")
            parts.append(f"{len(self.no_rule)} line(s) without a matching VAT rule (rows {rows}): add a rule and run again")
        return "Suggest accounts: " + "; ".join(parts) + "."


def suggest_accounts(wb: Workbook, resuggest: bool = False) -> Suggestions:
    rules = RuleBook(wb.vat_rules)
    dates = {i.number: i.date for i in wb.invoices}
    result = Suggestions()
    sheet = layout.INVOICE_LINES.name
    for line in wb.lines:
        suggested_before = line.account_source == "suggested"
        if line.ledger_account and not (resuggest and suggested_before):
            continue  # typed by someone: theirs
        day = dates.get(line.invoice_number)
        rule = rules.rule_for(line.vat_rate, line.vat_regime, day) if day and line.vat_rate is not None else None
        if rule is None:
            result.no_rule.append(line.where.row)
            continue
        if rule.revenue_account == line.ledger_account:
            result.unchanged += 1
            if not suggested_before:
                result.edits.set(sheet, line.where.row, "account_source", "suggested")
            continue
        if line.ledger_account:
            result.changed += 1
        else:
            result.filled += 1
        result.edits.set(sheet, line.where.row, "ledger_account", rule.revenue_account)
        result.edits.set(sheet, line.where.row, "account_source", "suggested")
    return result
