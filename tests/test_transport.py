"""How the tap talks to the API: faults, retries, 429s, redirects, concurrency, budget."""

from __future__ import annotations

import itertools
import logging
import threading

import pytest

from hindsight_simulator import FAULT_KINDS
from hindsight_simulator.server import max_in_window
from tap_hindsight import client as client_module
from tap_hindsight.answers import Outcome
from tap_hindsight.client import HindsightClient
from tap_hindsight.limiter import RateLimiter
from tap_hindsight.settings import load_settings
from tap_hindsight.tap import TapHindsight
from tests.helpers import FakeClock, expected_record, run_tap, tap_config

SCHEMA = TapHindsight.settings_schema()


TRANSIENT = [fault for fault in FAULT_KINDS if fault not in {"429", "hang"}]


def check_retried_until_the_records_arrive(simulator, tmp_path, faults: list[str]) -> None:
    """Each kind of fault twice on an ID of its own, all in one run (the retries' waits
    overlap): every record arrives whole after three requests, each ID named in the log."""
    faulty = dict(zip(range(1002, 1002 + len(faults)), faults, strict=True))
    for interview_id, fault in faulty.items():
        simulator.script_faults(interview_id, [fault, fault])
    ids = [1001, *faulty, 1002 + len(faulty)]
    run = run_tap(tmp_path, tap_config(simulator, ids, request_timeout=1))
    assert run.returncode == 0, run.stderr
    records = run.records_by_id()
    assert sorted(records) == ids
    assert simulator.stats()["faults"] == dict.fromkeys(faults, 2)
    for interview_id, fault in faulty.items():
        assert records[interview_id] == expected_record(simulator, interview_id), fault
        assert simulator.requests_for(interview_id) == 3, fault
        assert f"Interview {interview_id}" in run.stderr, fault
    assert "retrying" in run.stderr


def test_each_transient_failure_is_retried_until_the_record_arrives(start_simulator, tmp_path):
    check_retried_until_the_records_arrive(start_simulator(), tmp_path, TRANSIENT)


@pytest.mark.slow
def test_a_hung_answer_is_retried_until_the_record_arrives(start_simulator, tmp_path):
    """Slow: a hung answer is only noticed once the request timeout (1 s) runs out on the
    tap's real clock."""
    check_retried_until_the_records_arrive(start_simulator(hang_seconds=3), tmp_path, ["hang"])


def test_an_id_that_keeps_failing_is_named_at_the_end_and_fails_the_run(simulator, tmp_path):
    simulator.script_faults(1005, ["500"] * 10)
    simulator.script_faults(1007, ["disconnect"] * 10)
    run = run_tap(tmp_path, tap_config(simulator, list(range(1001, 1011)), max_retries=2))
    assert run.returncode == 1
    assert sorted(run.records_by_id()) == [1001, 1002, 1003, 1004, 1006, 1008, 1009, 1010]
    assert simulator.requests_for(1005) == 3  # one try and two retries, then it gives up
    assert simulator.requests_for(1007) == 3
    last_line = run.stderr.strip().splitlines()[-1]
    assert "2 interviews could not be extracted" in last_line
    assert "1005, 1007" in last_line
    assert "Interview 1005 failed: HTTP 500" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("reset_style", ["epoch", "seconds", "retry-after"])
