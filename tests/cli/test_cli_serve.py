"""``verenigingen serve``: it refuses a database that is not ready, and otherwise becomes the API
process (``python -m verenigingen.web.server``, the same process id) that answers on its port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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
