"""Past one machine: Meltano's system database in PostgreSQL (`MELTANO_DATABASE_URI`) holds
one state for every worker that runs the pipeline."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from hindsight_simulator import Organisation
from tap_hindsight.records import storable
from tap_hindsight.store import STATE_KEY, read_interviews
from tap_hindsight.transcript import parse_turns
from tests.helpers import ACME_KEY, MELTANO_COMMAND, REPO, run_meltano
from tests.meltano_plugins import meltano_env, system_folder
from tests.postgres import Database, create_database, drop_database

#: The simulators of these tests serve deals (tests/conftest.py).
SERVE_DEALS = True

if TYPE_CHECKING:
    from pathlib import Path

IDS = list(range(1001, 1041))
STATE_ID = "dev:tap-hindsight-to-target-postgres"
#: What a worker's checkout does not share with the repository: installs, outputs, VCS.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv*",
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
def databases(postgres_server):
    """Meltano's system database and the warehouse: two databases on the same server."""
    system, warehouse = create_database(), create_database()
    yield system, warehouse
    drop_database(system)
    drop_database(warehouse)


def worker(tmp_path: Path, name: str) -> Path:
    """A separate checkout of this project, with its own `.meltano`."""
    project = tmp_path / name
    shutil.copytree(REPO, project, ignore=NOT_COPIED)
    return project


def worker_env(project: Path, simulator, system: Database, warehouse: Database, **extra):
    settings = {
        "MELTANO_DATABASE_URI": system_database_uri(system),
        "TAP_HINDSIGHT_API_KEY": ACME_KEY,
        "TAP_HINDSIGHT_BASE_URL": simulator.url,
        "TAP_HINDSIGHT_INTERVIEW_IDS": ",".join(map(str, IDS)),
        "TAP_HINDSIGHT_PLAN": "enterprise",
        # Runs follow each other at once: poll every pending interview.
        "TAP_HINDSIGHT_POLL_AGE_RATIO": "0",
        "TAP_HINDSIGHT_MIN_POLL_INTERVAL_MINUTES": "0",
        # These tests hold the API's answers while another run starts (run_at_once, the
        # refused second run): on a loaded CI machine that took over the default 30 s, and
        # a held deals page timed out and was asked again (3 deal requests where 2 were
        # counted). The hold is the test's, not the API's: no answer times out under it.
        "TAP_HINDSIGHT_REQUEST_TIMEOUT": "600",
        **warehouse.target_env(),
    }
    return meltano_env(project / ".meltano", **{**settings, **extra})


@pytest.fixture
def workers(meltano_plugins, tmp_path):
    """Two checkouts, each with a Meltano system folder of its own (its plugins those the
    session installed); each test gives them a fresh system database and warehouse."""
    projects = worker(tmp_path, "worker-a"), worker(tmp_path, "worker-b")
    for project in projects:
        system_folder(project / ".meltano")
    return projects


def start_run(
    project: Path, env: dict[str, str], log: Path, *options: str
) -> subprocess.Popen[str]:
    """`meltano run [options] tap-hindsight target-postgres` started in the background."""
    with log.open("w") as output:
        return subprocess.Popen(
            [MELTANO_COMMAND, "run", *options, "tap-hindsight", "target-postgres"],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )


def run_at_once(
    simulator, logs: Path, runs: dict[str, tuple[Path, dict[str, str], tuple[str, ...]]]
):
    """Run `meltano run` for each (checkout, environment, options) so that all are under
    way together, and check that each succeeded (its output is in `logs/<name>.log`).

    Answers are held until every run has a request waiting: a run's first request is its
    deals page, and pages go one at a time, so N held requests are N runs under way.
    """
    simulator.hold_answers()
    started = {}
    try:
        for name, (project, env, options) in runs.items():
            started[name] = start_run(project, env, logs / f"{name}.log", *options)
            assert simulator.wait_for_held(len(started), timeout=300)
    finally:
        simulator.release_answers()
        for run in started.values():
            run.wait(timeout=600)
    for name, run in started.items():
        assert run.returncode == 0, (logs / f"{name}.log").read_text()[-3000:]


@pytest.fixture
def acme_on_two_workers(start_simulator, databases, workers):
    """The simulator (acme's 40 interviews), the system database, the warehouse, and each
    worker's checkout with its environment pointing at both."""
    system, warehouse = databases
    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 40),))
    return (
        simulator,
        system,
        warehouse,
        *((w, worker_env(w, simulator, system, warehouse)) for w in workers),
    )


