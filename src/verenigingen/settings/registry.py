"""What may change while the processes run: every runtime setting's name, kind, bounds and
meaning, and the typed values the code reads.

The environment (``config.Settings``, a field of the same name) gives each setting its default;
a value stored in the database (``settings.service``) takes its place until it is reset. Code
never reads a setting by its name: it reads a field of :class:`RuntimeValues`, which mypy checks,
from :func:`verenigingen.settings.runtime_of`.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from decimal import Decimal

from verenigingen.config import Settings
from verenigingen.errors import ValidationFailed
from verenigingen.money import CENT, MAX_AMOUNT
from verenigingen.settings.errors import InvalidSettingValue, SettingOutOfRange, UnknownSetting

Value = bool | int | Decimal


class Kind(enum.StrEnum):
    FLAG = "bool"
    WHOLE = "int"
    DECIMAL = "decimal"
    """At most two decimals: an amount of money, a percentage."""
    SECONDS = "seconds"
    """A whole number of seconds."""


MAX_JOB_TIMEOUT_SECONDS = 24 * 3600
"""The longest timeout a job may have (``jobs.outbox`` holds explicit timeouts to it too)."""

_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})
_WHOLE = re.compile(r"-?[0-9]{1,30}")
_DECIMAL = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")


@dataclass(frozen=True)
class Definition:
    """One runtime setting: what it is called, what kind of value it takes, within which bounds,
    and what it does."""

    name: str
    kind: Kind
    description: str
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None

    @property
    def bounds(self) -> str:
        """The bounds as a person reads them (``1 to 604800``), empty for a flag."""
        if self.minimum is None or self.maximum is None:
            return ""
        return f"{self.minimum} to {self.maximum}"

    def parse(self, raw: object) -> Value:
        """The value ``raw`` (JSON from the API, text from the command line or the database)
        means for this setting; 422 ``invalid_setting_value`` or ``setting_out_of_range``."""
        value: Value
        if self.kind is Kind.FLAG:
            value = self._flag(raw)
        elif self.kind is Kind.DECIMAL:
            value = self._decimal(raw)
        else:
            value = self._whole(raw)
        if not isinstance(value, bool) and (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
        ):
            unit = " seconds" if self.kind is Kind.SECONDS else ""
            raise SettingOutOfRange(
                f"{self.name} must be {self.minimum} to {self.maximum}{unit}, got {value}"
            )
        return value

    def text(self, value: Value) -> str:
        """How the database stores ``value`` (and the command line shows it)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def _flag(self, raw: object) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise InvalidSettingValue(f"{self.name} is a flag: true or false, got {raw!r}")

    def _whole(self, raw: object) -> int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
            return int(raw.strip())
        raise InvalidSettingValue(f"{self.name} takes a whole number, got {raw!r}")

    def _decimal(self, raw: object) -> Decimal:
        if isinstance(raw, float):
            raw = repr(raw)  # the number as JSON wrote it, not its binary approximation
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if isinstance(raw, Decimal) and raw.is_finite():
            raw = str(raw)
        if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw.strip()):
            raise InvalidSettingValue(f"{self.name} takes a number such as 12.50, got {raw!r}")
        value = Decimal(raw.strip())
        if value != value.quantize(CENT):
            raise InvalidSettingValue(f"{self.name} takes at most two decimals, got {raw}")
        return value.quantize(CENT)


