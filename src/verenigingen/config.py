"""Start-up configuration, read once from the environment (prefix ``VERENIGINGEN_``)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import PositiveInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VERENIGINGEN_", extra="ignore")

    data_dir: Path = Path("./var")
    """Where the embedded shape keeps its SQLite database and job queue."""

    database_url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<data_dir>/verenigingen.db``."""

    redis_url: str | None = None
    """Redis for jobs and cache in the distributed shape; unset in the embedded shape."""

    sqlite_busy_timeout_ms: int = 10_000
    """How long a SQLite writer waits for the write lock before failing."""

    db_pool_size: int = 10
    """Connections per process for PostgreSQL and MariaDB."""

    db_connect_timeout_seconds: int = 5
    """How long opening a PostgreSQL or MariaDB connection may take before the request fails
    (503 ``database_unavailable``) instead of waiting for the network to give up."""

    association_name: str = "Vereniging"
    """Name shown in the API, the demo data and documents."""

    member_id_prefix: str = "Assoc-Member"
    """Member ids read ``<prefix>-YYYY-MM-####``."""

    jobs_namespace: str = "verenigingen"
    """Prefix of the job queues in the engine; processes that share one serve the same jobs."""

    job_lease_seconds: float = 30.0
    """A claim holds its job this long; the worker's heartbeat renews it while the job runs, so a
    dead worker's job is taken back about this long after its last heartbeat (jobs.heartbeat)."""

    job_heartbeat_seconds: float = 5.0
    """How often a worker renews the leases of its running jobs and runs the lease sweeper."""

    job_lease_grace_seconds: float = 30.0
    """How long past its timeout a Running job may go before the sweeper takes it back, even
    while its worker still renews its lease (a job that no signal could stop)."""

    job_relay_interval_seconds: float = 5.0
    """How often each worker runs the relay (and starts the daily jobs)."""

    job_stale_after_seconds: float = 60.0
    """A Queued job handed to the engine this long ago and not claimed is handed over again."""

    job_retry_backoff_seconds: float = 10.0
    """First retry delay; doubled for each further attempt, with jitter."""

    job_group_max_jobs: int = 50
    """Most jobs a worker runs in one transaction (group commit, on PostgreSQL; see jobs.worker)."""

    job_group_max_seconds: float = 0.1
    """A worker commits its group once this long has passed since the group began."""

    job_task_modules: str = ""
    """Extra task modules (comma-separated) for workers to load besides the built-in ones."""

    daily_jobs: bool = True
    """Workers start the daily jobs (overdue refresh, dues run, ending cancellations) each day."""

    cache_backend: Literal["auto", "memory", "redis"] = "auto"
    """``auto`` is Redis when ``redis_url`` is set, else in-process."""

    cache_max_entries: int = 10_000
    """Bound of the in-process cache; the least recently used entry goes first."""

    cache_max_payload_mb: PositiveInt = 32
    """Second bound of the in-process cache: its entries' JSON together, in millions of
    characters (about MB: the JSON is mostly ASCII)."""

    server_timing: Literal["administrators", "everyone", "off"] = "administrators"
    """Who gets the ``Server-Timing`` header (statements and database time of the request):
    requests authenticated as an Administrator, every response, or none. The figures tell an
    outsider how the server works inside, so by default only administrators see them."""

    api_docs_public: bool = True
    """Serve the OpenAPI document (``/openapi.json``) and the interactive docs (``/docs``) to
    anyone; off, both answer 404 (the API itself is unchanged)."""

    metrics: bool = True
    """Observe every request (latency, statements, database time) and serve ``/metrics`` in the
    Prometheus text format; off, neither (``/metrics`` answers 404)."""

    metrics_public: bool = False
    """Serve ``/metrics`` to anyone; off, only to a request with an Administrator's token (the
    figures tell an outsider how the server works and how busy the association is)."""

    health_queued_seconds: PositiveInt = 300
    """A due Queued job waiting longer than this makes ``/health`` answer "degraded": the
    workers are down or cannot keep up."""

    login_token_days: PositiveInt = 30
    """How long a token from the password login (``POST /api/v1/auth/token``) works."""

    auth_failures_per_address: PositiveInt = 10
    """Failed authentications (bad tokens, wrong passwords) a client address may have in
    ``auth_address_window_seconds`` before its requests get 429 (auth.throttle)."""

    auth_address_window_seconds: PositiveInt = 60

    auth_failures_per_account: PositiveInt = 5
    """Failed password logins for one email in ``auth_account_window_seconds`` before further
    logins for it get 429, from any address."""

    auth_account_window_seconds: PositiveInt = 900

    public_url: str = "http://127.0.0.1:8000"
    """Where people reach the web app; the links in mails (a password reset) start with it,
    never with the Host a request named."""

    web_session_idle_minutes: PositiveInt = 120
    """A browser sign-in ends after this long without a request (the pages, ``auth.web``)."""

    web_session_max_hours: PositiveInt = 24
    """A browser sign-in ends this long after it began, however busy."""

    password_reset_minutes: PositiveInt = 60
    """How long a password reset link works (once)."""

    password_reset_requests_per_address: PositiveInt = 10
    """Password reset requests one client address may make in ``password_reset_window_seconds``
    before further requests get 429 (``auth.throttle``): a mail bomb needs many addresses."""

    password_reset_requests_per_account: PositiveInt = 3
    """Password reset requests for one email in ``password_reset_window_seconds``, from any
    address: the owner of the email gets at most this many mails."""

    password_reset_window_seconds: PositiveInt = 3600

    default_locale: Literal["nl", "en"] = "nl"
    """The pages' language when neither the user's choice nor the browser's names one we have."""

    smtp_host: str | None = None
    """Mail server for the mail outbox; unset, mails are only written to the outbox table and
    the log (a development machine)."""

    smtp_port: PositiveInt = 587

    smtp_starttls: bool = True

    smtp_username: str | None = None

    smtp_password: str | None = None

    mail_from: str = "noreply@example.org"
    """The sender of the outbox's mails."""

    history_refresh_above: Decimal = Decimal("100.00")
    """A payment of another type (Internal Transfer) above this amount still refreshes the
    member financial summary; Receive and Pay payments always do."""

    history_recalculate_invoices: int = 5
    """A payment that touches more invoices than this recalculates the summary from the ledger
    instead of applying a delta."""

    history_recalculate_above: Decimal = Decimal("500.00")
    """A payment above this amount recalculates the summary from the ledger."""

    # The defaults of the runtime settings (verenigingen.settings): an administrator may change
    # each while the processes run; these values hold until one does (docs/operations.md,
    # "Runtime settings"). The three history_* settings above are runtime settings too.

    defer_heavy_handlers: bool = True
    """Follow-up work of a write (summary, analytics, mandate usage) goes to background jobs;
    off, it runs in the writer's transaction, as the original system ran it."""

    payment_history_cache: bool = True
    """Serve member payment histories from the version-tagged cache; off, every read is cold."""

    strategic_indexes: bool = False
    """Desired state: the strategic indexes should exist (stored for the index manager)."""

    history_cache_ttl_outstanding_seconds: int = 30 * 60
    """How long a cached history with money outstanding is kept."""

    history_cache_ttl_settled_seconds: int = 60 * 60
    """How long a cached settled history is kept."""

    perf_regression_tolerance_percent: Decimal = Decimal("5")
    """How much a statement count may grow before ``verenigingen perf check`` fails."""

    job_timeout_short_seconds: int = 300
    """Timeout of a job on the short queue whose task has none of its own (as the original)."""

    job_timeout_default_seconds: int = 300
    """Timeout of a job on the default queue whose task has none of its own."""

    job_timeout_long_seconds: int = 1500
    """Timeout of a job on the long queue whose task has none of its own."""

    job_timeout_summary_delta_seconds: int = 300
    """Timeout of a member summary delta job (``history.apply_summary_delta``)."""

    job_timeout_summary_recalculation_seconds: int = 300
    """Timeout of a member summary recalculation (``history.recalculate_summary[ies]``)."""

    job_timeout_mandate_usage_seconds: int = 180
    """Timeout of a SEPA mandate usage job (``sepa.record_mandate_usage``)."""

    job_timeout_payment_analytics_seconds: int = 600
    """Timeout of a payment analytics job (``history.update_payment_analytics``)."""

    safety_job_failure_rate_percent: Decimal = Decimal("5")
    """Safety check: the share of the last hour's finished jobs that may have failed."""

    safety_backlog_age_seconds: int = 600
    """Safety check: how long the oldest due Queued job may have waited."""

    safety_payment_submit_p95_ms: int = 500
    """Safety check: the 95th percentile of a probed payment submit, in milliseconds."""

    safety_submit_probes: int = 20
    """Safety check: payment submits probed (each rolled back); 0 skips the probe."""

    safety_cache_sample_size: int = 50
    """Safety check: cached histories and member summaries recomputed and compared."""

    safety_check_interval_minutes: int = 0
    """The scheduled safety run: every this many minutes in the workers; 0 runs none."""

    safety_auto_rollback: bool = False
    """Whether the scheduled safety run rolls the optimizations back on a critical failure."""

    bank_auto_allocate_score: Decimal = Decimal("0.85")
    """Bank reconciliation: a line whose best candidate scores this or more is paid at once."""

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Self:
        # A lease must survive a heartbeat that is late or refused once (a busy database).
        if not 0 < self.job_heartbeat_seconds <= self.job_lease_seconds / 2:
            raise ValueError(
                "job_heartbeat_seconds must be above 0 and at most half of job_lease_seconds "
                f"(got {self.job_heartbeat_seconds} and {self.job_lease_seconds})"
            )
        return self

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'verenigingen.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
