"""Ledger Export Toolkit: Excel invoicing workbook -> offline accounting package import files."""

__version__ = "0.1.0"