DEFINITIONS: dict[str, Definition] = {
    d.name: d
    for d in (
        Definition(
            "defer_heavy_handlers",
            Kind.FLAG,
            "Follow-up work of a write (member summary, payment analytics, mandate usage) runs "
            "as background jobs after commit; off, it runs in the writer's transaction.",
        ),
        Definition(
            "payment_history_cache",
            Kind.FLAG,
            "Member payment histories are served from the version-tagged cache; off, every "
            "read computes the history from the ledger and nothing is stored.",
        ),
        Definition(
            "strategic_indexes",
            Kind.FLAG,
            "Desired state of the strategic indexes: a change queues the index manager's "
            "job, which builds them online (on) or rolls back those it added (off), each "
            "recorded in the index ledger.",
        ),
        Definition(
            "history_refresh_above",
            Kind.DECIMAL,
            "A payment other than Receive or Pay (an Internal Transfer) above this amount "
            "still updates the member summary.",
            Decimal(0),
            MAX_AMOUNT,
        ),
        Definition(
            "history_recalculate_invoices",
            Kind.WHOLE,
            "A payment that settles more invoices than this rebuilds the member summary from "
            "the ledger instead of applying a delta.",
            0,
            10_000,
        ),
        Definition(
            "history_recalculate_above",
            Kind.DECIMAL,
            "A payment above this amount rebuilds the member summary from the ledger instead "
            "of applying a delta.",
            Decimal(0),
            MAX_AMOUNT,
        ),
        Definition(
            "history_cache_ttl_outstanding_seconds",
            Kind.SECONDS,
            "How long a cached payment history with money outstanding is kept.",
            1,
            7 * 24 * 3600,
        ),
        Definition(
            "history_cache_ttl_settled_seconds",
            Kind.SECONDS,
            "How long a cached settled payment history is kept.",
            1,
            7 * 24 * 3600,
        ),
        Definition(
            "job_timeout_short_seconds",
            Kind.SECONDS,
            "Timeout of a job on the short queue whose task has no timeout of its own; set "
            "when the job is enqueued.",
            1,
            MAX_JOB_TIMEOUT_SECONDS,
        ),
        Definition(
            "job_timeout_default_seconds",
            Kind.SECONDS,
            "Timeout of a job on the default queue whose task has no timeout of its own.",
            1,
            MAX_JOB_TIMEOUT_SECONDS,
        ),
        Definition(
            "job_timeout_long_seconds",
            Kind.SECONDS,
            "Timeout of a job on the long queue whose task has no timeout of its own.",
            1,
            MAX_JOB_TIMEOUT_SECONDS,
        ),
        Definition(
            "job_timeout_summary_delta_seconds",
            Kind.SECONDS,
            "Timeout of a member summary delta job (history.apply_summary_delta).",
            1,
            MAX_JOB_TIMEOUT_SECONDS,
        ),
        Definition(
            "job_timeout_summary_recalculation_seconds",
            Kind.SECONDS,
            "Timeout of a member summary recalculation job (history.recalculate_summary, "
            "history.recalculate_summaries).",
            1,
            MAX_JOB_TIMEOUT_SECONDS,
        ),
        Definition(
            "job_timeout_mandate_usage_seconds",
            Kind.SECONDS,
            "Timeout of a SEPA mandate usage job (sepa.record_mandate_usage).",
            1,
            MAX_JOB_TIMEOUT_SECONDS,
        ),
        Definition(
            "job_timeout_payment_analytics_seconds",
            Kind.SECONDS,
            "Timeout of a payment analytics job (history.update_payment_analytics).",
            1,
            MAX_JOB_TIMEOUT_SECONDS,
        ),
        Definition(
            "perf_regression_tolerance_percent",
            Kind.DECIMAL,
            "How much a statement count or row count may grow over the baseline before "
            "`verenigingen perf check` fails.",
            Decimal(0),
            Decimal(1000),
        ),
        Definition(
            "safety_job_failure_rate_percent",
            Kind.DECIMAL,
            "Safety check: the share of the jobs finished in the last hour that may have "
            "failed (critical above it).",
            Decimal(0),
            Decimal(100),
        ),
        Definition(
            "safety_backlog_age_seconds",
            Kind.SECONDS,
            "Safety check: how long the oldest due Queued job may have waited (critical above it).",
            1,
            7 * 24 * 3600,
        ),
        Definition(
            "safety_payment_submit_p95_ms",
            Kind.WHOLE,
            "Safety check: the 95th percentile of a probed payment submit (create and submit, "
            "rolled back), in milliseconds.",
            1,
            600_000,
        ),
        Definition(
            "safety_submit_probes",
            Kind.WHOLE,
            "Safety check: how many payment submits the performance check probes (each in a "
            "transaction rolled back); 0 skips the check.",
            0,
            1_000,
        ),
        Definition(
            "safety_cache_sample_size",
            Kind.WHOLE,
            "Safety check: how many cached payment histories and member summaries are "
            "recomputed and compared with what is stored.",
            0,
            10_000,
        ),
        Definition(
            "safety_check_interval_minutes",
            Kind.WHOLE,
            "The scheduled safety run: the workers run the checks every this many minutes "
            "(0: no scheduled run).",
            0,
            24 * 60,
        ),
        Definition(
            "safety_auto_rollback",
            Kind.FLAG,
            "Whether the scheduled safety run rolls the optimizations back when a critical "
            "check fails (off: the run is recorded and /health shows it; nothing is switched off).",
        ),
        Definition(
            "bank_auto_allocate_score",
            Kind.DECIMAL,
            "Bank reconciliation: a line of money in whose best candidate invoice scores this "
            "or more (invoice number and amount 0.95, member IBAN and amount 0.90) is paid and "
            "allocated at once; below it the line waits for review.",
            Decimal("0.50"),
            Decimal("1.00"),
        ),
    )
}


