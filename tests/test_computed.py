"""The computed amount columns: LibreOffice calculates the workbook's formulas, and what it gets
must be what the toolkit computes (and what a hand calculation gives); a formula typed over is
reported by Validate at its cell."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import openpyxl
import pytest

from toolkit import layout
from toolkit.book import template
from toolkit.book.read import read_workbook
from toolkit.checks import check_workbook
from toolkit.computed import computed_findings
from toolkit.layout import column_letter

from external import soffice_convert

D = Decimal


def row(sheet, **values):
    return [values.get(key) for key in sheet.keys]


LINES = [
    # F1: 5 % invoice discount. 3 x 33.33 = 99.99, less 10 % = 89.99 (Net), less 5 % (4.50) = 85.49 taxed
    row(layout.INVOICE_LINES, invoice_number="F1", line=1, quantity=D(3), unit_price=D("33.33"), discount_pct=D(10), vat_rate=D(21)),
    row(layout.INVOICE_LINES, invoice_number="F1", line=2, quantity=D("1.5"), unit_price=D("19.99"), vat_rate=D(21)),
    row(layout.INVOICE_LINES, invoice_number="F1", line=3, quantity=D(7), unit_price=D("0.333"), vat_rate=D(6)),
    row(layout.INVOICE_LINES, invoice_number="F1", line=4, quantity=D(1), unit_price=D(100), vat_rate=D(0), vat_regime="intra-EU services"),
    # F2: three lines of 0.11 at 21 %: VAT per line 0.02 each (0.06), on the total 0.33 x 21 % = 0.07
    *[row(layout.INVOICE_LINES, invoice_number="F2", line=n, quantity=D(1), unit_price=D("0.11"), vat_rate=D(21)) for n in (1, 2, 3)],
    row(layout.INVOICE_LINES, invoice_number="F3", line=1, quantity=D(1), unit_price=D("49.99"), vat_rate=D(21)),
    row(layout.INVOICE_LINES, invoice_number="F4", line=1, quantity=D(2), unit_price=D(10), vat_rate=D(21)),
    # F5: 0.15 less 50 %: "line net once" rounds 0.075 to 0.08; "gross then discount" 0.15 - 0.08 = 0.07
    row(layout.INVOICE_LINES, invoice_number="F5", line=1, quantity=D(1), unit_price=D("0.15"), discount_pct=D(50), vat_rate=D(0)),
    # F6: 21% typed in Excel: the cell holds 0.21 with a percent format (`calculated` gives it one)
    row(layout.INVOICE_LINES, invoice_number="F6", line=1, quantity=D(3), unit_price=D("33.33"), vat_rate=D("0.21")),
]
PERCENT_TYPED = 12  # Invoice lines row of F6's line
INVOICES = [
    row(layout.INVOICES, number="F1", doc_type="invoice", date=dt.date(2026, 3, 2), customer_id="C1", discount_pct=D(5)),
    row(layout.INVOICES, number="F2", doc_type="invoice", date=dt.date(2026, 3, 3), customer_id="C1"),
    row(layout.INVOICES, number="F3", doc_type="credit note", date=dt.date(2026, 3, 4), customer_id="C2"),
    row(layout.INVOICES, number="F4", doc_type="invoice", date=dt.date(2026, 3, 5), customer_id="C1"),
    row(layout.INVOICES, number="F5", doc_type="invoice", date=dt.date(2026, 3, 6), customer_id="C1"),
    row(layout.INVOICES, number="F6", doc_type="invoice", date=dt.date(2026, 3, 7), customer_id="C1"),
]
CUSTOMERS = [row(layout.CUSTOMERS, customer_id="C1", name="Brouwerij NV", accounting_number="400100"),
             row(layout.CUSTOMERS, customer_id="C2", name="Hotel BV")]
OVERWRITTEN = 10  # Invoice lines row of F4's line: its Net typed over with a number


def calculated(tmp_path, vat_booking: str, rounding: str):
    """The workbook as LibreOffice calculated it, as openpyxl sees it and as the toolkit reads it."""
    path = tmp_path / f"{vat_booking.replace(' ', '-')}.xlsx"
    wb = template.build_template({
        layout.SETTINGS_SHEET: {"company_name": "Demo", "vat_booking": vat_booking, "rounding": rounding},
        layout.CUSTOMERS.name: CUSTOMERS, layout.INVOICES.name: INVOICES, layout.INVOICE_LINES.name: LINES})
    net = column_letter(layout.INVOICE_LINES.keys.index("net"))
    wb[layout.INVOICE_LINES.name][f"{net}{OVERWRITTEN}"] = 99.5
    rate = column_letter(layout.INVOICE_LINES.keys.index("vat_rate"))
    wb[layout.INVOICE_LINES.name][f"{rate}{PERCENT_TYPED}"].number_format = "0%"
    template.write_atomically(path, template.repack(template.workbook_bytes(wb)))
    out = soffice_convert(path, "xlsx", tmp_path / "calc")
    return openpyxl.load_workbook(out, data_only=True), read_workbook(out)


@pytest.fixture(scope="module")
def on_lines(tmp_path_factory):
    return calculated(tmp_path_factory.mktemp("lines"), "on lines", "line net once")


@pytest.fixture(scope="module")
def on_total(tmp_path_factory):
    return calculated(tmp_path_factory.mktemp("total"), "on total", "gross then discount")


def amounts(xl, sheet, key_column, key):
    rows = list(xl[sheet.name].iter_rows(min_row=2, values_only=True))
    index = sheet.keys.index
    return [(D(str(r[index("net")])), D(str(r[index("vat")])), D(str(r[index("total")])))
            for r in rows if r[index(key_column)] == key]


@pytest.mark.needs("soffice")
def test_libreoffice_computes_the_hand_calculated_amounts(on_lines, on_total):
    xl, _ = on_lines
    assert amounts(xl, layout.INVOICE_LINES, "invoice_number", "F1")[0] == (D("89.99"), D("17.95"), D("103.44"))
    assert amounts(xl, layout.INVOICES, "number", "F2") == [(D("0.33"), D("0.06"), D("0.39"))]
    assert amounts(xl, layout.INVOICES, "number", "F3") == [(D("49.99"), D("10.50"), D("60.49"))]
    assert amounts(xl, layout.INVOICE_LINES, "invoice_number", "F5") == [(D("0.08"), 0, D("0.08"))]
    xl, _ = on_total
    assert amounts(xl, layout.INVOICES, "number", "F2") == [(D("0.33"), D("0.07"), D("0.40"))]
    # 'on total': the rate's VAT on its first line, so the lines add up to the invoice
    assert [vat for _, vat, _ in amounts(xl, layout.INVOICE_LINES, "invoice_number", "F2")] == [D("0.07"), 0, 0]
    assert amounts(xl, layout.INVOICE_LINES, "invoice_number", "F5") == [(D("0.07"), 0, D("0.07"))]


@pytest.mark.needs("soffice")
@pytest.mark.parametrize("mode", ["on_lines", "on_total"])
def test_a_rate_typed_with_a_percent_sign_is_shown_as_it_is_booked(mode, request):
    """21% typed in Excel is kept as 0.21 in a percent-formatted cell: the toolkit books 21 %, and
    the sheet must show the same figures (it computed 0.21 %, and Validate then said a formula had
    been typed over). 3 x 33.33 = 99.99; 21 % of it is 20.9979, 21.00."""
    xl, book = request.getfixturevalue(mode)
    [line] = [line for line in book.lines if line.invoice_number == "F6"]
    assert line.vat_rate == 21
    assert amounts(xl, layout.INVOICE_LINES, "invoice_number", "F6") == [(D("99.99"), D("21.00"), D("120.99"))]
    assert amounts(xl, layout.INVOICES, "number", "F6") == [(D("99.99"), D("21.00"), D("120.99"))]
    f6 = {(layout.INVOICE_LINES.name, PERCENT_TYPED), (layout.INVOICES.name, 2 + [r[0] for r in INVOICES].index("F6"))}
    assert not [f for f in computed_findings(book) if (f.sheet, f.row) in f6]


@pytest.mark.needs("soffice")
@pytest.mark.parametrize("mode", ["on_lines", "on_total"])
def test_formulas_agree_with_the_toolkit_except_the_cell_typed_over(mode, request):
    xl, book = request.getfixturevalue(mode)
    assert all(line.shown for line in book.lines) and all(invoice.shown for invoice in book.invoices)
    found = {(f.code, f.sheet, f.cell) for f in computed_findings(book)}
    net_line = column_letter(layout.INVOICE_LINES.keys.index("net"))
    f4 = 2 + [r[0] for r in INVOICES].index("F4")
    # The typed net changes everything computed from it: the line's VAT and total, the invoice's.
    expected = {("line.amount.differs", layout.INVOICE_LINES.name, f"{column_letter(layout.INVOICE_LINES.keys.index(k))}{OVERWRITTEN}")
                for k in ("net", "vat", "total")}
    expected |= {("invoice.amount.differs", layout.INVOICES.name, f"{column_letter(layout.INVOICES.keys.index(k))}{f4}")
                 for k in ("net", "vat", "total")}
    assert found == expected
    message = next(f.message for f in computed_findings(book) if f.cell == f"{net_line}{OVERWRITTEN}")
    assert "Net shows 99.50, but the toolkit computes 20.00" in message


@pytest.mark.needs("soffice")
def test_invoices_show_the_customers_name_and_number(on_lines):
    xl, _ = on_lines
    ws = xl[layout.INVOICES.name]
    keys = layout.INVOICES.keys
    shown = [(r[keys.index("customer_name")], r[keys.index("customer_number")] or None)
             for r in ws.iter_rows(min_row=2, max_row=4, values_only=True)]
    assert shown == [("Brouwerij NV", "400100"), ("Brouwerij NV", "400100"), ("Hotel BV", None)]


def test_a_fresh_formula_without_result_is_no_finding(tmp_path):
    path = template.save_template(tmp_path / "fresh.xlsx", {
        layout.CUSTOMERS.name: CUSTOMERS, layout.INVOICES.name: INVOICES, layout.INVOICE_LINES.name: LINES})
    book = read_workbook(path)
    assert not any(line.shown for line in book.lines)
    assert computed_findings(book) == []
    assert not [f for f in check_workbook(book) if f.code.endswith("amount.differs")]


def test_computed_columns_hold_a_formula_in_every_row_and_are_the_tables_calculated_columns(tmp_path):
    wb = openpyxl.load_workbook(template.save_template(tmp_path / "f.xlsx", {
        layout.INVOICE_LINES.name: LINES, layout.INVOICES.name: INVOICES}))
    for sheet, n in ((layout.INVOICE_LINES, len(LINES)), (layout.INVOICES, len(INVOICES))):
        ws = wb[sheet.name]
        table = ws.tables[sheet.table]
        for i, column in enumerate(sheet.columns):
            formula = table.tableColumns[i].calculatedColumnFormula
            cells = [ws.cell(row=r, column=i + 1).value for r in range(2, 2 + n)]
            if column.computed:
                assert formula is not None and all(c == "=" + formula.attr_text for c in cells)
                assert ws.cell(row=2, column=i + 1).fill.fgColor.rgb.endswith("F2F2F2")
            else:
                assert formula is None and not any(isinstance(c, str) and c.startswith("=") for c in cells)


def test_a_row_appended_by_write_back_fills_the_empty_tables_formula_row(tmp_path):
    from toolkit.book.edits import Edits
    from toolkit.book.writeback import write_back

    path = template.save_template(tmp_path / "empty.xlsx")
    write_back(path, Edits().append_rows(layout.INVOICE_LINES.name, [LINES[0]]))
    ws = openpyxl.load_workbook(path)[layout.INVOICE_LINES.name]
    net = layout.INVOICE_LINES.keys.index("net") + 1
    assert ws.cell(row=2, column=1).value == "F1" and str(ws.cell(row=2, column=net).value).startswith("=")
    assert ws.tables[layout.INVOICE_LINES.table].ref.endswith("2")  # no row of formulas left above it


# ---- the same verdicts as a document booked per invoice and per line -----------------------------

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from toolkit.accounting import build_document  # noqa: E402
from toolkit.model import SHOWN, Customer, Invoice, InvoiceLine, Settings, Where, Workbook  # noqa: E402


def _reference_expected(invoice: Invoice, settings: Settings) -> tuple[dict, list[dict]]:
    """What the sheet should show, the way computed.py used to find it: the invoice booked as a
    document, and each line booked alone as a document of its own without the invoice discount."""
    from toolkit.accounting import typed_negative

    def amounts(inv):
        doc = build_document(inv, Customer("C1", "x"), settings, None, lambda *_: "")
        sign = -1 if typed_negative(inv) else 1
        return sign * doc.base, sign * doc.vat, {(g.rate, g.regime): sign * g.vat for g in doc.vat_groups}

    base, vat, groups = amounts(invoice)
    lines, seen = [], set()
    for line in invoice.lines:
        net, line_vat, _ = amounts(replace(invoice, discount_pct=D(0), lines=(line,)))
        if settings.vat_booking == "on total":
            line_vat = groups[(line.vat_rate, line.vat_regime)] if (line.vat_rate, line.vat_regime) not in seen else D("0.00")
        seen.add((line.vat_rate, line.vat_regime))
        lines.append({"net": net, "vat": line_vat, "total": net + line_vat})
    return {"net": base, "vat": vat, "total": base + vat}, lines


_amount = st.decimals(min_value=D("-999.99"), max_value=D("999.99"), places=2, allow_nan=False, allow_infinity=False)
_line = st.tuples(st.decimals(min_value=D("-20"), max_value=D("20"), places=3, allow_nan=False, allow_infinity=False),
                  _amount, st.sampled_from([D(0), D(10), D("33.33")]), st.sampled_from([D(21), D(6), D(0)]))


@hsettings(max_examples=300, deadline=None)
@given(lines=st.lists(_line, min_size=1, max_size=5), credit=st.booleans(), invoice_pct=st.sampled_from([D(0), D(5)]),
       rounding=st.sampled_from(layout.ROUNDINGS), booking=st.sampled_from(layout.VAT_BOOKING))
def test_the_computed_columns_are_checked_against_what_a_document_per_line_books(lines, credit, invoice_pct, rounding, booking):
    """The sheet's expected figures come from one computation of the invoice's line amounts, no
    longer from a document booked per line (5 s at 100,000 invoices saved by Excel); every
    verdict stays: a sheet showing the reference's figures gets no finding, one cent off gets one."""
    settings = Settings(company_name="x", rounding=rounding, vat_booking=booking)
    made = [InvoiceLine("F1", n, "", q, p, pct, rate, "domestic", "700000", where=Where("Invoice lines", n + 1))
            for n, (q, p, pct, rate) in enumerate(lines, start=1)]
    invoice = Invoice("F1", "credit note" if credit else "invoice", dt.date(2026, 3, 2), "C1", discount_pct=invoice_pct,
                      lines=tuple(made), where=Where("Invoices", 2))
    shown_invoice, shown_lines = _reference_expected(invoice, settings)

    def workbook(shift: Decimal) -> Workbook:
        shown = [dict(s) for s in shown_lines]
        shown[-1]["net"] += shift
        with_shown = tuple(replace(line, shown=tuple(map(s.get, SHOWN))) for line, s in zip(made, shown))
        inv = Invoice(invoice.number, invoice.doc_type, invoice.date, "C1", discount_pct=invoice_pct, lines=with_shown,
                      where=invoice.where, shown=tuple(map(shown_invoice.get, SHOWN)))
        return Workbook("x.xlsx", settings, (), (), (Customer("C1", "x"),), (inv,), with_shown)

    assert computed_findings(workbook(D(0))) == []
    off = computed_findings(workbook(D("0.01")))
    assert [(f.code, f.row) for f in off] == [("line.amount.differs", len(made) + 1)]



