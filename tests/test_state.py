"""Unit tests of the lifecycle state and of ID discovery (pure code, no I/O)."""

from __future__ import annotations

import json
import random

import pytest

from tap_hindsight.encoding import RangeSet, fingerprint
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.planner import Planning, plan_run
from tap_hindsight.polling import Poll, PollPolicy
from tap_hindsight.scan import ScanMemory
from tap_hindsight.store import read_interviews, scan_text, write_interviews

NOW = 1_795_000_000  # 2026-11-18, a fixed clock
DEFAULTS = PollPolicy.from_settings(0.1, 5, 168)
EVERY_RUN = PollPolicy(0, 0, 0)


def test_rangeset_matches_a_plain_set_under_random_adds_and_discards():
    rng = random.Random(3)
    ranges, plain = RangeSet(), set()
    for _ in range(5_000):
        value = rng.randint(1, 400)
        if rng.random() < 0.7:
            ranges.add(value)
            plain.add(value)
        else:
            ranges.discard(value)
            plain.discard(value)
        assert (value in ranges) == (value in plain)
    assert list(ranges) == sorted(plain)
    assert len(ranges) == len(plain)
    assert RangeSet.from_text(ranges.to_text()) == ranges


def test_rangeset_text_is_compact_for_consecutive_ids():
    ids = RangeSet(range(1, 100_001))
    ids.discard(500)
    assert ids.to_text() == "1-499,501-100000"
    assert ids.ranges == 2
    assert ids.max() == 100_000


def test_rangeset_reads_overlapping_and_unordered_ranges():
    assert RangeSet.from_text("10-20,1-5,15-30,6").to_text() == "1-6,10-30"


@pytest.mark.parametrize("text", ["a", "5-", "-5", "3-1", "0", "1.5", "1-2-3", "12x"])
def test_rangeset_rejects_what_is_not_ranges(text):
    with pytest.raises(ValueError, match="range"):
        RangeSet.from_text(text)


def test_state_round_trips_through_its_stored_form():
    state = LifecycleState()
    for interview_id in range(1001, 1101):
        state.mark_completed(interview_id)
    state.mark_pending(2001, "abc123de", NOW, NOW - 7200)
    state.mark_pending(2002, "0f0f0f0f", NOW - 5, NOW - 86_400 * 400)
    state.pending[2003] = Poll("12ab34cd")  # never polled (no poll time)
    state.mark_failed(3001)
    state.mark_out_of_range(901)
    state.out_of_range_before = "2026-01-01T00:00:00+00:00"
    state.scan = ScanMemory(3002, anchors=[(3001, NOW - 60)])
    state.sent_by(["interview_turns"], 1001, sent=False)
    state.mark_pending(2004, "aaaabbbb", NOW, NOW)
    state.mark_missing(2004)  # 404 once: still pending, asked again
    state.mark_pending(2005, "aaaabbbb", NOW, NOW)
    state.mark_deleted(2005)
    stored = write_interviews(state)
    assert json.loads(json.dumps(stored)) == stored
    assert (stored["missing"], stored["deleted"]) == ("2004", "2005")
    assert "2005:" not in stored["pending"]
    assert stored["completed"] == "1001-1100"
    assert stored["unsent"] == {"interview_turns": "1001"}
    again = read_interviews(json.loads(json.dumps(stored)))
    assert again.scan is not None
    assert scan_text(again.scan) == scan_text(state.scan)
    assert read_interviews(stored) == state
    assert state.pending[2001] == Poll("abc123de", NOW, 7200)


def test_deleted_wins_and_missing_ids_are_asked_again_first_after_failed():
    stored = {
        "version": 2,
        "completed": "1-10",
        "pending": "11:aaaaaaaa,12:bbbbbbbb",
        "failed": "13",
        "out_of_range": "",
        "missing": "12",
        "deleted": "5,11",
    }
    state = read_interviews(stored)
    assert 5 not in state.completed
    assert 11 not in state.pending
    assert not state.needs_fetch(5)
    plan = plan_run(state, [5, 20], NOW, Planning(PollPolicy.from_settings(100, 600, 8760)))
    assert plan.ids == [20, 13, 12]  # never fetched, failed, then 404 last run; 5 never
    assert (plan.first_time, plan.failed, plan.missing) == (1, 1, 1)