@dataclass(frozen=True)
class RuntimeValues:
    """The value of every runtime setting, as one process (or one transaction) sees them.

    Each field is documented by its :data:`DEFINITIONS` entry of the same name.
    """

    defer_heavy_handlers: bool
    payment_history_cache: bool
    strategic_indexes: bool
    history_refresh_above: Decimal
    history_recalculate_invoices: int
    history_recalculate_above: Decimal
    history_cache_ttl_outstanding_seconds: int
    history_cache_ttl_settled_seconds: int
    job_timeout_short_seconds: int
    job_timeout_default_seconds: int
    job_timeout_long_seconds: int
    job_timeout_summary_delta_seconds: int
    job_timeout_summary_recalculation_seconds: int
    job_timeout_mandate_usage_seconds: int
    job_timeout_payment_analytics_seconds: int
    perf_regression_tolerance_percent: Decimal
    safety_job_failure_rate_percent: Decimal
    safety_backlog_age_seconds: int
    safety_payment_submit_p95_ms: int
    safety_submit_probes: int
    safety_cache_sample_size: int
    safety_check_interval_minutes: int
    safety_auto_rollback: bool
    bank_auto_allocate_score: Decimal

    def queue_timeout(self, queue: str) -> int:
        """The timeout of a job on ``queue`` (``short``, ``default``, ``long``) whose task has
        none of its own."""
        return self.seconds_of(f"job_timeout_{queue}_seconds")

    def seconds_of(self, name: str) -> int:
        """The value of the ``seconds`` setting ``name`` (a task's timeout setting)."""
        value = self.value_of(name)
        if DEFINITIONS[name].kind is not Kind.SECONDS or isinstance(value, bool | Decimal):
            raise ValueError(f"{name} is not a setting of seconds")
        return value

    def value_of(self, name: str) -> Value:
        value: Value = getattr(self, definition_of(name).name)
        return value

    def with_values(self, values: dict[str, Value]) -> RuntimeValues:
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]  # names checked


def definition_of(name: str) -> Definition:
    """The setting called ``name``; 404 ``unknown_setting`` listing the names there are."""
    found = DEFINITIONS.get(name)
    if found is None:
        raise UnknownSetting(
            f"no runtime setting is called {name!r}; the settings are: {', '.join(DEFINITIONS)}"
        )
    return found


def defaults_of(settings: Settings) -> RuntimeValues:
    """The environment's values: every setting's default. A default outside its setting's
    bounds stops the process at start-up, as any other invalid environment variable does."""
    values: dict[str, Value] = {}
    for name, definition in DEFINITIONS.items():
        try:
            values[name] = definition.parse(getattr(settings, name))
        except ValidationFailed as error:
            raise ValueError(f"VERENIGINGEN_{name.upper()}: {error.detail}") from None
    return RuntimeValues(**values)  # type: ignore[arg-type]  # one value per field, checked
