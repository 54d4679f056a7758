"""The README's first command's main job: the demo, run twice, from a clean Meltano setup."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb

from hindsight_simulator.data import REASON_NAMES, competitor_names
from hindsight_simulator.demo import QUERIES_DOC, documented_queries
from tests.meltano_plugins import meltano_env
from tests.names import Names, transform_copy

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_loads_every_row_and_answers_the_documented_queries(tmp_path, meltano_home):
    warehouse = tmp_path / "warehouse.duckdb"
    # Issue 25: the user named two competitors and three reasons (the seeds of a copy of
    # the dbt project); the demo itself checks the passages against the transcripts.
    names = Names(
        {c: n for c, n in competitor_names().items() if c in ("cmp_competitor_x", "cmp_globex")},
        {r: n for r, n in REASON_NAMES.items() if r not in {"rsn_support", "rsn_onboarding"}},
    )
    project = transform_copy(tmp_path / "transform", names)
    env = meltano_env(
        meltano_home, TARGET_DUCKDB_PATH=str(warehouse), DBT_DUCKDB_PROJECT_DIR=str(project)
    )
    demo = [sys.executable, "-m", "hindsight_simulator.demo", "--interviews", "40"]
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
        assert "hindsight_transcript_passages" in done.stdout
        assert "hindsight_deal_drivers" in done.stdout
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
        # Names and CRM keys reach the models (the raw tables the demo checked against the
        # API are the reference).
        modelled = connection.execute(
            "SELECT i.interview_request_id, i.salesforce_id, i.hubspot_id,"
            " i.primary_competitor_id, i.primary_competitor_name"
            " FROM analytics.hindsight_interviews AS i ORDER BY 1"
        ).fetchall()
        loaded = connection.execute(
            "SELECT i.interview_request_id, d.salesforce_id, d.hubspot_id, c.competitor_id"
            " FROM hindsight.interviews AS i"
            " LEFT JOIN hindsight.deals AS d ON d.id = i.deal_id"
            " LEFT JOIN hindsight.deal_competitors AS c"
            "  ON c.deal_id = d.id AND c.is_primary AND NOT c.removed ORDER BY 1"
        ).fetchall()
        drivers = connection.execute(
            "SELECT deal_id, driver_index, reason_id, reason_name, category"
            " FROM analytics.hindsight_deal_drivers ORDER BY 1, 2"
        ).fetchall()
        loaded_drivers = connection.execute(
            "SELECT deal_id, driver_index, reason_id FROM hindsight.deal_drivers"
            " WHERE NOT removed ORDER BY 1, 2"
        ).fetchall()
        by_name = documented_queries(REPO / QUERIES_DOC, "duckdb")["lost-deals-by-competitor"]
        lost = connection.execute(by_name).fetchall()
    assert rows == 40
    assert modelled == [(i, sf, hs, c, names.competitor(c)) for i, sf, hs, c in loaded]
    assert {row[4] for row in modelled} >= {"Competitor X", "cmp_initech"}  # named, and not
    assert any(row[1] for row in modelled)
    assert any(row[2] for row in modelled)
    assert drivers == [(d, n, r, *names.reason(r)) for d, n, r in loaded_drivers]
    assert {row[3] for row in drivers} >= {"Pricing", "rsn_support"}
    assert {row[0] for row in lost} <= {row[4] for row in modelled}
    assert lost
    assert unjoined == 0  # every interview's deal_id joins its deal
    assert priced > 0
    assert all(re.search(r"(?i)\bpric(e|es|ed|ing)\b", row[4]) for row in fallback)