def test_completed_wins_over_pending_and_failed_in_merged_state():
    stored = {
        "version": 2,
        "completed": "1-10",
        "pending": "5:aaaaaaaa,11:bbbbbbbb",
        "failed": "7,12",
        "out_of_range": "",
    }
    state = read_interviews(stored)
    # A pending ID without a poll time is due.
    assert state.pending == {11: Poll("bbbbbbbb")}
    assert list(state.failed) == [12]
    assert plan_run(state, [1, 2, 13], NOW, Planning(DEFAULTS)).ids == [13, 12, 11]


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("1-10", "expected an object"),
        ({"version": 99}, "unknown state version"),
        # Version 1 was never written by a release (0.1.0 wrote version 2).
        ({"version": 1, "completed": "1-10"}, "unknown state version 1"),
        ({"version": 2, "completed": [1, 2]}, "'completed' should be a string"),
        ({"version": 2, "pending": "12"}, "not an ID:fingerprint or ID:fingerprint:polled:age"),
        ({"version": 2, "pending": "12:ab:1:2:3"}, "not an ID:fingerprint or"),
        ({"version": 2, "pending": "12:ab:zz!:2"}, "base-36"),
        ({"version": 2, "pending": "12:ab:1:-2"}, "negative"),
        ({"version": 2, "unsent": {"interview_turns": 5}}, "'unsent' should map"),
        ({"version": 2, "failed": "x"}, "not an ID or a range"),
    ],
)
def test_unreadable_state_says_why(stored, reason):
    with pytest.raises(ValueError, match=reason):
        read_interviews(stored)


def test_a_plan_skips_completed_and_out_of_range_and_keeps_due_pending_and_failed():
    state = LifecycleState()
    state.mark_completed(1)
    state.mark_out_of_range(2)
    state.mark_pending(50, "f", NOW - 3600, NOW - 3600)
    state.mark_failed(60)
    plan = plan_run(state, [1, 2, 3, 3, 50], NOW, Planning(EVERY_RUN))
    assert plan.ids == [3, 60, 50]
    assert (plan.first_time, plan.failed, plan.due, plan.not_due) == (1, 1, 1, 0)


def test_out_of_range_ids_are_forgotten_when_start_date_moves_earlier():
    state = LifecycleState()
    state.apply_start_date("2026-03-01T00:00:00+00:00")
    state.mark_out_of_range(5)
    state.apply_start_date("2026-04-01T00:00:00+00:00")
    assert 5 in state.out_of_range
    state.apply_start_date("2026-02-01T00:00:00+00:00")
    assert 5 not in state.out_of_range
    state.mark_out_of_range(5)
    state.apply_start_date(None)
    assert 5 not in state.out_of_range


def test_fingerprint_changes_with_any_field():
    record = {"interview_request_id": 1, "status": "sent", "objective": "x", "transcript": None}
    assert fingerprint(record) == fingerprint(dict(reversed(list(record.items()))))
    assert fingerprint(record) != fingerprint({**record, "objective": "y"})
    assert fingerprint(record) != fingerprint({**record, "status": "completed"})


#: Each place of an ID's lifecycle, and the move that puts an ID there.
MOVES = {
    "completed": lambda state, i: state.mark_completed(i),
    "pending": lambda state, i: state.mark_pending(i, "m", NOW, NOW),
    "out_of_range": lambda state, i: state.mark_out_of_range(i),
    "deleted": lambda state, i: state.mark_deleted(i),
}


@pytest.mark.parametrize("place", list(MOVES))
@pytest.mark.parametrize("before", list(MOVES))
def test_an_id_is_in_one_place_of_its_lifecycle_and_a_move_clears_its_marks(before, place):
    # Missing and failed too before the move: after it, in `place` alone, and neither.
    state = LifecycleState()
    MOVES[before](state, 7)
    state.mark_missing(7)
    state.failed.add(7)
    MOVES[place](state, 7)
    places = {
        "completed": 7 in state.completed,
        "pending": 7 in state.pending,
        "out_of_range": 7 in state.out_of_range,
        "deleted": 7 in state.deleted,
    }
    assert [name for name, holds in places.items() if holds] == [place]
    assert 7 not in state.missing
    assert 7 not in state.failed
