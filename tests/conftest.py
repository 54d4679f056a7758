"""Shared fixtures: the API simulator, Meltano's plugins (installed once per session), each
test's own Meltano system folder, and throwaway PostgreSQL databases.

Tests that use the Meltano or PostgreSQL fixtures are marked `meltano` or `postgres` here,
from the fixtures they use, so that `make check` (which leaves those marks out) can never
pick one up by mistake; `run_meltano` and `create_database` refuse to run in a test that
lacks the mark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

from hindsight_simulator import HindsightSimulator, SimulatorConfig
from tap_hindsight.window import VARIABLE as WINDOW_VARIABLE
from tests import helpers
from tests.meltano_plugins import install_once, system_folder
from tests.postgres import create_database, drop_database, ensure_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.postgres import Database

#: Hypothesis times each example (`deadline`, 200 ms) and how long it takes to generate
#: inputs (`too_slow`): wall-clock margins, which a loaded 2-core machine breaks (CI runs
#: the Pythons' `make check` beside each other; a transcript round trip failed "Input
#: generation is slow"). The property tests judge what the code does, never how fast.
settings.register_profile("untimed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("untimed")
#: `make check` runs the property tests on fewer examples (`--hypothesis-profile=check`);
#: `make test` on hypothesis's default, and test_fuzz.py's fuzzing on three times as many.
settings.register_profile("check", parent=settings.get_profile("untimed"), max_examples=30)

#: The fixture a test's closure holds -> the mark it gets.
MARKS_BY_FIXTURE = {
    "meltano_plugins": "meltano",
    "postgres_server": "postgres",
    "dists": "package",
}
#: Tests with these marks take tens of seconds each: they start first, so that pytest-xdist's
#: workers end together instead of waiting on one that drew a long test last (with
#: `--dist worksteal`, which the Makefile asks for, so that they are not queued in a row).
LONG = ("airflow", "meltano", "package", "scale", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the services its fixtures start; put the long ones first."""
    for item in items:
        for fixture, mark in MARKS_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(mark)
    items.sort(key=lambda item: not any(item.get_closest_marker(mark) for mark in LONG))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tell the helpers which marks the test about to run has (before any fixture)."""
    helpers.CURRENT_MARKS.clear()
    helpers.CURRENT_MARKS.update(mark.name for mark in item.iter_markers())


@pytest.fixture
def start_simulator(request: pytest.FixtureRequest) -> Iterator[Callable[..., HindsightSimulator]]:
    """Start simulators with SimulatorConfig fields as keyword arguments.

    They serve no deals unless the test asks (`serve_deals=True`) or its module says
    `SERVE_DEALS = True`: every run of a test of the interviews would otherwise sync a
    thousand deal rows it never looks at.
    """
    started: list[HindsightSimulator] = []
    serve_deals = getattr(request.module, "SERVE_DEALS", False)

    def start(**config: Any) -> HindsightSimulator:
        config.setdefault("serve_deals", serve_deals)
        simulator = HindsightSimulator(SimulatorConfig(**config)).start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def simulator(start_simulator: Callable[..., HindsightSimulator]) -> HindsightSimulator:
    """A well-behaved simulator with default data."""
    return start_simulator()


@pytest.fixture
def short_window(monkeypatch: pytest.MonkeyPatch) -> float:
    """The API's budget window shortened to 5 s for the simulators this test starts and the
    taps it runs (they read it from one place: tap_hindsight/window.py), so that a test
    proves the budget over whole windows without waiting out Hindsight's minute. Long
    enough that a tap starved of CPU (make test on a busy machine) still sends a budget's
    few requests within one window."""
    seconds = 5.0
    monkeypatch.setenv(WINDOW_VARIABLE, f"{seconds:g}")
    return seconds


@pytest.fixture(scope="session")
def meltano_plugins() -> Path:
    """The session's one installation of meltano.yml's plugins (see meltano_plugins.py).

    pytest-xdist's workers share the run's ID, so the first one installs and the others
    reuse what it installed.
    """
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    return install_once(run_id)


@pytest.fixture
def meltano_home(meltano_plugins: Path, tmp_path: Path) -> Path:
    """A Meltano system folder of this test's own, its plugins those of the session."""
    assert meltano_plugins.is_dir()
    return system_folder(tmp_path / ".meltano")


@pytest.fixture(scope="session")
def postgres_server() -> None:
    """The machine's PostgreSQL server, started if it was down."""
    ensure_server()


@pytest.fixture
def database(postgres_server: None) -> Iterator[Database]:
    """A fresh database and loading role (time zone America/New_York), dropped afterwards."""
    db = create_database(time_zone="America/New_York")
    yield db
    drop_database(db)


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel built from this checkout, once per test process."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(helpers.REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out
