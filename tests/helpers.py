"""Running the real tap command against the simulator, and reading what it printed."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import runpy
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tap_hindsight.records import storable
from tests.tap_forkserver import TapServer

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The console scripts installed next to the interpreter running the tests.
TAP_COMMAND = str(Path(sys.executable).with_name("tap-hindsight"))
MELTANO_COMMAND = str(Path(sys.executable).with_name("meltano"))
#: The Meltano project of this repository.
REPO = Path(__file__).resolve().parent.parent


@functools.cache
def plugin_files() -> dict[str, Any]:
    """`.ci/plugin_files.py`'s names: the maintainer's tool that derives meltano.yml's
    settings and the Hub definition from the tap's schema (outside the package: the wheel
    holds the tap). Loaded once, by the tests that use it, not by every importer here."""
    return runpy.run_path(str(REPO / ".ci" / "plugin_files.py"))


ACME_KEY = "hs_sim_acme_key"
#: The marks of the test being run (set by conftest before its fixtures): helpers that
#: start a service refuse to in a test not marked for it, so `make check` stays clean.
CURRENT_MARKS: set[str] = set()


def require_mark(mark: str, what: str) -> None:
    """Fail the test unless it is marked `mark` (the fixtures of conftest.py mark it)."""
    if mark not in CURRENT_MARKS:
        msg = (
            f"{what} in a test not marked {mark!r}: use the conftest fixture that starts it "
            f"(or mark the test), so that `make check` leaves it out"
        )
        raise AssertionError(msg)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class FakeClock:
    """A clock that moves only when a test moves it (`now`), for the tap's clock seams."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class TapRun:
    """One finished run of `tap-hindsight`: exit code, output and parsed messages."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str = "interviews") -> list[dict[str, Any]]:
        """RECORD payloads of `stream`, in emission order."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def records_by_id(self) -> dict[int, dict[str, Any]]:
        """Interview records keyed by ID (fails on a duplicate)."""
        by_id: dict[int, dict[str, Any]] = {}
        for record in self.records():
            interview_id = record["interview_request_id"]
            assert interview_id not in by_id, f"interview {interview_id} emitted twice"
            by_id[interview_id] = record
        return by_id

    def states(self) -> list[dict[str, Any]]:
        """Every STATE value, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    def log(self) -> str:
        """stderr without the SDK's dated notice that the running Python nears or passed
        its end of life (a WARNING, then the source line it quotes): on Python 3.10 every
        run logs it since 2026-10, and it is the SDK's word, not the tap's."""
        kept: list[str] = []
        in_notice = False
        for line in self.stderr.splitlines(keepends=True):
            if in_notice and (not line.strip() or line.startswith(" ")):
                continue  # the notice's source line, and the blank line that ends it
            in_notice = "SingerSDKPythonEOLWarning:" in line
            if not in_notice:
                kept.append(line)
        return "".join(kept)


#: Variables of a developer's shell that would reach into a test: the tap's and the
#: loaders' settings, Meltano's folders and system database, dbt's paths.
LEAKY = ("TAP_HINDSIGHT_", "TARGET_", "MELTANO_", "DBT_")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any setting leaking in from the shell (LEAKY), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY)}
    env.pop("LOGLEVEL", None)
    env.update(extra)
    return env


#: Forks the tap's runs from a process that has imported it (tests/tap_forkserver.py).
TAP_SERVER = TapServer(clean_env(), REPO)


def run_tap(
    workdir: Path,
    config: dict[str, Any] | None,
    *args: str,
    env: dict[str, str] | None = None,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    timeout: float = 180,
    fresh: bool = False,
) -> TapRun:
    """Run `tap-hindsight` in `workdir` (no stray .env) and parse its stdout strictly.

    The run is a child of the test process's tap server (tests/tap_forkserver.py), which
    has the tap imported already; with `fresh` (or HINDSIGHT_TESTS_FRESH_TAP=1), the
    console script is started from scratch.
    """
    command = [TAP_COMMAND]
    if config is not None:
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(config))
        command += ["--config", str(config_path)]
    if state is not None:
        state_path = workdir / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    if catalog is not None:
        catalog_path = workdir / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_path)]
    command += list(args)
    env = env if env is not None else clean_env()
    if fresh or os.environ.get("HINDSIGHT_TESTS_FRESH_TAP") == "1":
        done = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run = TapRun(done.returncode, done.stdout, done.stderr)
    else:
        run = TapRun(*TAP_SERVER.run(command, workdir, env, timeout))
    if "--about" not in args and "--discover" not in args:
        # stdout carries Singer messages only: every line must parse as one.
        for line in run.stdout.splitlines():
            message = json.loads(line)
            assert message["type"] in {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"}
            run.messages.append(message)
    return run


def catalog_selecting(workdir: Path, *streams: str) -> dict[str, Any]:
    """The tap's discovered catalog with only `streams` selected."""
    catalog: dict[str, Any] = json.loads(run_tap(workdir, {}, "--discover").stdout)
    for stream in catalog["streams"]:
        for metadata in stream["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = stream["tap_stream_id"] in streams
    return catalog


def expected_record(simulator: Any, interview_id: int) -> dict[str, Any]:
    """What the tap must emit for this ID: the API's answer with NUL characters removed."""
    return storable(simulator.interview(interview_id))


#: Every pending interview due at every run: tests that run the tap twice in a row and
#: look at what changed use it; tests of the polling rule (test_polling.py) set their own.
EVERY_RUN = {"poll_age_ratio": 0, "min_poll_interval_minutes": 0}


def tap_config(simulator: Any, ids: list[int], **settings: Any) -> dict[str, Any]:
    """A config pointing the tap at `simulator` with the acme key, polling every run."""
    config: dict[str, Any] = {
        "api_key": ACME_KEY,
        "base_url": simulator.url,
        "interview_ids": ids,
        "requests_per_minute": 1000,
        "max_retries": 3,
        **EVERY_RUN,
    }
    config.update(settings)
    return config


def run_meltano(
    env: dict[str, str],
    *args: str,
    cwd: Path = REPO,
    expect: int | None = 0,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run the real `meltano` in `cwd` (this project by default); check its exit code
    unless `expect` is None, showing the end of its output when it differs."""
    require_mark("meltano", "Meltano runs")
    if args[:1] == ("install",):
        # It would rebuild (or upgrade) the session's shared plugins under every other test.
        home = Path(env.get("MELTANO_SYS_DIR_ROOT", cwd / ".meltano"))
        named = [a for a in args[1:] if not a.startswith("-")] or ["*"]
        linked = [p for name in named for p in home.glob(f"*/{name}/venv") if p.is_symlink()]
        assert not linked, f"`meltano install` of the session's shared plugins: {linked}"
    done = subprocess.run(
        [MELTANO_COMMAND, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if expect is not None:
        assert done.returncode == expect, done.stdout[-3000:] + done.stderr[-3000:]
    return done
