"""The one declaration of the workbook: every sheet, column and setting.

The template builder, the reader and the cell references of findings all read this module, so a
column's header, type, closed list, help text and width are written here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

# Closed lists (the dropdowns of the workbook and the values the reader accepts).
DOC_TYPES = ("invoice", "credit note")
VAT_REGIMES = (
    "domestic",
    "intra-EU goods",
    "intra-EU services",
    "export",  # goods outside the EU
    "export services",  # services outside the EU (WinBooks has its own code for them)
    "reverse charge",
    "exempt",
    "not subject",
)
ACCOUNT_KINDS = ("revenue", "discount", "receivable", "VAT", "other")
CUSTOMER_KINDS = ("company", "person")
NUMBER_SOURCES = ("imported", "generated", "manual")
ACCOUNT_SOURCES = ("manual", "suggested")
VAT_BOOKING = ("on lines", "on total")
ROUNDINGS = ("line net once", "gross then discount")  # how a line's net is rounded (accounting.py)
# A workbook without a Rounding row comes from a version before the setting, which rounded this way:
# it keeps doing so (with a warning) rather than changing its amounts by a cent without a word.
ROUNDING_BEFORE_SETTING = "gross then discount"
NUMBERING_MODES = ("generate automatically", "manage manually")
YES_NO = ("yes", "no")
SEVERITIES = ("error", "warning")
# The Action column of Customer import: what 'Apply' does with a pasted row.
IMPORT_ACTIONS = ("assign number", "already correct", "conflict", "new customer", "ambiguous", "overwrite", "skip")


@dataclass(frozen=True)
class Column:
    """A column of a table sheet. `key` is the attribute name in the model."""

    key: str
    header: str
    type: str = "text"  # text | code | int | decimal | percent | date | datetime | choice | bool
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    width: int = 14
    output: bool = False  # filled by the toolkit, not by the user
    # A formula of the workbook (toolkit.book.formulas), not typed: grey like output columns,
    # never carried as a value by an upgrade; Validate compares its result where it has one.
    computed: bool = False


@dataclass(frozen=True)
class Sheet:
    name: str
    table: str | None  # the Excel table (ListObject) name; None for a paste area
    columns: tuple[Column, ...]
    help: str = ""
    # A paste area has no fixed columns: A1 holds this placeholder until a paste replaces it, and
    # `columns` are added right of whatever was pasted.
    placeholder: Column | None = None

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(f"{self.name} has no column {key!r}")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


@dataclass(frozen=True)
class Setting:
    """A row of the Settings sheet (name / value)."""

    key: str
    label: str
    type: str = "text"
    required: bool = False
    default: object = None
    choices: tuple[str, ...] = ()
    help: str = ""


def C(key, header, type="text", required=False, choices=(), help="", width=14, output=False, computed=False):
    return Column(key, header, type, required, tuple(choices), help, width, output or computed, computed)


def AMOUNT(key, header, help):
    return C(key, header, "decimal", help=help, width=12, computed=True)


LEDGER_ACCOUNTS = Sheet(
    "Ledger accounts",
    "LedgerAccounts",
    (
        C("account", "Account", "code", True, help="Ledger account number as in the accounting package, e.g. 700000."),
        C("name", "Name", required=True, help="Account name.", width=32),
        C("kind", "Kind", "choice", True, ACCOUNT_KINDS, "revenue, discount, receivable, VAT or other."),
        C("active", "Active", "bool", False, YES_NO, "no = the account may not be used on new lines. Empty = yes.", 8),
    ),
)

VAT_RULES = Sheet(
    "VAT rules",
    "VatRules",
    (
        C("rate", "VAT rate %", "percent", True, help="VAT rate in percent: 0, 6, 12, 21.", width=10),
        C("regime", "VAT regime", "choice", True, VAT_REGIMES, "Which VAT treatment the rule is for.", 18),
        C("valid_from", "Valid from", "date", help="First invoice date the rule applies to. Empty = always.", width=12),
        C("valid_to", "Valid to", "date", help="Last invoice date the rule applies to. Empty = open-ended.", width=12),
        C("revenue_account", "Revenue account", "code", True, help="Suggested ledger account for lines of this rate and regime."),
    ),
)
# Workbooks before the VAT codes sheet kept one package VAT code per VAT rule in this column; it is
# still read (for the Settings' package, with a warning) until `workbook upgrade` moves it.
VAT_RULES_LEGACY_CODE = C("vat_code", "Package VAT code", "code")

VAT_CODES = Sheet(
    "VAT codes",
    "VatCodes",
    (
        C("package", "Package", "code", True, help="Id of the package the code is for, as in 'Accounting package' on Settings (winbooks, datev ...)."),
        C("regime", "VAT regime", "choice", True, VAT_REGIMES, "The VAT treatment the code is for.", 18),
        C("rate", "VAT rate %", "percent", help="Empty = any rate.", width=10),
        C("doc_type", "Type", "choice", False, DOC_TYPES, "invoice or credit note. Empty = both.", 12),
        C("code", "Package VAT code", "code", True, help="The package's VAT code (WinBooks: 211400; DATEV: the BU-Schlüssel)."),
    ),
    help="Your own VAT codes per package; they override the package's defaults (`ledger-export packages` shows them). "
         "The most specific row wins: an exact rate before any rate, an exact type before both.",
)

CUSTOMERS = Sheet(
    "Customers",
    "Customers",
    (
        C("customer_id", "Customer id", "code", True, help="The workbook's own key for the customer; invoices refer to it."),
        C("name", "Name", required=True, help="Company or person name.", width=30),
        C("kind", "Kind", "choice", False, CUSTOMER_KINDS, "company or person. Empty = company.", 10),
        C("vat_number", "VAT number", help="With country prefix, e.g. BE0477472701. Required for intra-EU and reverse-charge invoices.", width=16),
        C("street", "Street", help="Street and number.", width=28),
        C("postal_code", "Postal code", "code", width=10),
        C("city", "City", width=18),
        C("country", "Country", help="ISO 3166 two-letter code, e.g. BE, NL, FR. Empty = the company's country.", width=8),
        C("language", "Language", help="Correspondence language: NL, FR, EN or DE.", width=9),
        C("email", "E-mail", width=24),
        C("phone", "Phone", "code"),
        C("payment_terms", "Payment terms (days)", "int", help="Days until the invoice is due.", width=10),
        C("accounting_number", "Accounting customer number", "code", help="The customer's number in the accounting package. Paste it, or let the toolkit generate it.", width=16),
        C("number_source", "Number source", "choice", False, NUMBER_SOURCES, "imported, generated (by the toolkit) or manual.", 12),
        C("import_batch", "Import batch", "code", help="Filled when the customer was created by a customer import.", output=True),
        C("peppol_id", "Peppol ID", help=(
            "The customer's Peppol address as scheme:identifier, e.g. 0208:0477472701 or 0088:5790000435968. "
            "Empty = taken from the VAT number (0208 with the enterprise number for Belgian companies)."), width=22),
    ),
)

INVOICES = Sheet(
    "Invoices",
    "Invoices",
    (
        C("number", "Invoice number", "code", True, help="Unique document number; Belgian invoices are numbered without gaps."),
        C("doc_type", "Type", "choice", True, DOC_TYPES, "invoice or credit note.", 12),
        C("date", "Date", "date", True, help="Invoice date; decides the period and the VAT rules that apply.", width=12),
        C("due_date", "Due date", "date", help="Empty = date + the customer's payment terms.", width=12),
        C("customer_id", "Customer id", "code", True, help="A customer id from the Customers sheet."),
        C("customer_name", "Customer name", help="Computed: the customer's name on the Customers sheet.", width=24, computed=True),
        C("customer_number", "Accounting customer number", "code", help="Computed: the customer's number in the accounting package; empty = not given yet (Assign customer numbers).", width=16, computed=True),
        C("currency", "Currency", help="ISO currency. Empty = EUR.", width=9),
        C("payment_reference", "Payment reference", help="Belgian structured communication +++123/4567/89012+++ (optional).", width=22),
        C("description", "Description", width=30),
        C("discount_pct", "Invoice discount %", "percent", help="Commercial discount on the whole invoice, in percent.", width=10),
        C("credited_invoice", "Credited invoice", "code", help="For a credit note: the invoice it credits."),
        C("exported_in", "Exported in", "code", help="Filled by the toolkit: the bookkeeping export that carried this document.", output=True),
        C("einvoice_in", "E-invoice in", "code", help="Filled by the toolkit: the e-invoice export (Peppol) that carried this document.", output=True),
        C("total_as_issued", "Total as issued", "decimal", help=(
            "Optional: the invoice's total including VAT as your invoicing software printed it; the check then "
            "makes sure the booking comes to the same amount, to the cent."), width=12),
        AMOUNT("net", "Net", "Computed: the lines' Net less the invoice discount: what the VAT is computed on."),
        AMOUNT("vat", "VAT", "Computed: the invoice's VAT, as the export books it (VAT booking on the Settings sheet)."),
        AMOUNT("total", "Total", "Computed: Net + VAT, what the customer owes."),
        C("buyer_reference", "Buyer reference", help=(
            "The reference the customer asked you to quote (purchase order, cost centre); e-invoices carry it. "
            "Empty = the document number."), width=16),
    ),
)

INVOICE_LINES = Sheet(
    "Invoice lines",
    "InvoiceLines",
    (
        C("invoice_number", "Invoice number", "code", True, help="The invoice this line belongs to."),
        C("line", "Line", "int", help="Line number within the invoice.", width=6),
        C("description", "Description", width=30),
        C("quantity", "Quantity", "decimal", True, width=10),
        C("unit_price", "Unit price", "decimal", True, help="Price per unit excluding VAT.", width=12),
        C("discount_pct", "Discount %", "percent", help="Line discount in percent.", width=10),
        C("vat_rate", "VAT rate %", "percent", True, help="0, 6, 12 or 21.", width=10),
        C("vat_regime", "VAT regime", "choice", False, VAT_REGIMES, "Empty = domestic.", 18),
        C("ledger_account", "Ledger account", "code", help="Revenue account; 'Suggest accounts' fills empty ones from the VAT rules."),
        C("account_source", "Account source", "choice", False, ACCOUNT_SOURCES, "manual (typed) or suggested (by the toolkit).", 12),
        AMOUNT("net", "Net", "Computed: quantity x unit price less the line discount, rounded as the Rounding setting says (before the invoice discount)."),
        AMOUNT("vat", "VAT", "Computed: (Net less the invoice discount) x VAT rate. With VAT booking 'on total', a rate's VAT is computed once per invoice and shown on its first line."),
        AMOUNT("total", "Total", "Computed: Net less the invoice discount, plus VAT."),
    ),
)

CUSTOMER_IMPORT = Sheet(
    "Customer import",
    None,
    (
        C("match_customer_id", "Match: customer id", "code", help="The existing customer this row belongs to. Change it to pick another customer.", width=14),
        C("match_confidence", "Match: confidence", "int", help="0-100: how sure the match is (100 = same VAT number).", width=10, output=True),
        C("match_method", "Match: method", help="What matched: VAT number, name and postal code, customer number, similar name.", width=18, output=True),
        C("action", "Action", "choice", choices=IMPORT_ACTIONS, help="What 'Apply' does with the row; change it if you disagree.", width=16),
        C("note", "Note", help="Why this action; after 'Apply': what was done or refused.", width=60, output=True),
    ),
    help="Paste area; 'Match pasted customer numbers' writes its proposals beside the paste.",
    placeholder=C("pasted", "Pasted data", help=(
        "Paste the customer list of the accounting package here, header row included, in any column order. "
        "A list without its header row goes in A2. 'Match pasted customer numbers' writes its proposals "
        "beside the paste.")),
)

CHECK = Sheet(
    "Check",
    "CheckFindings",
    (
        C("severity", "Severity", "choice", choices=SEVERITIES, width=9, output=True),
        C("code", "Id", width=10, output=True),  # narrow: the stable id, for scripts and support
        C("sheet", "Sheet", width=16, output=True),
        C("cell", "Cell", width=8, output=True),
        C("title", "Problem", width=44, output=True),
        C("message", "Message", width=90, output=True),
    ),
    help="Rewritten at every check.",
)

EXPORT_LOG = Sheet(
    "Export log",
    "ExportLog",
    (
        C("export_id", "Export id", "code", output=True, width=34),
        C("created_at", "Created at", "datetime", output=True, width=18),
        C("package", "Package", output=True),
        C("period", "Period", output=True, width=24),
        C("documents", "Documents", "int", output=True, width=10),
        C("customers", "Customers", "int", output=True, width=10),
        C("files", "Files", output=True, width=30),
        C("sha256", "SHA-256", output=True, width=70),
    ),
)

PREVIEW = Sheet(
    "Preview",
    "ExportPreview",
    (
        C("section", "Section", output=True, width=18),
        C("item", "Item", "code", output=True, width=16),
        C("date", "Date", "date", output=True, width=12),
        C("customer", "Customer", output=True, width=30),
        C("accounting_number", "Accounting number", "code", output=True, width=20),
        C("journal", "Journal", "code", output=True, width=10),
        C("net", "Net", "decimal", output=True, width=14),
        C("vat", "VAT", "decimal", output=True, width=14),
        C("total", "Total", "decimal", output=True, width=14),
        C("status", "Status", output=True, width=60),
    ),
    help="What the next export would carry, written by Validate and `ledger-export preview`. Totals: net, VAT, "
         "total per journal; debit, credit, balance per ledger account; base, VAT, together per VAT code.",
)

TABLE_SHEETS = (LEDGER_ACCOUNTS, VAT_RULES, VAT_CODES, CUSTOMERS, INVOICES, INVOICE_LINES)
OUTPUT_SHEETS = (CUSTOMER_IMPORT, CHECK, PREVIEW, EXPORT_LOG)

SETTINGS_SHEET = "Settings"
SETTINGS_HEADERS = ("Setting", "Value", "Help")


def S(key, label, type="text", required=False, default=None, choices=(), help=""):
    return Setting(key, label, type, required, default, tuple(choices), help)


SETTINGS = (
    S("company_name", "Company name", required=True, help="Your company's name."),
    S("company_vat", "Company VAT number", help="With country prefix, e.g. BE0477472701."),
    S("company_country", "Company country", required=True, default="BE", help="ISO two-letter code of your country."),
    S("company_enterprise_number", "Company enterprise number", help=(
        "Belgian enterprise number (KBO/BCE), 10 digits, e.g. 0477.472.701: your Peppol address (scheme 0208). "
        "Empty = taken from a Belgian company VAT number.")),
    S("company_address", "Company address", help="Street and number (e-invoices carry postal code and city in their own rows)."),
    S("company_postal_code", "Company postal code", "code", help="Postal code of the company address."),
    S("company_city", "Company city", help="City of the company address."),
    S("iban", "IBAN", help="Your bank account; e-invoices carry it as the account to pay into."),
    S("package", "Accounting package", required=True, default="winbooks", help="The accounting package to export to: pick it from the list. Its own settings follow the general ones below; after changing it, `ledger-export workbook upgrade` lays them out for the new package."),
    S("period_from", "Period from", "date", help="First invoice date of the export. Empty = no lower limit."),
    S("period_to", "Period to", "date", help="Last invoice date of the export. Empty = no upper limit."),
    S("vat_booking", "VAT booking", "choice", True, "on lines", VAT_BOOKING, "on lines: VAT rounded per line (default); on total: per rate on the document."),
    S("rounding", "Rounding", "choice", True, "line net once", ROUNDINGS,
      "How your invoicing software rounds a line with a discount. line net once (default; EN 16931, most software): "
      "round(quantity x price x (1 - discount %)); gross then discount: round(quantity x price), then round the "
      "discount on it. docs/rounding.md has worked examples."),
    S("export_customers", "Export customers", "bool", False, True, YES_NO, "yes: write the customer master file when the package has one."),
    S("invoice_journal", "Invoice journal", "code", True, "VF", help="Journal code for invoices in the accounting package."),
    S("credit_note_journal", "Credit note journal", "code", True, "VF", help="Journal code for credit notes (may equal the invoice journal)."),
    S("receivables_account", "Receivables account", "code", True, "400000", help="Collective customer account."),
    S("vat_account", "VAT account", "code", True, "451000", help="VAT payable account."),
    S("discount_account", "Discount account", "code", help="Commercial discounts are booked here; empty = revenue booked net."),
    S("require_discount_account", "Discount account required", "bool", False, False, YES_NO, "yes: a discount without a discount account is an error."),
    S("customer_numbering", "Customer numbers", "choice", True, "generate automatically", NUMBERING_MODES, "Generate missing accounting customer numbers, or manage them yourself."),
    S("customer_number_start", "Customer number start", "int", help=(
        "First generated number. Empty = 100000, or the package's lowest customer number where 100000 does not fit "
        "(DATEV: the first debtor account, 10000 with Sachkontenlänge 4). Lower risks overwriting customers that exist in the package.")),
    S("output_folder", "Output folder", help="Where exports are written (a folder path; relative = beside the workbook). Empty = the folder '<workbook name>-exports' beside the workbook, e.g. Company-exports for Company.xlsm."),
    S("pdf_folder", "Invoice PDFs folder", help=(
        "Folder holding each document's PDF as <document number>.pdf; e-invoices embed it. Relative paths are "
        "read beside the workbook. Empty = e-invoices without a PDF.")),
)

SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}
ALL_SHEETS = (SETTINGS_SHEET,) + tuple(s.name for s in TABLE_SHEETS + OUTPUT_SHEETS)


def column_letter(index: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
