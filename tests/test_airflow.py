"""The Airflow DAG, in a real Airflow (its own virtual environment): it loads without
import errors, and one `airflow dags test` run loads the simulator's data into PostgreSQL.

`make test` builds `.venv-airflow` and runs it with the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hindsight_simulator import Organisation
from tests.helpers import ACME_KEY
from tests.meltano_plugins import meltano_env

#: The simulators of these tests serve deals (tests/conftest.py).
SERVE_DEALS = True

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "orchestrate" / "dags"
DAG_ID = "tap_hindsight_to_postgres"
AIRFLOW_VENV = Path(os.environ.get("HINDSIGHT_AIRFLOW_VENV", REPO / ".venv-airflow"))
INSPECT = f"""
import json
from airflow.models import DagBag
bag = DagBag(dag_folder={str(DAGS)!r})
dag = bag.get_dag({DAG_ID!r})
print(json.dumps({{
    "errors": {{path: str(error) for path, error in bag.import_errors.items()}},
    "dags": sorted(bag.dag_ids),
    "max_active_runs": dag.max_active_runs,
    "catchup": dag.catchup,
    "schedule": str(dag.schedule),
    "retries": [task.retries for task in dag.tasks],
    "commands": [task.bash_command for task in dag.tasks],
    "env": [task.env for task in dag.tasks],
    "append_env": [task.append_env for task in dag.tasks],
}}))
"""


@pytest.fixture
def airflow_env(tmp_path, meltano_home):
    if not (AIRFLOW_VENV / "bin" / "airflow").exists():
        pytest.fail(f"no Airflow in {AIRFLOW_VENV}: run `make test`, which installs it")
    env = meltano_env(
        meltano_home,
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        HINDSIGHT_MELTANO_BIN=str(Path(sys.executable).with_name("meltano")),
        HINDSIGHT_MELTANO_PROJECT=str(REPO),
    )
    airflow = str(AIRFLOW_VENV / "bin" / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def test_the_dag_loads_and_one_run_loads_interviews(airflow_env, database, start_simulator):
    python = str(AIRFLOW_VENV / "bin" / "python")
    inspected = subprocess.run(
        [python, "-c", INSPECT], env=airflow_env, capture_output=True, text=True, check=True
    )
    dag = json.loads(inspected.stdout.strip().splitlines()[-1])
    assert dag["errors"] == {}
    assert dag["dags"] == [DAG_ID]
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False
    assert dag["schedule"] == "*/15 * * * *"
    assert dag["retries"] == [3]
    assert dag["commands"][0].endswith(
        "--environment=prod run tap-hindsight target-postgres dbt-postgres:run dbt-postgres:test"
    )
    # A run deadline below the 15-minute schedule, on top of the worker's environment.
    assert dag["env"] == [{"TAP_HINDSIGHT_MAX_RUN_MINUTES": "12"}]
    assert dag["append_env"] == [True]

    simulator = start_simulator(organisations=(Organisation("acme", ACME_KEY, 1001, 25),))
    env = dict(
        airflow_env,
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(str(i) for i in range(1001, 1026)),
        TARGET_POSTGRES_USER=database.user,
        TARGET_POSTGRES_PASSWORD=database.password,
        TARGET_POSTGRES_DATABASE=database.name,
    )
    airflow = str(AIRFLOW_VENV / "bin" / "airflow")
    run = subprocess.run(
        [airflow, "dags", "test", DAG_ID], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with database.connect() as connection:
        rows = connection.execute(
            "SELECT interview_request_id, status FROM hindsight.interviews ORDER BY 1"
        ).fetchall()
    assert rows == [(i, simulator.status_of(i)) for i in range(1001, 1026)]
    with database.connect() as connection:
        modelled = connection.execute(
            "SELECT interview_request_id, status FROM analytics.hindsight_interviews ORDER BY 1"
        ).fetchall()
    assert modelled == rows  # the run built the models after loading
    assert simulator.stats()["interview_requests"] == 25
    assert simulator.stats()["deal_requests"] == 1  # fewer than 100 deals: one page
