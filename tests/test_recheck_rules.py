"""The re-read cycle's rules (issue 24, `tap_hindsight.recheck`), pure: on a simulated clock."""

from __future__ import annotations

from collections import Counter

import pytest

from tap_hindsight.encoding import RangeSet, base36, hash36
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.planner import Planning, plan_run, rechecked
from tap_hindsight.polling import PollPolicy
from tap_hindsight.recheck import DAY, DIGEST_CHARS, Digest, due
from tap_hindsight.store import (
    digest_text,
    read_digest,
    read_digests,
    read_interviews,
    write_interviews,
)

START = 1_795_000_000.0
SCHEDULE = 900.0
EVERY_RUN = PollPolicy(0, 0, 0)


def cycle_of_runs(ids, days, runs, *, every=SCHEDULE):
    """Run the cycle over `runs` runs `every` seconds apart; the IDs each run re-reads."""
    lifecycle = LifecycleState(completed=RangeSet(ids))
    rechecked(
        lifecycle, plan_run(lifecycle, [], START, Planning(EVERY_RUN, recheck_days=days)), set()
    )
    read = []
    for run in range(1, runs + 1):
        plan = plan_run(lifecycle, [], START + run * every, Planning(EVERY_RUN, recheck_days=days))
        answered = [i for _, i in plan.rechecks]
        rechecked(lifecycle, plan, set(answered))
        read.append(answered)
    return read


@pytest.mark.parametrize("count", [10_000, pytest.param(100_000, marks=pytest.mark.scale)])
def test_every_completed_interview_is_re_read_once_a_cycle_spread_over_its_days(count):
    ids = range(1, count + 1)  # a backfill: all completed at once
    days = 30
    read = cycle_of_runs(ids, days, days * 4, every=6 * 3600.0)  # runs every 6 hours
    counts = Counter(i for run in read for i in run)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    by_day = [sum(len(run) for run in read[day * 4 : (day + 1) * 4]) for day in range(days)]
    average = len(ids) / days
    assert max(by_day) <= 2 * average
    assert max(by_day) / average < 1.01  # measured: the phases spread them evenly


def test_each_run_of_a_schedule_re_reads_its_share_of_the_cycle():
    ids = range(50_001, 60_001)
    read = cycle_of_runs(ids, 1, 96)  # a one-day cycle, a run every 15 minutes
    assert sorted(i for run in read for i in run) == list(ids)
    assert max(len(run) for run in read) <= 1.05 * len(ids) / 96
    assert min(len(run) for run in read) >= 0.95 * len(ids) / 96


def test_a_run_right_after_another_re_reads_none():
    lifecycle = LifecycleState(completed=RangeSet(range(1, 10_001)))
    rechecked(
        lifecycle, plan_run(lifecycle, [], START, Planning(EVERY_RUN, recheck_days=30)), set()
    )
    first = plan_run(lifecycle, [], START + 5 * DAY, Planning(EVERY_RUN, recheck_days=30))
    assert len(first.rechecks) > 1_000
    rechecked(lifecycle, first, {i for _, i in first.rechecks})
    second = plan_run(lifecycle, [], START + 5 * DAY + 1, Planning(EVERY_RUN, recheck_days=30))
    assert second.rechecks == []


def test_a_run_cut_short_leaves_the_rest_of_its_re_reads_first_for_the_next():
    lifecycle = LifecycleState(completed=RangeSet(range(1, 10_001)))
    rechecked(
        lifecycle, plan_run(lifecycle, [], START, Planning(EVERY_RUN, recheck_days=30)), set()
    )
    plan = plan_run(lifecycle, [], START + DAY, Planning(EVERY_RUN, recheck_days=30))
    ids = [i for _, i in plan.rechecks]
    rechecked(lifecycle, plan, set(ids[:100]))  # the deadline came after 100
    after = plan_run(lifecycle, [], START + DAY + 60, Planning(EVERY_RUN, recheck_days=30))
    rest = [i for _, i in after.rechecks]
    assert rest[: len(ids) - 100] == ids[100:]
    assert not set(rest) & set(ids[:100])


