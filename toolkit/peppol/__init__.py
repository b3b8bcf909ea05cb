"""Peppol BIS Billing 3.0: identifiers, VAT categories and the official validation rules."""
