"""Dues schedules and the invoices they generate."""
