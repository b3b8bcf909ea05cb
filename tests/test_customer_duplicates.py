import datetime as dt

import pytest

from toolkit.customers.duplicates import MergeError, find_duplicates, invoice_counts, merge, undo_import
from toolkit.model import Customer, Invoice


def inv(number, customer_id):
    return Invoice(number, "invoice", dt.date(2025, 1, 1), customer_id)


def test_same_vat_number_written_differently():
    cs = [
        Customer("C1", "Janssens", vat_number="BE0477472701"),
        Customer("C2", "Bouw Janssens", vat_number="0477.472.701"),
        Customer("C3", "Peeters", vat_number="BE0403170701"),
    ]
    [group] = find_duplicates(cs)
    assert (group.keeper, group.duplicates) == ("C1", ("C2",))
    assert group.reasons["C2"] == "same VAT number BE0477472701"


def test_same_postal_code_and_name_ignoring_case_punctuation_and_legal_form():
    cs = [
        Customer("C1", "BVBA Janssens", postal_code="9000"),
        Customer("C2", "janssens b.v.", postal_code="9000"),
        Customer("C3", "Janssens", postal_code="2000"),  # elsewhere: another customer
        Customer("C4", "Peeters", postal_code="9000"),
    ]
    [group] = find_duplicates(cs)
    assert (group.keeper, group.duplicates) == ("C1", ("C2",))
    assert "same postal code 9000" in group.reasons["C2"]


def test_threshold():
    cs = [Customer("C1", "Garage Verhoeven", postal_code="9000"), Customer("C2", "Garage Verhoeve", postal_code="9000")]
    assert find_duplicates(cs, threshold=90)
    assert find_duplicates(cs, threshold=99) == []


def test_keeper_has_a_number_else_more_invoices_else_the_older_id():
    a = Customer("C10", "Janssens", postal_code="9000")
    b = Customer("C2", "Janssens", postal_code="9000")
    assert find_duplicates([a, b])[0].keeper == "C2"  # older id (C2 before C10)
    assert find_duplicates([a, b], invoice_counts([inv("F1", "C10")]))[0].keeper == "C10"
    c = Customer("C30", "Janssens", postal_code="9000", accounting_number="100001")
    [group] = find_duplicates([a, b, c], invoice_counts([inv("F1", "C10")]))
    assert group.keeper == "C30" and group.duplicates == ("C10", "C2")


def test_group_with_two_numbers_says_merge_would_refuse():
    cs = [
        Customer("C1", "Janssens", postal_code="9000", accounting_number="100001"),
        Customer("C2", "Janssens", postal_code="9000", accounting_number="100002"),
    ]
    [group] = find_duplicates(cs)
    assert group.blocked == {"C2": "C1 has number 100001 and C2 has 100002"}


def test_merge_moves_invoices_and_removes_the_duplicate():
    cs = [Customer("C1", "Janssens"), Customer("C2", "Janssens BV", accounting_number="100002")]
    plan = merge(cs, [inv("F1", "C1"), inv("F2", "C2"), inv("F3", "C2")], "C1", "C2")
    assert (plan.keeper, plan.duplicate, plan.invoices) == ("C1", "C2", ("F2", "F3"))
    assert plan.number == "100002"  # the keeper takes over the number, which is never lost


def test_merge_refused_with_different_numbers():
    cs = [Customer("C1", "A", accounting_number="100001"), Customer("C2", "A", accounting_number="100002")]
    with pytest.raises(MergeError, match="different accounting numbers"):
        merge(cs, [], "C1", "C2")


def test_merge_with_equal_numbers_is_allowed():
    cs = [Customer("C1", "A", accounting_number="100001"), Customer("C2", "A", accounting_number=" 100001")]
    assert merge(cs, [], "C1", "C2").number == ""


@pytest.mark.parametrize("keeper, duplicate, message", [("C1", "C1", "itself"), ("C1", "C9", "no customer 'C9'")])
def test_merge_refusals(keeper, duplicate, message):
    with pytest.raises(MergeError, match=message):
        merge([Customer("C1", "A")], [], keeper, duplicate)


def test_undo_import_keeps_numbered_and_invoiced_customers_with_reasons():
    cs = [
        Customer("C1", "Old"),
        Customer("C2", "Plain", import_batch="IMP-1"),
        Customer("C3", "Imported with its number", accounting_number="100003", number_source="imported", import_batch="IMP-1"),
        Customer("C4", "Numbered since", accounting_number="100004", number_source="generated", import_batch="IMP-1"),
        Customer("C5", "Invoiced since", import_batch="IMP-1"),
        Customer("C6", "Other batch", import_batch="IMP-2"),
    ]
    plan = undo_import(cs, [inv("F1", "C5"), inv("F2", "C5")], "IMP-1")
    assert plan.removed == ("C2", "C3")
    assert plan.kept == (
        ("C4", "it got accounting number 100004 (generated) since the import"),
        ("C5", "it has 2 invoice(s)"),
    )


def test_undo_of_an_unknown_or_empty_batch_removes_nothing():
    cs = [Customer("C1", "A", import_batch="IMP-1"), Customer("C2", "B")]
    assert undo_import(cs, [], "IMP-9").removed == ()
    assert undo_import(cs, [], "").removed == ()
