"""The code stays formatted, lint-clean (ruff, all rules) and type-checked (mypy --strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command):
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_check():
    run(str(BIN / "ruff"), "check", ".")


def test_ruff_format():
    run(str(BIN / "ruff"), "format", "--check", ".")


def test_mypy_strict():
    run(str(BIN / "mypy"), "tap_hindsight")
