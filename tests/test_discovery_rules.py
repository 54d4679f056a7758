"""Discovery that follows the shared ID counter (`tap_hindsight.discovery`), pure: driven on
a simulated clock against `SharedIdSpace`, as the discovery benchmark drives it."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hindsight_simulator.ids import SharedIdSpace
from tap_hindsight.answers import server_time
from tap_hindsight.api import ServerClock
from tap_hindsight.counter import _covered, _hour_of_week, _hour_slices
from tap_hindsight.discovery import POLICY, Discovery, Policy
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.scan import Gap, ScanMemory
from tap_hindsight.store import read_scan, scan_text
from tap_hindsight.summary import describe_discovery, discovery_summary

START = 1_795_000_000.0
RUN_EVERY = 900.0
PER_RUN = 720


class Year:
    """Runs every 15 minutes over a shared space, probing one ID a second."""

    def __init__(self, space: SharedIdSpace, start_id: int, policy: Policy = POLICY) -> None:
        self.space = space
        self.policy = policy
        self.start_id = start_id
        self.lifecycle = LifecycleState()
        self.memory: ScanMemory | None = None
        self.found: dict[int, float] = {}
        self.requests: dict[int, int] = {}
        self.clock = START

    def run(self, most: int = PER_RUN) -> Discovery:
        """One run of at most `most` probes (`max_run_minutes`); `sent` says how many."""
        now = [self.clock]
        discovery = Discovery(
            self.start_id, self.memory, self.lifecycle, clock=lambda: now[0], policy=self.policy
        )
        self.sent = 0
        for _ in range(most):
            probe = discovery.next_probe()
            if probe is None:
                break
            self.requests[probe] = self.requests.get(probe, 0) + 1
            exists = self.space.answers("acme", probe, now[0])
            discovery.answered(probe, exists=exists, created_at=self.space.created_at(probe))
            if exists:
                self.lifecycle.mark_completed(probe)
                self.found.setdefault(probe, now[0])
            discovery.kept(probe)
            self.sent += 1
            now[0] += 1.0
        self.memory = discovery.stored()
        self.clock += RUN_EVERY
        return discovery


def test_the_stored_form_round_trips_and_a_bad_one_is_named():
    memory = ScanMemory(
        1200, [Gap(1180, 1199, START, 2), Gap(1201, 1201, 0.0, 0)], [(1175, START - 60)], 12, 1190
    )
    memory.rate, memory.hours, memory.clock_offset = 125 / 3600, 0b1110, -42.0
    memory.resting, memory.scouts, memory.scouted_after = 0b1 << 160, 2, 7_200.0
    again = read_scan(scan_text(memory))
    assert scan_text(again) == scan_text(memory)
    assert again.open_ids == 21
    assert again.gaps[1].probed_at == 0.0  # never probed: due at once
    assert again.clock_offset == -42.0
    assert again.resting == 1 << 160
    assert (again.scouts, again.scouted_after) == (2, 7_200.0)
    for bad in ("g1-2@0.0", "n0", "n5;z1", "n5;xa", "n5;g3-1@0.0", "n5;g1-3@0.0,2@0.0", "n5;s3/2"):
        with pytest.raises(ValueError, match=r"discovery state|gaps"):
            read_scan(bad)


def test_a_404_is_final_only_once_one_of_ours_above_it_was_created_before_it():
    space = SharedIdSpace(100, {"acme": 0.5}, seed=1)
    space.create(1, START - 600)  # 100
    now = [START]
    discovery = Discovery(100, ScanMemory(100), LifecycleState(), clock=lambda: now[0])
    assert discovery.next_probe() == 100
    discovery.answered(100, exists=False)  # no interview of ours above: open
    assert discovery.memory.open_ids == 1
    discovery.observed(105, START + 300)  # ours, created after that probe
    now[0] = START + 400
    assert discovery.next_probe() == 100  # probed again, after 105 was created
    discovery.answered(100, exists=False)
    assert discovery.memory.open_ids == 0  # now it is someone else's for good
    assert discovery.tally.settled == 1


def test_the_state_keeps_probes_in_flight_and_unkept_finds_open():
    now = [START]
    discovery = Discovery(10, None, LifecycleState(), clock=lambda: now[0])
    first, second = discovery.next_probe(), discovery.next_probe()
    assert (first, second) == (10, 11)
    discovery.answered(10, exists=True, created_at=START - 5)  # its record not out yet
    stored = discovery.stored()
    assert [(g.low, g.high, g.probed_at) for g in stored.gaps] == [(10, 11, 0.0)]
    again = Discovery(10, read_scan(scan_text(stored)), LifecycleState(), clock=time0)
    assert [again.next_probe(), again.next_probe()] == [10, 11]  # probed first next run


def test_a_probe_the_run_stopped_before_sending_is_not_counted_and_goes_out_next_time():
    discovery = Discovery(10, None, LifecycleState(), clock=time0)
    probes = [discovery.next_probe() for _ in range(3)]
    assert probes == [10, 11, 12]
    discovery.answered(10, exists=False, created_at=None)
    discovery.unsent(12)  # the deadline came before its request started
    assert (discovery.tally.probes, discovery.tally.sent) == (2, 2)
    stored = discovery.stored()
    again = Discovery(10, read_scan(scan_text(stored)), LifecycleState(), clock=time0)
    assert 12 in [again.next_probe() for _ in range(3)]


def test_the_start_line_says_the_share_is_unknown_until_an_id_is_settled():
    # With nothing settled, the share's estimate is only its prior (50%): not a figure to
    # tell an operator.
    discovery = Discovery(10, None, LifecycleState(), clock=time0)
    assert "share of IDs is not known yet" in describe_discovery(discovery)
    assert "%" not in describe_discovery(discovery)
    for probe in [discovery.next_probe() for _ in range(4)]:
        discovery.answered(probe, exists=probe == 10, created_at=START - 60)
    line = discovery_summary(discovery)
    assert "of IDs are this organisation's" in line
    assert f"about {discovery.model.share:.1%}" in line


def time0() -> float:
    return START


def test_known_ids_are_not_probed_and_nothing_below_the_start_is():
    state = LifecycleState()
    for interview_id in range(50, 60):
        state.mark_completed(interview_id)
    discovery = Discovery(55, ScanMemory(40), state, [61], clock=time0)
    probes = [discovery.next_probe() for _ in range(3)]
    assert probes == [60, 62, 63]


@pytest.mark.parametrize(
    ("share", "most_per_id"),
    [(0.02, 1.6), (0.20, 1.3), (1.0, 1.1)],
)
def test_every_interview_is_found_over_runs_at_any_share(share, most_per_id):
    space = SharedIdSpace(5_000, {"acme": share}, seed=5)
    for hour in range(8 * 24, 0, -1):  # eight days of history, every hour
        space.create(60, START - hour * 3_600.0, spread_seconds=1_700)
    year = Year(space, 5_000)
    for run in range(4 * 24 * 3):  # three days of runs, IDs created as they go
        if run % 4 == 0:  # created since the last probe, before this run
            space.create(120, year.clock - 150, spread_seconds=140)
        year.run()
    ours = space.ids_of("acme")
    assert sorted(year.found) == ours
    assert min(year.requests) >= 5_000
    created = space.next_id - 5_000
    assert sum(year.requests.values()) / created <= most_per_id
    assert max(year.requests.values()) <= 4  # no ID probed on and on (a scout: one more)


def burst_after_history(share: float) -> tuple[SharedIdSpace, Year]:
    """A platform at 60 IDs an hour, every hour, for eight days; ten hours of runs after."""
    space = SharedIdSpace(1_000, {"acme": share}, seed=9)
    for hour in range(8 * 24, 0, -1):
        space.create(60, START - hour * 3_600.0, spread_seconds=3_000)
    year = Year(space, 1_000)
    for _ in range(40):  # the backlog, then runs that keep up
        space.create(15, year.clock - 900, spread_seconds=890)
        year.run()
    assert caught_up(space, year)
    return space, year


def caught_up(space: SharedIdSpace, year: Year) -> bool:
    """Every one of ours created three runs ago or earlier was found."""
    before = year.clock - 3 * RUN_EVERY
    return all(i in year.found for i in space.ids_of("acme") if space.created_at(i) <= before)


def test_a_burst_of_other_organisations_ids_longer_than_any_tail_is_crossed_within_hours():
    space, year = burst_after_history(0.2)
    # Other organisations create 1,000 IDs in a minute (17 hours of the platform's pace,
    # 40 times the fixed tail of 25 that stopped discovery before); then the platform goes
    # on at its pace, ours among the IDs. At that pace the reach would take 17 hours.
    burst = space.create(1_000, year.clock - 150, spread_seconds=60, others=True)
    runs = 0
    while not caught_up(space, year) or not any(i > burst[-1] for i in year.found):
        space.create(15, year.clock - 900, spread_seconds=890)
        year.run()
        runs += 1
        assert runs <= 4 * 6, "not crossed within six hours"
    # Noticed only once ours are overdue, not by the next run: a burst looks like a quiet
    # quarter hour, and probing past the reach on every such run is not bounded by what
    # the platform creates (docs/state-and-polling.md, "Where the goals collide").
    assert runs > 1
    assert max(year.requests.values()) <= 4
    created = space.next_id - 1_000
    assert sum(year.requests.values()) / created <= 1.6


def test_probing_new_ids_later_costs_fewer_probes_and_finds_ours_later():
    """The trade docs/state-and-polling.md measures ("Where the goals collide").

    A 404 is final only once one of ours above it was created before it: an ID probed soon
    after it is handed out is probed again more often. The tap probes 7.5 minutes of busy
    time behind the counter, for the delay; 45 minutes would save probes and cost delay.
    """
    outcome: dict[float, tuple[float, float]] = {}
    for lag in (POLICY.lag_seconds, 45 * 60.0):
        space = SharedIdSpace(5_000, {"acme": 0.02}, seed=5)
        for hour in range(8 * 24, 0, -1):  # eight days of history, every hour
            space.create(30, START - hour * 3_600.0, spread_seconds=3_500)
        year = Year(space, 5_000, replace(POLICY, lag_seconds=lag))
        history = len(space.ids_of("acme"))
        for _ in range(4 * 24 * 3):  # three days of runs, IDs created as they go
            space.create(8, year.clock - 900, spread_seconds=890)
            year.run()
        settled_by = year.clock - lag - 2 * RUN_EVERY  # created since: maybe not yet found
        ours = [i for i in space.ids_of("acme") if (space.created_at(i) or 0.0) < settled_by]
        assert set(ours) <= set(year.found)
        delays = [year.found[i] - (space.created_at(i) or 0.0) for i in ours[history:]]
        outcome[lag] = (
            sum(year.requests.values()) / (space.next_id - 5_000),
            statistics.median(delays),
        )
    (probes, delay), (later_probes, later_delay) = outcome.values()
    assert later_probes < probes - 0.05  # measured 1.16 against 1.24
    assert later_delay > delay + 20 * 60  # measured 53 minutes against 15


def test_a_false_alarm_costs_one_scouting_round_and_the_next_waits_twice_as_long():
    space = SharedIdSpace(1_000, {"acme": 0.2}, seed=9)
    for hour in range(8 * 24, 0, -1):  # eight days of history, every hour busy
        space.create(10, START - hour * 3_600.0, spread_seconds=1_700)
    year = Year(space, 1_000)
    for _ in range(4):
        share = year.run().model.share
    top = max(year.found)
    rounds: list[tuple[float, int]] = []
    for _ in range(4 * 24):  # a day in which nobody creates an interview
        at = year.clock
        tally = year.run().tally
        if tally.scouts:
            rounds.append((at, tally.scouts))
    # Five expected gaps (about 30 minutes each at 20% of 10 IDs an hour) without one of
    # ours, then twice as long each time: about 2.5, 5, 10 and 20 hours after our highest.
    # The first two would probe at a stride of 1 (fewer than four times `scout_cover` of
    # ours among the IDs handed out): what the reach probes anyway, so no round is sent,
    # and the next still waits twice as long.
    created = space.created_at(top)
    assert created is not None
    waited = [(at - created) / 3_600 for at, _ in rounds]
    assert len(rounds) == 2
    assert all(2 <= hours / 2 ** (n + 2) < 3.5 for n, hours in enumerate(waited))
    # Each round at most six times the probes that find three of ours in a row of IDs,
    # doubling with every round due (sent or not); and never more than the counter should
    # have handed out meanwhile (at 10 IDs an hour).
    most = 6 * 3 / share
    assert all(count <= most * 2 ** (n + 2) + 1 for n, (_, count) in enumerate(rounds))
    assert all(count <= 10 * hours + 1 for (_, count), hours in zip(rounds, waited, strict=True))
    assert [count for _, count in rounds] == sorted(count for _, count in rounds)
    assert sorted(year.found) == space.ids_of("acme")


def night(ids_between: int) -> Discovery:
    """One of ours on Monday 16:30 and the next on Tuesday 09:15, `ids_between` above."""
    discovery = Discovery(1, ScanMemory(1), LifecycleState(), clock=time0)
    discovery.memory.rate = 125 / 3600
    discovery.memory.ours, discovery.memory.settled = 10, 1_000  # a share of 1%
    discovery.observed(1_000, MONDAY + 16.5 * 3_600)
    assert discovery.model.active(MONDAY + 23 * 3_600)  # nothing says it rests yet
    discovery.observed(1_000 + ids_between, MONDAY + 33.25 * 3_600)
    return discovery


MONDAY = 1_795_392_000.0  # 00:00 UTC


def test_a_night_the_counter_hardly_moved_in_is_learnt_as_resting_at_once():
    assert _hour_of_week(MONDAY) == 0
    # 104 IDs: 50 minutes of the counter's busy time, what the 45 minutes the span
    # covers of its end hours hold (and the doubt): it rested in every hour between.
    discovery = night(104)
    assert not any(discovery.model.active(MONDAY + hour * 3_600) for hour in range(17, 33))
    assert not discovery.memory.resting >> (2 * 24 + 23) & 1  # Wednesday: not learnt
    memory = read_scan(scan_text(discovery.stored()))
    later = Discovery(1, memory, LifecycleState(), clock=time0)
    later.memory.ours, later.memory.settled = 10, 1_000
    assert not later.model.active(MONDAY + 7 * 86_400 + 23 * 3_600)  # every Monday night


def test_the_start_line_says_in_how_many_hours_the_counter_is_taken_to_move():
    # It said "(19 hours of the week)" beside the speed: the hours one of ours was created
    # in, while the estimate took all 168 as busy (and put the counter 12,000 IDs ahead).
    rested = night(104)
    busy = sum(rested.model.active(MONDAY + hour * 3_600) for hour in range(168))
    assert busy < 168
    line = describe_discovery(rested)
    assert f"taken as busy in {busy} hours of the week; one of ours was created in 2 of them" in (
        line
    )
    assert f"about {rested.model.rate * 3_600:,.0f} IDs an hour" in line
    # Nothing known to rest: every hour busy. A slow platform's speed keeps a decimal.
    slow = Discovery(1, ScanMemory(1), LifecycleState(), clock=time0)
    slow.observed(1_000, MONDAY + 10 * 3_600)
    slow.observed(1_002, MONDAY + 11.2 * 3_600)
    line = describe_discovery(slow)
    assert "about 1.7 IDs an hour while it is busy (taken as busy in 168 hours" in line


@given(
    st.floats(1.6e9, 1.8e9) | st.integers(444_444, 500_000).map(lambda hour: hour * 3600.0),
    st.floats(-10.0, 5 * 7 * 86_400.0) | st.integers(0, 900).map(lambda hours: hours * 3600.0),
)
def test_the_hours_a_span_covers_are_its_clock_hours_summed(start, length):
    # Counted at once (whole weeks, then the rest) as the span cut at each clock hour sums.
    covered = [0.0] * 168
    for moment, seconds in _hour_slices(start, start + length):
        covered[_hour_of_week(moment)] += seconds
    assert _covered(start, start + length) == covered


def test_busy_time_beyond_a_spans_end_hours_goes_to_the_hours_next_to_them():
    # 250 IDs: two hours of busy time, an hour more than the end hours hold.
    discovery = night(250)
    assert discovery.model.active(MONDAY + 17 * 3_600)
    assert discovery.model.active(MONDAY + 32 * 3_600)  # Tuesday 08:00
    assert not any(discovery.model.active(MONDAY + hour * 3_600) for hour in range(18, 32))


def test_an_hour_not_known_goes_as_the_same_hour_of_other_days():
    discovery = night(104)  # Monday 17:00 to Tuesday 08:59 rest; 16:00 and 09:00 busy
    wednesday = MONDAY + 2 * 86_400
    assert not discovery.model.active(wednesday + 20 * 3_600)  # rests on Monday
    assert discovery.model.active(wednesday + 16 * 3_600)  # busy on Monday
    assert discovery.model.active(wednesday + 12 * 3_600)  # nothing known of noon: busy


def test_a_busy_day_without_one_of_ours_is_not_taken_for_rest():
    monday = MONDAY
    discovery = Discovery(1, ScanMemory(1), LifecycleState(), clock=time0)
    discovery.memory.rate = 125 / 3600
    discovery.memory.ours, discovery.memory.settled = 10, 1_000  # a share of 1%
    discovery.observed(1_000, monday + 9.5 * 3_600)
    discovery.observed(1_000 + 125 * 6, monday + 15.5 * 3_600)  # six busy hours between
    assert all(discovery.model.active(monday + hour * 3_600) for hour in range(10, 16))


def test_the_api_clock_is_read_from_date_headers():
    assert server_time("Wed, 02 Dec 2026 12:00:00 GMT") == 1_796_212_800.0
    assert server_time("not a date") is None
    assert server_time(None) is None
    local = [START]
    clock = ServerClock(lambda: local[0])
    assert not clock.sampled
    assert clock() == START  # until an answer's Date is seen, the two clocks agree
    clock.saw(START + 3_600.0)  # an API an hour ahead of this machine
    assert clock.sampled
    local[0] += 90.0
    assert clock() == START + 3_690.0  # the API's clock goes on from this machine's
    clock.saw(None)  # an answer without a Date keeps the gap
    assert clock() == START + 3_690.0


def test_a_long_tail_gap_is_probed_again_only_above_where_the_counter_was():
    # 500 open IDs above our highest interview, probed an hour after it was created, when
    # the counter (60 IDs an hour) should have been at 1,060: the 60 below were handed out
    # already, so only those above it are due again, once the counter passes them.
    now = [START + 4_200.0]
    memory = ScanMemory(1_501, [Gap(1_001, 1_500, START + 3_600.0, 0)], [(1_000, START)], 10, 100)
    memory.rate = 60 / 3_600
    discovery = Discovery(1, memory, LifecycleState(), clock=lambda: now[0])
    probes = []
    while (probe := discovery.next_probe()) is not None:
        probes.append(probe)
        discovery.answered(probe, exists=False)
    again = [i for i in probes if i <= 1_500]
    assert again
    assert min(again) == 1_061
    assert max(again) <= 1_070  # up to where the counter should be now


def day_end(ours: int, per_minute: float, top_at: float) -> tuple[Discovery, list[float]]:
    """Busy Monday 9:00-17:00, resting after; one of ours, ID 1,000, created at `top_at`.

    The counter hands out `per_minute` IDs; `ours` of 1,000 IDs settled were ours.
    """
    now = [MONDAY + 16.75 * 3_600]
    discovery = Discovery(1_001, ScanMemory(1_001), LifecycleState(), clock=lambda: now[0])
    memory = discovery.memory
    memory.rate, memory.ours, memory.settled = per_minute / 60, ours, 1_000
    for hour in range(9, 17):
        memory.hours |= 1 << hour
    for hour in range(17, 33):
        memory.resting |= 1 << hour
    discovery.observed(1_000, top_at)
    return discovery, now


def probed_up_to(discovery: Discovery) -> int:
    """The highest new ID probed once no probe is left now (each answers 404)."""
    while (probe := discovery.next_probe()) is not None:
        discovery.answered(probe, exists=False)
    return discovery.memory.next_id - 1


AT_16_20 = MONDAY + 16 * 3_600 + 20 * 60


def test_the_last_ids_before_a_foreseen_rest_are_probed_before_the_counter_moves_again():
    # At 10%, none of ours in the IDs after 1,000, created at 16:20. The bound past our
    # highest (two expected gaps, doubled once after 15 minutes) allows up to 1,039. The
    # counter rests from 17:00, as learnt: it should have stopped at 1,060 (40 minutes at
    # 1.5 a minute), and a run at 17:30 probes up to there, where the bound would have
    # kept those IDs back until Tuesday 9:00.
    discovery, now = day_end(ours=100, per_minute=1.5, top_at=AT_16_20)
    behind = POLICY.lag_seconds / 60  # 16:45: that many minutes behind the counter
    assert probed_up_to(discovery) == 1_000 + math.floor(1.5 * (25 - behind))
    now[0] = MONDAY + 17.5 * 3_600
    assert not discovery.model.active(now[0])
    assert probed_up_to(discovery) == 1_060
    now[0] = MONDAY + 20 * 3_600  # later that night: nothing more
    assert discovery.next_probe() is None


@pytest.mark.parametrize(
    ("ours", "per_minute", "up_to"),
    [
        # Near 100%, a 404 past ours says the counter is there: the bound holds.
        (999, 1.5, 1_004),
        # At 10%, 66 404s in a row would be other organisations' with a chance under 1 in
        # 1,000: the counter stopped below the 1,080 it should have reached.
        (100, 2.0, 1_066),
    ],
)
def test_past_the_bound_only_while_the_404s_could_be_other_organisations(ours, per_minute, up_to):
    discovery, now = day_end(ours, per_minute, AT_16_20)
    probed_up_to(discovery)
    now[0] = MONDAY + 17.5 * 3_600
    assert probed_up_to(discovery) == up_to


# Before the platform's speed is known, and where it is slow to learn (issue 34) ------------

#: A run without `max_run_minutes`: it must end on its own long before this many probes.
NO_LIMIT = 50_000


def weekdays(space: SharedIdSpace, start: float, days: int, per_hour: int, **kwargs) -> None:
    """The platform's working hours (9:00 to 17:00 UTC, Monday to Friday) from `start`."""
    for day in range(days):
        midnight = start + day * 86_400.0
        if _hour_of_week(midnight) // 24 < 5:
            for hour in range(9, 17):
                space.create(per_hour, midnight + hour * 3_600.0, 3_000.0, **kwargs)


