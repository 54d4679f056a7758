"""The request budget: plans, reserves, budgets shared with other clients, progress."""

from __future__ import annotations

import pytest

from tap_hindsight.config_check import SettingsError
from tap_hindsight.encoding import duration, minutes
from tap_hindsight.progress import Progress, Snapshot, estimate
from tap_hindsight.settings import load_settings
from tap_hindsight.tap import TapHindsight
from tests.helpers import run_tap, tap_config


@pytest.mark.parametrize(
    ("settings", "budget"),
    [
        ({}, 60),
        ({"plan": "essentials"}, 60),
        ({"plan": "growth"}, 300),
        ({"plan": "enterprise"}, 1000),
        ({"plan": "enterprise", "requests_per_minute": 400}, 400),
        ({"requests_per_minute": 250}, 250),
        ({"plan": "growth", "reserved_requests_per_minute": 100}, 200),
    ],
)
def test_plan_sets_the_budget_and_requests_per_minute_overrides_it(settings, budget):
    assert (
        load_settings({"api_key": "k", **settings}, TapHindsight.settings_schema()).budget == budget
    )


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({}, "60 requests/min (requests_per_minute: 60, the smallest plan's; set plan if yours "),
        ({"plan": "essentials"}, "60 requests/min (plan essentials: 60)"),
        ({"plan": "growth"}, "300 requests/min (plan growth: 300)"),
        ({"requests_per_minute": 250}, "250 requests/min (requests_per_minute: 250)"),
    ],
)
def test_the_start_line_says_where_the_budget_comes_from(settings, said):
    # Without plan, a key of a larger plan gets the smallest plan's budget: the line says so.
    loaded = load_settings({"api_key": "k", **settings}, TapHindsight.settings_schema())
    assert loaded.describe_budget().startswith(said)
    assert ("set plan" in said) == ("set plan" in loaded.describe_budget())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"plan": "Growth"}, "plan: 'Growth' must be one of essentials, growth, enterprise"),
        (
            {"plan": "growth", "reserved_requests_per_minute": 300},
            "reserved_requests_per_minute: 300 leaves nothing of the 300 requests per minute",
        ),
    ],
)
def test_bad_budget_settings_are_named(settings, message):
    with pytest.raises(SettingsError) as caught:
        load_settings({"api_key": "k", **settings}, TapHindsight.settings_schema())
    assert any(error.startswith(message) for error in caught.value.errors)


