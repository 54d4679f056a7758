"""The end-to-end demo: `meltano run tap-hindsight target-duckdb`, checked, then queried.

Without `TAP_HINDSIGHT_API_KEY` in the environment it starts the API simulator, loads an
embedded DuckDB warehouse (no server needed) from a clean start, advances some interviews
and a deal, runs again (the second run fetches only what is pending, and the deals list),
checks that every row (interviews, turns, deals and their drivers and competitors) equals
the API's answer, and prints the answers of the documented SQL (docs/warehouse.md). With
the key (and IDs) set it reads the real Hindsight API instead, incrementally, into the
same file.

Run from the Meltano project (the repository root): `python -m hindsight_simulator.demo`.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hindsight_simulator.data import INTERVIEWER, REASON_NAMES, competitor_names
from hindsight_simulator.passages import COLUMNS, Passage, cut
from hindsight_simulator.server import (
    HindsightSimulator,
    SimulatorConfig,
    default_organisations,
)
from tap_hindsight.deals import competitor_rows, driver_rows
from tap_hindsight.records import storable
from tap_hindsight.transcript import parse_turns

STATE_ID = "dev:tap-hindsight-to-target-duckdb"
#: Extract, load, then build and test the dbt models (transform/) in the same file.
PIPELINE = ("tap-hindsight", "target-duckdb", "dbt-duckdb:build")
MODELS = "analytics"
TABLE = "hindsight.interviews"


#: The marks before each SQL block of docs/warehouse.md: `<!-- query: name -->` runs on both
#: warehouses, `<!-- postgres-query: name -->` only on PostgreSQL (full-text search),
#: `<!-- duckdb-query: name -->` only on DuckDB (its plain-text fallback), and
#: `<!-- crm-query: name -->` where a CRM tap's tables are loaded too (PostgreSQL).
QUERY_MARKS = {
    "postgres": ("query", "postgres-query"),
    "duckdb": ("query", "duckdb-query"),
    "crm": ("crm-query",),
}


#: Where the documented queries live, from the project's root.
QUERIES_DOC = Path("docs") / "warehouse.md"


def documented_queries(doc: Path, warehouse: str) -> dict[str, str]:
    """The documented SQL for `warehouse` ("postgres" or "duckdb"), by name."""
    text = doc.read_text(encoding="utf-8")
    marks = re.findall(r"<!-- ([\w-]+): ([\w-]+) -->\s*```sql\n(.*?)```", text, re.DOTALL)
    return {name: sql for mark, name, sql in marks if mark in QUERY_MARKS[warehouse]}


def flattened(interview: dict[str, Any]) -> dict[str, Any]:
    """An API answer as the warehouse row holds it (NULs removed, transcript flattened)."""
    row: dict[str, Any] = storable(interview)
    transcript = row.pop("transcript") or {}
    for key in ("document_id", "content", "created_at"):
        row[f"transcript__{key}"] = transcript.get(key)
    return row


def meltano(project: Path, env: dict[str, str], *args: str) -> None:
    """Run Meltano in the project; its logs go to our stderr. Raises on failure."""
    command = [str(Path(sys.executable).with_name("meltano")), *args]
    subprocess.run(command, cwd=project, env=env, check=True)  # noqa: S603


def warehouse_rows(path: Path) -> dict[int, dict[str, Any]]:
    """Every interview row in the DuckDB file, timestamps as the API's ISO instants."""
    import duckdb  # noqa: PLC0415 (a demo dependency, not the tap's)

    with duckdb.connect(str(path), read_only=True) as connection:
        cursor = connection.execute(f"SELECT * FROM {TABLE}")  # noqa: S608
        names = [column[0] for column in cursor.description or []]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        for key, value in row.items():
            if hasattr(value, "strftime"):
                row[key] = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        row["interview_request_id"] = int(row["interview_request_id"])
    return {row["interview_request_id"]: row for row in rows}


def count_turns(path: Path) -> int:
    """Rows in the turns table."""
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(path), read_only=True) as connection:
        row = connection.execute("SELECT count(*) FROM hindsight.interview_turns").fetchone()
    return int(row[0]) if row else 0


def deal_rows(path: Path) -> dict[str, tuple[Any, ...]]:
    """Each deal's status, amount, and its current drivers and competitors, by deal ID."""
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(path), read_only=True) as connection:
        deals = connection.execute("SELECT id, status_id, amount FROM hindsight.deals").fetchall()
        drivers = connection.execute(
            "SELECT deal_id, count(*) FROM hindsight.deal_drivers WHERE NOT removed GROUP BY 1"
        ).fetchall()
        competitors = connection.execute(
            "SELECT deal_id, count(*) FROM hindsight.deal_competitors WHERE NOT removed GROUP BY 1"
        ).fetchall()
    driver_counts, competitor_counts = dict(drivers), dict(competitors)
    return {
        deal_id: (
            status,
            float(amount),
            driver_counts.get(deal_id, 0),
            competitor_counts.get(deal_id, 0),
        )
        for deal_id, status, amount in deals
    }