def test_after_a_429_the_tap_waits_for_the_reset_then_nothing_is_lost(
    start_simulator, tmp_path, reset_style
):
    """Real time: the reset a 429 announces is an instant of the real clock (an epoch, or
    whole seconds from now), which the tap process must wait for. The arithmetic is proven
    on given instants in test_units.py."""
    # Rate-limit headers only on 429s: the tap cannot see the budget running out. One
    # request at a time, so that every request after a 429 was sent after it was read.
    simulator = start_simulator(
        rate_limit=5, window_seconds=2, reset_style=reset_style, limit_headers_always=False
    )
    ids = list(range(1001, 1016))
    run = run_tap(tmp_path, tap_config(simulator, ids, concurrency=1))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == ids
    arrivals = sorted(simulator.arrivals, key=lambda a: a.at)
    rejected = [i for i, a in enumerate(arrivals) if a.status == 429]
    assert rejected, "the simulator's budget of 5 per 2 s should have been exceeded"
    assert "pausing all requests" in run.stderr
    for index in rejected:
        reset = (arrivals[index].at // 2 + 1) * 2  # the end of the 429's window
        following = arrivals[index + 1]
        # The next request waited for the reset the 429 announced, so it was answered.
        assert following.at >= reset
        assert following.status == 200


def test_a_429_on_one_request_pauses_all_the_others(start_simulator):
    simulator = start_simulator(reset_style="seconds", latency_ms=5)
    simulator.script_faults(1006, ["429"])  # asks to wait 1 s
    ids = list(range(1001, 1041))
    settings = load_settings(tap_config(simulator, ids, concurrency=4), SCHEMA)
    trace: list[tuple[str, float]] = []
    client = HindsightClient(
        settings, logging.getLogger("test"), RateLimiter(settings.budget, trace=trace)
    )
    try:
        results = list(client.fetch_all(ids))
    finally:
        client.close()
    assert sorted(r.interview_id for r in results) == ids
    assert all(r.outcome is Outcome.OK for r in results)
    # In the order the limiter saw them: once the 429 paused it, no worker sent anything
    # until the pause was over; the other workers did send afterwards.
    (pause,) = [i for i, (event, _) in enumerate(trace) if event == "pause"]
    until = trace[pause][1]
    later = [at for event, at in trace[pause + 1 :] if event == "send"]
    assert len(later) >= 4
    assert all(at >= until for at in later)
    # And every request the API saw took its slot from the limiter, the retry included.
    assert simulator.stats()["requests"] == sum(1 for event, _ in trace if event == "send")
    assert simulator.stats()["requests"] == len(ids) + 1


def test_a_redirect_to_another_host_is_not_followed_and_the_key_stays_home(
    start_simulator, tmp_path
):
    elsewhere = start_simulator(host="127.0.0.2")
    elsewhere_root = elsewhere.url.removesuffix("/api/v1")
    simulator = start_simulator(redirect_to=elsewhere_root)
    simulator.script_faults(1002, ["redirect"])
    run = run_tap(tmp_path, tap_config(simulator, [1001, 1002, 1003]))
    assert run.returncode == 1
    assert sorted(run.records_by_id()) == [1001, 1003]
    assert "redirect to another host (127.0.0.2) not followed" in run.stderr
    assert elsewhere.stats()["requests"] == 0


def test_a_redirect_within_the_api_host_is_followed(start_simulator, tmp_path):
    simulator = start_simulator()
    simulator.config.redirect_to = simulator.url.removesuffix("/api/v1")
    simulator.script_faults(1002, ["redirect"])
    run = run_tap(tmp_path, tap_config(simulator, [1002]))
    assert run.returncode == 0, run.stderr
    assert run.records() == [expected_record(simulator, 1002)]
    assert simulator.requests_for(1002) == 2


def test_requests_run_concurrency_at_a_time(start_simulator, tmp_path):
    # Answers are held until 4 requests are in flight at once (the simulator gives up
    # after 30 s): a tap sending fewer at a time makes the peak fall short of 4.
    simulator = start_simulator(hold_until_in_flight=4, hang_seconds=30)
    run = run_tap(tmp_path, tap_config(simulator, list(range(1001, 1025)), concurrency=4))
    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 24
    assert simulator.stats()["max_in_flight"] == 4


def test_never_more_than_requests_per_minute_in_any_window(short_window, start_simulator, tmp_path):
    # The API's window, shortened for the tap and the simulator at once (window.py): what
    # holds over Hindsight's minute holds over any length. 6 interviews, 2 retries and the
    # deals list (2 pages) are 10 requests for a budget of 5: the 6th must wait.
    simulator = start_simulator(serve_deals=True)
    assert simulator.config.window_seconds == short_window
    ids = list(range(1001, 1007))
    for interview_id in (1002, 1005):
        simulator.script_faults(interview_id, ["503"])  # retries spend the same budget
    run = run_tap(tmp_path, tap_config(simulator, ids, requests_per_minute=5, concurrency=4))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == ids
    arrivals = sorted(a.at for a in simulator.arrivals)
    assert len(arrivals) == 8 + simulator.stats()["deal_requests"] == 10
    assert max_in_window(arrivals, short_window) <= 5
    assert arrivals[5] - arrivals[0] >= short_window  # the 6th waited for the window
    # A run held back by its budget reports progress twice a window (every 30 s of a
    # minute), and its waits in the summary.
    progress = [line for line in run.stderr.splitlines() if "Progress:" in line]
    assert progress
    assert "/6 IDs" in progress[0]
    assert "ETA" in progress[0]
    summary = next(line for line in run.stderr.splitlines() if "Summary:" in line)
    assert "8 requests sent" in summary
    assert "instead of Hindsight's minute" in run.stderr  # the shortened window is said
    waited = summary.split(" waiting for the rate limit")[0].rsplit(", ", 1)[1]
    assert waited.endswith("s")
    assert waited != "0s"


def test_after_the_deadline_no_request_starts_and_the_one_in_flight_finishes(simulator):
    # The deadline on a fake clock (the limiter's): it passes while 1001's answer is held.
    clock = FakeClock()
    ids = list(range(1001, 1011))
    settings = load_settings(tap_config(simulator, ids, concurrency=1), SCHEMA)
    limiter = RateLimiter(settings.budget, clock=clock)
    client = HindsightClient(settings, logging.getLogger("test"), limiter, deadline=clock.now + 60)
    results = []
    simulator.hold_answers()
    worker = threading.Thread(target=lambda: results.extend(client.fetch_all(ids)))
    worker.start()
    try:
        assert simulator.wait_for_held(1, timeout=60)
        assert not client.deadline_reached
        clock.now += 61
        assert client.deadline_reached
    finally:
        simulator.release_answers()
        worker.join(timeout=60)
        client.close()
    assert not worker.is_alive()
    assert [(r.interview_id, r.outcome) for r in results] == [(1001, Outcome.OK)]
    assert simulator.stats()["requests"] == 1  # the budget would allow all 10 at once


@pytest.mark.parametrize("with_length", [True, False])
def test_a_runaway_answer_is_refused_without_exhausting_memory(
    start_simulator, tmp_path, with_length
):
    simulator = start_simulator(huge_without_length=not with_length)
    simulator.script_faults(1002, ["huge"])
    run = run_tap(tmp_path, tap_config(simulator, [1001, 1002, 1003]))
    assert run.returncode == 1
    assert sorted(run.records_by_id()) == [1001, 1003]
    assert "Interview 1002 failed: answer" in run.stderr
    assert "refused" in run.stderr
    assert simulator.requests_for(1002) == 1  # not retried: it would be as large again


def test_a_stop_cuts_a_retry_wait_short(simulator, monkeypatch):
    # A rejected key (or the end of the run) stops the client: a worker waiting to retry
    # must give up at once, not sleep out its backoff. Waits of an hour make sure of it.
    monkeypatch.setattr(client_module, "retry_waits", lambda: itertools.repeat(3600.0))
    simulator.script_faults(1001, ["500"])
    settings = load_settings(tap_config(simulator, [1001]), SCHEMA)
    client = HindsightClient(settings, logging.getLogger("test"))
    results = []
    worker = threading.Thread(target=lambda: results.extend(client.fetch_all([1001])))
    worker.start()
    assert simulator.wait_for_answers(1, timeout=60)  # the 500 is out: a retry is due
    client.stop()
    worker.join(timeout=60)
    client.close()
    assert not worker.is_alive()
    assert [result.outcome for result in results] == [Outcome.CANCELLED]
    assert simulator.requests_for(1001) == 1