def test_the_figures_a_saved_workbook_shows_are_compared_to_the_cent_whatever_the_cell_holds(tmp_path):
    """Figures as a spreadsheet stores them (floats, with a float's noise, whole numbers) are the
    toolkit's when they are to the cent; one cent off is a difference; text or a number out of
    range in a computed cell is an unreadable cell, as in any other column."""
    path = template.save_template(tmp_path / "saved.xlsx", {
        layout.CUSTOMERS.name: CUSTOMERS, layout.INVOICES.name: INVOICES, layout.INVOICE_LINES.name: LINES})
    wb = openpyxl.load_workbook(path)
    lines, invoices = wb[layout.INVOICE_LINES.name], wb[layout.INVOICES.name]

    def show(ws, sheet, row, **figures):
        for key, value in figures.items():
            ws.cell(row=row, column=sheet.keys.index(key) + 1).value = value
    f2 = [2 + n for n, r in enumerate(LINES) if r[0] == "F2"]
    for row_number in f2:  # 1 x 0.11 at 21 %: 0.02 VAT (0.0231), 0.13
        show(lines, layout.INVOICE_LINES, row_number, net=0.11, vat=0.02 + 1e-12, total=0.13)
    show(invoices, layout.INVOICES, 3, net=0.33, vat=0.06, total=0.39)  # F2: three lines, their VAT added
    show(lines, layout.INVOICE_LINES, OVERWRITTEN, net=20.01, vat="abc", total=1e300)  # F4's line: 2 x 10
    show(invoices, layout.INVOICES, 5, net=20.0, vat=4.2, total=24.2)  # F4: 20.00, 4.20, 24.20
    wb.save(path)
    book = read_workbook(path)
    letter = {k: column_letter(layout.INVOICE_LINES.keys.index(k)) for k in ("net", "vat", "total")}
    found = [(f.code, f.cell) for f in book.findings if f.sheet == layout.INVOICE_LINES.name]
    assert found == [("cell.invalid.decimal", f"{letter['vat']}{OVERWRITTEN}"), ("cell.invalid.decimal", f"{letter['total']}{OVERWRITTEN}")]
    differs = computed_findings(book)
    assert [(f.code, f.cell) for f in differs] == [("line.amount.differs", f"{letter['net']}{OVERWRITTEN}")]
    assert "Net shows 20.01, but the toolkit computes 20.00 for this line of invoice F4" in differs[0].message


