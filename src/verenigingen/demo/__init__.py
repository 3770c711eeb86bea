"""A deterministic demo association, built through the real services."""
