"""Logs a person can read: a backfill of 10,000 interviews says nothing per interview."""

from __future__ import annotations

import json
import re

from tap_hindsight.simulator import default_organisations
from tests.helpers import clean_env, run_tap, tap_config

#: Every INFO line a clean backfill may write, whatever its size (progress lines aside).
ALLOWED = [
    r"tap-hindsight v[\d.]+, Meltano SDK v[\d.]+",
    r"Skipping parse of env var settings\.\.\.",
    r"Added 'interview_turns' as child stream to 'interviews'",
    r"Beginning sync of 'interviews' in incremental mode",
    r"Starting incremental sync of 'interviews' with bookmark value: None",
    r"Polling 10000 interviews \(0 completed ones skipped\) from .*",
    r"10,000 IDs to poll at [\d,]+ requests/min: .*",
    r"Summary: 10,000 IDs fetched .*",
    r'METRIC: \{"type":"(counter|timer)","metric":"(record_count|sync_duration)".*',
]


def info_lines(stderr):
    return [
        line.split("| ", 3)[-1]
        for line in stderr.splitlines()
        if "| INFO" in line and "| Progress: " not in line
    ]


def test_a_backfill_logs_nothing_per_interview(start_simulator, tmp_path):
    ids = list(range(1001, 11_001))
    simulator = start_simulator(
        organisations=default_organisations(len(ids)), transcript_chars=600, rate_limit=100_000
    )
    config = tap_config(simulator, ids, requests_per_minute=100_000, concurrency=16)
    run = run_tap(tmp_path, config, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    completed = len({r["interview_request_id"] for r in run.records("interview_turns")})
    assert completed > 3000  # thousands of interviews with turns: the child stream ran

    lines = info_lines(run.stderr)
    assert all(any(re.fullmatch(p, line) for p in ALLOWED) for line in lines), lines
    # Two METRIC lines per stream for the whole run (not per interview), and each other
    # line once: a dozen lines for 10,000 interviews.
    assert len(lines) == len(ALLOWED) + 3
    metrics = [json.loads(line.split("METRIC: ", 1)[1]) for line in lines if "METRIC" in line]
    turns = [m for m in metrics if m["tags"]["stream"] == "interview_turns"]
    assert {m["metric"]: m["value"] for m in turns}["record_count"] == len(
        run.records("interview_turns")
    )
    # Nothing else: no warnings or errors in a clean run.
    assert not [line for line in run.stderr.splitlines() if "| INFO" not in line]


def test_debug_says_more(simulator, tmp_path):
    ids = list(range(1001, 1031))
    env = clean_env(TAP_HINDSIGHT_LOGLEVEL="DEBUG")
    run = run_tap(tmp_path, tap_config(simulator, ids), env=env)
    assert run.returncode == 0, run.stderr
    completed = len({r["interview_request_id"] for r in run.records("interview_turns")})
    assert completed
    assert run.stderr.count("Beginning sync of 'interview_turns'") == completed
