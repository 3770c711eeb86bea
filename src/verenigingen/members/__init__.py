"""Members, customers, membership types and memberships."""
