"""The dbt models' build time against the raw load, in the same run.

Starts the API simulator with N interviews (half of them completed, with their turns and
deals), a fresh PostgreSQL database, and Meltano on this project's plugins, then times:

1. the first load, `meltano run tap-hindsight target-postgres`;
2. the models' first build, `meltano run dbt-postgres:run` (the seeds and every model);
3. after a tenth of the pending interviews completed: a second load, and the incremental
   build that follows it (the first load's rows moved two hours back first, as a
   schedule's earlier loads are: otherwise the models' hour of overlap takes the whole
   first load in again);
4. `meltano run dbt-postgres:full-refresh`.

Each is printed as a ratio to the load of the same step (Meltano's own start-up is in both),
with dbt's time per model from its run_results.json. The budget window is shortened to 6
seconds for the tap and the simulator at once (tap_hindsight/window.py), so a first load of
thousands of interviews is not paced by the minute.

Run: `.venv/bin/python benchmarks/models.py [--interviews 2000]` after `make test` or
`make demo` (it uses the plugins `meltano install` put in `.meltano/`; starts the machine's
PostgreSQL if it is down, like the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ["HINDSIGHT_API_WINDOW_SECONDS"] = "6"  # before the simulator reads it

from hindsight_simulator import HindsightSimulator, Organisation, SimulatorConfig
from tests import helpers
from tests.meltano_plugins import SHARED, meltano_env, system_folder
from tests.postgres import Database, create_database, drop_database

REPO = Path(__file__).resolve().parent.parent
KEY = "hs_bench_models_key"
MODELS = (
    "hindsight_interviews",
    "hindsight_deal_drivers",
    "hindsight_buyer_turns",
    "hindsight_transcript_passages",
    "hindsight_transcript_search",
)


def meltano(env: dict[str, str], *args: str) -> float:
    """Run Meltano in the project; the seconds it took. Raises on failure."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("meltano")), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-5000:])
        msg = f"meltano {' '.join(args)} failed ({done.returncode})"
        raise RuntimeError(msg)
    return time.perf_counter() - start


def model_seconds(home: Path) -> dict[str, float]:
    """dbt's execution time of each model in its last invocation."""
    results = json.loads((home / "dbt" / "postgres" / "target" / "run_results.json").read_text())
    return {
        r["unique_id"].rsplit(".", 1)[-1]: r["execution_time"]
        for r in results["results"]
        if r["unique_id"].startswith("model.")
    }


def rows(database: Database, table: str) -> int:
    with database.connect() as connection:
        (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(count)


def report(name: str, load: float, build: float, home: Path) -> None:
    per_model = model_seconds(home)
    models = sum(per_model.values())
    sys.stdout.write(
        f"{name}: load {load:.1f} s, models {build:.1f} s = {build / load:.2f} x the load;"
        f" dbt's own time in the models {models:.1f} s = {models / load:.2f} x (per model: "
        + ", ".join(f"{m} {per_model.get(m, 0.0):.2f} s" for m in MODELS)
        + ")\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interviews", type=int, default=2000)
    parser.add_argument("--keep-database", action="store_true", help="to query it after")
    args = parser.parse_args()
    if not any((SHARED / "utilities").glob("dbt-postgres/venv")):
        sys.stderr.write("Meltano's plugins are not installed: run `make demo` first\n")
        return 2
    # The test helpers refuse to start services outside a test marked for them.
    helpers.CURRENT_MARKS.update({"postgres", "meltano"})
    organisation = Organisation("acme", KEY, 1001, args.interviews)
    database = create_database()
    folder = tempfile.mkdtemp()
    try:
        with HindsightSimulator(SimulatorConfig(organisations=(organisation,))) as simulator:
            home = system_folder(Path(folder) / ".meltano")
            env = meltano_env(
                home,
                TAP_HINDSIGHT_API_KEY=KEY,
                TAP_HINDSIGHT_BASE_URL=simulator.url,
                TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, organisation.ids)),
                TAP_HINDSIGHT_PLAN="enterprise",
                TAP_HINDSIGHT_POLL_AGE_RATIO="0",
                TAP_HINDSIGHT_MIN_POLL_INTERVAL_MINUTES="0",
                **database.target_env(),
                HINDSIGHT_API_WINDOW_SECONDS=os.environ["HINDSIGHT_API_WINDOW_SECONDS"],
            )
            load = meltano(env, "run", "tap-hindsight", "target-postgres")
            build = meltano(env, "run", "dbt-postgres:run")
            sys.stdout.write(
                f"{args.interviews} interviews, "
                f"{rows(database, 'hindsight.interview_turns')} turns, "
                f"{rows(database, 'hindsight.deals')} deals loaded; "
                f"{rows(database, 'analytics.hindsight_transcript_passages')} passages, "
                f"{rows(database, 'analytics.hindsight_transcript_search')} search rows\n"
            )
            report("first run", load, build, home)
            # As a schedule sees it: the rows of earlier loads are older than the models'
            # hour of overlap (an incremental model takes in what was loaded since its
            # newest row, less an hour). Without this the second build, minutes after the
            # first load, would take that whole load in again.
            with database.connect() as connection:
                for table in ("interviews", "interview_turns", "deals", "deal_drivers"):
                    connection.execute(
                        f"UPDATE hindsight.{table}"  # noqa: S608
                        " SET _sdc_batched_at = _sdc_batched_at - interval '2 hours'"
                    )
            pending = [i for i in organisation.ids if simulator.status_of(i) != "completed"]
            simulator.advance(pending[:: max(1, len(pending) // (len(pending) // 10 or 1))])
            load = meltano(env, "run", "tap-hindsight", "target-postgres")
            build = meltano(env, "run", "dbt-postgres:run")
            report("second run (a tenth of pending completed)", load, build, home)
            rebuild = meltano(env, "run", "dbt-postgres:full-refresh")
            report("full refresh against the second load", load, rebuild, home)
    finally:
        if args.keep_database:
            sys.stdout.write(f"kept: database {database.name} (role {database.user}), {folder}\n")
        else:
            drop_database(database)
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
