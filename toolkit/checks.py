"""The validation rules. Each finding has a stable id, a severity, its sheet and cell, and says
what to do. Errors block an export; warnings inform.

`check_workbook` runs everything that needs only the workbook; `check_package` adds what the
chosen package's spec demands (account format, VAT code table). The one validation stage that
`check`, Validate and export all run is `toolkit.app.export.validate`, which calls these.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections import Counter, defaultdict
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Callable, Iterable, Mapping

from stdnum.be import ogm_vcs
from stdnum import vatin
from stdnum.eu import vat as eu_vat

from toolkit import layout
import toolkit.spec.text as text
from toolkit.accounting import document_total, line_signs, typed_negative
from toolkit.model import Finding, Invoice, Where, Workbook, error, warning
from toolkit.computed import computable, computed_findings, too_large
from toolkit.customers.normalize import vat_key
from toolkit.vatrules import EXPORT_REGIMES, ZERO_VAT_REGIMES, RuleBook, duplicate_vat_codes, package_vat_codes

# ISO country codes of the EU; Greek VAT numbers carry "EL", so a valid number's prefix is mapped.
EU_COUNTRIES = frozenset(c.upper() for c in eu_vat.MEMBER_STATES if c != "xi")
# ISO 3166-1 country codes as the e-invoice rules take them (EN 16931 BR-CL-14, 2026.5: with XI for
# Northern Ireland and 1A for Kosovo): two letters are not enough, 'UK' and 'EL' are not among them.
ISO_COUNTRIES = frozenset("""
    1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA
    CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB
    GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB
    SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US
    UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW""".split())
# Where revenue accounts live in the usual charts (Teamleader's rule): BE class 70, NL class 8.
REVENUE_PREFIX = {"BE": "70", "NL": "8"}
_TRAILING_DIGITS = re.compile(r"^(.*?)(\d+)$")
# The digits a package keeps are 0-9, as its spec allows them: \D would keep fullwidth or Arabic-Indic
# digits too, and judge a number the export writes differently (INV-\uff11 was written with none).
_NOT_DIGIT = re.compile(r"[^0-9]")


def same_in_excel(key: str | None) -> str | None:
    """An id or number as the workbook's lookups see it: Excel's MATCH and SUMIFS ignore case, so C001
    and c001 are one customer on screen (the invoice of c001 shows C001's name and number), and two
    ids the toolkit kept apart would be booked differently from what the workbook shows. Two ways of
    writing one character (é, or e and a combining accent: pasted from a Mac) look the same on screen
    and name one file on a Mac: one too."""
    return unicodedata.normalize("NFC", key).casefold() if key else key


def valid_vat_country(raw: str, default_country: str) -> str | None:
    """The ISO country of a valid VAT number, or None when python-stdnum rejects it. A number
    typed without its prefix (Belgians often do) takes `default_country` when that is in the EU.
    A number of a country outside the EU (GB..., CHE...MWST, NO...MVA: a customer there has one of
    its own) is checked by that country's rule, with its prefix as written."""
    number = vat_key(raw, default_country)
    if not number:
        return None
    try:
        prefix = eu_vat.validate(number)[:2].upper()
    except Exception:  # stdnum raises its own ValidationError family for every kind of bad number
        try:  # an EU number it rejected, vatin rejects too (the same country rules)
            prefix = vatin.validate(number)[:2].upper()
        except Exception:
            return None
    return "GR" if prefix == "EL" else prefix


def check_workbook(wb: Workbook) -> list[Finding]:
    findings = list(wb.findings)
    findings += _settings(wb)
    findings += _accounts(wb)
    findings += RuleBook(wb.vat_rules).overlaps()
    findings += duplicate_vat_codes(wb.vat_codes)
    findings += _customers(wb)
    findings += _invoices(wb)
    findings += _lines(wb)
    findings += _discounts(wb)
    findings += credit_note_signs(wb)
    findings += totals_as_issued(wb)
    findings += computed_findings(wb)
    return findings


def one_per_cell(findings: list[Finding]) -> list[Finding]:
    """Findings without the follow-ons of an error: once a cell has an error, later findings about
    that same cell (a VAT rate of 0.21 has no VAT code either) only repeat the mistake."""
    errored, kept = set(), []
    for f in findings:
        where = (f.sheet, f.cell)
        if f.cell and where in errored:
            continue
        kept.append(f)
        if f.is_error:
            errored.add(where)
    return kept


def check_spec(wb: Workbook, spec, params: Mapping) -> list[Finding]:
    """`check_package` for a loaded package spec and its parameter values, its VAT codes taken
    from the workbook's VAT codes sheet over the spec's table; a spec without a VAT code table (a
    generic journal) asks for no codes."""
    codes = package_vat_codes(spec.id, spec.vat_code, wb.vat_codes)
    return (check_package(wb, spec.account_rules(params), codes if spec.vat_codes else None, spec.id)
            + document_numbers(wb, spec.document_numbers, spec.name, written_number(spec)))


def written_number(spec) -> Callable[[str], str] | None:
    """A document number as the package's file writes it where the file cannot hold it as typed:
    the file's own replacements (BOB 50 writes ; as ,) and, in a file whose character set is not
    Unicode (cp1252, ISO 8859-15, CP437), the spec's transliteration (INV-\uff13 becomes INV-3, F1 and
    an emoji F1?), as the renderer does them (`toolkit.spec.text.encodable`). None: numbers are
    written as typed (or refused: a file that does not transliterate reports what it cannot hold)."""
    for plan in spec.plans.files:
        if not any(field.path == "document.number" for field in _fields(plan)):
            continue
        table, transliterate = dict(plan.translate), plan.unrepresentable == "transliterate"
        if not table and not transliterate:
            return None
        replaced = re.compile("[" + re.escape("".join(map(chr, table))) + "]") if table else None

        def written(number: str, table=table, replaced=replaced, encoding=plan.encoding) -> str:
            if number.isascii() and not (replaced and replaced.search(number)):
                return number  # the usual number: written as typed, without a call per character
            return text.encodable(number.translate(table), encoding, transliterate) or number
        return written
    return None


def _fields(plan) -> Iterable:
    """Every field plan of a file plan: its header's and its records' (nested ones too)."""
    records = [r for kind, r in plan.header if kind == "record"] + list(plan.records)
    while records:
        record = records.pop()
        yield from record.fields or ()
        yield from record.attributes
        if record.text is not None:
            yield record.text
        records.extend(record.children)


def document_numbers(wb: Workbook, rule: Mapping, package: str, written: Callable[[str], str] | None = None) -> list[Finding]:
    """Document numbers as the package will keep them: an error on each document whose number
    becomes another one's in the same journal, or becomes nothing. WinBooks keeps the digits only
    (`document_numbers` of its spec: 2026-0001 and CN2026-0001 are both 20260001); a file that
    cannot hold a character writes another one (`written_number`: INV-\uff13 and INV-3 are both INV-3)."""
    digits = rule.get("keep") == "digits"
    if not digits and written is None:
        return []
    findings, first = [], {}
    for invoice in wb.invoices:
        if not invoice.number or not invoice.doc_type:
            continue
        if digits:
            kept = _NOT_DIGIT.sub("", invoice.number)
            if not kept:
                findings.append(error("invoice.number.package_empty", invoice.where, "number",
                                      f"{package} keeps only the digits of a document number, and {invoice.number} has none: "
                                      f"give the document a number with digits."))
                continue
        else:
            kept = written(invoice.number)
        journal = wb.settings.journal(invoice.doc_type)
        other = first.setdefault((journal, kept), invoice)
        if other is not invoice and same_in_excel(other.number) != same_in_excel(invoice.number):  # else invoice.number.duplicate
            how = ("keeps only the digits of a document number" if digits else
                   "writes the characters its file cannot hold as others")
            findings.append(error(
                "invoice.number.package_collision", invoice.where, "number",
                f"{invoice.number} and {other.number} ({other.where.sheet}!{other.where.cell('number')}) both become "
                f"{kept} in {package}, which {how}; both are in journal {journal}, "
                f"so {package} would hold two documents under one number. Set a separate 'Credit note journal' on "
                f"Settings, or renumber one of them."))
    return findings


def check_package(wb: Workbook, account_rules: Mapping | None, vat_code: Callable | None, package: str = "") -> list[Finding]:
    """What the package spec demands: its account format and a VAT code for every line."""
    findings = []
    if account_rules:
        pattern = re.compile(account_rules["pattern"]) if account_rules.get("pattern") else None
        low, high = account_rules.get("min_length", 0), account_rules.get("max_length", 99)
        for account in wb.accounts:
            if not (low <= len(account.account) <= high) or (pattern and not pattern.fullmatch(account.account)):
                findings.append(error(
                    "account.format", account.where, "account",
                    f"Account {account.account} does not fit the package's account numbers "
                    f"({_describe_rules(account_rules)}).",
                ))
    if vat_code:
        seen = {}
        for invoice in wb.invoices:
            for line in invoice.lines:
                if line.vat_rate is None:
                    continue
                key = (line.vat_regime, line.vat_rate, invoice.doc_type)
                if key not in seen:
                    seen[key] = vat_code(*key)
                if seen[key] is None:
                    findings.append(error(
                        "line.vat_code.missing", line.where, "vat_rate",
                        f"The package has no VAT code for {line.vat_rate} % {line.vat_regime} on a {invoice.doc_type}: "
                        f"add a row for package {package or 'of the export'} on the VAT codes sheet, or use another rate or regime.",
                    ))
    return findings


def _describe_rules(rules: Mapping) -> str:
    parts = []
    if rules.get("pattern"):
        parts.append(f"pattern {rules['pattern']}")
    if "min_length" in rules or "max_length" in rules:
        parts.append(f"{rules.get('min_length', 1)} to {rules.get('max_length', 'any')} characters")
    if "max_length_from" in rules:
        parts[-1] += f" (at most {rules['max_length_from']}: a longer number is a customer or supplier account)"
    return ", ".join(parts)


# ---- settings ----------------------------------------------------------------------------------


def _settings(wb: Workbook) -> list[Finding]:
    s, findings = wb.settings, []
    at = s.cell

    if s.period_from and s.period_to and s.period_from > s.period_to:
        findings.append(error("settings.period.reversed", at("period_to"), "value",
                              "'Period to' is before 'Period from': swap them."))
    if s.company_vat and not valid_vat_country(s.company_vat, s.company_country):
        findings.append(error("settings.company_vat.invalid", at("company_vat"), "value",
                              f"Company VAT number {s.company_vat} is not valid: check the digits and the country prefix."))
    kinds = {a.account: a for a in wb.accounts}
    for key, kind in (("discount_account", "discount"), ("receivables_account", "receivable"), ("vat_account", "VAT")):
        account = getattr(s, key)
        if not account:
            continue
        found = kinds.get(account)
        label = layout.SETTINGS_BY_KEY[key].label
        if found is None:
            findings.append(error("settings.account.unknown", at(key), "value",
                                  f"{label} {account} is not on the Ledger accounts sheet: add it there."))
        elif found.kind != kind:
            findings.append(error("settings.account.kind", at(key), "value",
                                  f"{label} {account} is of kind '{found.kind}' on Ledger accounts; it must be '{kind}'."))
    return findings


# ---- ledger accounts ---------------------------------------------------------------------------


def _accounts(wb: Workbook) -> list[Finding]:
    findings = []
    counts = Counter(a.account for a in wb.accounts)
    prefix = REVENUE_PREFIX.get(wb.settings.company_country.upper())
    for account in wb.accounts:
        if counts[account.account] > 1:
            findings.append(error("account.duplicate", account.where, "account",
                                  f"Account {account.account} is listed more than once: keep one row."))
            counts[account.account] = 1  # report the later copies only
        if prefix and account.kind == "revenue" and not account.account.startswith(prefix):
            findings.append(warning("account.revenue.unusual", account.where, "account",
                                    f"Revenue account {account.account} does not start with {prefix}, where "
                                    f"{wb.settings.company_country} charts keep revenue: is the kind right?"))
    return findings


# ---- customers ---------------------------------------------------------------------------------


def _customers(wb: Workbook) -> list[Finding]:
    findings = []
    seen: dict[str, Where] = {}
    home = wb.settings.company_country
    for customer in wb.customers:
        key = same_in_excel(customer.customer_id)
        if key in seen:
            findings.append(error("customer.id.duplicate", customer.where, "customer_id",
                                  f"Customer id {customer.customer_id} is also on row {seen[key].row}: ids must be unique."))
        seen.setdefault(key, customer.where)
        if customer.vat_number and not valid_vat_country(customer.vat_number, customer.country or home):
            findings.append(error("customer.vat.invalid", customer.where, "vat_number",
                                  f"VAT number {customer.vat_number} is not valid: check the digits and the country prefix."))
        if customer.country and customer.country not in ISO_COUNTRIES:
            hint = {"UK": " (the United Kingdom is GB)", "EL": " (Greece is GR; EL is its VAT prefix)"}.get(customer.country, "")
            findings.append(error("customer.country.invalid", customer.where, "country",
                                  f"Country {customer.country!r} must be a two-letter ISO code such as BE, NL, FR{hint}."))
    return findings


# ---- invoices ----------------------------------------------------------------------------------


def _unknown_customer(customer_id: str, folded: dict[str, str]) -> str:
    """An invoice's customer id that is not on the Customers sheet (`folded`: its ids as the sheet's
    lookups see them, `same_in_excel`): where one differs only in case, the row shows that
    customer's name while the export cannot book to it."""
    shown = folded.get(same_in_excel(customer_id))
    if shown is not None:
        return (f"Customer id {customer_id} is not on the Customers sheet as typed: the sheet shows {shown}'s name "
                f"(its lookups ignore case), but the export books to the id exactly. Type it as on the Customers "
                f"sheet ({shown}).")
    return f"Customer id {customer_id} is not on the Customers sheet: add the customer or fix the id."


def _invoices(wb: Workbook) -> list[Finding]:
    findings = []
    customers = {c.customer_id for c in wb.customers}
    seen: dict[str, Where] = {}
    folded: dict[str, str] | None = None  # the customer ids as the sheet's lookups see them, when needed
    by_number: dict[str, Invoice] = {}  # the first row of each number (a second is a duplicate, reported)
    for invoice in wb.invoices:
        by_number.setdefault(invoice.number, invoice)
    s = wb.settings
    discount_needs_account = not s.discount_account and s.require_discount_account
    for invoice in wb.invoices:
        if not invoice.number:
            continue  # the reader reported the empty required cell
        key = same_in_excel(invoice.number)
        if key in seen:
            findings.append(error("invoice.number.duplicate", invoice.where, "number",
                                  f"Invoice number {invoice.number} is also on row {seen[key].row}: numbers must be unique."))
            continue
        seen[key] = invoice.where
        if invoice.customer_id and invoice.customer_id not in customers:
            if folded is None:
                folded = {}
                for known in sorted(filter(None, customers)):
                    folded.setdefault(same_in_excel(known), known)
            findings.append(error("invoice.customer.unknown", invoice.where, "customer_id",
                                  _unknown_customer(invoice.customer_id, folded)))
        if not invoice.lines:
            findings.append(error("invoice.lines.missing", invoice.where, "number",
                                  f"Invoice {invoice.number} has no lines on the Invoice lines sheet."))
        if invoice.currency != "EUR":
            findings.append(error("invoice.currency.unsupported", invoice.where, "currency",
                                  f"Currency {invoice.currency}: only EUR invoices can be exported for now."))
        if invoice.payment_reference and not ogm_vcs.is_valid(invoice.payment_reference):
            findings.append(error("invoice.payment_reference.invalid", invoice.where, "payment_reference",
                                  f"{invoice.payment_reference} is not a valid Belgian structured communication (+++123/4567/89012+++): check the digits."))
        if invoice.due_date and invoice.date and invoice.due_date < invoice.date:
            findings.append(warning("invoice.due_date.early", invoice.where, "due_date",
                                    "The due date is before the invoice date."))
        if discount_needs_account and invoice.discount_pct:
            findings.append(error("invoice.discount.account_missing", invoice.where, "discount_pct",
                                  "This invoice has a discount but no discount account is set: fill 'Discount account' on Settings."))
        if invoice.credited_invoice:
            findings += _credited(invoice, by_number.get(invoice.credited_invoice))
    findings += _numbering(wb.invoices)
    return findings


def _credited(invoice: Invoice, credited: Invoice | None) -> list[Finding]:
    """The invoice a credit note credits must be one it can credit: an earlier invoice of the same
    customer. A Peppol credit note carries the reference to the customer, and an accountant books
    the credit against that invoice. An invoice naming a credited invoice is most likely a credit
    note whose Type was left 'invoice': it is booked as a sale, the reverse of what was meant."""
    number, other = invoice.number, invoice.credited_invoice
    if not invoice.is_credit_note:
        return [warning("invoice.credited.type", invoice.where, "doc_type",
                        f"{number} names a credited invoice ({other}) but its Type is 'invoice': it is booked as a sale "
                        f"to the customer, not as a credit. If it credits {other}, set Type to 'credit note'; "
                        f"otherwise clear its Credited invoice.")]
    if credited is None:
        return [warning("credit_note.credited.unknown", invoice.where, "credited_invoice",
                        f"Credited invoice {other} is not on the Invoices sheet.")]
    if credited is invoice:
        return [warning("credit_note.credited.not_invoice", invoice.where, "credited_invoice",
                        f"Credited invoice {other} is this credit note itself: type the number of the invoice it credits.")]
    if credited.is_credit_note:
        return [warning("credit_note.credited.not_invoice", invoice.where, "credited_invoice",
                        f"Credited invoice {other} is a credit note (row {credited.where.row}): type the number of "
                        f"the invoice it credits.")]
    if credited.customer_id and invoice.customer_id and credited.customer_id != invoice.customer_id:
        return [warning("credit_note.credited.other_customer", invoice.where, "credited_invoice",
                        f"Credited invoice {other} is to customer {credited.customer_id}, credit note {number} to "
                        f"{invoice.customer_id}: a credit note goes to the customer of the invoice it credits (its "
                        f"e-invoice quotes that invoice to the customer). Fix the Customer id or the Credited invoice.")]
    if credited.date and invoice.date and credited.date > invoice.date:
        return [warning("credit_note.credited.later", invoice.where, "credited_invoice",
                        f"Credited invoice {other} is dated {credited.date:%d/%m/%Y}, after this credit note "
                        f"({invoice.date:%d/%m/%Y}): a credit note credits an invoice issued before it. Check both "
                        f"dates and the Credited invoice.")]
    return []


def _numbering(invoices: Iterable[Invoice]) -> list[Finding]:
    """Gaps and disorder per series (the number without its trailing digits): warnings, as Belgian law wants
    invoices numbered without gaps in date order."""
    series = defaultdict(list)
    for invoice in invoices:
        number = invoice.number
        if not number:
            continue
        if number.isascii() and "\n" not in number:
            # _TRAILING_DIGITS's split without the regular expression (its lazy prefix tries every
            # position): for such a text \d is 0-9 and $ its end, so the digits are those rstrip takes
            prefix = number.rstrip("0123456789")
            digits = number[len(prefix):]
        else:
            match = _TRAILING_DIGITS.match(number)
            prefix, digits = (match[1], match[2]) if match else ("", "")
        if digits:
            series[(prefix, len(digits))].append((int(digits), invoice))
    findings = []
    for (prefix, width), numbered in series.items():
        numbered.sort(key=itemgetter(0))
        if _in_order(numbered):
            continue
        for (number_a, a), (number_b, b) in zip(numbered, numbered[1:]):
            if number_b - number_a > 1:
                missing = f"{prefix}{number_a + 1:0{width}d}" + (f" to {prefix}{number_b - 1:0{width}d}" if number_b - number_a > 2 else "")
                findings.append(warning("invoice.number.gap", b.where, "number",
                                        f"Numbering gap before {b.number}: {missing} missing. Belgian invoices are numbered without gaps."))
            if a.date and b.date and b.date < a.date:
                findings.append(warning("invoice.number.order", b.where, "date",
                                        f"{b.number} is dated before {a.number}: invoice numbers should follow the dates."))
    return findings


def _in_order(numbered: list[tuple[int, Invoice]]) -> bool:
    """Whether a series, sorted by number, is the usual one that `_numbering` has nothing to say
    about: distinct numbers without a gap, every invoice dated, the dates never going back. Proved
    by C-level passes over the whole series instead of a Python step per pair."""
    numbers = list(map(itemgetter(0), numbered))
    if numbers[-1] - numbers[0] != len(numbers) - 1 or len(set(numbers)) != len(numbers):
        return False
    dates = [invoice.date for _, invoice in numbered]
    return None not in dates and all(map(operator.le, dates, dates[1:]))


# ---- invoice lines -----------------------------------------------------------------------------


def _lines(wb: Workbook) -> list[Finding]:
    findings = []
    invoices = {i.number: i for i in wb.invoices}
    accounts = {a.account: a for a in wb.accounts}
    customers = {c.customer_id: c for c in wb.customers}
    rules = RuleBook(wb.vat_rules)
    home = wb.settings.company_country.upper()
    # Lines repeat a few accounts, rates, regimes, dates and customers: each check remembers the
    # values it had nothing to say about (the usual case) and looks at a line only otherwise.
    quiet_accounts, quiet_rules, quiet_regimes = set(), set(), set()
    for line in wb.lines:
        invoice = invoices.get(line.invoice_number)
        if invoice is None:
            if line.invoice_number:
                findings.append(error("line.invoice.unknown", line.where, "invoice_number",
                                      f"Invoice {line.invoice_number} is not on the Invoices sheet: add it or fix the number."))
            continue
        if line.ledger_account not in quiet_accounts:
            found = _line_account(line, accounts)
            findings += found
            if not found:
                quiet_accounts.add(line.ledger_account)
        if line.quantity is not None and line.unit_price is not None and too_large(line):
            findings.append(error("line.amount.too_large", line.where, "quantity",
                                  f"Quantity {line.quantity} x unit price {line.unit_price} comes to "
                                  f"{line.quantity * line.unit_price:.6g}, far beyond any amount (at most 15 digits before "
                                  f"the decimal point): check the quantity and the unit price."))
        rate, regime, day = line.vat_rate, line.vat_regime, invoice.date
        if rate is None:
            continue
        if _ZERO < rate < _ONE:
            findings.append(error("line.vat_rate.fraction", line.where, "vat_rate",
                                  f"VAT rate {rate}: the column holds percents, so type 21 (or 21%) for 21 %."))
            continue
        if day and (rate, regime, day) not in quiet_rules:
            if rules.rule_for(rate, regime, day) is None:
                findings.append(error("line.vat_rule.missing", line.where, "vat_rate",
                                      f"No VAT rule covers {rate} % {regime} on {day:%d/%m/%Y}: "
                                      f"add one on the VAT rules sheet or fix the rate."))
            else:
                quiet_rules.add((rate, regime, day))
        if (regime, rate, invoice.customer_id) not in quiet_regimes:
            customer = customers.get(invoice.customer_id)
            found = _regime(line, customer, home) if customer is not None else []
            findings += found
            if not found:
                quiet_regimes.add((regime, rate, invoice.customer_id))
    return findings


_ZERO, _ONE, _HUNDRED, _CENT = Decimal(0), Decimal(1), Decimal(100), Decimal("0.01")


def _discounts(wb: Workbook) -> list[Finding]:
    """A discount takes 0 to 100 % off a line or an invoice; 150 would book a negative revenue and
    -10 a surcharge as a discount. Only the distinct values are compared: one set per sheet."""
    findings = []
    for records in (wb.invoices, wb.lines):
        bad = {v for v in set(map(attrgetter("discount_pct"), records)) if v is not None and not _ZERO <= v <= _HUNDRED}
        for record in (r for r in records if r.discount_pct in bad) if bad else ():
            findings.append(error("discount.range", record.where, "discount_pct",
                                  f"Discount {record.discount_pct} %: a discount is 0 to 100 percent. Type the percentage "
                                  f"(10 for 10 %); a surcharge is a line of its own."))
    return findings


def _line_account(line, accounts) -> list[Finding]:
    if not line.ledger_account:
        return [error("line.account.missing", line.where, "ledger_account",
                      "This line has no ledger account: type one, or press 'Suggest accounts'.")]
    account = accounts.get(line.ledger_account)
    if account is None:
        return [error("line.account.unknown", line.where, "ledger_account",
                      f"Account {line.ledger_account} is not on the Ledger accounts sheet: add it or fix the line.")]
    if not account.active:
        return [error("line.account.inactive", line.where, "ledger_account",
                      f"Account {line.ledger_account} is marked inactive: use an active revenue account.")]
    if account.kind != "revenue":
        return [error("line.account.not_revenue", line.where, "ledger_account",
                      f"Account {line.ledger_account} is a {account.kind} account: invoice lines go to revenue accounts.")]
    return []


def _regime(line, customer, home: str) -> list[Finding]:
    regime = line.vat_regime
    if regime in ZERO_VAT_REGIMES and line.vat_rate != 0:
        return [error("line.regime.rate", line.where, "vat_rate",
                      f"A {regime} line carries 0 % VAT (the customer accounts for it): set the rate to 0.")]
    country = customer.country or home
    if regime in ("intra-EU goods", "intra-EU services"):
        vat_country = valid_vat_country(customer.vat_number, country)
        if vat_country is None or vat_country == home or vat_country not in EU_COUNTRIES:
            return [error("line.regime.intra_eu.vat", line.where, "vat_regime",
                          f"Intra-EU supply to customer {customer.customer_id}: it needs a valid VAT number of another "
                          f"EU member state (Customers, row {customer.where.row}).")]
    elif regime == "reverse charge":
        if valid_vat_country(customer.vat_number, country) != "BE":
            return [error("line.regime.reverse_charge.vat", line.where, "vat_regime",
                          f"Reverse charge (cocontractant) needs a valid Belgian VAT number for customer "
                          f"{customer.customer_id} (Customers, row {customer.where.row}).")]
    elif regime in EXPORT_REGIMES:
        if country in EU_COUNTRIES:
            return [error("line.regime.export.country", line.where, "vat_regime",
                          f"Export outside the EU, but customer {customer.customer_id} is in {country}, an EU member state: "
                          f"use an intra-EU or domestic regime.")]
    return []


# ---- amounts as issued -------------------------------------------------------------------------


def _amount(value: Decimal) -> str:
    return f"{value:,.2f}"


def credit_note_signs(wb: Workbook) -> list[Finding]:
    """Signs as typed: a credit note typed negative is booked as the credit it is (a warning); a
    credit note with both signs, or an invoice with a negative total, is an error. One finding per
    document, on its Invoices row."""
    findings = []
    s = wb.settings
    for invoice in wb.invoices:
        positive, negative = line_signs(invoice)
        if not negative or not invoice.number or not computable(invoice):
            continue  # all positive: the usual case
        if invoice.is_credit_note and positive:
            rows = ", ".join(str(line.where.row) for line in invoice.lines
                             if line.quantity * line.unit_price < 0)
            findings.append(error(
                "credit_note.signs.mixed", invoice.where, "number",
                f"Credit note {invoice.number} has positive and negative lines (negative on Invoice lines row(s) {rows}): "
                f"type every line of a credit note with the same sign (positive is usual); what the customer "
                f"owes extra belongs on an invoice."))
        elif typed_negative(invoice):
            total = document_total(invoice, s.rounding, s.vat_booking)
            findings.append(warning(
                "credit_note.negative", invoice.where, "number",
                f"Credit note {invoice.number} is typed with negative amounts: it is booked as a credit of "
                f"{_amount(total)} to the customer, as a credit note with positive amounts would be."))
        elif not invoice.is_credit_note:
            total = document_total(invoice, s.rounding, s.vat_booking)
            if total < 0:
                findings.append(error(
                    "invoice.total.negative", invoice.where, "doc_type",
                    f"Invoice {invoice.number} totals {_amount(total)}: an invoice cannot be negative. If it credits "
                    f"the customer, set Type to 'credit note' (and, if you like, type its amounts positive)."))
    return findings


def totals_as_issued(wb: Workbook) -> list[Finding]:
    """Where 'Total as issued' is filled, the booking must come to it to the cent; the error names
    the Settings that would match. A credit note's total may be typed with either sign."""
    findings = []
    s = wb.settings
    other_rounding = next(r for r in layout.ROUNDINGS if r != s.rounding)
    other_booking = next(b for b in layout.VAT_BOOKING if b != s.vat_booking)
    # The workbook's own, then the other rounding convention, the other VAT booking, both.
    settings = [(s.rounding, s.vat_booking), (other_rounding, s.vat_booking), (s.rounding, other_booking),
                (other_rounding, other_booking)]
    for invoice in wb.invoices:
        issued = invoice.total_as_issued
        if issued is None or not invoice.number or not computable(invoice):
            continue
        computed = document_total(invoice, *settings[0])
        if invoice.is_credit_note and all(line_signs(invoice)) or not invoice.is_credit_note and computed < 0:
            continue  # credit_note_signs reported it
        wanted = abs(issued) if invoice.is_credit_note else issued
        if computed == wanted:
            continue
        if issued != issued.quantize(_CENT):  # shown to the cent it could read "2,550.96, but ... 2,550.96"
            findings.append(error("invoice.total.mismatch", invoice.where, "total_as_issued",
                                  f"Total as issued holds {issued:,f} (Excel may show it rounded), but a total is in cents "
                                  f"and the booking comes to {_amount(computed)}: type the total as the invoice shows it."))
            continue
        message = (f"Total as issued {_amount(issued)}, but the booking comes to {_amount(computed)} "
                   f"(Rounding '{s.rounding}', VAT booking '{s.vat_booking}'). ")
        matching = [pair for pair in settings[1:] if document_total(invoice, *pair) == wanted]
        if matching:
            rounding, booking = matching[0]
            changes = " and ".join(
                f"{label} '{new}'" for label, old, new in (("Rounding", s.rounding, rounding), ("VAT booking", s.vat_booking, booking))
                if old != new)
            message += (f"With {changes} it comes to {_amount(wanted)}: set that on Settings if your invoicing "
                        f"software computes that way.")
        else:
            message += ("No rounding convention or VAT booking gives that amount: compare the lines (quantities, unit "
                        "prices, discounts, VAT rates) and the invoice discount with the invoice as issued.")
            if invoice.discount_pct:  # the sheet's Total only approximates an invoice discount (computed.py)
                message += (" With an invoice discount the sheet's own Total column is an approximation (it rounds the "
                            "discount on the whole invoice; the booking takes it off each VAT rate's base, rounded, as "
                            "EN 16931 does) and can be a cent off: type the total the invoice shows, not the sheet's.")
        findings.append(error("invoice.total.mismatch", invoice.where, "total_as_issued", message))
    return findings
