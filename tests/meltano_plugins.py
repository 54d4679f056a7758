"""Meltano's plugins, installed once per test session and shared by every test's project.

Installing the plugins (the tap, three loaders, two dbt utilities) is the slow part of a
Meltano test, and what it installs is the same for every test. So the session installs
them once, into this project's own Meltano folder (`.meltano/`, where `meltano install`
puts them for `make demo` too), and each test gets a Meltano system folder of its own
(`MELTANO_SYS_DIR_ROOT`): its own system database (state), run folder, logs and dbt target
folders, in which each plugin's `venv` is a link to the shared installation. Meltano checks
a plugin's fingerprint (its `pip_url` and Python) before `meltano run` and finds it
installed, so no test installs anything.

A test must never run `meltano install` against its linked folder: Meltano would rebuild
the shared virtual environment under every other test. `meltano_env` is what every Meltano
command of a test runs with.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from tests.helpers import MELTANO_COMMAND, REPO, clean_env, locked

if TYPE_CHECKING:
    from pathlib import Path

#: Where the session's installation lives: the project's own Meltano folder.
SHARED = REPO / ".meltano"
PLUGIN_KINDS = ("extractors", "loaders", "utilities", "mappers", "transformers")
#: Written once the plugins are installed, with the test run's ID: the other workers of
#: the same run (pytest-xdist) then reuse the installation instead of repeating it.
MARKER = SHARED / ".installed-for-test-run"


def install_once(run_id: str) -> Path:
    """Install every plugin of meltano.yml into the shared folder, once per test run.

    `meltano install` checks nothing: it reinstalls every plugin it is given. Under the
    lock, only the first worker of a run installs; the others find the marker and wait for
    nothing. Later runs install again (a changed pin or pip_url takes effect), which costs a
    few seconds once uv's cache holds the packages.
    """
    with locked(SHARED / ".install.lock"):
        if MARKER.exists() and MARKER.read_text() == run_id:
            return SHARED
        MARKER.unlink(missing_ok=True)
        done = subprocess.run(
            [MELTANO_COMMAND, "install"],
            cwd=REPO,
            env=clean_env(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false"),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            msg = f"meltano install failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            raise RuntimeError(msg)
        MARKER.write_text(run_id)
    return SHARED


def system_folder(path: Path, *plugins: str) -> Path:
    """A Meltano system folder of a test's own at `path`, its plugins (`plugins`, or every
    one) linked to the session's.

    Everything Meltano writes (the system database with the state, the run folder, logs)
    lands here; only the plugins' virtual environments are shared.
    """
    path.mkdir(parents=True, exist_ok=True)
    for kind in PLUGIN_KINDS:
        for plugin in sorted((SHARED / kind).glob("*/venv")):
            if plugins and plugin.parent.name not in plugins:
                continue
            link = path / kind / plugin.parent.name / "venv"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(plugin, target_is_directory=True)
    return path


def meltano_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a Meltano command of a test whose system folder is `home`.

    The dbt utilities write compiled SQL, run results and logs under `home` too: their
    default folders are inside `transform/`, which every test shares.
    """
    dbt = {}
    for adapter in ("postgres", "duckdb"):
        prefix = f"DBT_{adapter.upper()}"
        dbt[f"{prefix}_TARGET_PATH"] = str(home / "dbt" / adapter / "target")
        dbt[f"{prefix}_LOG_PATH"] = str(home / "dbt" / adapter / "logs")
    return clean_env(
        MELTANO_SYS_DIR_ROOT=str(home),
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        **dbt,
        **settings,
    )
