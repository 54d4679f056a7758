"""Two-run tests: what a run with the previous run's state fetches, emits and remembers."""

from __future__ import annotations

import pytest

from tap_hindsight.encoding import RangeSet
from tap_hindsight.store import STATE_KEY, read_interviews
from tests.helpers import expected_record, run_tap, tap_config

IDS = list(range(1001, 1061))


def lifecycle(run):
    return read_interviews(run.states()[-1]["bookmarks"]["interviews"][STATE_KEY])


def statuses(simulator, ids):
    return {i: simulator.status_of(i) for i in ids}


def test_a_second_run_fetches_only_pending_ids_and_emits_only_what_changed(simulator, tmp_path):
    first = run_tap(tmp_path, tap_config(simulator, IDS))
    assert first.returncode == 0, first.stderr
    assert sorted(first.records_by_id()) == IDS  # no state: everything fetched and emitted
    before = statuses(simulator, IDS)
    completed = [i for i in IDS if before[i] == "completed"]
    pending = [i for i in IDS if before[i] != "completed"]
    assert completed
    assert len(pending) >= 10
    remembered = lifecycle(first)
    assert list(remembered.completed) == completed
    assert sorted(remembered.pending) == pending

    advanced = pending[:6]
    simulator.advance(advanced)
    edited = pending[6]
    simulator.set_body(edited, {**simulator.interview(edited), "objective": "Renewal risk"})
    simulator.reset_stats()
    second = run_tap(tmp_path, tap_config(simulator, IDS), state=first.states()[-1])
    assert second.returncode == 0, second.stderr

    for interview_id in completed:
        assert simulator.requests_for(interview_id) == 0
    for interview_id in pending:
        assert simulator.requests_for(interview_id) == 1
    assert simulator.stats()["interview_requests"] == len(pending)
    emitted = second.records_by_id()
    assert sorted(emitted) == sorted([*advanced, edited])
    for interview_id, record in emitted.items():
        assert record == expected_record(simulator, interview_id)
    after = lifecycle(second)
    newly_completed = [i for i in advanced if simulator.status_of(i) == "completed"]
    assert newly_completed
    assert list(after.completed) == sorted(completed + newly_completed)
    assert sorted(after.pending) == sorted(set(pending) - set(newly_completed))

    simulator.reset_stats()
    third = run_tap(tmp_path, tap_config(simulator, IDS), state=second.states()[-1])
    assert third.returncode == 0, third.stderr
    assert third.records() == []
    assert simulator.stats()["interview_requests"] == len(after.pending)
    assert f"{len(after.pending)} unchanged" in third.stderr


