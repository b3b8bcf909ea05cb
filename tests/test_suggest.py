"""Suggest accounts: fills empty accounts from the VAT rule valid on the invoice date, never a typed one."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import openpyxl

from factory import RULES, invoice, line, workbook
from toolkit import checks, cli, layout
from toolkit.app.export import ExportRequest, run_export
from toolkit.model import VatRule
from toolkit.book.read import read_workbook
from toolkit.app.suggest import suggest_accounts

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def cells(result):
    return {(c.row, c.key): c.value for c in result.edits.cells}


def test_fills_empty_and_keeps_typed():
    wb = workbook([invoice(lines=[line(account="", row=2), line(account="700060", row=3)])])
    result = suggest_accounts(wb)
    assert cells(result) == {(2, "ledger_account"): "700000", (2, "account_source"): "suggested"}
    assert result.filled == 1


def test_resuggest_refreshes_only_suggested():
    rules = (replace(RULES[0], revenue_account="700001"),) + RULES[1:]
    typed = line(row=2)  # manual 700000
    suggested = replace(line(row=3), account_source="suggested")
    wb = workbook([invoice(lines=[typed, suggested])], vat_rules=rules)
    assert cells(suggest_accounts(wb)) == {}
    result = suggest_accounts(wb, resuggest=True)
    assert cells(result) == {(3, "ledger_account"): "700001", (3, "account_source"): "suggested"}
    assert result.changed == 1


def test_rate_change_in_the_middle_of_a_period():
    """Hotel VAT: 6 % until 2026-02-28, then 12 % from 2026-03-01, each with its own account."""
    rules = RULES + (VatRule(D(12), "domestic", dt.date(2026, 3, 1), None, "700120"),)
    rules = tuple(replace(r, valid_to=dt.date(2026, 2, 28), revenue_account="700061") if r.rate == 6 else r for r in rules)
    february = invoice("F1", day=dt.date(2026, 2, 28), lines=[line("F1", rate="6", account="", row=2)])
    march = invoice("F2", row=3, day=dt.date(2026, 3, 1), lines=[line("F2", rate="12", account="", row=3),
                                                                  line("F2", rate="6", account="", row=4)])
    result = suggest_accounts(workbook([february, march], vat_rules=rules))
    assert cells(result) == {(2, "ledger_account"): "700061", (2, "account_source"): "suggested",
                             (3, "ledger_account"): "700120", (3, "account_source"): "suggested"}
    assert result.no_rule == [4]  # 6 % no longer has a rule in March
    assert "row" in result.message and "4" in result.message


def test_blanked_sample_gets_its_accounts_back_and_exports_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775120400")
    book = tmp_path / "demo.xlsx"
    shutil.copy(SAMPLES / "demo.xlsx", book)
    intended = [l.ledger_account for l in read_workbook(book).lines]
    xl = openpyxl.load_workbook(book)
    ws = xl[layout.INVOICE_LINES.name]
    account_col = layout.INVOICE_LINES.keys.index("ledger_account") + 1
    for row in range(2, ws.max_row + 1):
        ws.cell(row, account_col).value = None
    xl.save(book)
    assert "line.account.missing" in {f.code for f in checks.check_workbook(read_workbook(book))}
    assert cli.main(["suggest-accounts", str(book)]) == 0
    wb = read_workbook(book)
    assert [l.ledger_account for l in wb.lines] == intended
    assert {l.account_source for l in wb.lines} == {"suggested"}
    result = run_export(ExportRequest(book, out_dir=tmp_path / "out"))
    for name in ("ACT.txt", "CSF.txt"):
        assert (result.folder / name).read_bytes() == (SAMPLES / "golden" / "winbooks" / name).read_bytes()