def test_one_interview_then_none_costs_probes_growing_with_the_log_of_the_silence():
    # A new customer's single interview, Monday 10:00, and nothing of theirs after; the
    # platform hands out 100 IDs an hour of working hours to other organisations.
    space = SharedIdSpace(1_000, {"acme": 1.0}, seed=4)
    weekdays(space, MONDAY - 7 * 86_400.0, 7, 100, others=True)
    ours = space.create(1, MONDAY + 10 * 3_600.0)[0]
    weekdays(space, MONDAY, 28, 100, others=True)
    year = Year(space, ours)
    year.clock = MONDAY + 10.25 * 3_600
    by_day: dict[int, int] = {}
    longest = 0
    state_bytes: dict[int, int] = {}
    while year.clock < MONDAY + 28 * 86_400:
        year.run(most=NO_LIMIT)
        assert year.sent < NO_LIMIT, "a run without max_run_minutes did not end"
        longest = max(longest, year.sent)
        day = int((year.clock - MONDAY) // 86_400)
        by_day[day] = by_day.get(day, 0) + year.sent
        assert year.memory is not None
        state_bytes[day] = len(scan_text(year.memory))
    assert sorted(year.found) == [ours]
    # Without a speed, at most `blind_limit` new IDs a day past ours; an ID probed before
    # it was handed out may be ours, so each is probed again a day later, then 2, 4, 8...
    # days after: a day's probes grow with the log of the silence (measured: 1,989 on
    # day 2, 6,037 on day 26), and no run sends them all at once.
    limit = POLICY.blind_limit
    assert all(count <= limit * (2 + math.log2(day + 1)) + 100 for day, count in by_day.items())
    assert by_day[26] <= 3 * by_day[2]
    assert longest <= 2 * limit
    # The open IDs are kept as one gap for each day of silence at most: the state grows by
    # tens of bytes a day (measured: about 21), not by a gap for every run.
    assert state_bytes[27] - state_bytes[7] <= 30 * 20


def test_a_customer_back_after_a_week_of_silence_is_found():
    # One interview of ours, a week in which only other organisations create interviews,
    # then one of ours every working day at 11:54. The reach without a speed runs ahead of
    # the counter (1,000 IDs a day against 800 on a working day, none at weekends), so the
    # IDs of the later ones were probed days before they were handed out: they must be
    # probed again, however long ago (never parked for one of ours above them, which
    # would never come: every later one of ours lies in such a gap too).
    space = SharedIdSpace(1_000, {"acme": 1.0}, seed=4)
    weekdays(space, MONDAY - 7 * 86_400.0, 7, 100, others=True)
    mine = space.create(1, MONDAY + 10 * 3_600.0)
    weekdays(space, MONDAY, 7, 100, others=True)
    for day in range(7, 12):  # Monday to Friday of the second week
        midnight = MONDAY + day * 86_400.0
        for hour in range(9, 17):
            space.create(100, midnight + hour * 3_600.0, 3_000.0, others=True)
            if hour == 11:
                mine += space.create(1, midnight + 11.9 * 3_600.0)
    year = Year(space, mine[0])
    year.clock = MONDAY + 10.25 * 3_600
    while year.clock < MONDAY + 16 * 86_400:
        year.run(most=NO_LIMIT)
    assert sorted(year.found) == mine
    # The first after the silence is found at its ID's next check: 1, 2, 4... days after
    # its first probe, which the reach made some days before it was handed out (measured:
    # 2.9 days later). Once it gives a speed, the later ones follow within a day.
    first = mine[1]
    assert (year.found[first] - (space.created_at(first) or 0.0)) / 86_400 <= 5
    later = [i for i in mine[2:] if (space.created_at(i) or 0.0) > year.found[first]]
    assert later
    assert all(year.found[i] - (space.created_at(i) or 0.0) <= 86_400 for i in later)


def test_two_of_ours_however_far_apart_say_how_fast_the_counter_moves():
    discovery = Discovery(1, ScanMemory(1), LifecycleState(), clock=time0)
    discovery.observed(1_000, MONDAY + 10 * 3_600)
    assert discovery.model.rate is None
    assert discovery.reach(MONDAY + 10.5 * 3_600) <= 1_000 + POLICY.blind_limit // 48 + 1
    discovery.observed(4_000, MONDAY + 34 * 3_600)  # a day later, 3,000 IDs on
    assert discovery.model.rate == pytest.approx(3_000 / 86_400)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0)])
