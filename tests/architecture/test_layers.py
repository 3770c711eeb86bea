"""The layer order of docs/architecture.md holds, and a reverse import breaks it.

``make lint`` runs the same contracts (``lint-imports``); these tests prove that the contracts
can fail: a copy of the package with one planted upward import is refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy's package is found before the installed (editable) one.
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run(  # noqa: S603  (the project's own lint-imports, fixed arguments)
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "src" / "verenigingen",
        tmp_path / "src" / "verenigingen",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return tmp_path


def plant(project: Path, module: str, line: str) -> None:
    path = project / "src" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_layers_hold_on_the_copy(project_copy: Path) -> None:
    result = lint_imports(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The ledger learning about the read model: the cycle the events removed.
        (
            "verenigingen.billing.service.payments",
            "from verenigingen.history import pipeline  # noqa",
            "verenigingen.billing is not allowed to import verenigingen.history",
        ),
        # Two siblings that must not know each other.
        (
            "verenigingen.dues.service",
            "import verenigingen.sepa.models  # noqa",
            "verenigingen.dues is not allowed to import verenigingen.sepa",
        ),
        # The platform importing a domain.
        (
            "verenigingen.jobs.outbox",
            "import verenigingen.members.models  # noqa",
            "verenigingen.jobs is not allowed to import verenigingen.members",
        ),
    ],
)
def test_a_planted_reverse_import_breaks_the_contract(
    project_copy: Path, module: str, line: str, broken: str
) -> None:
    plant(project_copy, module, line)
    result = lint_imports(project_copy)
    assert result.returncode == 1
    assert "1 broken" in result.stdout
    assert broken in result.stdout
