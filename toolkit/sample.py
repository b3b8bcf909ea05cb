"""The demo company: a Belgian design studio's first quarter of 2026, and a copy with planted mistakes.

Deterministic (seeded), so the sample workbook and its golden export files can be regenerated.
Rows are dicts by layout column key; `rows_for` puts them in the layout's column order.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from stdnum.be import ogm_vcs

from toolkit import layout

SETTINGS = {
    "company_name": "Atelier Verhaeghe BV",
    "company_vat": "BE0477472701",
    "company_country": "BE",
    "company_address": "Vlamingstraat 12",
    "company_postal_code": "8000",
    "company_city": "Brugge",
    "iban": "BE68539007547034",
    "package": "winbooks",
    "period_from": dt.date(2026, 1, 1),
    "period_to": dt.date(2026, 3, 31),
    "vat_booking": "on lines",
    "rounding": "line net once",
    "export_customers": "yes",
    "invoice_journal": "VF",
    "credit_note_journal": "VFC",
    "receivables_account": "400000",
    "vat_account": "451000",
    "discount_account": "708000",
    "require_discount_account": "no",
    "customer_numbering": "generate automatically",
    "customer_number_start": 100000,
    "output_folder": "",
    # Package parameters (rows labelled as each package spec labels them), so that every shipped
    # package exports the demo by changing 'Accounting package' (DATEV: see `demo`).
    "DATEV Berater": 1001,
    "DATEV Mandant": 1,
    "DATEV fiscal year start": dt.date(2026, 1, 1),
    "DATEV Sachkontenlänge": 6,
    "FEC SIREN": "123456709",
    "FEC closing date": dt.date(2026, 12, 31),
}

# Packages whose own rules the demo as it is breaks: `demo(package)` adapts it. DATEV: customer
# numbers are debtor accounts, Sachkontenlänge + 1 = 7 digits from 1000000 to 6999999, so the demo's
# 6-digit numbers (which `check --package datev` reports) get a leading 1, and numbering starts at
# the package's default (1000000).
ADAPTED = ("datev",)

ACCOUNTS = [
    ("400000", "Handelsdebiteuren", "receivable"),
    ("451000", "Te betalen btw", "VAT"),
    ("708000", "Toegestane handelskortingen", "discount"),
    ("700000", "Verkopen diensten 21 %", "revenue"),
    ("700010", "Verkopen boeken en kranten 0 %", "revenue"),
    ("700060", "Verkopen drukwerk 6 %", "revenue"),
    ("700120", "Verkopen catering 12 %", "revenue"),
    ("700300", "Diensten intracommunautair", "revenue"),
    ("700500", "Verkopen export buiten EU", "revenue"),
    ("700600", "Werken medecontractant", "revenue"),
]

VAT_RULES = [
    (Decimal(21), "domestic", "700000"),
    (Decimal(12), "domestic", "700120"),
    (Decimal(6), "domestic", "700060"),
    (Decimal(0), "domestic", "700010"),
    (Decimal(0), "intra-EU services", "700300"),
    (Decimal(0), "export", "700500"),
    (Decimal(0), "export services", "700500"),
    (Decimal(0), "reverse charge", "700600"),
]

# id, name, kind, VAT number, street, postal code, city, country, language, terms, accounting number
CUSTOMERS = [
    ("C001", "Brouwerij De Halve Maan NV", "company", "BE0405178106", "Walplein 26", "8000", "Brugge", "BE", "NL", 30, "400100"),
    ("C002", "Bakkerij Vermeulen BVBA", "company", "BE0458402105", "Markt 4", "9000", "Gent", "BE", "NL", 30, "400101"),
    ("C003", "Librairie Molière SRL", "company", "BE0446725778", "Rue Haute 112", "1000", "Bruxelles", "BE", "FR", 14, "400102"),
    ("C004", "Sofie Claeys", "person", "", "Zandstraat 7", "8200", "Sint-Andries", "BE", "NL", 14, ""),
    ("C005", "Hotel Ter Duinen BV", "company", "BE0423395496", "Langestraat 52", "8000", "Brugge", "BE", "NL", 30, "400104"),
    ("C006", "Studio Pixel VOF", "company", "BE0536185712", "Kouter 1", "9000", "Gent", "BE", "NL", 30, ""),
    ("C007", "Marc Dubois", "person", "", "Chaussée de Wavre 220", "1050", "Ixelles", "BE", "FR", 14, "400106"),
    ("C008", "Bouwbedrijf Maes NV", "company", "BE0421468265", "Industrieweg 15", "8800", "Roeselare", "BE", "NL", 60, "400107"),
    ("C009", "Ontwerpbureau Lijn BV", "company", "NL004495445B01", "Keizersgracht 100", "1015 CX", "Amsterdam", "NL", "NL", 30, ""),
    ("C010", "Alpine Design AG", "company", "", "Bahnhofstrasse 10", "8001", "Zürich", "CH", "DE", 30, "400109"),
    ("C011", "Café 't Hoekske", "company", "BE0867297190", "Burg 3", "8000", "Brugge", "BE", "NL", 14, ""),
    ("C012", "Anne-Marie Peeters", "person", "", "Lange Nieuwstraat 9", "2000", "Antwerpen", "BE", "NL", 14, ""),
    ("C013", "Vzw Jeugdhuis Kompas", "company", "BE0418758502", "Kerkstraat 21", "8310", "Assebroek", "BE", "NL", 30, "400112"),
    ("C014", "Imprimerie Lefèvre SA", "company", "BE0403170701", "Rue de Namur 8", "5000", "Namur", "BE", "FR", 30, ""),
    ("C015", "Koen Willems", "person", "", "Dorpsstraat 45", "8300", "Knokke-Heist", "BE", "NL", 14, ""),
]

# What each customer buys: (description, unit price range, VAT rate, regime)
_PRODUCTS = {
    "services": [("Grafisch ontwerp", (450, 2400), Decimal(21), "domestic"),
                 ("Webdesign", (800, 3600), Decimal(21), "domestic"),
                 ("Fotografie", (250, 900), Decimal(21), "domestic")],
    "print": [("Drukwerk brochures", (120, 980), Decimal(6), "domestic"),
              ("Boeken", (15, 60), Decimal(0), "domestic")],
    "catering": [("Catering lancering", (300, 1500), Decimal(12), "domestic")],
    "intra": [("Design services", (900, 4200), Decimal(0), "intra-EU services")],
    "export": [("Design services", (1200, 5000), Decimal(0), "export services")],
    "works": [("Signalisatie plaatsen", (600, 2800), Decimal(0), "reverse charge")],
}
# Peppol addresses that the VAT number does not give (a Swiss company has no EU VAT number).
_PEPPOL_IDS = {"C010": "0183:CHE116281710"}
# References customers asked to quote on their invoices (the others get the document number).
_BUYER_REFERENCES = {"C008": "PO-2026-117", "C005": "Kostenplaats 4"}
_BASKET = {"C009": ["intra"], "C010": ["export"], "C008": ["works", "services"], "C005": ["services", "catering"]}


def _rows(sheet: layout.Sheet, records: list[dict]) -> list[list]:
    return [[record.get(key) for key in sheet.keys] for record in records]


def demo(package: str | None = None) -> tuple[dict, dict[str, list[list]]]:
    """(settings, {sheet name: rows in layout column order}) of the demo company; for a `package`
    of ADAPTED, as that package takes it, 'Accounting package' set to it."""
    settings, records = _demo_records()
    if package in ADAPTED:
        settings.update(package=package, customer_number_start=None)
        for customer in records[layout.CUSTOMERS.name]:
            if customer["accounting_number"]:
                customer["accounting_number"] = "1" + customer["accounting_number"]
    return settings, {sheet.name: _rows(sheet, records.get(sheet.name, [])) for sheet in layout.TABLE_SHEETS}


def _demo_records() -> tuple[dict, dict[str, list[dict]]]:
    rng = random.Random(20260101)
    accounts = [{"account": a, "name": n, "kind": k, "active": "yes"} for a, n, k in ACCOUNTS]
    rules = [{"rate": r, "regime": g, "revenue_account": a} for r, g, a in VAT_RULES]
    customers = []
    for cid, name, kind, vat, street, pc, city, country, lang, terms, number in CUSTOMERS:
        customers.append({
            "customer_id": cid, "name": name, "kind": kind, "vat_number": vat, "street": street,
            "postal_code": pc, "city": city, "country": country, "peppol_id": _PEPPOL_IDS.get(cid), "language": lang,
            "email": f"info@{cid.lower()}.example", "payment_terms": terms,
            "accounting_number": number, "number_source": "imported" if number else None,
        })
    account_for = {(r, g): a for r, g, a in VAT_RULES}
    invoices, lines = [], []
    day = dt.date(2026, 1, 5)
    invoice_no, credit_no = 0, 0
    sent = []
    for index in range(60):
        day += dt.timedelta(days=rng.choice((0, 1, 1, 2, 3)))
        customer = CUSTOMERS[rng.randrange(len(CUSTOMERS))]
        cid = customer[0]
        invoice_no += 1
        number = f"2026-{invoice_no:04d}"
        basket = _BASKET.get(cid, ["services", "print", "services", "catering"])
        invoice_lines = []
        for line_no in range(1, rng.choice((1, 2, 2, 3, 4)) + 1):
            desc, (low, high), rate, regime = rng.choice(_PRODUCTS[rng.choice(basket)])
            quantity = Decimal(rng.choice((1, 1, 1, 2, 3, 5, 10))) if rate != 21 else Decimal(rng.choice(("1", "1", "2", "7.5", "12.25")))
            price = Decimal(rng.randrange(low * 100, high * 100)) / 100 if quantity < 5 else Decimal(rng.randrange(low * 10, low * 40)) / 100
            discount = Decimal(rng.choice((0, 0, 0, 0, 5, 10, "2.5")))
            invoice_lines.append({
                "invoice_number": number, "line": line_no, "description": desc, "quantity": quantity,
                "unit_price": price, "discount_pct": discount or None, "vat_rate": rate, "vat_regime": regime,
                "ledger_account": account_for[(rate, regime)], "account_source": "suggested",
            })
        lines += invoice_lines
        invoices.append({
            "number": number, "doc_type": "invoice", "date": day, "customer_id": cid,
            "due_date": day + dt.timedelta(days=customer[9]), "currency": "EUR",
            "payment_reference": f"+++{ogm_vcs.format(_ogm(2026_0000 + invoice_no))}+++",
            "description": f"Factuur {number}", "discount_pct": Decimal(3) if index % 17 == 5 else None,
            "buyer_reference": _BUYER_REFERENCES.get(cid),
        })
        sent.append((number, cid, invoice_lines))
        if index in (11, 27, 40, 52):  # a credit note for part of an earlier invoice
            credited, ccid, credited_lines = sent[rng.randrange(len(sent))]
            credit_no += 1
            cn = f"CN2026-{credit_no:03d}"
            day += dt.timedelta(days=1)
            base = credited_lines[0]
            lines.append({**base, "invoice_number": cn, "line": 1, "description": f"Creditering {credited}",
                          "quantity": Decimal(1), "unit_price": min(base["unit_price"], Decimal(250)), "discount_pct": None})
            invoices.append({
                "number": cn, "doc_type": "credit note", "date": day, "customer_id": ccid,
                "due_date": day, "currency": "EUR", "description": f"Creditnota op {credited}",
                "credited_invoice": credited,
            })
    return dict(SETTINGS), {
        layout.LEDGER_ACCOUNTS.name: accounts,
        layout.VAT_RULES.name: rules,
        layout.CUSTOMERS.name: customers,
        layout.INVOICES.name: invoices,
        layout.INVOICE_LINES.name: lines,
    }


def mistakes() -> tuple[dict, dict[str, list[list]], set[tuple[str, str, str]]]:
    """The demo with planted mistakes, and exactly the findings (code, sheet, cell) they cause."""
    settings, records = _demo_records()
    accounts, customers = records[layout.LEDGER_ACCOUNTS.name], records[layout.CUSTOMERS.name]
    invoices, lines = records[layout.INVOICES.name], records[layout.INVOICE_LINES.name]
    expected = set()

    def plant(code, sheet: layout.Sheet, index: int, key: str):
        """`index` is the record's position; the template writes row 1 headers, data from row 2."""
        expected.add((code, sheet.name, f"{layout.column_letter(sheet.keys.index(key))}{index + 2}"))

    def line_of(number):
        return next(i for i, line in enumerate(lines) if line["invoice_number"] == number)

    settings["company_name"] = None
    expected.add(("settings.missing", layout.SETTINGS_SHEET, "B2"))
    accounts.append({"account": "700099", "name": "Oude verkopen", "kind": "revenue", "active": "no"})
    customers[2]["vat_number"] = "BE0123456789"
    plant("customer.vat.invalid", layout.CUSTOMERS, 2, "vat_number")
    invoices[11]["customer_id"] = "C099"
    plant("invoice.customer.unknown", layout.INVOICES, 11, "customer_id")
    invoices[20]["date"] = "31/02/2026"
    plant("cell.invalid.date", layout.INVOICES, 20, "date")
    gone = invoices.pop(30)["number"]
    lines[:] = [line for line in lines if line["invoice_number"] != gone]
    plant("invoice.number.gap", layout.INVOICES, 30, "number")
    invoices.append(dict(invoices[8]))
    plant("invoice.number.duplicate", layout.INVOICES, len(invoices) - 1, "number")
    invoices.append({**invoices[-2], "number": "2026-0061", "date": dt.date(2026, 3, 31), "customer_id": "C001"})
    plant("invoice.lines.missing", layout.INVOICES, len(invoices) - 1, "number")
    for number, key, value, code in (
        ("2026-0003", "ledger_account", None, "line.account.missing"),
        ("2026-0004", "ledger_account", "709999", "line.account.unknown"),
        ("2026-0005", "ledger_account", "700099", "line.account.inactive"),
        ("2026-0006", "quantity", "twee", "cell.invalid.decimal"),
        ("2026-0007", "vat_rate", None, "cell.required"),
        ("2026-0010", "unit_price", "#N/A", "cell.error"),
    ):
        index = line_of(number)
        lines[index][key] = value
        plant(code, layout.INVOICE_LINES, index, key)
    lines.append({**lines[0], "invoice_number": "2026-9999"})
    plant("line.invoice.unknown", layout.INVOICE_LINES, len(lines) - 1, "invoice_number")
    domestic = max(i for i, inv in enumerate(invoices) if inv["customer_id"] == "C004")
    index = line_of(invoices[domestic]["number"])
    lines[index].update(vat_rate=Decimal(0), vat_regime="intra-EU services", ledger_account="700300")
    plant("line.regime.intra_eu.vat", layout.INVOICE_LINES, index, "vat_regime")
    # 1 x 40.45 less 10 %: the invoicing software printed the once-rounded 36.41, not 36.40
    index = next(i for i, inv in enumerate(invoices) if inv["number"] == "2026-0011")
    invoices[index]["total_as_issued"] = Decimal("36.40")
    plant("invoice.total.mismatch", layout.INVOICES, index, "total_as_issued")
    index = next(i for i, inv in enumerate(invoices) if inv["number"] == "CN2026-001")
    lines[line_of("CN2026-001")]["quantity"] = Decimal(-1)  # typed negative: booked as the credit, with a warning
    plant("credit_note.negative", layout.INVOICES, index, "number")
    tables = {sheet.name: _rows(sheet, records.get(sheet.name, [])) for sheet in layout.TABLE_SHEETS}
    return settings, tables, expected


def _ogm(number: int) -> str:
    """A valid Belgian structured communication for a 10-digit number (check digits mod 97)."""
    check = number % 97 or 97
    return f"{number:010d}{check:02d}"
