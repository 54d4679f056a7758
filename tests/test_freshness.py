"""Fresh transcripts from the idle budget (`poll_budget_share`, issue 36).

The allowance and the ranking are pure rules of the planner, tested on a fixed clock; one
real run against the simulator shows run 2, a minute after run 1, finding completions that
the due rule alone leaves for hours, within its allowance. Time passes between runs by
moving the state's instants into the past, never by waiting.
"""

from __future__ import annotations

import copy
import math
import random
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.planner import Planning, accrued_budget, plan_run, polling_allowance
from tap_hindsight.polling import Poll, PollPolicy
from tap_hindsight.store import STATE_KEY, read_interviews, write_interviews
from tests.helpers import run_tap, tap_config

NOW = 1_795_000_000
MINUTE, HOUR, DAY = 60, 3600, 86_400
DEFAULTS = PollPolicy.from_settings(0.1, 5, 168)


# The allowance -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "first_minutes", "accrued"),
    [
        (NOW - 15 * MINUTE, 12, 900),  # every 15 minutes on 60 a minute
        (NOW - 3 * HOUR, 12, 3600),  # at most an hour's worth
        (None, 12, 720),  # a first run: max_run_minutes
        (None, 15, 900),  # ...or 15 minutes without it
        (NOW + MINUTE, 15, 0),  # a clock that went back: nothing accrued
    ],
)
def test_the_budget_accrued_since_the_previous_run_started(previous, first_minutes, accrued):
    assert accrued_budget(60, NOW, previous, first_minutes) == pytest.approx(accrued)


def test_the_allowance_is_the_share_of_what_accrued():
    assert polling_allowance(0.1, 900) == 90
    assert polling_allowance(0.1, 899) == 89
    assert polling_allowance(0, 3600) == 0


# The ranking ---------------------------------------------------------------------------


def pending(state, interview_id, *, polled_ago, age_then):
    state.pending[interview_id] = Poll("m", NOW - polled_ago, age_then)


def test_spare_polls_go_to_the_largest_share_of_age_elapsed_and_never_too_soon():
    state = LifecycleState()
    # None is due: each was polled less than a tenth of its age ago.
    pending(state, 1, polled_ago=20 * MINUTE, age_then=5 * HOUR)  # 20 of 320 min: 0.06
    pending(state, 2, polled_ago=DAY, age_then=30 * DAY)  # 1 of 31 days: 0.03
    pending(state, 3, polled_ago=2 * MINUTE, age_then=2 * HOUR)  # polled 2 min ago
    pending(state, 4, polled_ago=15 * MINUTE, age_then=3 * HOUR)  # 15 of 195 min: 0.08
    plan = plan_run(state, [], NOW, Planning(DEFAULTS, share=1, accrued=2))
    assert plan.ids == [4, 1]  # the allowance (2), best first; 3 is too recent
    assert plan.spare == [4, 1]
    plan = plan_run(state, [], NOW, Planning(DEFAULTS, share=1, accrued=10))
    assert plan.ids == [4, 1, 2]
    assert (plan.due, plan.not_due) == (0, 1)
    assert plan_run(state, [], NOW, Planning(DEFAULTS)).ids == []  # the due rule alone


def test_due_polls_come_first_are_never_cut_and_use_the_allowance_up():
    state = LifecycleState()
    for interview_id in range(1, 6):  # due: polled 2 days ago at an age of a day
        pending(state, interview_id, polled_ago=2 * DAY, age_then=DAY)
    for interview_id in range(10, 20):  # not due: polled 20 minutes ago at 10 hours
        pending(state, interview_id, polled_ago=20 * MINUTE, age_then=10 * HOUR)
    state.mark_failed(30)
    state.mark_completed(40)
    state.recheck_through = NOW - 30 * DAY
    planning = Planning(DEFAULTS, recheck_days=1, share=1, accrued=8)
    plan = plan_run(state, [50], NOW, planning)
    assert plan.ids[:2] == [50, 30]  # never fetched, failed
    assert sorted(plan.ids[2:7]) == [1, 2, 3, 4, 5]  # due
    assert len(plan.spare) == 3  # 8 in all, 5 of them due
    assert plan.ids[7:10] == plan.spare
    assert plan.ids[10:] == [40]  # the re-reads last
    cut = plan_run(state, [], NOW, Planning(DEFAULTS, share=1, accrued=3))
    assert (cut.due, cut.spare) == (5, [])  # more due than allowed: all due, none more


def test_share_zero_plans_exactly_as_the_due_rule_alone():
    rng = random.Random(7)
    state = LifecycleState()
    for interview_id in range(1, 400):
        pending(
            state,
            interview_id,
            polled_ago=rng.randint(0, 10 * DAY),
            age_then=rng.randint(0, 60 * DAY),
        )
    alone = plan_run(state, [500, 501], NOW, Planning(DEFAULTS))
    zero = plan_run(state, [500, 501], NOW, Planning(DEFAULTS, share=0, accrued=3600))
    assert (alone.ids, alone.not_due, alone.next_due) == (zero.ids, zero.not_due, zero.next_due)
    assert zero.spare == []
    assert alone.due > 0
    assert alone.not_due > 0


