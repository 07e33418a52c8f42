"""The layering contracts in pyproject.toml (``lint-imports``, run by ``make lint``) hold for the
code as it is, and each one fails when an import breaks it: checked on a copy of the sources."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'operator'}{os.pathsep}{tree / 'emulator'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of pyproject.toml and both packages, to break at will."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("operator/neon_operator", "emulator/neon_emulator"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_sources_keep_every_contract(sources: Path) -> None:
    result = lint_imports(sources)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "operator/neon_operator/reconcilers/snapshot.py",
            "import kopf",
            "Only the handlers and the runner know kopf BROKEN",
        ),
        (
            "operator/neon_operator/reconcilers/appdatabase.py",
            "from neon_operator import handlers",
            "Operator layers import only downward BROKEN",
        ),
        (
            "operator/neon_operator/neon/client.py",
            "from neon_operator.reconcilers import context",
            "Operator layers import only downward BROKEN",
        ),
        (
            "emulator/neon_emulator/ids.py",
            "import neon_operator.connection",
            "The emulator never imports the operator BROKEN",
        ),
        (
            "operator/neon_operator/connection.py",
            "import neon_emulator.ids",
            "The operator never imports the emulator BROKEN",
        ),
    ],
)
def test_an_import_across_a_boundary_breaks_its_contract(
    sources: Path, module: str, line: str, contract: str
) -> None:
    path = sources / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")

    result = lint_imports(sources)

    assert result.returncode != 0
    assert contract in result.stdout, result.stdout
