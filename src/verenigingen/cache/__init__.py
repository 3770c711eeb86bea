"""Version-tagged cache (DESIGN.md rule 5)."""
