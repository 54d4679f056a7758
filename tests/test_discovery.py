"""ID discovery through the real tap against the simulator serving an ID space shared by
every organisation: our interviews among others', created between runs."""

from __future__ import annotations

import math
import re
import time

import pytest

from hindsight_simulator.ids import SharedIdSpace
from tap_hindsight.store import STATE_KEY, read_interviews
from tests.helpers import run_tap, tap_config

FIRST = 200_000


def lifecycle(run):
    return read_interviews(run.states()[-1]["bookmarks"]["interviews"][STATE_KEY])


def shared(share: float, history: int) -> SharedIdSpace:
    """`history` IDs handed out over the last two hours (every organisation's)."""
    space = SharedIdSpace(FIRST, {"acme": share}, seed=3)
    space.create(history, time.time() - 7_200, spread_seconds=6_000)
    return space


class Clock:
    """The simulator's clock: this machine's, moved on by whole runs between runs."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


def test_every_interview_is_found_over_runs(start_simulator, tmp_path):
    # The tap end to end at the share that scouts. Every share (2%, 20%, 100%) is
    # test_discovery_rules.py's, in the test process.
    share, history = 0.02, 400
    space = shared(share, history)
    clock = Clock()
    simulator = start_simulator(shared_ids=space, clock=clock)
    config = tap_config(simulator, [], scan_start_id=FIRST + 10)
    state = None
    emitted: set[int] = set()
    scouted = 0
    for run_index in range(8):  # a run every quarter of an hour, for two hours
        if run_index in {1, 2, 3}:  # IDs handed out meanwhile
            space.create(history // 8, clock() + 1.0, spread_seconds=800.0)
        if run_index:
            clock.ahead += 900.0
        run = run_tap(tmp_path, config, state=state)
        assert run.returncode == 0, run.stderr
        emitted |= set(run.records_by_id())
        state = run.states()[-1]
        scouted += sum(map(int, re.findall(r"([\d,]+) scouting past the reach", run.stderr)))
    ours = [i for i in space.ids_of("acme") if i >= FIRST + 10]
    assert sorted(emitted) == ours
    requested = [i for i in range(FIRST - 10, space.next_id + 500) if simulator.requests_for(i)]
    assert min(requested) >= FIRST + 10  # nothing below scan_start_id
    created = space.next_id - FIRST - 10
    foreign = [i for i in requested if space.owner(i) is None]
    probes = sum(simulator.requests_for(i) for i in foreign)
    # Each ID of another organisation probed about once (measured: 1.5, 1.1 and 0.2 a
    # created ID at 2%, 20% and 100%), never in a loop. The platform rests for the last
    # hour, which discovery cannot tell from a burst yet: at 2% it scouts past the reach
    # once (six windows of three expected gaps, 900 IDs), and not again within the hour.
    assert probes - scouted <= 2 * created, f"{probes / created:.2f} probes per created ID"
    assert scouted <= 6 * math.ceil(3 / share * 1.2)
    assert "ID discovery from" in run.stderr
    assert "ID discovery summary:" in run.stderr


def test_listed_and_discovered_ids_are_fetched_once(start_simulator, tmp_path):
    space = shared(0.5, 100)
    simulator = start_simulator(shared_ids=space)
    listed = space.ids_of("acme")[:3]
    run = run_tap(tmp_path, tap_config(simulator, listed, scan_start_id=FIRST))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == space.ids_of("acme")
    assert all(simulator.requests_for(i) == 1 for i in listed)


def test_a_run_stopped_early_resumes_discovery_without_losing_an_id(start_simulator, tmp_path):
    space = shared(0.5, 100)
    simulator = start_simulator(shared_ids=space)
    config = tap_config(simulator, [], scan_start_id=FIRST, concurrency=4)
    # The SDK stops after the first record; a dry run keeps the state it started from
    # (tests/test_resume.py), so the next run finds every ID, the first one again.
    stopped = run_tap(tmp_path, config, "--test")
    assert stopped.returncode == 0, stopped.stderr
    assert len(stopped.records()) == 1
    assert stopped.states(), "the stopped run printed no STATE"
    resumed = run_tap(tmp_path, config, state=stopped.states()[-1])
    assert resumed.returncode == 0, resumed.stderr
    emitted = {r["interview_request_id"] for r in stopped.records() + resumed.records()}
    assert sorted(emitted) == space.ids_of("acme")


def test_scan_max_misses_is_refused_by_name_with_what_replaced_it(simulator, tmp_path):
    config = tap_config(simulator, [], scan_start_id=FIRST, scan_max_misses=25)
    run = run_tap(tmp_path, config)
    assert run.returncode != 0
    assert "scan_max_misses: removed" in run.stderr
    assert "follows the platform's ID counter" in run.stderr
    assert not run.records()


@pytest.mark.slow
def test_a_long_way_behind_the_counter_says_how_long_and_warns_when_the_run_ends_first(
    start_simulator, tmp_path
):
    """Real time: only `max_run_minutes` (the tap process's own clock, which a test cannot
    move) ends the second run, this far behind. No margin decides the outcome: the speed
    is known from the first run's state, and the lines are said at the first answer and
    at the end."""
    space = shared(0.2, 200)
    clock = Clock()
    simulator = start_simulator(shared_ids=space, clock=clock)
    config = tap_config(simulator, [], scan_start_id=FIRST)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    # Eight hours pass in which the platform hands out 4,000 IDs.
    space.create(4_000, clock() + 1.0, spread_seconds=28_000.0)
    clock.ahead += 28_800.0
    slow = {**config, "max_run_minutes": 0.05, "requests_per_minute": 100}
    behind = run_tap(tmp_path, slow, state=first.states()[-1])
    assert behind.returncode == 0, behind.stderr
    assert "IDs to go up to where the platform's counter should be" in behind.stderr
    assert "spread over runs by max_run_minutes" in behind.stderr
    assert "ID discovery could not keep up" in behind.stderr
    assert lifecycle(behind).scan is not None


@pytest.mark.slow
def test_a_first_run_far_behind_says_how_long_and_counts_its_polls_apart_from_its_probes(
    short_window, start_simulator, tmp_path
):
    """Real time: only `max_run_minutes` (the tap process's own clock, which a test cannot
    move) ends a first run this far behind, and it must last past a progress line (one
    every 2.5 s in the shortened window). No margin decides the outcome: the speed is
    known from the listed IDs, the first requests of the run, long before the deadline."""
    # A first run from an old scan_start_id: once the counter's speed is known (from two
    # of ours far enough apart), the run says how far behind it is (it once asked at the
    # first answer only, before the speed could be known). Its progress lines count the
    # listed IDs polled against their number, discovery's probes apart.
    space = SharedIdSpace(FIRST, {"acme": 0.2}, seed=3)
    space.create(4_000, time.time() - 28_800, spread_seconds=28_000.0)
    simulator = start_simulator(shared_ids=space)
    ours = space.ids_of("acme")
    first_created = space.created_at(ours[0]) or 0.0
    # Two of ours an hour apart time the counter (rate_min_seconds is ten minutes).
    later = next(i for i in ours if (space.created_at(i) or 0.0) >= first_created + 3_600)
    listed = [ours[0], ours[1], later]
    config = tap_config(
        simulator, listed, scan_start_id=FIRST, max_run_minutes=0.15, requests_per_minute=100
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert "IDs to go up to where the platform's counter should be" in run.stderr
    # The run ends far short of the counter: the warning says how far, not only what
    # was within the reach (it said 182 IDs after the start line's 4,021).
    behind = re.search(
        r"could not keep up: ([\d,]+) IDs .* \(about ([\d,]+) up to where", run.stderr
    )
    assert behind, run.stderr
    assert int(behind[2].replace(",", "")) > int(behind[1].replace(",", ""))
    progress = re.findall(
        r"Progress: (\d+)/(\d+) IDs \(\d+%\), ([\d,]+) discovery probes finding ([\d,]+)",
        run.stderr,
    )
    assert progress, run.stderr
    # Probes are counted as answered, like the polls: never more than the run sent in all
    # (it once counted those still waiting for the budget, which the deadline cancels).
    # What they found so far is said too (a long first run said nothing of it until its
    # summary), never more than the summary's count.
    summary = re.search(
        r"ID discovery summary: ([\d,]+) probes.*, ([\d,]+) interviews found", run.stderr
    )
    assert summary, run.stderr
    sent, found = (int(figure.replace(",", "")) for figure in summary.groups())
    finds = [int(finding.replace(",", "")) for *_, finding in progress]
    assert finds == sorted(finds)
    assert finds[-1] <= found
    for done, total, probes, _ in progress:
        assert int(done) <= int(total) == len(listed)
        assert 0 < int(probes.replace(",", "")) <= sent
    assert all(simulator.requests_for(i) == 1 for i in listed)


def test_a_single_interview_and_then_silence_ends_every_run_with_few_probes_past_it(
    start_simulator, tmp_path
):
    # A new customer: one interview of ours an hour ago among other organisations', then
    # nothing. No pair of ours times the counter, so nothing says how fast it goes: each
    # run (without max_run_minutes) must end on its own, probing past ours no further than
    # the platform could have handed out since (`blind_limit`, 1,000 IDs a day).
    space = SharedIdSpace(FIRST, {"acme": 1.0}, seed=3)
    now = time.time()
    space.create(200, now - 7_200, spread_seconds=3_000, others=True)
    (ours,) = space.create(1, now - 3_600)
    space.create(40, now - 3_500, spread_seconds=3_000, others=True)
    clock = Clock()
    simulator = start_simulator(shared_ids=space, clock=clock)
    config = tap_config(simulator, [], scan_start_id=FIRST)
    state = None
    emitted: set[int] = set()
    for ahead in (0.0, 900.0, 7_200.0):  # runs now, a quarter of an hour and two hours later
        clock.ahead = ahead
        run = run_tap(tmp_path, config, state=state, timeout=120)
        assert run.returncode == 0, run.stderr
        state = run.states()[-1]
        emitted |= set(run.records_by_id())
        past = [i for i in range(ours + 1, ours + 100_000) if simulator.requests_for(i)]
        hours_since = (clock() - space.created_at(ours)) / 3_600  # type: ignore[operator]
        assert max(past) - ours <= 1_000 * hours_since / 24 + 2, (ahead, max(past) - ours)
    assert emitted == {ours}
    foreign = sum(simulator.requests_for(i) for i in range(FIRST, space.next_id) if i != ours)
    assert foreign <= 2 * (space.next_id - FIRST)
