"""Accounting customer numbers: generate them, match a pasted list, find duplicates, undo an import.

numbers     next free numbers, package rules, findings on numbers
normalize   comparable VAT numbers, names (without legal forms), postal codes
paste       recognise the columns of a paste or a CSV/XLSX file
match       propose a customer and an action for each pasted row
apply       carry out the actions the user accepted
duplicates  likely duplicates, merge, undo an import
commands    the same operations on a workbook file, for the CLI and the Excel buttons
"""

from toolkit.customers.apply import ApplyResult, ImportRow, apply_actions, next_customer_ids
from toolkit.customers.duplicates import (
    DuplicateGroup,
    MergeError,
    MergePlan,
    UndoPlan,
    find_duplicates,
    merge,
    undo_import,
)
from toolkit.customers.match import ACTIONS, Match, match_rows
from toolkit.customers.numbers import (
    NumberingError,
    assign_numbers,
    check_number,
    duplicate_number_findings,
    invalid_number_findings,
    order_for_numbering,
    start_value_findings,
)
from toolkit.customers.paste import Paste, parse_paste, read_table_file

__all__ = [
    "ACTIONS",
    "ApplyResult",
    "DuplicateGroup",
    "ImportRow",
    "Match",
    "MergeError",
    "MergePlan",
    "NumberingError",
    "Paste",
    "UndoPlan",
    "apply_actions",
    "assign_numbers",
    "check_number",
    "duplicate_number_findings",
    "find_duplicates",
    "invalid_number_findings",
    "match_rows",
    "merge",
    "next_customer_ids",
    "order_for_numbering",
    "parse_paste",
    "read_table_file",
    "start_value_findings",
    "undo_import",
]
