"""Past one machine: Meltano's system database in PostgreSQL (`MELTANO_DATABASE_URI`) holds
one state for every worker that runs the pipeline."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest

from tap_hindsight.simulator import Organisation
from tests.helpers import ACME_KEY, REPO, clean_env, run_meltano
from tests.postgres import Database, create_database, drop_database

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.meltano

IDS = list(range(1001, 1041))
STATE_ID = "dev:tap-hindsight-to-target-postgres"
#: What a worker's checkout does not share with the repository: installs, outputs, VCS.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-airflow",
    ".meltano",
    "output",
    "target",
    "logs",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "dist",
    "build",
)


def system_database_uri(database: Database) -> str:
    """A SQLAlchemy URI for Meltano's system database (psycopg 3, `meltano[postgres]`)."""
    return (
        f"postgresql+psycopg://{database.user}:{database.password}"
        f"@{database.host}:{database.port}/{database.name}"
    )


@pytest.fixture
def databases():
    """Meltano's system database and the warehouse: two databases on the same server."""
    system, warehouse = create_database(), create_database()
    yield system, warehouse
    drop_database(system)
    drop_database(warehouse)


def worker(tmp_path: Path, name: str) -> Path:
    """A separate checkout of this project, with its own `.meltano` (plugin installs)."""
    project = tmp_path / name
    shutil.copytree(REPO, project, ignore=NOT_COPIED)
    return project


def worker_env(project: Path, simulator, system: Database, warehouse: Database, **extra):
    return clean_env(
        MELTANO_SYS_DIR_ROOT=str(project / ".meltano"),
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_DATABASE_URI=system_database_uri(system),
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, IDS)),
        TAP_HINDSIGHT_PLAN="enterprise",
        # Runs follow each other at once: poll every pending interview.
        TAP_HINDSIGHT_POLL_AGE_RATIO="0",
        TAP_HINDSIGHT_MIN_POLL_INTERVAL_MINUTES="0",
        TARGET_POSTGRES_HOST=warehouse.host,
        TARGET_POSTGRES_PORT=str(warehouse.port),
        TARGET_POSTGRES_USER=warehouse.user,
        TARGET_POSTGRES_PASSWORD=warehouse.password,
        TARGET_POSTGRES_DATABASE=warehouse.name,
        **extra,
    )


def loaded(warehouse: Database) -> list[tuple[int, str]]:
    with warehouse.connect() as connection:
        return connection.execute(
            "SELECT interview_request_id, status FROM hindsight.interviews ORDER BY 1"
        ).fetchall()


def test_two_workers_share_one_state(start_simulator, databases, tmp_path):
    system, warehouse = databases
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 40),))
    first, second = worker(tmp_path, "worker-a"), worker(tmp_path, "worker-b")
    env_first = worker_env(first, simulator, system, warehouse)
    env_second = worker_env(second, simulator, system, warehouse)
    for project, env in ((first, env_first), (second, env_second)):
        run_meltano(env, "install", "tap-hindsight", "target-postgres", cwd=project)

    run_meltano(env_first, "run", "tap-hindsight", "target-postgres", cwd=first)
    assert loaded(warehouse) == [(i, simulator.status_of(i)) for i in IDS]
    # The second worker, which has never run, reads the first's state.
    state_first = run_meltano(env_first, "state", "get", STATE_ID, cwd=first).stdout
    state_second = run_meltano(env_second, "state", "get", STATE_ID, cwd=second).stdout
    assert json.loads(state_second) == json.loads(state_first)
    assert json.loads(state_second)["singer_state"]["bookmarks"]["interviews"]
    assert not (first / ".meltano" / "meltano.db").exists()  # not in a file on one machine

    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    simulator.advance(pending[:10])
    simulator.reset_stats()
    run_meltano(env_second, "run", "tap-hindsight", "target-postgres", cwd=second)
    # Only what the first worker left pending was fetched; the changes were loaded.
    assert simulator.stats()["interview_requests"] == len(pending)
    assert all(simulator.requests_for(i) == 1 for i in pending)
    assert loaded(warehouse) == [(i, simulator.status_of(i)) for i in IDS]
    state_after = run_meltano(env_first, "state", "get", STATE_ID, cwd=first).stdout
    assert json.loads(state_after) == json.loads(
        run_meltano(env_second, "state", "get", STATE_ID, cwd=second).stdout
    )
    assert json.loads(state_after) != json.loads(state_first)  # the second run's, shared
