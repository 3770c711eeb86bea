"""verenigingen: membership and dues administration for associations."""

__version__ = "0.1.0"