def test_the_speed_is_known_whichever_answer_of_ours_comes_first(order):
    # The pool yields answers in completion order: on a first run the newest listed ID
    # can answer before the older ones. The speed once waited for a new top then.
    ours = [(1_000, MONDAY + 10 * 3_600), (1_010, MONDAY + 10 * 3_600 + 60)]
    ours.append((1_500, MONDAY + 11 * 3_600 + 100))
    discovery = Discovery(1, ScanMemory(1), LifecycleState(), clock=time0)
    for index in order:
        discovery.observed(*ours[index])
    assert discovery.model.rate == pytest.approx(500 / 3_700, rel=0.01)


def test_a_new_customers_import_at_a_quiet_hour_is_crossed_and_no_run_probes_far_past_it():
    # 2,000 interview requests in ten minutes on Tuesday 03:00, half of them ours (the rest
    # other organisations'), a platform at rest until 09:00, and nothing of ours before.
    space = SharedIdSpace(1_000, {"acme": 0.5}, seed=8)
    weekdays(space, MONDAY, 1, 100, others=True)
    start = space.next_id
    imported = space.create(2_000, MONDAY + 27 * 3_600.0, spread_seconds=600.0)
    year = Year(space, start)
    year.clock = MONDAY + 27.25 * 3_600
    past_the_end = []
    while year.clock < MONDAY + 33 * 3_600:  # until 09:00: no ID is handed out
        year.run(most=NO_LIMIT)
        assert year.sent < NO_LIMIT, "a run without max_run_minutes did not end"
        past_the_end.append(sum(1 for i in year.requests if i > imported[-1]))
    assert sorted(year.found) == space.ids_of("acme")
    # Past the import: never more than the platform could have handed out at the pace
    # assumed before a speed is known (`blind_limit` a day since our highest), 6 hours.
    assert past_the_end[-1] <= POLICY.blind_limit * 6 / 24 + 2
    assert year.memory is not None
    assert year.memory.rate == 0.0  # ten minutes say nothing of the platform's usual speed