def model_counts(path: Path) -> dict[str, int]:
    """Rows in each dbt model the pipeline built (transform/models)."""
    import duckdb  # noqa: PLC0415

    counts = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for model in (
            "hindsight_interviews",
            "hindsight_buyer_turns",
            "hindsight_transcript_search",
            "hindsight_transcript_passages",
            "hindsight_deal_drivers",
        ):
            row = connection.execute(f"SELECT count(*) FROM {MODELS}.{model}").fetchone()  # noqa: S608
            counts[model] = int(row[0]) if row else 0
    return counts


def passage_rows(path: Path) -> list[tuple[Any, ...]]:
    """The rows of the passages model, in order: its first columns (`COLUMNS`)."""
    import duckdb  # noqa: PLC0415

    table = f"{MODELS}.hindsight_transcript_passages"
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY 2, 3"  # noqa: S608
        ).fetchall()


def expected_passages(interviews: dict[int, dict[str, Any]]) -> list[Passage]:
    """What the passages model should hold for these interviews (flattened rows)."""
    return [
        passage
        for interview_id, row in sorted(interviews.items())
        for passage in cut(interview_id, parse_turns(row["transcript__content"]))
    ]


def expected_deal(deal: dict[str, Any]) -> tuple[Any, ...]:
    """What `deal_rows` should find for a deal of the API."""
    return (deal["status_id"], deal["amount"], len(driver_rows(deal)), len(competitor_rows(deal)))


def print_queries(path: Path, doc: Path) -> None:
    """Run each documented query on the warehouse and print its answer."""
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(path), read_only=True) as connection:
        for name, sql in documented_queries(doc, "duckdb").items():
            result = connection.sql(sql)
            sys.stdout.write(f"\n-- {name}\n{sql}{result}\n")


