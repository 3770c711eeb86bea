"""Bank statements: the association's accounts, statement import (camt.053, MT940) and dedupe."""
