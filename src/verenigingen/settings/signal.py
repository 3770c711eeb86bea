"""How a process learns that another one changed a runtime setting: a change signal.

The values live in the database; the signal only says "something changed since you last
looked". A process that changed a setting writes a new random token after its commit; every
process reads the token at the first use of a setting in a transaction and reads the settings
from the database again only when the token is not the one it read before. Reading the token
costs no SQL statement: a Redis GET where the processes share a Redis, the read of a small file
in the data directory where they share a machine (the embedded shape).

A random token, not a counter: two writers, or two installations on one Redis namespace or one
data directory, can only make a process read its settings once more than needed, never make it
miss a change.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Protocol, cast

import redis

from verenigingen.config import Settings

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS = 1.0
"""A Redis that is down must cost a request little (the cache's own choice)."""


class SignalUnavailable(RuntimeError):
    """The signal could not be read or written (Redis down, a file system error)."""


class ChangeSignal(Protocol):
    name: str

    def read(self) -> str | None:
        """The current token; None when nothing was ever announced. Raises
        :class:`SignalUnavailable`."""
        ...

    def announce(self) -> None:
        """Write a new token. Raises :class:`SignalUnavailable`."""
        ...

    def close(self) -> None: ...


def new_token() -> str:
    return secrets.token_hex(8)


class FileSignal:
    """A token in a file: for processes that share a machine (and its data directory)."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        # os.open and os.read: a quarter of Path.read_text's time (about 4 against 15 µs), paid
        # by every transaction that reads a setting (bench/settings_check.py).
        try:
            descriptor = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SignalUnavailable(f"cannot read {self.path}: {error}") from error
        try:
            return os.read(descriptor, 64).decode("ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise SignalUnavailable(f"cannot read {self.path}: {error}") from error
        finally:
            os.close(descriptor)

    def announce(self) -> None:
        # Written beside the file and renamed over it: a reader sees the old token or the new
        # one, never half of one.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".settings-")
            with os.fdopen(handle, "w", encoding="ascii") as file:
                file.write(new_token())
            os.replace(temporary, self.path)
        except OSError as error:
            raise SignalUnavailable(f"cannot write {self.path}: {error}") from error

    def close(self) -> None:
        pass


class RedisSignal:
    """A token under one Redis key: for processes that share a Redis (the distributed shape)."""

    name = "redis"

    def __init__(self, url: str, key: str) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        self.key = key

    def read(self) -> str | None:
        try:
            token = cast(bytes | None, self.client.get(self.key))
        except redis.RedisError as error:
            raise SignalUnavailable(f"cannot read the Redis key {self.key}: {error}") from error
        return None if token is None else token.decode("ascii")

    def announce(self) -> None:
        try:
            self.client.set(self.key, new_token())
        except redis.RedisError as error:
            raise SignalUnavailable(f"cannot write the Redis key {self.key}: {error}") from error

    def close(self) -> None:
        self.client.close()


class MemorySignal:
    """A token in this process only: for one process (tests, the offline API document)."""

    name = "memory"

    def __init__(self) -> None:
        self._token: str | None = None
        self._lock = threading.Lock()

    def read(self) -> str | None:
        with self._lock:
            return self._token

    def announce(self) -> None:
        with self._lock:
            self._token = new_token()

    def close(self) -> None:
        pass


SIGNAL_FILE = "settings-changed"


def signal_from_settings(settings: Settings) -> ChangeSignal:
    """Redis when the installation has one (every process of it uses that Redis), else a file
    in the data directory (the processes of the embedded shape share it)."""
    if settings.redis_url:
        return RedisSignal(settings.redis_url, f"{settings.jobs_namespace}:settings:changed")
    return FileSignal(settings.data_dir / SIGNAL_FILE)
