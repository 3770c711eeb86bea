"""What a thread-pool hop costs a request: the warm payment history over HTTP, with the API's
I/O-free dependencies (the bearer token, the application context) as ``async def`` (as they
are) against the same dependencies as plain ``def``, which FastAPI runs in its thread pool.

Both apps are built on one context and one SQLite demo association in a throw-away data dir,
called in-process over ASGI (no socket), requests interleaved; the figure is the server time of
the ``Server-Timing`` header (database + app), median of each side, and their ratio.

    .venv/bin/python bench/request_hops.py [--members 300] [--requests 2000]

Leaves out: the socket and uvicorn's HTTP parsing, and a cold cache (the history is read once
before measuring, so every measured read is a cache hit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select

from verenigingen.app_context import AppContext
from verenigingen.config import Settings
from verenigingen.members.models import Member
from verenigingen.web import deps
from verenigingen.web.app import create_app

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="verenigingen-hops-")
    os.environ["VERENIGINGEN_DATA_DIR"] = data_dir
    os.environ.pop("VERENIGINGEN_DATABASE_URL", None)
    os.environ.pop("VERENIGINGEN_REDIS_URL", None)
    cli = str(BIN / "verenigingen")
    subprocess.run(
        [cli, "init", "--admin-email", "admin@example.org"], check=True, stdout=subprocess.DEVNULL
    )
    subprocess.run(
        [cli, "demo", "--members", str(args.members), "--months", "12"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    token = subprocess.run(
        [cli, "users", "token", "admin@example.org"], check=True, capture_output=True, text=True
    ).stdout.strip()
    asyncio.run(measure(token, args.requests))


def plain_bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(deps._bearer)],
) -> str:
    assert credentials is not None
    return credentials.credentials


def plain_context(request: Request) -> AppContext:
    return deps.get_context(request)


def thread_pool_variant(app: FastAPI) -> FastAPI:
    """``app`` with its I/O-free dependencies replaced by plain functions."""
    app.dependency_overrides[deps.bearer_token] = plain_bearer_token
    app.dependency_overrides[deps.context_dependency] = plain_context
    return app


def server_ms(response: httpx.Response) -> float:
    parts = [part.strip() for part in response.headers["server-timing"].split(",")]
    return sum(float(part.split("dur=")[1].split(";")[0]) for part in parts)


async def measure(token: str, requests: int) -> None:
    context = AppContext.build(Settings())
    with context.sessions() as session:
        member_id = session.scalar(select(Member.id).order_by(Member.id).limit(1))
    url = f"/api/v1/members/{member_id}/payment-history"
    headers = {"Authorization": f"Bearer {token}"}
    sides = {"async": create_app(context), "thread pool": thread_pool_variant(create_app(context))}
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
        )
        for name, app in sides.items()
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for client in clients.values():
        for _ in range(100):
            response = await client.get(url)
            assert response.status_code == 200, response.text
    for index in range(requests):
        order = list(clients) if index % 2 else list(reversed(clients))
        for name in order:
            times[name].append(server_ms(await clients[name].get(url)))
    for client in clients.values():
        await client.aclose()
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:<12} server time p50 {median:.3f} ms ({requests} requests)")
    print(f"async / thread pool: {medians['async'] / medians['thread pool']:.2f}")


if __name__ == "__main__":
    main()
