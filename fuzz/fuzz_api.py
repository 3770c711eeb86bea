"""Fuzz the API with schemathesis, as an outsider would: a real server on a throw-away SQLite
association, attacked through its own OpenAPI document with an administrator's token and then a
member's.

Every case must get an answer that is no server error, whose status the document lists for the
operation, and whose body and content type match the document. The run is reproducible: a fixed
seed, one worker, the same demo association (its seed is fixed too). ``make test`` runs it
bounded (``--max-examples 20``: a minute or two); ``make fuzz`` runs it long.

    .venv/bin/python fuzz/fuzz_api.py [--max-examples N] [--seed S] [--keep]

Prints one line per role (cases generated, failures, seconds) and exits non-zero on any failure;
the reports (JUnit XML) and the server's log are in the printed directory.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
ROLES = {"administrator": "admin@example.org", "member": "lid@example.org"}
SELF_DEFEATING = r"/revoke$|/disable$"
GENERATED = re.compile(r"(\d+) generated")


@dataclass
class RunResult:
    role: str
    cases: int
    passed: bool
    seconds: float


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=20, help="cases per operation")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--members", type=int, default=60, help="members of the demo")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and reports")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="verenigingen-fuzz-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERENIGINGEN_")}
    env |= {"VERENIGINGEN_DATA_DIR": str(workdir / "var"), "VERENIGINGEN_DAILY_JOBS": "0"}
    # Every case comes from one address and many are failed logins: with the usual limits the
    # server would soon answer nothing but 429 (tests/web/test_auth_throttle.py tests those).
    env |= {"VERENIGINGEN_AUTH_FAILURES_PER_ADDRESS": "1000000"}
    tokens = prepare(env, args.members)
    port = free_port()
    log = (workdir / "serve.log").open("w")
    server = subprocess.Popen(
        [BIN / "verenigingen", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        results = [
            fuzz(role, tokens[role], port, args, workdir, env)
            for role in ("administrator", "member")
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    for result in results:
        verdict = "ok" if result.passed else "FAILED"
        print(f"{result.role:<14} {result.cases:>6} cases  {result.seconds:6.1f} s  {verdict}")
    failed = not all(result.passed for result in results)
    if failed or args.keep:
        print(f"reports and the server's log: {workdir}")
    else:
        shutil.rmtree(workdir)
    return 1 if failed else 0


def prepare(env: dict[str, str], members: int) -> dict[str, str]:
    """A fresh association with the demo's users; a token for each role fuzzed."""
    cli = [str(BIN / "verenigingen")]
    subprocess.run(
        [*cli, "init", "--admin-email", ROLES["administrator"]],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [*cli, "demo", "--members", str(members), "--months", "6"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {
        role: subprocess.run(
            [*cli, "users", "token", email], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        for role, email in ROLES.items()
    }


def fuzz(
    role: str, token: str, port: int, args: argparse.Namespace, workdir: Path, env: dict[str, str]
) -> RunResult:
    started = time.perf_counter()
    run = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"http://127.0.0.1:{port}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            # Revoking and disabling would end the run: the fuzzer would revoke its own token or
            # disable the member it runs as, and get nothing but 401 afterwards.
            "--exclude-path-regex",
            SELF_DEFEATING,
            "--seed",
            str(args.seed),
            "--max-examples",
            str(args.max_examples),
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--report",
            "junit",
            "--report-junit-path",
            str(workdir / f"{role}.junit.xml"),
            "--no-color",
        ],
        env=env,
        cwd=workdir,  # schemathesis keeps its state in ./.schemathesis: not in the repository
        capture_output=True,
        text=True,
    )
    (workdir / f"{role}.txt").write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        print(run.stdout[-6000:], file=sys.stderr)
    generated = GENERATED.findall(run.stdout)
    cases = int(generated[-1]) if generated else 0
    return RunResult(role, cases, run.returncode == 0, time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a loopback URL of ours)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