def loaded(warehouse: Database) -> list[tuple[int, str]]:
    with warehouse.connect() as connection:
        return connection.execute(
            "SELECT interview_request_id, status FROM hindsight.interviews ORDER BY 1"
        ).fetchall()


def test_two_workers_share_one_state(acme_on_two_workers):
    simulator, system, warehouse, first_worker, second_worker = acme_on_two_workers
    (first, env_first), (second, env_second) = first_worker, second_worker

    run_meltano(env_first, "run", "tap-hindsight", "target-postgres", cwd=first)
    assert loaded(warehouse) == [(i, simulator.status_of(i)) for i in IDS]
    # The second worker, which has never run, reads the first's state.
    state_first = run_meltano(env_first, "state", "get", STATE_ID, cwd=first).stdout
    state_second = run_meltano(env_second, "state", "get", STATE_ID, cwd=second).stdout
    assert json.loads(state_second) == json.loads(state_first)
    assert json.loads(state_second)["singer_state"]["bookmarks"]["interviews"]
    with system.connect() as connection:  # in PostgreSQL, not a file on one machine
        (kept,) = connection.execute(
            "SELECT count(*) FROM state WHERE state_id = %s AND completed_state IS NOT NULL",
            (STATE_ID,),
        ).fetchone()
    assert kept == 1

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


def test_meltano_refuses_a_second_run_of_the_pipeline_on_another_worker(
    acme_on_two_workers, tmp_path
):
    simulator, _, warehouse, first_worker, second_worker = acme_on_two_workers
    (first, env_first), (second, env_second) = first_worker, second_worker
    simulator.hold_answers()  # the first run stays under way until released
    running = start_run(first, env_first, tmp_path / "first.log")
    try:
        assert simulator.wait_for_held(1, timeout=300)
        refused = run_meltano(
            env_second, "run", "tap-hindsight", "target-postgres", cwd=second, expect=None
        )
    finally:
        simulator.release_answers()
        running.wait(timeout=600)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert f"Another '{STATE_ID}' pipeline is already running" in said
    assert "--force" in said
    # Every request came from the first run: each ID once, one deals page.
    assert simulator.stats()["interview_requests"] == len(IDS)
    assert simulator.stats()["deal_requests"] == 1
    assert running.returncode == 0, (tmp_path / "first.log").read_text()[-3000:]
    assert loaded(warehouse) == [(i, simulator.status_of(i)) for i in IDS]


def turn_keys(simulator) -> list[tuple[int, int]]:
    """(interview, turn) of every turn the API's transcripts hold."""
    keys = []
    for interview_id in IDS:
        transcript = storable(simulator.interview(interview_id))["transcript"]
        keys += [(interview_id, t.index) for t in parse_turns(transcript and transcript["content"])]
    return keys


def overlap_then_one_more(acme_on_two_workers, logs: Path, *second_options: str):
    """A run on the first worker, then two at once (the second with `second_options`),
    then one more on the first; the IDs pending before the overlap and after it."""
    simulator, _, _, (first, env_first), (second, env_second) = acme_on_two_workers
    run_meltano(env_first, "run", "tap-hindsight", "target-postgres", cwd=first)
    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    simulator.advance(pending[:10])

    run_at_once(
        simulator, logs, {"a": (first, env_first, ()), "b": (second, env_second, second_options)}
    )

    still_pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    run_meltano(env_first, "run", "tap-hindsight", "target-postgres", cwd=first)
    return pending, still_pending