def write_names(
    project: Path, competitors: dict[str, str], reasons: dict[str, tuple[str, str]]
) -> None:
    """Write names into the seeds of the dbt project at `project`, as a user does."""
    seeds = project / "seeds"
    with (seeds / "hindsight_competitors.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["competitor_id", "competitor_name"])
        writer.writerows(sorted(competitors.items()))
    with (seeds / "hindsight_driver_reasons.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["reason_id", "reason_name", "category"])
        writer.writerows((reason, *named) for reason, named in sorted(reasons.items()))


def named_project(project: Path) -> Path:
    """A copy of the dbt project (transform/) in output/, with the dashboard's names.

    Its seeds hold the names the simulated dashboard shows: the project as it is once a
    user has written them (transform/seeds ships with header lines only).
    """
    copy = project / "output" / "transform"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project / "transform", copy, ignore=shutil.ignore_patterns("target", "logs"))
    write_names(copy, competitor_names(), REASON_NAMES)
    return copy


def run_simulated(project: Path, env: dict[str, str], interviews: int) -> int:
    """Two runs against the simulator from a clean start; 0 if every row checks out."""
    warehouse = Path(env["TARGET_DUCKDB_PATH"])
    warehouse.unlink(missing_ok=True)
    if "DBT_DUCKDB_PROJECT_DIR" not in env:
        env["DBT_DUCKDB_PROJECT_DIR"] = str(named_project(project))
        sys.stderr.write(
            "The simulated dashboard's names of competitors and driver reasons are in "
            f"{env['DBT_DUCKDB_PROJECT_DIR']}/seeds (yours go in transform/seeds)\n"
        )
    organisations = default_organisations(interviews)
    acme, globex = organisations
    config = SimulatorConfig(organisations=organisations, latency_ms=20, fault_rate=0.05)
    with HindsightSimulator(config) as simulator:
        env.update(
            TAP_HINDSIGHT_API_KEY=acme.api_key,
            TAP_HINDSIGHT_BASE_URL=simulator.url,
            # Every acme interview, plus one of another organisation's (answered 404).
            TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, [*acme.ids, globex.first_id])),
            TAP_HINDSIGHT_PLAN="enterprise",
            # The demo's second run comes a minute after the first, so it polls every
            # pending interview (a scheduled run polls those due: docs/state-and-polling.md).
            TAP_HINDSIGHT_POLL_AGE_RATIO="0",
            TAP_HINDSIGHT_MIN_POLL_INTERVAL_MINUTES="0",
        )
        meltano(project, env, "state", "clear", "--force", STATE_ID)
        sys.stderr.write(f"API simulator at {simulator.url}: {interviews} interviews\n")
        meltano(project, env, "run", *PIPELINE)
        first_requests = simulator.stats()["requests"]
        pending = [i for i in acme.ids if simulator.status_of(i) != "completed"]
        simulator.advance(pending[::3])
        # A deal is lost and its analysis loses a driver between the runs.
        moved = next(d for d in simulator.deals(acme.name) if len(d["drivers"]) > 1)
        simulator.change_deal(moved["id"], status_id="Closed Lost", drivers=moved["drivers"][1:])
        simulator.reset_stats()
        meltano(project, env, "run", *PIPELINE)
        stats = simulator.stats()
        second_requests, deal_requests = stats["requests"], stats["deal_requests"]
        expected = {i: flattened(simulator.interview(i)) for i in acme.ids}
        deals = {deal["id"]: expected_deal(storable(deal)) for deal in simulator.deals(acme.name)}
    loaded = warehouse_rows(warehouse)
    if loaded != expected:
        missing = sorted(set(expected) - set(loaded))
        wrong = sorted(i for i in set(expected) & set(loaded) if loaded[i] != expected[i])
        sys.stderr.write(f"demo FAILED: rows missing {missing[:10]}, different {wrong[:10]}\n")
        return 1
    loaded_deals = deal_rows(warehouse)
    if loaded_deals != deals:
        wrong = sorted(d for d in deals if loaded_deals.get(d) != deals[d])
        sys.stderr.write(f"demo FAILED: deals missing or different: {wrong[:10]}\n")
        return 1
    turns = sum(len(parse_turns(row["transcript__content"])) for row in expected.values())
    loaded_turns = count_turns(warehouse)
    if loaded_turns != turns:
        sys.stderr.write(f"demo FAILED: {loaded_turns} turns loaded, {turns} expected\n")
        return 1
    buyer_turns = sum(
        1
        for row in expected.values()
        for turn in parse_turns(row["transcript__content"])
        if turn.speaker not in (None, INTERVIEWER)
    )
    passages = expected_passages(expected)
    if passage_rows(warehouse) != [passage.row() for passage in passages]:
        sys.stderr.write("demo FAILED: the passages differ from the transcripts' turns\n")
        return 1
    models = model_counts(warehouse)
    expected_models = {
        "hindsight_interviews": len(expected),
        "hindsight_buyer_turns": buyer_turns,
        "hindsight_transcript_search": buyer_turns
        + len(passages)
        + sum(1 for row in expected.values() if row["transcript__content"] is not None),
        "hindsight_transcript_passages": len(passages),
        "hindsight_deal_drivers": sum(drivers for _, _, drivers, _ in deals.values()),
    }
    if models != expected_models:
        sys.stderr.write(f"demo FAILED: model rows {models}, expected {expected_models}\n")
        return 1
    sys.stdout.write(
        f"{len(loaded):,} interviews in {warehouse}, every row equal to the API's answer; "
        f"{turns:,} speaker turns in interview_turns; {len(deals):,} deals in deals, with their "
        "drivers and competitors, every one equal to the API's.\n"
        f"First run: {first_requests:,} requests (5% of answers were injected faults, retried).\n"
        f"{len(pending[::3]):,} interviews and one deal moved on; the second run sent "
        f"{second_requests:,} requests: one per pending interview ({len(pending):,}) plus one "
        f"404, {deal_requests:,} for the deals list (one per 100 deals, and retries), none "
        "for the completed interviews.\n"
        f"dbt built and tested the models in the {MODELS} schema: "
        + ", ".join(f"{name} {rows:,} rows" for name, rows in models.items())
        + ", each as the API's data implies.\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit non-zero unless every expected row arrived."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interviews", type=int, default=120, help="simulated interviews")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="Meltano project")
    args = parser.parse_args(argv)
    output = args.project / "output"
    output.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("TARGET_DUCKDB_PATH", str(output / "warehouse.duckdb"))
    if env.get("TAP_HINDSIGHT_API_KEY"):
        sys.stderr.write("TAP_HINDSIGHT_API_KEY is set: reading the real Hindsight API\n")
        meltano(args.project, env, "run", *PIPELINE)
    else:
        code = run_simulated(args.project, env, args.interviews)
        if code:
            return code
    print_queries(Path(env["TARGET_DUCKDB_PATH"]), args.project / QUERIES_DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
