"""Platform: users, roles, API tokens and permission checks."""