def test_a_pending_id_is_polled_after_it_leaves_the_config(simulator, tmp_path):
    for interview_id in (1001, 1002):
        simulator.set_status(interview_id, "sent")
    first = run_tap(tmp_path, tap_config(simulator, [1001, 1002]))
    simulator.advance([1001])
    simulator.advance([1001])
    simulator.reset_stats()
    second = run_tap(tmp_path, tap_config(simulator, [1003]), state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    assert sorted(second.records_by_id()) == [1001, 1003]
    assert second.records_by_id()[1001]["status"] == "completed"
    assert simulator.requests_for(1002) == 1
    assert 1001 in lifecycle(second).completed


def test_nothing_to_poll_is_said_and_an_emptied_config_still_polls_what_the_state_holds(
    simulator, tmp_path
):
    # Only api_key and base_url: the run did nothing for interviews, and said nothing.
    empty = run_tap(tmp_path, tap_config(simulator, []))
    assert empty.returncode == 0, empty.stderr
    warning = "Nothing to extract for the interviews stream: interview_ids is empty"
    assert warning in empty.stderr
    assert "scan_start_id" in empty.stderr.split(warning, 1)[1].splitlines()[0]
    simulator.set_status(1001, "sent")
    first = run_tap(tmp_path, tap_config(simulator, [1001]))
    assert warning not in first.stderr
    second = run_tap(tmp_path, tap_config(simulator, []), state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    assert warning not in second.stderr  # the state holds 1001, pending
    assert 1001 in lifecycle(second).pending


def test_a_failed_id_is_fetched_again_next_run_even_if_it_left_the_config(simulator, tmp_path):
    simulator.script_faults(1004, ["500"])
    first = run_tap(tmp_path, tap_config(simulator, [1004, 1005], max_retries=0))
    assert first.returncode == 1
    assert 1004 in lifecycle(first).failed
    second = run_tap(tmp_path, tap_config(simulator, [1005]), state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    assert second.records_by_id()[1004] == expected_record(simulator, 1004)
    assert 1004 not in lifecycle(second).failed


def test_interviews_before_start_date_are_remembered_and_not_fetched_again(simulator, tmp_path):
    created = {i: simulator.interview(i)["created_at"] for i in IDS}
    start_date = sorted(created.values())[20]
    early = [i for i in IDS if created[i] < start_date]
    config = tap_config(simulator, IDS, start_date=start_date)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    assert list(lifecycle(first).out_of_range) == early
    simulator.reset_stats()
    second = run_tap(tmp_path, config, state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    assert all(simulator.requests_for(i) == 0 for i in early)
    # The start line accounts for them (it once said nothing of the IDs it left out).
    assert f"{len(early)} created before start_date skipped)" in second.stderr
    assert "before start_date skipped" not in first.stderr  # not known before the answers
    # Moving start_date earlier brings them back.
    simulator.reset_stats()
    earlier = tap_config(simulator, IDS, start_date="2020-01-01T00:00:00Z")
    third = run_tap(tmp_path, earlier, state=second.states()[-1])
    assert sorted(third.records_by_id()) == early


def test_the_created_at_bookmark_never_moves_backwards(simulator, tmp_path):
    for interview_id in IDS:
        simulator.set_status(interview_id, "sent")
    first = run_tap(tmp_path, tap_config(simulator, IDS))
    bookmark = first.states()[-1]["bookmarks"]["interviews"]["replication_key_value"]
    assert bookmark == max(simulator.interview(i)["created_at"] for i in IDS)
    simulator.advance([1001])  # the oldest interview completes: the only record of run 2
    second = run_tap(tmp_path, tap_config(simulator, IDS), state=first.states()[-1])
    assert [r["interview_request_id"] for r in second.records()] == [1001]
    assert second.records()[0]["created_at"] < bookmark
    assert second.states()[-1]["bookmarks"]["interviews"]["replication_key_value"] == bookmark


def test_state_merged_from_an_interrupted_run_counts_an_id_as_completed(simulator, tmp_path):
    state = {
        "bookmarks": {
            "interviews": {
                STATE_KEY: {
                    "version": 2,
                    "completed": "1001-1005",
                    "pending": "1003:aaaaaaaa,1006:bbbbbbbb",
                    "failed": "1004",
                    "out_of_range": "",
                }
            },
        }
    }
    run = run_tap(tmp_path, tap_config(simulator, [1001, 1002, 1003]), state=state)
    assert run.returncode == 0, run.stderr
    assert simulator.requests_for(1003) == 0
    assert simulator.requests_for(1004) == 0
    assert simulator.requests_for(1006) == 1


@pytest.mark.parametrize(
    ("state", "warning"),
    [
        (
            {"bookmarks": {"interviews": {STATE_KEY: {"version": 2, "completed": 7}}}},
            (
                "'completed' should be a string, found int): every configured ID will be "
                "fetched again, and ID discovery (if scan_start_id is set) starts again from "
                "scan_start_id"
            ),
        ),
        ({"bookmarks": {"interviews": {STATE_KEY: "1001-1060"}}}, "expected an object"),
        ({"bookmarks": {"interviews": {STATE_KEY: {"version": 3}}}}, "unknown state version"),
        ({"bookmarks": {"interviews": "garbage"}}, "not an object"),
        ({"bookmarks": {"interviews": {"partitions": [{"context": {"id": 1}}]}}}, "partitions"),
        ({"bookmarks": {"tickets": {"replication_key_value": 3}}}, "unknown stream 'tickets'"),
        ({"bookmarks": ["interviews"]}, "not a Singer state object"),
        ([1, 2], "not a Singer state object"),
    ],
)
def test_unreadable_state_is_ignored_with_a_warning_and_nothing_is_lost(
    simulator, tmp_path, state, warning
):
    run = run_tap(tmp_path, tap_config(simulator, [1001, 1002]), state=state)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert warning in run.stderr
    assert sorted(run.records_by_id()) == [1001, 1002]


def test_a_state_file_that_is_not_json_is_named(tmp_path):
    bad = tmp_path / "broken-state.json"
    bad.write_text('{"bookmarks": ')
    config = tmp_path / "config.json"
    config.write_text('{"api_key": "x"}')
    run = run_tap(tmp_path, None, "--config", str(config), "--state", str(bad))
    assert run.returncode == 1
    assert "broken-state.json is not valid JSON" in run.stderr
    assert "Traceback" not in run.stderr


def test_state_stays_compact(simulator, tmp_path):
    first = run_tap(tmp_path, tap_config(simulator, IDS))
    stored = first.states()[-1]["bookmarks"]["interviews"][STATE_KEY]
    completed = RangeSet.from_text(stored["completed"])
    assert len(completed) == sum(1 for i in IDS if simulator.status_of(i) == "completed")
    assert len(stored["completed"]) < 12 * completed.ranges
