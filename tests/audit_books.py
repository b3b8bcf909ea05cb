"""A hard workbook for the format audit (tests/test_format_audit_*.py): every case the published
formats make difficult, in one company year, built with the sample's own record shapes.

- texts with the separators and quotes of every format (; | " tab and line breaks), longer than
  any field limit, with characters outside ISO 8859-15, code page 437 and Windows-1252;
- customer numbers with leading zeros, a foreign customer without a VAT number, intra-EU and export
  customers, a private person;
- several VAT rates, line and invoice discounts, reverse charge, 0 % lines in one invoice; 99 lines
  with half a cent of VAT each; an invoice of more than 1,000,000; credit notes typed with positive
  and with negative quantities; a return line on an invoice (revenue against the
  document's sign); documents on the first and the last day of the year.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

from toolkit import layout, sample
from toolkit.book import template

# ; | " tab and a line break, a curly quote and an em dash (Windows-1252 has them, ISO 8859-15 and
# CP437 do not), Ł and Chinese (none of the three has them), € (8859-15 and 1252, not CP437).
NASTY = 'Ølstue "De Kroon"; bar | grill\tterras\nzaal — “VIP” Łódź 中文 €'
LONG = "Een zeer lange omschrijving van het geleverde werk die elke veldlimiet van elk pakket ruim overschrijdt " * 2

# id, name, kind, VAT number, country, accounting number, Peppol ID
CUSTOMERS = [
    ("H01", NASTY + " en Zonen, afdeling Noord-West-Vlaanderen NV", "company", "BE0405178106", "BE", "000123", None),
    ("H02", "Ontwerp\tBV;\n\"Amsterdam\" | Noord", "company", "NL004495445B01", "NL", "000124", None),
    ("H03", "ACME Corporation of America, Inc. (Wilmington, Delaware)", "company", None, "US", "125", "0088:5790000435968"),
    ("H04", "Druckerei Müller GmbH & Co. KG", "company", "DE136695976", "DE", "000126", None),
    ("H05", "Zoë Ğül Çelik", "person", None, "BE", "000127", None),
    ("H06", "Åsa Öberg Ärlig AB", "company", "SE556036079301", "SE", "000128", None),
    ("H07", "Société Générale d'Imprimerie SARL", "company", "FR40303265045", "FR", "000129", None),
]
# DATEV takes customer numbers as debtor accounts: 7 digits from 1000000 with its Sachkontenlänge 6.
DATEV_NUMBERS = {"000123": "1000123", "000124": "1000124", "125": "1000125", "000126": "1000126",
                 "000127": "1000127", "000128": "1000128", "000129": "1000129"}

RULES = [(D(21), "domestic", "700000"), (D(12), "domestic", "700120"), (D(6), "domestic", "700060"),
         (D(0), "domestic", "700010"), (D(0), "intra-EU services", "700300"), (D(0), "intra-EU goods", "700300"),
         (D(0), "export", "700500"), (D(0), "export services", "700500"), (D(0), "reverse charge", "700600")]

# number, type, date, customer, invoice discount %, credited, description, [(qty, price, discount %, rate, regime, text)]
HALF_CENTS = [("1", "0.50", None, 21, "domestic", f"Kopie {i}") for i in range(1, 100)]  # VAT 0.105 each
INVOICES = [
    ("2026-0001", "invoice", dt.date(2026, 1, 1), "H01", "3", None, NASTY + " " + LONG,
     [("3", "0.335", None, 21, "domestic", NASTY), ("7.5", "12.25", "2.5", 21, "domestic", LONG),
      ("1", "99.99", "10", 6, "domestic", "Drukwerk; \"A4\" | 6 %"), ("2", "15.005", None, 0, "domestic", "Boeken\t0 %"),
      ("1", "40.45", "10", 12, "domestic", "Catering\nreceptie")]),
    ("2026-0002", "invoice", dt.date(2026, 3, 15), "H02", None, None, "Diensten en goederen intracommunautair",
     [("4", "250", "10", 0, "intra-EU services", "Ontwerp"), ("1", "1200", None, 0, "intra-EU goods", "Drukplaten")]),
    ("2026-0003", "invoice", dt.date(2026, 4, 30), "H03", "5", None, "Export",
     [("3", "1666.67", None, 0, "export", "Prints"), ("1", "999.99", None, 0, "export services", "Design")]),
    ("2026-0004", "invoice", dt.date(2026, 6, 30), "H04", None, None, "Lieferung „Müller“",
     [("1", "800", None, 0, "intra-EU goods", "Papier")]),
    ("2026-0005", "invoice", dt.date(2026, 7, 1), "H05", None, None, "99 kopieën", HALF_CENTS),
    ("2026-0006", "invoice", dt.date(2026, 9, 30), "H01", None, None, "Groot project",
     [("1", "1234567.89", None, 21, "domestic", "Nieuwbouw"), ("1", "4200", None, 0, "reverse charge", "Werken")]),
    ("2026-0007", "invoice", dt.date(2026, 10, 1), "H06", "2.5", None, "Tjänster, Göteborg",
     [("10", "95.5", None, 0, "intra-EU services", "Konsult åäö ÅÄÖ")]),
    ("2026-0010", "invoice", dt.date(2026, 11, 30), "H07", None, None, "Livraison intracommunautaire",
     [("2", "450", None, 0, "intra-EU goods", "Papier")]),
    ("2026-0008", "invoice", dt.date(2026, 12, 31), "H01", None, None, "Laatste factuur van het jaar",
     [("1", "100", None, 21, "domestic", "Oudejaar")]),
    # a return line on an invoice: a revenue group against the document's sign (a credit note must
    # have lines of one sign: the check refuses a mixed one)
    ("2026-0009", "invoice", dt.date(2026, 12, 30), "H01", None, None, "Levering met retour",
     [("1", "100", None, 21, "domestic", "Nieuw"), ("-1", "20", None, 6, "domestic", "Retour")]),
    ("CN-0001", "credit note", dt.date(2026, 2, 1), "H01", "3", "2026-0001", "Creditnota; \"deel\" | 1",
     [("1", "36.67", None, 21, "domestic", "Terug"), ("1", "15.005", None, 0, "domestic", "Boeken")]),
    ("CN-0002", "credit note", dt.date(2026, 12, 31), "H01", None, "2026-0006", "Creditnota groot project",
     [("-1", "1234567.89", None, 21, "domestic", "Nieuwbouw"), ("-2", "12.345", None, 6, "domestic", "Drukwerk")]),
]


def hard_records(package: str | None = None, **settings) -> tuple[dict, dict[str, list[dict]]]:
    base, records = sample._demo_records()
    base.update({"period_from": dt.date(2026, 1, 1), "period_to": dt.date(2026, 12, 31),
                 "company_name": "Atelier “Verhaeghe” BV — Brugge", "package": package or base["package"]})
    if package == "datev":
        base["customer_number_start"] = None
    base.update(settings)
    accounts = records[layout.LEDGER_ACCOUNTS.name]
    accounts[0]["name"] = 'Handelsdebiteuren; "klanten" | Łódź'
    customers = []
    for cid, name, kind, vat, country, number, peppol in CUSTOMERS:
        if package == "datev":
            number = DATEV_NUMBERS[number]
        customers.append({"customer_id": cid, "name": name, "kind": kind, "vat_number": vat, "street": "Markt 1; bus \"A\"",
                          "postal_code": "1000", "city": "Stad", "country": country, "peppol_id": peppol,
                          "language": "NL", "email": f"info@{cid.lower()}.example", "payment_terms": 30,
                          "accounting_number": number, "number_source": "imported"})
    account = {(r, g): a for r, g, a in RULES}
    invoices, lines = [], []
    for number, doc_type, day, customer, pct, credited, description, rows in INVOICES:
        invoices.append({"number": number, "doc_type": doc_type, "date": day, "customer_id": customer,
                         "due_date": day + dt.timedelta(days=30) if doc_type == "invoice" else day, "currency": "EUR",
                         "description": description, "discount_pct": D(pct) if pct else None,
                         "credited_invoice": credited,
                         "payment_reference": "+++123/4567/89002+++" if number == "2026-0001" else None})
        for i, (qty, price, discount, rate, regime, text) in enumerate(rows, 1):
            lines.append({"invoice_number": number, "line": i, "description": text, "quantity": D(qty),
                          "unit_price": D(price), "discount_pct": D(discount) if discount else None, "vat_rate": D(rate),
                          "vat_regime": regime, "ledger_account": account[(D(rate), regime)], "account_source": "manual"})
    records.update({layout.CUSTOMERS.name: customers,
                    layout.VAT_RULES.name: [{"rate": r, "regime": g, "revenue_account": a} for r, g, a in RULES],
                    layout.INVOICES.name: invoices, layout.INVOICE_LINES.name: lines})
    return base, records


def hard_workbook(path: Path, package: str | None = None, **settings) -> Path:
    return save(path, *hard_records(package, **settings))


def save(path: Path, base: dict, records: dict[str, list[dict]]) -> Path:
    """Write a workbook of (settings, records by sheet), as the sample does."""
    tables = {sheet.name: sample._rows(sheet, records.get(sheet.name, [])) for sheet in layout.TABLE_SHEETS}
    return template.save_template(path, {**tables, layout.SETTINGS_SHEET: base})