def test_a_small_organisation_is_found_whole_at_about_two_probes_per_platform_id():
    # One interview a day on a platform of 125 IDs an hour of working hours (0.14%), a
    # week of history, then three weeks and two days of runs every quarter of an hour: a
    # 404 is final only once one of ours above it shows the counter passed it, so one of
    # Friday afternoon is found in Monday's working hours.
    space = SharedIdSpace(1_000, {"acme": 0.0014}, seed=2)
    weekdays(space, MONDAY - 7 * 86_400.0, 7, 125)
    year = Year(space, 1_000)
    year.clock = MONDAY
    days = 23
    for day in range(days):
        weekdays(space, MONDAY + day * 86_400.0, 1, 125)
        while year.clock < MONDAY + (day + 1) * 86_400:
            year.run(most=NO_LIMIT)
            assert year.sent < NO_LIMIT
    settled_by = year.clock - 86_400
    ours = [i for i in space.ids_of("acme") if (space.created_at(i) or 0.0) < settled_by]
    assert len(ours) >= 15
    assert set(ours) <= set(year.found)
    created = space.next_id - 1_000
    assert sum(year.requests.values()) / created <= 2.1  # measured 1.9 to 2.0


def test_open_ids_probed_again_are_never_joined_into_a_gap_that_is_due_again():
    # At 0.1% a run re-probed the top of a waiting gap (probed before the counter should
    # have passed it), then joined the answers back into the gap with its older probe:
    # due again at once, and again, until a run sent 86,400 probes.
    space = SharedIdSpace(1_000, {"acme": 0.001}, seed=11)
    weekdays(space, MONDAY - 7 * 86_400.0, 7, 125)
    year = Year(space, 1_000)
    year.clock = MONDAY
    for day in range(14):
        weekdays(space, MONDAY + day * 86_400.0, 1, 125)
        while year.clock < MONDAY + (day + 1) * 86_400:
            year.run(most=20_000)
            # The first run crosses a week of history (measured: 14,335 probes); none
            # after it comes near.
            assert year.sent < 20_000, f"a run that does not end, on day {day}"
    assert sorted(year.found) == space.ids_of("acme")
    assert max(year.requests.values()) <= 12  # measured: 6


