"""A database host that does not answer fails the connect in ``db_connect_timeout_seconds``,
instead of holding the request (and a pool slot) for as long as TCP retries."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import exc, text

from verenigingen.config import Settings
from verenigingen.db.engine import make_engine


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose listen queue is full: the kernel drops further connection attempts
    unanswered, as a host behind a dead route or a firewall does."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    fillers = []
    for _ in range(4):  # the queue holds one or two; the rest wait in SYN retries
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for filler in fillers:
        filler.close()
    server.close()


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_an_unanswered_database_host_fails_the_connect_in_time(
    unanswered_port: int, scheme: str
) -> None:
    engine = make_engine(
        f"{scheme}://nobody@127.0.0.1:{unanswered_port}/verenigingen",
        settings=Settings(db_connect_timeout_seconds=1),
    )
    started = time.monotonic()
    with pytest.raises(exc.OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert time.monotonic() - started < 5
    engine.dispose()
