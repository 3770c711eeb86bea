"""Member payment history: the read model, the financial summary and its background updater."""
