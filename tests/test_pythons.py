"""The Pythons the tap declares are the Pythons CI tests: pyproject.toml's classifiers (what
.ci/run runs `make check` on), its requires-python, and the Hub definition's
supported_python_versions all name the same versions."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys

import yaml
from packaging.specifiers import SpecifierSet

from tests.helpers import REPO

DECLARED = runpy.run_path(str(REPO / ".ci" / "declared_pythons.py"))["declared"]
REQUIRES_PYTHON = re.search(
    r'^requires-python = "(.*)"$', (REPO / "pyproject.toml").read_text(), re.MULTILINE
).group(1)


def test_requires_python_admits_exactly_the_declared_versions():
    declared = DECLARED(REPO / "pyproject.toml")
    assert declared == sorted(declared, key=lambda v: tuple(map(int, v.split("."))))
    specifiers = SpecifierSet(REQUIRES_PYTHON)
    admitted = [f"3.{minor}" for minor in range(30) if f"3.{minor}" in specifiers]
    assert admitted == declared


def test_the_hub_definition_supports_the_declared_versions():
    hub = yaml.safe_load((REPO / "tap-hindsight.yml").read_text(encoding="utf-8"))
    assert hub["supported_python_versions"] == DECLARED(REPO / "pyproject.toml")


def test_ci_runs_the_fast_tier_on_each_declared_version():
    printed = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "declared_pythons.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert printed == DECLARED(REPO / "pyproject.toml")
    ci = (REPO / ".ci" / "run").read_text()
    assert "declared=$(python3 .ci/declared_pythons.py)" in ci
    assert 'make check PYTHON="$python" VENV=".venv-$version"' in ci
    # This interpreter is one of them.
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in printed
