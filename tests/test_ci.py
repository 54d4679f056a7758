"""`.ci/run`'s verdict, with `make` stood in for (each target's exit code chosen): it fails
when any target fails, the other Pythons' `make check` in the background included, and
passes only when all pass. The real targets run in CI itself."""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.helpers import REPO

if TYPE_CHECKING:
    from pathlib import Path

DECLARED = runpy.run_path(str(REPO / ".ci" / "declared_pythons.py"))["declared"](
    REPO / "pyproject.toml"
)

#: A `make` that says what it was asked and fails the targets named in FAIL (a pattern).
FAKE_MAKE = """#!/bin/sh
echo "make $*"
case "$*" in $FAIL) exit 2 ;; esac
exit 0
"""


def run_ci(tmp_path: Path, fail: str, pythons: str = "") -> subprocess.CompletedProcess[str]:
    """`.ci/run` in a copy of the CI files, each declared Python a link to this one."""
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / ".ci", checkout / ".ci")
    shutil.copy(REPO / "pyproject.toml", checkout)
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / "make").write_text(FAKE_MAKE)
    (bin_folder / "make").chmod(0o755)
    for version in DECLARED:
        folder = tmp_path / "pyenv" / "versions" / f"{version}.0" / "bin"
        folder.mkdir(parents=True)
        (folder / "python").symlink_to(sys.executable)
    env = {
        "PATH": f"{bin_folder}:/usr/bin:/bin",
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "FAIL": fail,
        "CI_PYTHONS": pythons,
    }
    return subprocess.run(
        ["bash", ".ci/run"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_target_passing_passes_and_the_fast_tiers_log_comes_at_the_end(tmp_path):
    done = run_ci(tmp_path, fail="nothing")
    assert done.returncode == 0, done.stderr
    log = done.stdout + done.stderr
    assert "make test PYTHON=" in log
    assert "make release-check PYTHON=" in log
    checks = [line for line in done.stderr.splitlines() if line.startswith("make check")]
    assert len(checks) >= 1
    assert done.stderr.index("make release-check") < done.stderr.index(checks[0])


@pytest.mark.parametrize("fail", ["check*", "test*", "lint*", "release-check*"])
def test_any_target_failing_fails_the_run_and_is_named(tmp_path, fail):
    done = run_ci(tmp_path, fail=fail)
    assert done.returncode == 1
    assert "failed" in done.stderr


def test_a_single_python_runs_its_fast_tier_alone(tmp_path):
    other = next(v for v in DECLARED if v != "3.11")
    done = run_ci(tmp_path, fail="nothing", pythons=other)
    assert done.returncode == 0, done.stderr
    assert f"VENV=.venv-{other}" in done.stderr
    assert "make test" not in done.stderr + done.stdout
    assert run_ci(tmp_path / "again", fail="check*", pythons=other).returncode == 1