def test_ten_thousand_pending_cost_what_the_share_allows_not_what_they_number():
    rng = random.Random(8)
    for count in (100, 10_000):
        state = LifecycleState()
        for interview_id in range(1, count + 1):
            pending(
                state,
                interview_id,
                polled_ago=rng.randint(6 * MINUTE, 3 * HOUR),
                age_then=rng.randint(30 * DAY, 60 * DAY),  # none due (intervals of days)
            )
        plan = plan_run(state, [], NOW, Planning(DEFAULTS, share=0.1, accrued=900))
        assert (plan.due, len(plan.spare)) == (0, 90)


# A real run ----------------------------------------------------------------------------


def a_minute_later(stored):
    """The STATE as a run a minute later reads it: every instant moved a minute back."""
    moved = copy.deepcopy(stored)
    bookmark = moved["bookmarks"]["interviews"]
    state = read_interviews(bookmark[STATE_KEY])
    for interview_id, poll in list(state.pending.items()):
        state.pending[interview_id] = Poll(poll.mark, poll.polled_at - MINUTE, poll.age)
    state.run_started -= MINUTE
    bookmark[STATE_KEY] = write_interviews(state)
    return moved


def allowance_said(run):
    start = next(line for line in run.stderr.splitlines() if "Polling " in line)
    return int(re.search(r"poll_budget_share [\d.]+: up to (\d+) polls", start).group(1))


def test_run_two_a_minute_later_finds_young_completions_within_its_allowance(simulator, tmp_path):
    ids = list(range(1001, 1041))
    created = datetime.now(timezone.utc) - timedelta(hours=30)  # due every 3 hours
    for interview_id in ids:
        simulator.set_status(interview_id, "sent")
        simulator.set_times(interview_id, created)
    settings = {
        "poll_age_ratio": 0.1,
        "min_poll_interval_minutes": 0.5,
        "requests_per_minute": 60,
    }
    first_started = time.time()
    first = run_tap(tmp_path, tap_config(simulator, ids[:20], **settings))
    assert first.returncode == 0, first.stderr
    assert len(first.records()) == 20
    # A first run has no previous start: its allowance is from 15 minutes of budget.
    assert "of the 900 requests of a first run's 15 minutes of budget" in first.stderr
    done = ids[:5]
    for interview_id in done:
        simulator.set_status(interview_id, "completed")
    stored = a_minute_later(first.states()[-1])

    # The due rule alone leaves them for hours.
    simulator.reset_stats()
    alone = run_tap(
        tmp_path, tap_config(simulator, ids[:20], **settings, poll_budget_share=0), state=stored
    )
    assert alone.returncode == 0, alone.stderr
    assert simulator.stats()["interview_requests"] == 0
    assert alone.records() == []
    assert "IDs to poll at" not in alone.stderr  # no estimate for nothing to poll

    # Half the budget that accrued in the minute: about 30 polls, for 20 pending.
    simulator.reset_stats()
    config = tap_config(simulator, ids[:20], **settings, poll_budget_share=0.5)
    second = run_tap(tmp_path, config, state=stored)
    assert second.returncode == 0, second.stderr
    allowance = allowance_said(second)
    # A minute, plus what passed between run 1's start and run 2's (read from the clock
    # around the runs), plus up to a second: the state keeps run 1's start to the whole
    # second. The allowance follows from it.
    passed = (time.time() - first_started) / 60
    most = 60 * (1 + passed) + 1
    assert math.floor(0.5 * 60) <= allowance <= math.floor(0.5 * most)
    stats = simulator.stats()
    assert (stats["interview_requests"], stats["max_requests_per_id"]) == (20, 1)
    assert sorted(r["interview_request_id"] for r in second.records()) == done
    assert "pending polled: 0 due, 20 on the spare budget" in second.stderr
    assert "first run" not in second.stderr
    used = re.search(r"the run used ([\d.]+)% of the ([\d,]+) requests the budget", second.stderr)
    accrued = int(used.group(2).replace(",", ""))
    assert 60 <= accrued <= most + 0.5  # a minute's budget and a little more, rounded
    # The accrued budget is printed rounded to a request: the share lies between.
    assert (
        100 * 20 / (accrued + 0.5) - 0.05
        <= float(used.group(1))
        <= 100 * 20 / (accrued - 0.5) + 0.05
    )

    # More pending than the allowance: the run spends the allowance, not more.
    many = tap_config(simulator, ids, **settings, poll_budget_share=0.25)
    third = run_tap(tmp_path, many, state=a_minute_later(second.states()[-1]))
    assert third.returncode == 0, third.stderr
    simulator.reset_stats()
    fourth = run_tap(tmp_path, many, state=a_minute_later(third.states()[-1]))
    assert fourth.returncode == 0, fourth.stderr
    allowance = allowance_said(fourth)
    assert 15 <= allowance < 40
    assert simulator.stats()["interview_requests"] == allowance
    assert f"pending polled: 0 due, {allowance} on the spare budget" in fourth.stderr