class Lines:
    """A logger that keeps the progress lines it is given."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


def test_estimates_and_progress_lines():
    assert estimate(500, 1000, discovering=False) == (
        "500 IDs to poll at 1,000 requests/min: within the first minute's budget"
    )
    assert estimate(10_000, 1000, discovering=False) == (
        "10,000 IDs to poll at 1,000 requests/min: about 10 minutes"
    )
    # Polls and probes take turns: beside discovery, the polls may take twice as long.
    assert estimate(10_000, 1000, discovering=True) == (
        "10,000 IDs to poll at 1,000 requests/min, taking turns with discovery's probes: "
        "up to about 20 minutes"
    )
    assert estimate(500, 1000, discovering=True).endswith(": within the first minute's budget")
    assert estimate(501, 1000, discovering=True).endswith(": up to about 1.1 minutes")
    # Nothing to poll: no estimate (it said "0 IDs to poll ...: within the first minute's").
    assert estimate(0, 1000, discovering=False) is None
    assert estimate(0, 1000, discovering=True) is None
    assert duration(3725) == "1h02m"
    assert duration(250) == "4m10s"
    # One minute is singular ("no request starts after 1 minutes" once).
    assert (minutes(1), minutes(2.5), minutes(0.05)) == ("1 minute", "2.5 minutes", "0.05 minutes")
    clock = [100.0]
    logger = Lines()
    logged = logger.lines
    state = {"done": 2000}
    progress = Progress(
        logger,
        total=4000,
        budget=1000,
        snapshot=lambda: Snapshot(state["done"], 1000, 30.0),
        every=30.0,
        clock=lambda: clock[0],
    )
    clock[0] += 120.0
    progress.tick()
    assert logged == [
        (
            "Progress: 2,000/4,000 IDs (50%), 1,000 requests/min (budget 1,000), "
            "30s waiting for the rate limit, ETA 2m00s"
        )
    ]
    clock[0] += 10.0
    state["done"] = 2100
    progress.tick()
    assert len(logged) == 1  # not again within 30 s
    clock[0] += 20.0
    progress.tick()
    assert logged[1].startswith("Progress: 2,100/4,000 IDs (52%)")


def test_progress_counts_the_polls_apart_from_discoverys_probes():
    # A run with discovery answers far more probes than it has IDs to poll: the line
    # counts the polls against their total and the probes apart (it once said 5,748/7).
    clock = [30.0]
    snapshots = iter(
        [
            Snapshot(100, 578, 0.0, 1200, 3, in_flight=True),
            Snapshot(100, 600, 0.0, 5000, 40, in_flight=True),
            # Probes wait for the budget: none answered since.
            Snapshot(100, 0, 60.0, 5000, 40, in_flight=True),
            Snapshot(100, 600, 0.0, 5000, 40),
        ]
    )
    logger = Lines()
    logged = logger.lines
    progress = Progress(
        logger, total=700, budget=600, snapshot=lambda: next(snapshots), clock=lambda: clock[0]
    )
    clock[0] += 30.0  # in the first minute the rate is what went out so far, not extrapolated
    progress.tick()
    # Polls and probes take turns: while discovery probes, 600 polls left at 600 requests/min
    # take two minutes.
    assert logged == [
        (
            "Progress: 100/700 IDs (14%), 1,200 discovery probes finding 3, 578 requests/min "
            "(budget 600), 0s waiting for the rate limit, ETA 2m00s"
        )
    ]
    clock[0] += 600.0
    progress.tick()
    assert logged[-1].endswith(
        "5,000 discovery probes finding 40, 600 requests/min (budget 600), "
        "0s waiting for the rate limit, ETA 2m00s"
    )
    clock[0] += 30.0
    progress.tick()  # no probe answered since the last line, but some wait for the budget
    assert logged[-1].endswith("ETA 2m00s")  # the polls still share the rate with probes
    clock[0] += 30.0
    progress.tick()  # no probe since the last line, none in flight: discovery is done
    assert logged[-1].endswith("ETA 1m00s")
    assert progress.line(Snapshot(100, 300, 0.0), probing=False).endswith("ETA 2m00s")
    done = Snapshot(700, 600, 0.0, 5748, 1234)
    assert progress.line(done, probing=True) == (
        "Progress: 700/700 IDs (100%), 5,748 discovery probes finding 1,234, 600 requests/min "
        "(budget 600), 0s waiting for the rate limit, polls done, discovery goes on"
    )
    assert progress.line(done, probing=False).endswith("ETA 0s")


def test_discovery_held_back_by_the_budget_is_still_said_to_go_on():
    # Nothing to poll, and discovery's probes wait for the budget: a line with no probe
    # answered since the last one once said "ETA 0s", as if the run were about to end.
    clock = [0.0]
    snapshots = iter(
        [Snapshot(0, 60, 30.0, 59, 1, in_flight=True), Snapshot(0, 0, 60.0, 59, 1, in_flight=True)]
    )
    logger = Lines()
    logged = logger.lines
    progress = Progress(
        logger, total=0, budget=60, snapshot=lambda: next(snapshots), clock=lambda: clock[0]
    )
    for _ in range(2):
        clock[0] += 30.0
        progress.tick()
    assert len(logged) == 2
    assert all(line.endswith("waiting for the rate limit, discovery goes on") for line in logged)
    # Nothing was planned to poll: said so (it read "0/0 IDs (100%)", then "polls done").
    assert all(line.startswith("Progress: no IDs to poll, 59 discovery probes") for line in logged)


def test_the_run_starts_with_its_budget_and_estimate_and_ends_with_a_summary(simulator, tmp_path):
    ids = list(range(1001, 1031))
    config = tap_config(
        simulator, ids, plan="enterprise", reserved_requests_per_minute=50, max_retries=3
    )
    del config["requests_per_minute"]
    simulator.script_faults(1002, ["500"])
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert "budget 950 requests/min (plan enterprise: 1,000, 50 reserved for other clients)" in (
        run.stderr
    )
    assert "30 IDs to poll at 950 requests/min: within the first minute's budget" in run.stderr
    summary = next(line for line in run.stderr.splitlines() if "Summary:" in line)
    assert "30 IDs fetched (30 to poll" in summary
    assert f"{len(run.records())} records emitted" in summary
    assert "31 requests sent, 0 rate-limited (429)" in summary
    assert "waiting for the rate limit" in summary


@pytest.mark.slow
def test_it_slows_down_before_a_429_when_other_clients_spend_the_same_budget(
    start_simulator, tmp_path
):
    """Real time: the server's windows (1 s, whole seconds in its reset headers) turn on
    the real clock, and the tap must wait for each; the limiter's arithmetic with another
    client's spending is proven on a fake clock in test_units.py."""
    # Each 1 s window allows 20 requests; other clients of the key spend 12 of them.
    simulator = start_simulator(
        rate_limit=20, window_seconds=1, other_clients_per_window=12, latency_ms=20
    )
    ids = list(range(1001, 1041))
    run = run_tap(tmp_path, tap_config(simulator, ids, concurrency=4))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == ids
    assert simulator.stats()["rate_limited"] == 0
    assert "Only" in run.stderr
    assert "other clients of the key" in run.stderr
    summary = next(line for line in run.stderr.splitlines() if "Summary:" in line)
    assert "0 pauses for a budget shared" not in summary


def test_one_hung_request_does_not_hold_back_the_others(start_simulator, tmp_path):
    # The answer for 1001 is held until the 39 others have been answered (the simulator
    # gives up after 60 s): a tap that waited for it first would find it answered first.
    simulator = start_simulator(hold_release_after=39, hang_seconds=60)
    simulator.script_faults(1001, ["hold"])
    ids = list(range(1001, 1041))
    run = run_tap(tmp_path, tap_config(simulator, ids, concurrency=4, request_timeout=120))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == ids
    assert simulator.answered[-1] == 1001
    assert sorted(simulator.answered) == ids
    assert simulator.requests_for(1001) == 1
