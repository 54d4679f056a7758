"""Age-aware polling, the run deadline, turns for a stream selected later, old state.

Unit tests of the rule run on a fixed clock. The tests against the simulator use
intervals of minutes and hours, and move time on between runs by moving the state's poll
times into the past; what each run must poll is computed from the state it read and the
instants around the run (`Window`), with the rule written out here independently of the
tap's code, and a run is only judged where the rule gives one answer for every instant it
may have planned at.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.planner import Planning, plan_run
from tap_hindsight.polling import Poll, PollPolicy, next_poll
from tap_hindsight.records import storable
from tap_hindsight.store import STATE_KEY, read_interviews, write_interviews
from tap_hindsight.transcript import parse_turns
from tests.helpers import EVERY_RUN, catalog_selecting, run_tap, tap_config

NOW = 1_795_000_000  # a fixed clock for the unit tests
HOUR, DAY = 3600, 86_400
DEFAULTS = PollPolicy.from_settings(0.1, 5, 168)


def lifecycle(run):
    return read_interviews(run.states()[-1]["bookmarks"]["interviews"][STATE_KEY])


def polled(simulator):
    return [a.interview_id for a in simulator.arrivals if a.interview_id is not None]


# The rule, on a fixed clock ------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "interval"),
    [
        (0, 5 * 60),  # young: the minimum
        (10 * HOUR, HOUR),  # a tenth of its age
        (100 * DAY, 168 * HOUR),  # old: the cap (a tenth would be 10 days)
    ],
)
def test_the_interval_is_a_share_of_the_age_within_the_bounds(age, interval):
    assert DEFAULTS.interval(age) == pytest.approx(interval)
    assert Poll("m", NOW, age).due_at(DEFAULTS) == pytest.approx(NOW + interval)


def test_every_run_polling_is_ratio_and_minimum_zero():
    every_run = PollPolicy.from_settings(0, 0, 168)
    for age in (0, 60, 400 * DAY):  # due again at once, however old
        assert Poll("m", NOW, age).due_at(every_run) == NOW
    assert Poll("m", NOW, 0).due_at(DEFAULTS) > NOW


def test_age_counts_from_the_latest_of_creation_email_and_last_change():
    created, sent = NOW - 10 * DAY, NOW - 2 * DAY
    first = next_poll(None, "a", NOW, max(created, sent))
    assert first.age == 2 * DAY  # the first sight is not a change
    same = next_poll(first, "a", NOW + HOUR, max(created, sent))
    assert same.age == 2 * DAY + HOUR
    changed = next_poll(same, "b", NOW + 2 * HOUR, max(created, sent))
    assert changed.age == 0  # the poll that saw it change
    later = next_poll(changed, "b", NOW + 5 * HOUR, max(created, sent))
    assert later.age == 3 * HOUR
    # A poll read from an old state knows no anchor: the record's instants count.
    legacy = next_poll(Poll("b"), "b", NOW, max(created, sent))
    assert legacy.age == 2 * DAY


def test_a_plan_puts_new_then_failed_then_backfill_then_the_longest_overdue_first():
    state = LifecycleState()
    state.mark_pending(10, "a", NOW - 3 * HOUR, NOW - 3 * HOUR - DAY)  # overdue 36 min
    state.mark_pending(11, "b", NOW - 2 * DAY, NOW - 12 * DAY)  # overdue 24 h
    state.mark_pending(12, "c", NOW - HOUR, NOW - 100 * DAY)  # due in 167 h (the cap)
    state.pending[13] = Poll("d")  # never polled (no poll time): due at once
    state.mark_failed(20)
    state.mark_completed(30)
    state.mark_completed(31)
    state.sent_by(["interview_turns"], 31, sent=False)
    plan = plan_run(
        state, [40, 30, 10, 41], NOW, Planning(DEFAULTS, {"interviews", "interview_turns"})
    )
    assert plan.ids == [40, 41, 20, 31, 13, 11, 10]
    assert (plan.first_time, plan.failed, plan.backfill, plan.due, plan.not_due) == (
        2,
        1,
        1,
        3,
        1,
    )
    assert plan.due_ids == [13, 11, 10]
    assert plan.next_due == NOW - HOUR + 168 * HOUR
    # Without interview_turns selected, 31 waits for it.
    assert 31 not in plan_run(state, [], NOW, Planning(DEFAULTS, {"interviews"})).ids


def test_a_plan_counts_the_configured_ids_created_before_start_date_and_skips_them():
    state = LifecycleState()
    state.mark_out_of_range(40)
    state.mark_out_of_range(42)  # not configured any more: not counted
    plan = plan_run(state, [40, 41], NOW, Planning(DEFAULTS, {"interviews"}))
    assert (plan.ids, plan.before_start, plan.first_time) == ([41], 1, 1)


def test_state_stays_under_40_bytes_per_pending_interview_at_10000():
    state = LifecycleState()
    for n in range(10_000):
        interview_id = 4_000_000 + 3 * n
        polled_at = NOW - (n * 37) % (7 * DAY)
        state.mark_pending(interview_id, f"{n:08x}", polled_at, polled_at - (n * 997) % (90 * DAY))
    state.mark_completed(1)
    size = len(json.dumps(write_interviews(state)))
    assert size / 10_000 <= 40
    assert read_interviews(write_interviews(state)) == state


# Against the simulator, with time moved on by rewriting instants ----------------------

RATIO, MIN_S, MAX_S = 0.1, 10 * 60.0, 4.0 * HOUR
#: The rule's settings for the tests against the simulator: a 10-minute minimum, a
#: 4-hour cap. Time passes between runs by moving the poll times of the state the next
#: run reads into the past (`later`), never by waiting. The due rule alone: no polls on
#: the spare budget (tests/test_freshness.py tests those).
POLICY = {
    "poll_age_ratio": RATIO,
    "min_poll_interval_minutes": MIN_S / 60,
    "max_poll_interval_hours": MAX_S / 3600,
    "poll_budget_share": 0,
}


def due_at(poll):
    """The rule, written out: due once clamp(age * ratio, min, max) passed since the poll."""
    return poll.polled_at + min(max(poll.age * RATIO, MIN_S), MAX_S)


@dataclass
class Window:
    """A run and the instants around it: it planned somewhere in [started, ended]."""

    run: object
    started: float
    ended: float


def timed_run(tmp_path, config, state):
    started = time.time()
    run = run_tap(tmp_path, config, state=state)
    ended = time.time()
    assert run.returncode == 0, run.stderr
    return Window(run, started, ended)


def judge(window, before, simulator):
    """The IDs the run must have polled, by the rule; fails if the run's window straddles a
    due time (the rule would not give one answer)."""
    dues = {i: due_at(p) for i, p in before.pending.items()}
    straddling = {i: d for i, d in dues.items() if window.started < d <= window.ended}
    assert not straddling, f"a run straddled due times {straddling}"
    expected = {i for i, d in dues.items() if d <= window.started}
    assert set(polled(simulator)) == expected
    return expected


def later(stored, seconds):
    """The STATE a run wrote as the next run would read it `seconds` later: every pending
    poll moved that far into the past (what the rule reads of time is the time since each
    poll, and the age at it)."""
    bookmark = stored["bookmarks"]["interviews"]
    state = read_interviews(bookmark[STATE_KEY])
    for interview_id, poll in list(state.pending.items()):
        state.pending[interview_id] = Poll(poll.mark, poll.polled_at - seconds, poll.age)
    moved = copy.deepcopy(stored)
    moved["bookmarks"]["interviews"][STATE_KEY] = write_interviews(state)
    return moved, state


def test_due_and_not_due_interviews_and_the_cap(simulator, tmp_path):
    young, middle, old = 1001, 1002, 1003
    now = datetime.now(timezone.utc)
    for interview_id, age in ((young, 0), (middle, 5 * HOUR), (old, 30 * DAY)):
        simulator.set_status(interview_id, "sent")
        simulator.set_times(interview_id, now - timedelta(seconds=age))
    config = tap_config(simulator, [young, middle, old], **POLICY)

    first = timed_run(tmp_path, config, None)
    state = lifecycle(first.run)
    assert set(polled(simulator)) == {young, middle, old}  # never fetched: due
    assert state.pending[young].age <= first.ended - now.timestamp() + 1
    assert 5 * HOUR <= state.pending[middle].age <= 5 * HOUR + first.ended - now.timestamp() + 1
    assert state.pending[old].age >= 30 * DAY
    # The old one's share of its age (3 days) is capped at 4 hours.
    assert due_at(state.pending[old]) == state.pending[old].polled_at + MAX_S

    # At once: nothing is due; the start line says so and when the next falls due.
    simulator.reset_stats()
    second = timed_run(tmp_path, config, first.run.states()[-1])
    assert judge(second, state, simulator) == set()
    assert "3 pending not due yet (the next at " in second.run.stderr
    assert "Summary: 0 IDs fetched" in second.run.stderr

    # Each falls due in turn, a minute after its due time: the young one first (10
    # minutes), then the middle one (half an hour), then the old one at the cap (every
    # run polls whatever else is due by then).
    runs, polled_by_run = [second], []
    for interview_id in (young, middle, old):
        state = lifecycle(runs[-1].run)
        wait = due_at(state.pending[interview_id]) + 60 - time.time()
        stored, before = later(runs[-1].run.states()[-1], max(int(wait), 0))
        simulator.reset_stats()
        runs.append(timed_run(tmp_path, config, stored))
        polled_by_run.append(judge(runs[-1], before, simulator))
        assert interview_id in polled_by_run[-1]
    assert polled_by_run[0] == {young}  # the middle and the old one were not due yet
    assert middle in polled_by_run[1]
    assert old not in polled_by_run[1]
    assert [r.run.records() for r in runs] == [[]] * len(runs)  # nothing changed


def test_a_change_restarts_the_age_and_the_first_sight_does_not(simulator, tmp_path):
    interview_id = 1004
    two_days_ago = datetime.now(timezone.utc) - timedelta(days=2)
    simulator.set_status(interview_id, "created")
    simulator.set_times(interview_id, two_days_ago, two_days_ago)
    config = tap_config(simulator, [interview_id])  # polls every run
    first = run_tap(tmp_path, config)
    seen = lifecycle(first).pending[interview_id]
    assert seen.age >= 2 * DAY  # from created_at, not from the first poll

    simulator.advance([interview_id])  # created -> sent: email_sent_at appears
    second = run_tap(tmp_path, config, state=first.states()[-1])
    changed = lifecycle(second).pending[interview_id]
    assert [r["status"] for r in second.records()] == ["sent"]
    assert changed.age == 0  # the poll that saw the change

    third = run_tap(tmp_path, config, state=second.states()[-1])
    unchanged = lifecycle(third).pending[interview_id]
    assert third.records() == []
    assert unchanged.age == unchanged.polled_at - changed.polled_at


@pytest.mark.slow
def test_the_deadline_stops_new_requests_lets_one_in_flight_finish_and_defers_the_rest(
    simulator, tmp_path
):
    """Real time: max_run_minutes counts on the tap process's own clock, which a test
    cannot move (test_transport.py proves the same of the client on a fake clock). The
    first answer is held until the deadline has certainly passed (the clock started before
    that request was sent), `minutes` after it arrived. The one margin: the tap must send
    its first request within `minutes` of starting. At 0.06 s a loaded CI machine missed
    it (no request at all, so none was held); 12 s is two hundred times that."""
    ids = list(range(1001, 1031))
    minutes = 0.2
    config = tap_config(simulator, ids, concurrency=1, max_run_minutes=minutes)
    # Interviews only: the deals list would be read first, and its page held instead.
    interviews = catalog_selecting(tmp_path, "interviews", "interview_turns")
    done = []
    simulator.hold_answers()
    running = threading.Thread(
        target=lambda: done.append(run_tap(tmp_path, config, catalog=interviews))
    )
    running.start()
    try:
        assert simulator.wait_for_held(1, timeout=60)
        time.sleep(minutes * 60)  # the deadline passes while 1001's answer is held
    finally:
        simulator.release_answers()
        running.join(timeout=120)
    (run,) = done
    assert run.returncode == 0, run.stderr
    assert polled(simulator) == ids[:1]  # the budget would allow all 30 at once
    assert [r["interview_request_id"] for r in run.records()] == ids[:1]  # in flight: done
    assert "29 due interviews deferred to the next run by max_run_minutes (0.2)" in run.stderr
    assert "no request starts after 0.2 minutes (max_run_minutes)" in run.stderr
    state = lifecycle(run)
    assert set(state.completed) | set(state.pending) == set(ids[:1])

    # The next run starts with what was deferred, in the config's order, then the pending
    # one (due: this config polls every run).
    simulator.reset_stats()
    nxt = run_tap(tmp_path, tap_config(simulator, ids, concurrency=1), state=run.states()[-1])
    assert nxt.returncode == 0, nxt.stderr
    assert polled(simulator) == ids[1:] + sorted(state.pending)


def test_the_next_run_takes_new_and_failed_ids_first_then_the_longest_overdue(simulator, tmp_path):
    now = int(time.time())
    state = LifecycleState()
    state.mark_pending(1010, "aaaaaaaa", now - 3 * HOUR, now - 3 * HOUR - DAY)  # 36 min over
    state.mark_pending(1011, "bbbbbbbb", now - 2 * DAY, now - 12 * DAY)  # 24 h over
    state.mark_pending(1012, "cccccccc", now - HOUR, now - 100 * DAY)  # due in 167 h
    state.mark_failed(1020)
    state.mark_completed(1030)
    for interview_id in (1010, 1011, 1012):
        simulator.set_status(interview_id, "sent")
    stored = {"bookmarks": {"interviews": {STATE_KEY: write_interviews(state)}}}
    config = tap_config(simulator, [1040, 1030, 1010, 1041], concurrency=1)
    for name in EVERY_RUN:
        del config[name]  # the defaults: 0.1 of the age, 5 min to 168 h
    run = run_tap(tmp_path, {**config, "poll_budget_share": 0}, state=stored)  # due only
    assert run.returncode == 0, run.stderr
    assert polled(simulator) == [1040, 1041, 1020, 1011, 1010]
    start = next(line for line in run.stderr.splitlines() if "Polling 5 interviews" in line)
    assert "2 new or never found, 1 failed last time" in start
    assert (
        "2 pending and due, 0 completed due a re-read; 1 pending not due yet (the next at " in start
    )
    assert re.search(r"in 16[67]h\d\dm\)", start)


def test_a_stream_selected_later_gets_its_history_once(simulator, tmp_path):
    ids = list(range(1001, 1031))
    completed = [i for i in ids if simulator.status_of(i) == "completed"]
    config = tap_config(simulator, ids)
    first = run_tap(tmp_path, config, catalog=catalog_selecting(tmp_path, "interviews"))
    assert first.returncode == 0, first.stderr
    assert first.records("interview_turns") == []
    assert sorted(lifecycle(first).unsent["interview_turns"]) == completed

    simulator.reset_stats()
    second = run_tap(tmp_path, config, state=first.states()[-1])  # both streams selected
    assert second.returncode == 0, second.stderr
    pending = [i for i in ids if i not in completed]
    assert sorted(polled(simulator)) == sorted(completed + pending)  # each once
    turns = second.records("interview_turns")
    expected = [
        (i, t.index, t.text)
        for i in completed
        for t in parse_turns(storable(simulator.interview(i))["transcript"]["content"])
    ]
    assert sorted((t["interview_request_id"], t["turn_index"], t["text"]) for t in turns) == sorted(
        expected
    )
    assert second.records() == []  # the interviews' rows were loaded already
    assert "unsent" not in second.states()[-1]["bookmarks"]["interviews"][STATE_KEY]

    simulator.reset_stats()
    third = run_tap(tmp_path, config, state=second.states()[-1])
    assert third.records("interview_turns") == []
    assert sorted(polled(simulator)) == pending  # completed ones never again


def test_interviews_selected_after_the_turns_get_their_rows_once(simulator, tmp_path):
    ids = list(range(1001, 1031))
    completed = [i for i in ids if simulator.status_of(i) == "completed"]
    config = tap_config(simulator, ids)
    first = run_tap(tmp_path, config, catalog=catalog_selecting(tmp_path, "interview_turns"))
    assert first.returncode == 0, first.stderr
    assert first.records() == []
    assert sorted(lifecycle(first).unsent["interviews"]) == ids  # pending ones too

    second = run_tap(tmp_path, config, state=first.states()[-1])  # both selected
    assert second.returncode == 0, second.stderr
    rows = second.records_by_id()  # fails on a row emitted twice
    assert rows == {i: storable(simulator.interview(i)) for i in ids}
    assert second.records("interview_turns") == []  # emitted in the first run
    assert "unsent" not in second.states()[-1]["bookmarks"]["interviews"][STATE_KEY]
    first_turns = {t["interview_request_id"] for t in first.records("interview_turns")}
    assert sorted(first_turns) == completed  # the turns went out with the first run

    third = run_tap(tmp_path, config, state=second.states()[-1])
    assert third.records() == []
