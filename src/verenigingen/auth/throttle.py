"""Failed authentication, rate-limited per client address and per account.

Every failed authentication counts against its client address: an unknown, revoked or expired
bearer token, a wrong email or password at the login. A failed login counts against the account
too, by the email it named (whether a user has it or not, so that the answer never tells). Once
an address or an account has used up its failures in the moving window, each request from it
(or each login for it) is refused with 429 ``too_many_attempts`` and a ``Retry-After`` before
any token or password is checked, until the oldest failure leaves the window. A successful
authentication does not count.

Password reset requests are limited the same way, per address and per email, except that every
request counts (each one may send a mail), not only a failure
(:meth:`AuthThrottle.count_reset_request`).

Reading the counts costs a round trip to Redis, and nearly every request comes from an address
that has never failed. So a process reads an address's count before authenticating only when it
has itself seen that address fail within the window (its *suspects*); logins, which are rare,
always read the account's. Processes that share Redis share the counts: an address over the
limit gets at most one more attempt in each process (answered 401 and counted) before that
process refuses it too. Tokens are 256 random bits, so those attempts guess nothing.

The counts live in Redis when the installation has one (``redis_url``), so that every API
process shares them, under ``<jobs namespace>:throttle:<installation id>`` like the cache's
keys; otherwise in the process. Redis that cannot be reached does not lock everyone out: the
failure is logged and the request is judged by its credentials alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from verenigingen.auth.errors import TooManyAttempts, TooManyResetRequests
from verenigingen.config import Settings
from verenigingen.errors import NotAuthenticated

log = logging.getLogger(__name__)

# A throttle that is down must cost a request little: fail fast, then go on without it.
REDIS_TIMEOUT_SECONDS = 1.0
# Most addresses one process remembers as suspects; past it, those that failed longest ago go.
MAX_SUSPECTS = 10_000


@dataclass(frozen=True)
class FailureLimit:
    """At most ``failures`` failed authentications in any ``seconds`` long window."""

    failures: int
    seconds: int

    def item(self, kind: str) -> RateLimitItem:
        return RateLimitItemPerSecond(self.failures, self.seconds, namespace=kind)


DEFAULT_RESETS_PER_ADDRESS = FailureLimit(10, 3600)
DEFAULT_RESETS_PER_ACCOUNT = FailureLimit(3, 3600)
"""The password reset limits of a throttle built without settings (``config.Settings`` has the
same defaults)."""


class AuthThrottle:
    """Counts failed authentications and refuses addresses and accounts that have too many."""

    def __init__(
        self,
        storage: Storage,
        *,
        per_address: FailureLimit,
        per_account: FailureLimit,
        resets_per_address: FailureLimit = DEFAULT_RESETS_PER_ADDRESS,
        resets_per_account: FailureLimit = DEFAULT_RESETS_PER_ACCOUNT,
    ):
        self.storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._address = per_address.item("address")
        self._account = per_account.item("account")
        self._reset_address = resets_per_address.item("reset-address")
        self._reset_account = resets_per_account.item("reset-account")
        self._suspect_seconds = per_address.seconds
        self._suspects: dict[str, float] = {}
        """Address → until when (``time.monotonic()``) this process checks its count first."""

    @classmethod
    def from_settings(cls, settings: Settings, installation: str) -> AuthThrottle:
        """Redis when ``redis_url`` is set (keys under the jobs namespace and the installation
        id), else in-process; the limits from the ``auth_*`` settings."""
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                settings.redis_url,
                key_prefix=f"{settings.jobs_namespace}:throttle:{installation}",
                wrap_exceptions=True,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
        else:
            storage = MemoryStorage()
        return cls(
            storage,
            per_address=FailureLimit(
                settings.auth_failures_per_address, settings.auth_address_window_seconds
            ),
            per_account=FailureLimit(
                settings.auth_failures_per_account, settings.auth_account_window_seconds
            ),
            resets_per_address=FailureLimit(
                settings.password_reset_requests_per_address,
                settings.password_reset_window_seconds,
            ),
            resets_per_account=FailureLimit(
                settings.password_reset_requests_per_account,
                settings.password_reset_window_seconds,
            ),
        )

    @contextlib.contextmanager
    def counting_failures(self, address: str, *, account: str | None = None) -> Iterator[None]:
        """Refuse (429) when ``address`` or ``account`` has no failures left; otherwise run the
        block, and count a ``NotAuthenticated`` it raises against both. The address's count is
        read only when this process saw it fail within the window (see the module's text)."""
        if self._is_suspect(address):
            self._refuse_when_over(
                self._address, address, "failed authentications from this address"
            )
        if account is not None:
            self._refuse_when_over(
                self._account, _account_key(account), "failed authentications for this account"
            )
        try:
            yield
        except NotAuthenticated:
            self._suspect(address)
            self._count(self._address, address)
            if account is not None:
                self._count(self._account, _account_key(account))
            raise

    def count_reset_request(self, address: str, *, account: str) -> None:
        """Refuse (429 ``too_many_reset_requests``) a password reset request when ``address`` or
        ``account`` (the email asked for) has made too many in the window; otherwise count it
        against both. Read every time: reset requests are rare."""
        self._refuse_when_over(
            self._reset_address,
            address,
            "password reset requests from this address",
            TooManyResetRequests,
        )
        account_key = _account_key(account)
        self._refuse_when_over(
            self._reset_account,
            account_key,
            "password reset requests for this account",
            TooManyResetRequests,
        )
        self._count(self._reset_address, address)
        self._count(self._reset_account, account_key)

    def _is_suspect(self, address: str) -> bool:
        until = self._suspects.get(address)
        return until is not None and until > time.monotonic()

    def _suspect(self, address: str) -> None:
        now = time.monotonic()
        if len(self._suspects) >= MAX_SUSPECTS:
            current = sorted((until, key) for key, until in self._suspects.items() if until > now)
            self._suspects = {key: until for until, key in current[-MAX_SUSPECTS // 2 :]}
        self._suspects[address] = now + self._suspect_seconds

    def _refuse_when_over(
        self,
        item: RateLimitItem,
        key: str,
        what: str,
        refusal: type[TooManyAttempts] = TooManyAttempts,
    ) -> None:
        try:
            if self._limiter.test(item, key):
                return
            reset_time = self._limiter.get_window_stats(item, key).reset_time
        except StorageError as error:
            log.warning("auth throttle: cannot read the failure counts: %s", error)
            return
        retry_after = max(1, math.ceil(reset_time - time.time()))
        raise refusal(
            f"too many {what}; try again in {retry_after} seconds",
            retry_after_seconds=retry_after,
        )

    def _count(self, item: RateLimitItem, key: str) -> None:
        try:
            self._limiter.hit(item, key)
        except StorageError as error:
            log.warning("auth throttle: cannot count a failed authentication: %s", error)


def _account_key(email: str) -> str:
    """The account as the throttle names it: a digest of the normalised email, so that the
    counts (in Redis, say) hold no email addresses."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
