"""The README's first command's main job: the demo, run twice, from a clean Meltano setup."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb

from tap_hindsight.simulator.demo import QUERIES_DOC, documented_queries
from tests.meltano_plugins import meltano_env

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_loads_every_row_and_answers_the_documented_queries(tmp_path, meltano_home):
    warehouse = tmp_path / "warehouse.duckdb"
    env = meltano_env(meltano_home, TARGET_DUCKDB_PATH=str(warehouse))
    demo = [sys.executable, "-m", "tap_hindsight.simulator.demo", "--interviews", "40"]
    for _ in range(2):  # safe to run twice
        done = subprocess.run(demo, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        assert "40 interviews in" in done.stdout
        assert "every row equal to the API's answer" in done.stdout
        assert "speaker turns in interview_turns" in done.stdout
        assert "none for the completed interviews" in done.stdout
        assert "with their drivers and competitors, every one equal to the API's" in done.stdout
        assert "for the deals list (one per 100 deals, and retries)" in done.stdout
        # dbt-duckdb built and tested the models; their rows match the API's data.
        assert "dbt built and tested the models in the analytics schema" in done.stdout
        assert "each as the API's data implies" in done.stdout
        queries = documented_queries(REPO / QUERIES_DOC, "duckdb")
        assert "lost-to-competitor-x-on-pricing-duckdb" in queries  # the plain-text fallback
        assert "search-pricing" not in queries  # PostgreSQL's full-text search only
        for name in queries:
            assert f"-- {name}" in done.stdout
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        (rows,) = connection.execute("SELECT count(*) FROM hindsight.interviews").fetchone()
        (unjoined,) = connection.execute(
            "SELECT count(*) FROM hindsight.interviews AS i LEFT JOIN hindsight.deals AS d"
            " ON d.id = i.deal_id WHERE i.deal_id IS NOT NULL AND d.id IS NULL"
        ).fetchone()
        fallback = connection.execute(
            documented_queries(REPO / QUERIES_DOC, "duckdb")[
                "lost-to-competitor-x-on-pricing-duckdb"
            ]
        ).fetchall()
        (priced,) = connection.execute(
            "SELECT count(*) FROM hindsight.interview_turns WHERE NOT is_interviewer"
            " AND regexp_matches(text, '(?i)\\bpric(e|es|ed|ing)\\b')"
        ).fetchone()
    assert rows == 40
    assert unjoined == 0  # every interview's deal_id joins its deal
    assert priced > 0
    assert all(re.search(r"(?i)\bpric(e|es|ed|ing)\b", row[4]) for row in fallback)
