"""ID discovery against the simulator: probe ascending IDs, stop after misses, resume."""

from __future__ import annotations

from tap_hindsight.lifecycle import STATE_KEY, LifecycleState
from tap_hindsight.simulator import Organisation
from tests.helpers import ACME_KEY, expected_record, run_tap, tap_config

GAP = frozenset(range(1011, 1021))  # another organisation's IDs, in the middle of ours


def lifecycle(run):
    return LifecycleState.from_bookmark(run.states()[-1]["bookmarks"]["interviews"][STATE_KEY])


def acme(count=40):
    return (Organisation("acme", ACME_KEY, 1001, count, gaps=GAP),)


def test_discovery_finds_every_id_across_gaps_then_resumes_above_the_highest(
    start_simulator, tmp_path
):
    simulator = start_simulator(organisations=acme())
    owned = simulator.organisation("acme").ids
    config = tap_config(simulator, [], scan_start_id=1001, scan_max_misses=25)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    records = first.records_by_id()
    assert sorted(records) == owned
    assert all(records[i] == expected_record(simulator, i) for i in owned)
    # 30 found, 10 misses in the gap, 25 misses above the highest: each probe one request.
    assert simulator.stats()["interview_requests"] == 30 + 10 + 25
    assert lifecycle(first).scan_next_id == 1041
    assert "WARNING" not in first.log()  # misses are expected: no "not found" warnings

    new = simulator.create_interviews("acme", 3)
    simulator.reset_stats()
    second = run_tap(tmp_path, config, state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    remembered = lifecycle(first)
    assert sorted(second.records_by_id()) == new  # pending ones unchanged: no records
    for interview_id in remembered.completed:
        assert simulator.requests_for(interview_id) == 0
    for interview_id in GAP:
        assert simulator.requests_for(interview_id) == 0  # below the highest known: not probed
    assert simulator.stats()["interview_requests"] == len(remembered.pending) + 3 + 25
    assert lifecycle(second).scan_next_id == new[-1] + 1


def test_discovery_stops_at_a_gap_wider_than_scan_max_misses(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme())
    run = run_tap(tmp_path, tap_config(simulator, [], scan_start_id=1001, scan_max_misses=5))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == list(range(1001, 1011))
    assert lifecycle(run).scan_next_id == 1011


def test_listed_and_discovered_ids_are_fetched_once(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme())
    config = tap_config(simulator, [1003, 1035], scan_start_id=1001, scan_max_misses=25)
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == simulator.organisation("acme").ids
    assert simulator.stats()["max_requests_per_id"] == 1


def test_a_run_stopped_early_resumes_discovery_without_losing_an_id(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme())
    config = tap_config(simulator, [], scan_start_id=1001, scan_max_misses=25, concurrency=4)
    stopped = run_tap(tmp_path, config, "--test")  # the SDK stops after the first record
    assert stopped.returncode == 0, stopped.stderr
    assert len(stopped.records()) == 1
    assert stopped.states(), "the stopped run printed no STATE"
    resumed = run_tap(tmp_path, config, state=stopped.states()[-1])
    assert resumed.returncode == 0, resumed.stderr
    emitted = {r["interview_request_id"] for r in stopped.records() + resumed.records()}
    assert sorted(emitted) == simulator.organisation("acme").ids
