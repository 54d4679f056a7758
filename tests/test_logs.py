"""Logs a person can read: a backfill says nothing per interview, at 600 interviews in
`make check` and at the documented 10,000 in `make test`."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from hindsight_simulator import default_organisations
from tests.helpers import clean_env, run_tap, tap_config

#: Every INFO line a clean backfill of {n} interviews may write, whatever its size
#: (progress lines aside).
ALLOWED = [
    r"tap-hindsight v[\d.]+, Meltano SDK v[\d.]+",
    r"Skipping parse of env var settings\.\.\.",
    r"Added 'interview_turns' as child stream to 'interviews'",
    r"Beginning sync of 'interviews' in incremental mode",
    r"Starting incremental sync of 'interviews' with bookmark value: None",
    r"Polling {n} interviews \({n} new or never found, .*; 0 pending not due yet; 0 completed skipped\) from .*",  # noqa: E501
    r"{n} IDs to poll at [\d,]+ requests/min: .*",
    r"Summary: {n} IDs fetched .*",
    r"Added 'deal_drivers' as child stream to 'deals'",
    r"Added 'deal_competitors' as child stream to 'deals'",
    r"Beginning sync of 'deals' in full_table mode",
    r"Reading the deals list from .*, 100 deals a page \(emitting every deal\); .*",
    r"Deals summary: \d+ pages read \(the whole list\), .*",
]
STREAMS = ("interviews", "interview_turns", "deals", "deal_drivers", "deal_competitors")


def metric(line):
    return json.loads(line.split("METRIC: ", 1)[1])


def periodic(line):
    """Lines logged by the clock, not by the data: progress every 30 s, and the SDK's
    record counts, every 60 s of a stream's sync and at its end (how many a stream logs
    depends on how long it ran: on a busy machine even the deals may pass a minute)."""
    if line.startswith("Progress: "):
        return True
    return line.startswith("METRIC: ") and metric(line)["metric"] == "record_count"


def minutes_logged(stderr):
    """Whole minutes between the run's first and last log lines."""
    stamps = [
        datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 (a difference only)
        for line in stderr.splitlines()
        if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line)
    ]
    return int((stamps[-1] - stamps[0]).total_seconds() // 60)


def info_lines(stderr):
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if "| INFO" in line]


@pytest.mark.parametrize("count", [600, pytest.param(10_000, marks=pytest.mark.scale)])
def test_a_backfill_logs_nothing_per_interview(start_simulator, tmp_path, count):
    ids = list(range(1001, 1001 + count))
    allowed = [pattern.replace("{n}", f"{count:,}") for pattern in ALLOWED]
    simulator = start_simulator(
        organisations=default_organisations(len(ids)),
        transcript_chars=600,
        rate_limit=100_000,
        serve_deals=True,
    )
    config = tap_config(simulator, ids, requests_per_minute=100_000, concurrency=16)
    run = run_tap(tmp_path, config, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    completed = len({r["interview_request_id"] for r in run.records("interview_turns")})
    assert completed > count * 0.3  # hundreds with turns: the child stream ran

    everything = info_lines(run.stderr)
    lines = [line for line in everything if not periodic(line)]
    said = [line for line in lines if not line.startswith("METRIC: ")]
    # Each allowed line once: a dozen lines for 10,000 interviews and their deals.
    assert sorted(next(p for p in allowed if re.fullmatch(p, line)) for line in said) == sorted(
        allowed
    ), said
    # One timer per stream for the whole run; record counts only on the SDK's clock, which
    # add up to each stream's records (none logged per interview or per page).
    points = [metric(line) for line in lines if line.startswith("METRIC: ")]
    assert sorted((m["metric"], m["tags"]["stream"]) for m in points) == sorted(
        ("sync_duration", stream) for stream in STREAMS
    )
    counts = [metric(line) for line in everything if line.startswith("METRIC: ")]
    counts = [m for m in counts if m["metric"] == "record_count"]
    minutes = minutes_logged(run.stderr)
    for stream in STREAMS:
        logged = [m["value"] for m in counts if m["tags"]["stream"] == stream]
        assert sum(logged) == len(run.records(stream)) > 0, stream
        # Not one per page or per interview: one a minute, and one at the stream's end.
        assert len(logged) <= minutes + 2, stream
    # Nothing else: no warnings or errors in a clean run.
    assert not [line for line in run.log().splitlines() if "| INFO" not in line]


def test_debug_says_more(simulator, tmp_path):
    ids = list(range(1001, 1031))
    env = clean_env(TAP_HINDSIGHT_LOGLEVEL="DEBUG")
    run = run_tap(tmp_path, tap_config(simulator, ids), env=env)
    assert run.returncode == 0, run.stderr
    completed = len({r["interview_request_id"] for r in run.records("interview_turns")})
    assert completed
    assert run.stderr.count("Beginning sync of 'interview_turns'") == completed
