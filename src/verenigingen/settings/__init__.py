"""Runtime settings and feature flags: database-backed, changed while the processes run.

Code reads them with :func:`runtime_of` on its session (one set of values per transaction);
administrators change them with ``settings.service`` (API ``/api/v1/settings``, command
``verenigingen settings``). The environment gives the defaults (``config.Settings``).
"""

from verenigingen.settings.live import LiveSettings, runtime_of
from verenigingen.settings.registry import DEFINITIONS, RuntimeValues, defaults_of

__all__ = ["DEFINITIONS", "LiveSettings", "RuntimeValues", "defaults_of", "runtime_of"]
