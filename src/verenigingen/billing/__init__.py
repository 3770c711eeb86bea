"""Invoices, payments and allocations: the ledger."""