def test_a_sweep_judges_every_gap_against_one_reach():
    # The reach is the same for every gap at one instant: a sweep works it out once (it
    # was worked out per gap, most of a long simulation's time), and judges as before.
    space = SharedIdSpace(1_000, {"acme": 0.02}, seed=3)
    weekdays(space, MONDAY - 7 * 86_400.0, 7, 125)
    year = Year(space, 1_000)
    year.clock = MONDAY + 9 * 3600.0
    for _ in range(8):
        discovery = year.run()
    proofs = discovery.proofs
    gaps = list(discovery.memory.gaps)
    tail = [gap for gap in gaps if proofs.model.created_above(gap.high) is None]
    assert len(tail) >= 2  # gaps judged against the reach
    now = year.clock + 3_600.0
    reach = proofs._reach  # noqa: SLF001 (counted, not replaced)
    asked: list[float] = []
    proofs._reach = lambda at: asked.append(at) or reach(at)  # noqa: SLF001
    kept, due, settled = proofs.sweep(gaps, now)
    assert asked == [now]
    proofs._reach = reach  # noqa: SLF001
    alone = [pair for gap in gaps for pair in proofs.judged(gap, now, reach(now))]
    assert due == [(gap.low, gap.high) for gap, verdict in alone if verdict == "due"]
    assert settled == sum(len(gap) for gap, verdict in alone if verdict == "settled")
    waiting = {
        i for gap, verdict in alone if verdict == "wait" for i in range(gap.low, gap.high + 1)
    }
    assert {i for gap in kept for i in range(gap.low, gap.high + 1)} == waiting