def check_nothing_lost_or_doubled(simulator, warehouse, pending, still_pending) -> None:
    """The warehouse equals the API's data, no row twice, no interview fetched more than
    once more than the same runs in sequence would have."""
    assert loaded(warehouse) == [(i, simulator.status_of(i)) for i in IDS]
    with warehouse.connect() as connection:
        transcripts = connection.execute(
            "SELECT interview_request_id, transcript__content FROM hindsight.interviews ORDER BY 1"
        ).fetchall()
        turns = connection.execute(
            "SELECT interview_request_id, turn_index FROM hindsight.interview_turns ORDER BY 1, 2"
        ).fetchall()
        deals = connection.execute("SELECT count(*), count(DISTINCT id) FROM hindsight.deals")
        (deal_rows, distinct_deals) = deals.fetchone()
    assert transcripts == [
        (i, (storable(simulator.interview(i))["transcript"] or {}).get("content")) for i in IDS
    ]
    assert turns == turn_keys(simulator)  # every turn once, though both runs loaded them
    assert deal_rows == distinct_deals == len(simulator.deals("acme"))
    # In sequence, an interview is fetched by the first run, by the next if it was pending
    # then, and by the last if it still was; overlapping, at most once more.
    for interview_id in IDS:
        sequential = 1 + (interview_id in pending) + (interview_id in still_pending)
        assert simulator.requests_for(interview_id) <= sequential + 1, interview_id


def test_runs_forced_to_overlap_lose_nothing(acme_on_two_workers, tmp_path):
    # Two runs of the same pipeline at once: Meltano's check overridden with --force.
    pending, still_pending = overlap_then_one_more(acme_on_two_workers, tmp_path, "--force")
    simulator, _, warehouse, *_ = acme_on_two_workers
    check_nothing_lost_or_doubled(simulator, warehouse, pending, still_pending)


def test_two_state_ids_over_one_warehouse_lose_nothing(acme_on_two_workers, tmp_path):
    # A run under another state ID (a manual `--state-id-suffix`, a renamed job) is not
    # refused by Meltano: it starts from no state (its first run fetches every interview
    # once, the "once more") and loads the same tables as the scheduled pipeline, at once.
    suffix = ("--state-id-suffix", "manual")
    pending, still_pending = overlap_then_one_more(acme_on_two_workers, tmp_path, *suffix)
    simulator, _, warehouse, (first, env_first), _ = acme_on_two_workers
    check_nothing_lost_or_doubled(simulator, warehouse, pending, still_pending)
    for state_id in (STATE_ID, f"{STATE_ID}:manual"):  # each state ID kept its own
        state = json.loads(run_meltano(env_first, "state", "get", state_id, cwd=first).stdout)
        assert read_interviews(
            state["singer_state"]["bookmarks"]["interviews"][STATE_KEY]
        ).completed


def test_two_organisations_load_in_parallel_as_separate_pipelines(
    start_simulator, databases, workers, tmp_path
):
    # One API key's budget caps one organisation's extraction; more machines help when
    # there are several keys: one pipeline per organisation, its own state ID and schema.
    system, warehouse = databases
    organisations = (
        Organisation("acme", ACME_KEY, 1001, 30),
        Organisation("globex", "hs_sim_globex_key", 500_001, 30),
    )
    simulator = start_simulator(organisations=organisations)
    # One checkout each (separate Airflow workers, or folders on one machine): from one
    # project folder the second run made no request while the first was under way.
    projects = dict(zip((org.name for org in organisations), workers, strict=True))
    envs = {
        org.name: worker_env(
            projects[org.name],
            simulator,
            system,
            warehouse,
            TAP_HINDSIGHT_API_KEY=org.api_key,
            TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, org.ids)),
            TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=f"hindsight_{org.name}",
        )
        for org in organisations
    }
    # Meltano creates its tables on first use; two processes doing it at once on an empty
    # system database collide ("Cannot upgrade the system database"), so any one command
    # first, as a deployment's set-up would.
    run_meltano(envs["acme"], "state", "list", cwd=projects["acme"])
    run_at_once(
        simulator,
        tmp_path,
        {name: (projects[name], env, ("--state-id-suffix", name)) for name, env in envs.items()},
    )
    states = {}
    for org in organisations:
        with warehouse.connect() as connection:
            rows = connection.execute(
                f"SELECT interview_request_id, status FROM hindsight_{org.name}.interviews"  # noqa: S608
                " ORDER BY 1"
            ).fetchall()
        assert rows == [(i, simulator.status_of(i)) for i in org.ids]  # its own, all of them
        state_id = f"{STATE_ID}:{org.name}"
        got = run_meltano(envs[org.name], "state", "get", state_id, cwd=projects[org.name]).stdout
        states[org.name] = json.loads(got)["singer_state"]
    assert states["acme"] != states["globex"]
    assert simulator.stats()["deal_requests"] == 2  # one deals list each
    assert simulator.stats()["interview_requests"] == 60