def test_re_reads_come_after_every_other_kind_of_fetch():
    lifecycle = LifecycleState(completed=RangeSet(range(1, 101)))
    lifecycle.failed.add(500)
    rechecked(lifecycle, plan_run(lifecycle, [], START, Planning(EVERY_RUN, recheck_days=1)), set())
    lifecycle.mark_pending(400, "abcd1234", int(START), int(START) - 3600)
    plan = plan_run(lifecycle, [300], START + 2 * DAY, Planning(EVERY_RUN, recheck_days=1))
    assert plan.ids[:3] == [300, 500, 400]
    assert sorted(plan.ids[3:]) == list(range(1, 101))


def test_a_paused_schedule_catches_up_one_cycle_not_every_cycle_it_missed():
    found = due(range(1, 1_001), START - 400 * DAY, START, 30 * DAY)
    assert sorted(i for _, i in found) == list(range(1, 1_001))


def test_the_cycle_starts_at_the_first_run_with_it_on_and_stops_with_it_off():
    lifecycle = LifecycleState(completed=RangeSet(range(1, 11)))
    first = plan_run(lifecycle, [], START, Planning(EVERY_RUN, recheck_days=30))
    assert first.rechecks == []  # none at once: each falls due in the next 30 days
    rechecked(lifecycle, first, set())
    assert lifecycle.recheck_through == START
    assert "recheck_through" in write_interviews(lifecycle)
    off = plan_run(lifecycle, [], START + 40 * DAY, Planning(EVERY_RUN, recheck_days=0))
    assert off.rechecks == []
    rechecked(lifecycle, off, set())
    assert "recheck_through" not in write_interviews(lifecycle)


@pytest.mark.parametrize("count", [10_000, pytest.param(100_000, marks=pytest.mark.scale)])
def test_the_state_keeps_at_most_16_bytes_per_completed_interview(count):
    ids = list(range(1_000, 1_000 + count))
    lifecycle = LifecycleState()
    for interview_id in ids:
        record = {"interview_request_id": interview_id, "transcript": {"content": "x"}}
        lifecycle.mark_completed(interview_id, Digest.of(record, interview_id % 40))
    lifecycle.recheck_through = START
    stored = write_interviews(lifecycle)
    size = len(stored["digests"]) + len(stored["completed"]) + len(stored["recheck_through"])
    assert size / len(ids) <= 16
    again = read_interviews(stored)
    assert again.digests == lifecycle.digests
    assert again.recheck_through == START


@pytest.mark.parametrize("text", ["", "x" * DIGEST_CHARS, "0" * (DIGEST_CHARS * 2)])
def test_digests_that_do_not_line_up_with_the_completed_ids_are_unknown(text):
    assert read_digests([5, 6, 7], text) == {}


def test_a_digest_tells_an_edited_record_from_a_replaced_transcript():
    record = {"interview_request_id": 1, "objective": "a", "transcript": {"content": "t"}}
    digest = Digest.of(record, 3)
    assert read_digest(digest_text(digest)) == digest
    edited = Digest.of({**record, "objective": "b"}, 3)
    replaced = Digest.of({**record, "transcript": {"content": "u"}}, 3)
    assert (edited.record != digest.record, edited.transcript != digest.transcript) == (
        True,
        False,
    )
    assert (replaced.record != digest.record, replaced.transcript != digest.transcript) == (
        False,
        True,
    )


def test_a_bad_recheck_instant_in_state_is_named():
    with pytest.raises(ValueError, match="recheck_through"):
        read_interviews({"version": 2, "recheck_through": "soon"})


def test_base36_and_its_hash_are_the_one_encoding_the_state_shares():
    assert base36(0) == "0"
    assert base36(35 * 36 + 1) == "z1"
    assert base36(35, 3) == "00z"
    assert base36(-37) == "-11"
    assert int(base36(123_456_789), 36) == 123_456_789
    # A digest's parts are hashes in base 36 of the exact width, stable across runs.
    assert hash36({"b": 1, "a": [2]}, 6) == hash36({"a": [2], "b": 1}, 6)
    assert len(hash36(None, 5)) == 5
    assert set(hash36("x", 6)) <= set("0123456789abcdefghijklmnopqrstuvwxyz")
    assert digest_text(Digest.of({"id": 1, "transcript": "t"}, 40))[-3:] == "014"