def test_an_answer_that_joins_two_gaps_leaves_no_due_probe_pointing_at_the_old_one():
    # Two tail gaps side by side, both due: an answer for the first, re-added as a gap
    # probed at about the same time as the second with its checks, joins them; the due
    # list then held a gap the gaps no longer did (ValueError on removing it, and IDs
    # in two gaps at once).
    memory = ScanMemory(
        20,
        [Gap(10, 12, START - 7_200, 1), Gap(13, 15, START - 15, 2)],
        [(16, START - 61)],
        1,
        1_000,
    )
    memory.rate = 1.0
    discovery = Discovery(1, memory, LifecycleState(), clock=time0)
    probes = []
    while (probe := discovery.next_probe()) is not None:
        probes.append(probe)
        discovery.answered(probe, exists=False, answered_at=START - 10)
        gaps = discovery.memory.gaps
        assert all(a.high < b.low for a, b in pairwise(gaps))
    assert probes == [10, 11, 12, 13, 14, 15]  # each once
    read_scan(scan_text(discovery.stored()))  # a state the next run reads


def test_the_clock_probe_steps_past_an_id_we_hold_as_the_probes_do():
    # Nothing due by this machine's clock, the API's unsampled, and the next new ID is
    # one we hold already (listed in the config): it is stepped past and counts as ours.
    class Unsampled:
        sampled = False

        def __call__(self) -> float:
            return START

    known = LifecycleState()
    known.mark_completed(1_000)
    memory = ScanMemory(1_000, [], [(999, START - 30)], 5, 50)
    memory.rate = 0.01
    discovery = Discovery(1, memory, known, clock=Unsampled())
    assert discovery.sense() is None
    assert discovery.memory.next_id == 1_001
    assert discovery.memory.ours == 6
