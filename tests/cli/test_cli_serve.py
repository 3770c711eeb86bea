"""``verenigingen serve``: it refuses a database that is not ready, and otherwise becomes the API
process (``python -m verenigingen.web.server``, the same process id) that answers on its port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from verenigingen.cli.app import app
from verenigingen.config import get_settings
from verenigingen.web.server import server_environment

CLI = Path(sys.executable).with_name("verenigingen")
runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_refuses_a_database_without_the_schema(data_dir: Path) -> None:
    result = runner.invoke(app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert "run `verenigingen init` first" in result.output


@pytest.mark.parametrize("workers", ["0", "65"])
def test_serve_refuses_a_number_of_workers_out_of_range(data_dir: Path, workers: str) -> None:
    result = runner.invoke(app, ["serve", "--workers", workers])
    assert result.exit_code == 2
    assert "--workers" in result.output


@pytest.mark.parametrize(("option", "value"), [("--loop", "trio"), ("--http", "h2")])
def test_serve_refuses_an_unknown_event_loop_or_http_parser(
    data_dir: Path, option: str, value: str
) -> None:
    result = runner.invoke(app, ["serve", option, value])
    assert result.exit_code == 2
    assert option in result.output


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_port_another_program_holds_exits_with_a_clear_error(
    data_dir: Path, workers: str
) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(  # noqa: S603  (the project's own command, fixed arguments)
            [str(CLI), "serve", "--port", str(port), "--workers", workers, "--no-worker"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert finished.returncode == 3, finished.stderr  # uvicorn's status for a failed start
    assert "address already in use" in finished.stderr.lower(), finished.stderr
    assert str(port) in finished.stderr, finished.stderr


def test_serve_becomes_the_api_process_and_answers(data_dir: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    port = free_port()
    server = subprocess.Popen(  # noqa: S603  (the project's own command, fixed arguments)
        [str(CLI), "serve", "--port", str(port), "--no-worker"],
        env={name: value for name, value in os.environ.items() if name != "MALLOC_ARENA_MAX"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 200
        command_line = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert command_line[1:3] == [b"-m", b"verenigingen.web.server"]
        environment = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environment
        # uvloop's event loop and httptools' parser, the compiled ones, serve by default.
        libraries = Path(f"/proc/{server.pid}/maps").read_text()
        assert "/uvloop/loop." in libraries
        assert "/httptools/parser/parser." in libraries
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_api_process_keeps_the_operators_malloc_arena_max() -> None:
    assert server_environment({"MALLOC_ARENA_MAX": "8", "HOME": "/srv"}) == {
        "MALLOC_ARENA_MAX": "8",
        "HOME": "/srv",
    }
    assert server_environment({"HOME": "/srv"}) == {"MALLOC_ARENA_MAX": "2", "HOME": "/srv"}


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(descriptor)
            if target.startswith("socket:["):
                inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _tcp_sockets(port: int, state: str) -> set[int]:
    """The inodes of this machine's IPv4 TCP sockets on local ``port`` in ``state`` (hex code:
    01 established, 0A listening), from ``/proc/net/tcp``."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(int(fields[9]))
    return found


def _api_processes(supervisor: int, port: int) -> dict[int, int]:
    """Each child of ``supervisor`` listening on ``port``: how many connections it holds."""
    listening, established = _tcp_sockets(port, "0A"), _tcp_sockets(port, "01")
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if int(text[text.rindex(")") + 2 :].split()[1]) != supervisor:
                continue
            pid = int(stat.parent.name)
            inodes = _socket_inodes(pid)
            if inodes & listening:
                children[pid] = len(inodes & established)
    return children


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_serve_with_two_workers_spreads_connections_and_replaces_a_dead_process(
    data_dir: Path,
) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    supervisor = subprocess.Popen(  # noqa: S603  (the project's own command, fixed arguments)
        [str(CLI), "serve", "--port", str(port), "--no-worker", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    clients: list[httpx.Client] = []
    try:
        assert _wait_for(lambda: len(_api_processes(supervisor.pid, port)) == 2)
        # Sixteen keep-alive connections made at once: each process gets some (all sixteen on
        # one of two sockets would be a 1 in 32,768 hash).
        clients = [httpx.Client(base_url=base, timeout=10) for _ in range(16)]
        assert _wait_for(lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200)
        assert all(client.get("/health").status_code == 200 for client in clients)
        held = _api_processes(supervisor.pid, port)
        assert sorted(held.values())[0] >= 1, held
        assert sum(held.values()) >= 16

        killed = next(iter(held))
        os.kill(killed, signal.SIGKILL)
        assert _wait_for(
            lambda: (
                len(_api_processes(supervisor.pid, port)) == 2
                and killed not in _api_processes(supervisor.pid, port)
            )
        )
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    finally:
        for client in clients:
            client.close()
        supervisor.terminate()
        assert supervisor.wait(timeout=60) == 0
    assert _api_processes(supervisor.pid, port) == {}
