"""Billing use cases: invoices, credit notes, payments and their allocations."""
