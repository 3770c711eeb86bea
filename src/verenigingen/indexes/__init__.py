"""Safe online indexes: a ledger of every change, add/verify/rollback per dialect, measured
impact and an advisor that proves its candidates before proposing them."""
