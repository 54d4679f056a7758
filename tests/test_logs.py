"""Logs a person can read: a backfill says nothing per interview, at 2,000 interviews in
`make check` and at the documented 10,000 in `make test`."""

from __future__ import annotations

import json
import re

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
    r"Polling {n} interviews \({n} never fetched, .*; 0 pending not due yet; 0 completed skipped\) from .*",  # noqa: E501
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
    count of the interviews stream every 60 s."""
    if line.startswith("Progress: "):
        return True
    if line.startswith("METRIC: "):
        point = metric(line)
        return point["metric"] == "record_count" and point["tags"]["stream"] == "interviews"
    return False


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
    # The METRIC lines once per stream for the whole run: a timer each, and a count of
    # each stream but interviews (whose count the SDK logs on a clock).
    points = [metric(line) for line in lines if line.startswith("METRIC: ")]
    assert sorted((m["metric"], m["tags"]["stream"]) for m in points) == sorted(
        [("sync_duration", stream) for stream in STREAMS]
        + [("record_count", stream) for stream in STREAMS[1:]]
    )
    counts = [metric(line) for line in everything if line.startswith("METRIC: ")]
    counts = [m for m in counts if m["metric"] == "record_count"]
    for stream in STREAMS:
        total = sum(m["value"] for m in counts if m["tags"]["stream"] == stream)
        assert total == len(run.records(stream)) > 0
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
