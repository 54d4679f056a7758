"""Airflow DAG: extract, load, then build and test the analysts' models, on a schedule.

The task runs `meltano run tap-hindsight target-postgres dbt-postgres:run dbt-postgres:test`
(the models: transform/).

One run at a time (the tap's state is one per pipeline), no catch-up (a run polls what is
pending now; replaying missed intervals would only re-poll the same interviews), and
retries with backoff for a transient failure (the next run resumes from the last STATE).

Configure through the environment of the Airflow workers:
- HINDSIGHT_MELTANO_PROJECT: the Meltano project folder (default: this repository);
- HINDSIGHT_MELTANO_BIN: the meltano executable (default: `meltano` on PATH);
- HINDSIGHT_MELTANO_ENVIRONMENT: the Meltano environment (default: prod);
- HINDSIGHT_SCHEDULE: a cron expression (default: every 15 minutes);
- HINDSIGHT_PIPELINE: the blocks of `meltano run` (default: the four above; set it to
  `tap-hindsight target-postgres` to load the raw tables only);
- HINDSIGHT_MAX_RUN_MINUTES: the tap's run deadline, passed as TAP_HINDSIGHT_MAX_RUN_MINUTES
  (default: 12, below the default schedule; keep it below yours): a run stops starting
  requests then and ends, so runs never pile up behind a slow one;
- TAP_HINDSIGHT_* and TARGET_POSTGRES_* settings, and MELTANO_DATABASE_URI so that every
  worker reads and writes the same Meltano state (docs/operations.md).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

PROJECT = os.environ.get("HINDSIGHT_MELTANO_PROJECT", str(Path(__file__).resolve().parents[2]))
MELTANO = os.environ.get("HINDSIGHT_MELTANO_BIN", "meltano")
ENVIRONMENT = os.environ.get("HINDSIGHT_MELTANO_ENVIRONMENT", "prod")
SCHEDULE = os.environ.get("HINDSIGHT_SCHEDULE", "*/15 * * * *")
MAX_RUN_MINUTES = os.environ.get("HINDSIGHT_MAX_RUN_MINUTES", "12")
PIPELINE = os.environ.get(
    "HINDSIGHT_PIPELINE", "tap-hindsight target-postgres dbt-postgres:run dbt-postgres:test"
)

with DAG(
    dag_id="tap_hindsight_to_postgres",
    description="Hindsight interviews and transcripts into PostgreSQL",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),  # noqa: DTZ001 (Airflow reads it as UTC)
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=6),
    },
    tags=["hindsight", "meltano"],
) as dag:
    BashOperator(
        task_id="meltano_run",
        bash_command=f"{MELTANO} --environment={ENVIRONMENT} run {PIPELINE}",
        cwd=PROJECT,
        env={"TAP_HINDSIGHT_MAX_RUN_MINUTES": MAX_RUN_MINUTES},
        append_env=True,
    )
