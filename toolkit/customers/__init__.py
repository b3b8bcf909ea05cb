"""Accounting customer numbers: generate them, match a pasted list, find duplicates, undo an import.

numbers     next free numbers, package rules, findings on numbers
normalize   comparable VAT numbers, names (without legal forms), postal codes
paste       recognise the columns of a paste or a CSV/XLSX file
match       propose a customer and an action for each pasted row
apply       carry out the actions the user accepted
duplicates  likely duplicates, merge, undo an import
(their operations on a workbook file, for the CLI and the Excel buttons: toolkit.app.customers)
"""

from importlib import import_module

# Names are loaded on first use: the export needs `numbers` only, not rapidfuzz and numpy.
_WHERE = {
    "apply": ("ApplyResult", "ImportRow", "apply_actions", "next_customer_ids"),
    "duplicates": ("DuplicateGroup", "MergeError", "MergePlan", "UndoPlan", "find_duplicates", "merge", "undo_import"),
    "match": ("ACTIONS", "Match", "match_rows"),
    "numbers": ("NumberingError", "assign_numbers", "check_number", "duplicate_number_findings",
                "invalid_number_findings", "order_for_numbering", "start_value_findings"),
    "paste": ("Paste", "parse_paste", "read_table_file"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