def test_a_discount_typed_with_a_percent_sign_is_named_as_a_likely_cause():
    """`10%` typed as a line discount is kept by Excel as 0.1 (percent-formatted): the export reads
    10, the sheet's formulas 0.1, so its Net shows 99.90 for 100 less 10 %. The warning names that
    cause, not only a formula typed over; a line without a discount is not told about discounts."""
    settings = Settings(company_name="x")

    def differs(discount: Decimal, shown_net: float) -> list:
        line = InvoiceLine("F1", 1, "", D(1), D(100), discount, D(21), "domestic", "700000",
                           where=Where("Invoice lines", 2), shown=(shown_net, None, None))
        invoice = Invoice("F1", "invoice", dt.date(2026, 3, 2), "C1", lines=(line,), where=Where("Invoices", 2))
        return computed_findings(Workbook("x.xlsx", settings, (), (), (Customer("C1", "x"),), (invoice,), (line,)))

    [typed] = differs(D(10), 99.9)
    assert typed.code == "line.amount.differs" and "Net shows 99.90, but the toolkit computes 90.00" in typed.message
    assert "a discount was typed with a % sign (10%)" in typed.message and "type 10 (no % sign)" in typed.message
    [over] = differs(D(0), 99.9)
    assert "formula was probably typed over" in over.message and "% sign" not in over.message
