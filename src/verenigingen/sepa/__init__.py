"""SEPA direct debit: mandates (the record; batches and returns build on it)."""
