"""Where an API process's idle memory goes: the RSS each group of imports adds.

    .venv/bin/python bench/import_memory.py

In this fresh interpreter the groups below are imported in the order the app needs them, and
``VmRSS`` is read after each; then the app is built on a throw-away SQLite data dir and the job
consumer's task modules are loaded, as ``verenigingen serve`` does before it answers. A group's
figure is what it adds after the groups above it (a module two groups share counts for the
first). Leaves out: uvicorn serving, the consumer's thread and what its first jobs load (the
difference to bench/memory.py's idle figure). docs/benchmarks.md, "Memory".
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GROUPS: list[tuple[str, list[str]]] = [
    ("FastAPI with Starlette, Pydantic, asyncio (ssl)", ["fastapi"]),
    ("pydantic.v1 (FastAPI checks each route's models against it)", ["pydantic.v1"]),
    ("SQLAlchemy: ORM and the SQLite dialect", ["sqlalchemy.orm", "sqlalchemy.dialects.sqlite"]),
    ("SQLAlchemy: the MySQL dialect (cache.models' column type)", ["sqlalchemy.dialects.mysql"]),
    ("gevent (huey.consumer imports it when installed)", ["gevent"]),
    ("redis-py (huey.storage imports it)", ["redis"]),
    ("psycopg (huey.storage imports it)", ["psycopg"]),
    ("Huey", ["huey"]),
    (
        "uvicorn, jinja2, pydantic-settings, limits, prometheus-client, babel, schwifty, argon2",
        [
            "uvicorn",
            "jinja2",
            "pydantic_settings",
            "limits",
            "prometheus_client",
            "babel",
            "schwifty",
            "argon2",
        ],
    ),
    ("project: the models", ["verenigingen.models"]),
    ("project: the API routers, their services and schemas", ["verenigingen.web.api.*"]),
    ("project: the desk pages", ["verenigingen.web.pages"]),
    ("project: the rest of the API process's modules", ["verenigingen.web.server"]),
]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def import_group(modules: list[str]) -> None:
    for name in modules:
        if name.endswith(".*"):
            package = importlib.import_module(name.removesuffix(".*"))
            for module in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{package.__name__}.{module.name}")
        else:
            importlib.import_module(name)


def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="verenigingen-imports-")
    os.environ.pop("VERENIGINGEN_DATABASE_URL", None)
    os.environ.pop("VERENIGINGEN_REDIS_URL", None)
    os.environ["VERENIGINGEN_DATA_DIR"] = data_dir
    cli = Path(sys.executable).with_name("verenigingen")
    subprocess.run(
        [str(cli), "init", "--admin-email", "admin@example.org"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    before = rss_mb()
    print(f"{before:6.1f} MB  the interpreter, with this script's modules (tempfile loads OpenSSL)")
    for label, modules in GROUPS:
        import_group(modules)
        after = rss_mb()
        print(f"{after - before:6.1f} MB  {label}")
        before = after

    from verenigingen.config import get_settings
    from verenigingen.startup import load_all
    from verenigingen.web.server import app_from_environment

    app_from_environment()
    load_all(get_settings())
    after = rss_mb()
    print(f"{after - before:6.1f} MB  the app built, the job consumer's task modules loaded")
    print(f"{after:6.1f} MB  together")
    shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
