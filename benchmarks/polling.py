"""What a scheduled run costs over a year, and how fresh its transcripts are.

A simulated year, driven by simulated time through the tap's own planning code
(`planner.plan_run`, `planner.accrued_budget`, `mark_pending`, `mark_completed`,
`tap_hindsight.polling`): the same calls the interviews stream makes, with a simulated
clock instead of the wall clock.

Traffic models (interviews created at random at the given rate; a share completes, after a
lognormal time from creation; the rest never do):
- ordinary: 50 a week, 60% complete, median 20 h, sigma 1.2;
- fast buyers: 50 a week, 80% complete, median 2 h, sigma 1.2;
- slow buyers: 50 a week, 30% complete, median 5 days, sigma 1.2.
The invitation email goes out 5 to 90 minutes after creation. A run starts every 15
minutes on the essentials plan (60 requests a minute, one a second) with
`max_run_minutes: 12` (at most 720 requests a run); what a run defers comes first in the
next. Interviews are created for 365 days; runs go on for `max_poll_interval_hours` plus a
day more, so that a completion near the end of the year can still be seen.

First, `poll_budget_share` (issue 36): each model at shares 0, 0.05, 0.1 (the default)
and 0.25, the other settings at their defaults: requests a day (and as a share of the
plan's 86,400), capture delay p50 / p95 / max, transcripts never captured; then the
ordinary model with 10,000 pending interviews that never complete (`--backlog-days`, 28),
at 0 and 0.1; and the goals (ordinary at 0.1: p95 <= 20 min, max <= 2 h, polling <= 10%
of the plan a day; slow buyers p95 <= 3 h; share 0 plans exactly as the planner called
without the share).

Then the due rule alone (share 0): every-run polling (`poll_age_ratio: 0`,
`min_poll_interval_minutes: 0`), the rule at its defaults without re-reads of completed
interviews, and with them (`recheck_completed_days: 30`, each completed interview read
again once in 30 days after the pending ones due), side by side: requests per day at days
30, 90, 180 and 365, requests per captured transcript (and the ratio of the two), capture
delay p50 / p95 / max, the longest run, and transcripts never captured; what the re-reads
add to the requests a day over the year's last week (goal: at most +50%). Then the
interviews' state with 100,000 completed interviews and the re-read cycle's digests, in
bytes per completed interview (goal: at most 16), and the interview state the real tap writes
for 10,000 pending interviews, in bytes per pending interview (goal: at most 40).

Run: `.venv/bin/python benchmarks/polling.py [--days 365] [--skip-tap] [--freshness-only]`
(about 10 minutes for the first part, as long again for the rest).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tap_hindsight.encoding import fingerprint
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.planner import Planning, accrued_budget, plan_run, rechecked
from tap_hindsight.polling import PollPolicy
from tap_hindsight.store import read_interviews, write_interviews

MINUTE, HOUR, DAY = 60, 3600, 86_400
YEAR = 365 * DAY
SCHEDULE = 15 * MINUTE
REQUESTS_PER_SECOND = 1  # essentials: 60 a minute
BUDGET = 60 * REQUESTS_PER_SECOND
#: The plan's requests in a day.
PLAN_A_DAY = BUDGET * 60 * 24
MAX_RUN_MINUTES = 12
PER_RUN = MAX_RUN_MINUTES * 60 * REQUESTS_PER_SECOND
START = 1_790_000_000  # a Monday in 2026; any instant would do
SELECTED = frozenset({"interviews"})
#: The goal on the ordinary model: defaults cost at most this share of every-run polling.
GOAL_RATIO = 0.01
#: `recheck_completed_days`' default, and the goal for what its re-reads add at day 365.
RECHECK_DAYS = 30
RECHECK_GOAL = 0.5


@dataclass(frozen=True)
class Model:
    """How buyers behave."""

    name: str
    per_week: float
    complete_share: float
    median_hours: float
    sigma: float = 1.2


MODELS = (
    Model("ordinary", 50, 0.6, 20),
    Model("fast buyers", 50, 0.8, 2),
    Model("slow buyers", 50, 0.3, 120),
)


@dataclass
class Interview:
    """One interview's truth: when it was created, emailed and completed (None: never)."""

    created: int
    sent: int
    completed: int | None


def interviews(model: Model, days: int, seed: int = 11, backlog: int = 0) -> list[Interview]:
    """Creation times at random (a Poisson process), each with its email and completion.

    `backlog`: as many interviews created over the year before, never to complete (a
    large organisation's pending ones), first.
    """
    rng = random.Random(f"{seed}:{model.name}")  # noqa: S311 (benchmark data)
    result = []
    for number in range(backlog):
        created = START - YEAR + number * YEAR // max(backlog, 1)
        result.append(Interview(created, created + 30 * MINUTE, None))
    at = float(START)
    mean_gap = 7 * DAY / model.per_week
    while True:
        at += rng.expovariate(1 / mean_gap)
        if at >= START + days * DAY:
            return result
        created = int(at)
        sent = created + rng.randint(5 * MINUTE, 90 * MINUTE)
        completed = None
        if rng.random() < model.complete_share:
            delay = rng.lognormvariate(math.log(model.median_hours * HOUR), model.sigma)
            completed = max(created + int(delay), sent + MINUTE)
        result.append(Interview(created, sent, completed))


@dataclass
class Outcome:
    """What one policy cost on one model."""

    requests_by_day: dict[int, int] = field(default_factory=dict)
    delays: list[int] = field(default_factory=list)
    longest_run_requests: int = 0
    completed_in_year: int = 0
    never_captured: int = 0
    captured: set[int] = field(default_factory=set)

    #: Requests sent during the year (the runs after it only let late completions be seen).
    requests: int = 0
    #: The days interviews were created over.
    days: int = 0


def _status(interview: Interview, now: int) -> str:
    if interview.completed is not None and now >= interview.completed:
        return "completed"
    return "sent" if now >= interview.sent else "created"


def simulate(  # noqa: PLR0913 (the benchmark's knobs, each named)
    model: Model,
    policy: PollPolicy,
    days: int,
    recheck_days: float = 0,
    *,
    share: float | None = None,
    backlog: int = 0,
) -> Outcome:
    """Every scheduled run of the simulated year, through the tap's own state and policy.

    With `recheck_days`, completed interviews are re-read on that cycle, as the tap does.
    With `share` (`poll_budget_share`), each run may spend that share of the budget that
    accrued since the previous run started on polls (None: the planner is called as before
    the setting existed, to show that 0 plans the same). `backlog`: pending interviews that
    never complete, created over the year before.
    """
    truth = interviews(model, days, backlog=backlog)
    state = LifecycleState()
    outcome = Outcome()
    end = START + days * DAY + int(policy.max_interval) + DAY
    marks: dict[tuple[int, str], str] = {}
    created_upto = 0  # interviews[:created_upto] exist (they are created in time order)
    unfetched: dict[int, None] = {}  # created, configured, never fetched yet (in order)
    run_at = START
    previous_start = None
    while run_at < end:
        while created_upto < len(truth) and truth[created_upto].created <= run_at:
            unfetched[created_upto + 1] = None  # IDs from 1
            created_upto += 1
        planning = Planning(policy, SELECTED, recheck_days=recheck_days)
        if share is not None:
            accrued = accrued_budget(BUDGET, run_at, previous_start, MAX_RUN_MINUTES)
            planning = Planning(policy, SELECTED, recheck_days, share=share, accrued=accrued)
        previous_start = run_at
        plan = plan_run(state, unfetched, run_at, planning)
        batch = plan.ids[:PER_RUN]  # the deadline: no request starts after 12 minutes
        rechecked(state, plan, set(batch))
        outcome.longest_run_requests = max(outcome.longest_run_requests, len(batch))
        for index, interview_id in enumerate(batch):
            now = run_at + index // REQUESTS_PER_SECOND
            interview = truth[interview_id - 1]
            day = (now - START) // DAY
            outcome.requests_by_day[day] = outcome.requests_by_day.get(day, 0) + 1
            unfetched.pop(interview_id, None)
            status = _status(interview, now)
            if status == "completed":
                first = interview_id not in state.completed
                state.mark_completed(interview_id)
                if first and interview.completed is not None:
                    outcome.delays.append(now - interview.completed)
                    outcome.captured.add(interview_id)
                continue
            key = (interview_id, status)
            mark = marks.get(key)
            if mark is None:
                mark = marks[key] = fingerprint({"id": interview_id, "status": status})
            anchor = interview.sent if status == "sent" else interview.created
            state.mark_pending(interview_id, mark, now, anchor)
        run_at += SCHEDULE
    year_end = START + days * DAY
    done = [
        number
        for number, i in enumerate(truth, start=1)
        if i.completed is not None and i.completed <= year_end
    ]
    outcome.completed_in_year = len(done)
    outcome.days = days
    outcome.requests = sum(n for day, n in outcome.requests_by_day.items() if day < days)
    outcome.never_captured = sum(1 for number in done if number not in outcome.captured)
    return outcome


def percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def hours(seconds: float) -> str:
    return f"{seconds / HOUR:.2f} h"


def report(model: Model, days: int) -> dict[str, Outcome]:
    """Both policies on one model, side by side."""
    defaults = PollPolicy.from_settings(0.1, 5, 168)
    outcomes = {
        "every run": simulate(model, PollPolicy.from_settings(0, 0, 168), days),
        "due rule (share 0)": simulate(model, defaults, days),
        f"due rule, re-read every {RECHECK_DAYS} days": simulate(
            model, defaults, days, RECHECK_DAYS
        ),
    }
    print(
        f"\n## {model.name}: {model.per_week:g}/week, {model.complete_share:.0%} complete, "
        f"median {model.median_hours:g} h, sigma {model.sigma}"
    )
    print("| | " + " | ".join(outcomes) + " |")
    print("|---|" + "---:|" * len(outcomes))
    checkpoints = [d for d in (30, 90, 180, 365) if d <= days]
    for day in checkpoints:
        cells = [f"{o.requests_by_day.get(day - 1, 0):,}" for o in outcomes.values()]
        print(f"| requests on day {day} | " + " | ".join(cells) + " |")
    per_capture = {n: o.requests / max(o.completed_in_year, 1) for n, o in outcomes.items()}
    print(
        "| requests per transcript completed in the year | "
        + " | ".join(f"{v:,.1f}" for v in per_capture.values())
        + " |"
    )
    for label, share in (("p50", 0.5), ("p95", 0.95)):
        print(
            f"| capture delay {label} | "
            + " | ".join(hours(percentile(o.delays, share)) for o in outcomes.values())
            + " |"
        )
    print(
        "| capture delay max | "
        + " | ".join(hours(max(o.delays, default=0)) for o in outcomes.values())
        + " |"
    )
    print(
        "| longest run | "
        + " | ".join(
            f"{o.longest_run_requests / 60 / REQUESTS_PER_SECOND:.1f} min"
            for o in outcomes.values()
        )
        + " |"
    )
    print(
        "| transcripts captured | "
        + " | ".join(f"{len(o.delays):,}" for o in outcomes.values())
        + " |"
    )
    print(
        "| transcripts never captured | "
        + " | ".join(f"{o.never_captured:,}" for o in outcomes.values())
        + " |"
    )
    ratio = per_capture["due rule (share 0)"] / per_capture["every run"]
    print(
        f"\ndue rule / every run, requests per captured transcript: {ratio:.4f} "
        f"(1/{1 / ratio:,.0f})"
    )
    return outcomes


def goals(outcomes: dict[str, Outcome]) -> None:
    """The goals set for the first model."""
    every, defaults = outcomes["every run"], outcomes["due rule (share 0)"]
    ratio = (defaults.requests / defaults.completed_in_year) / (
        every.requests / every.completed_in_year
    )
    checks = [
        (f"requests per capture at most 1/100 of every run's ({ratio:.4f})", ratio <= GOAL_RATIO),
        (
            f"p50 delay <= 1 h ({hours(percentile(defaults.delays, 0.5))})",
            percentile(defaults.delays, 0.5) <= HOUR,
        ),
        (
            f"p95 delay <= 12 h ({hours(percentile(defaults.delays, 0.95))})",
            percentile(defaults.delays, 0.95) <= 12 * HOUR,
        ),
        (
            f"max delay <= 168 h + 15 min ({hours(max(defaults.delays))})",
            max(defaults.delays) <= 168 * HOUR + SCHEDULE,
        ),
        (
            f"no run over 12 min ({defaults.longest_run_requests / 60:.1f} min)",
            defaults.longest_run_requests <= PER_RUN,
        ),
        (f"0 never captured ({defaults.never_captured})", defaults.never_captured == 0),
    ]
    rechecking = outcomes[f"due rule, re-read every {RECHECK_DAYS} days"]
    week = range(defaults.days - 7, defaults.days)
    plain = sum(defaults.requests_by_day.get(day, 0) for day in week) / 7
    more = sum(rechecking.requests_by_day.get(day, 0) for day in week) / 7
    added = more / plain - 1
    text = (
        f"re-reads every {RECHECK_DAYS} days add at most {RECHECK_GOAL:.0%} to the requests "
        f"a day at day 365 ({more:,.0f} / {plain:,.0f} a day over its week: +{added:.1%})"
    )
    checks.append((text, added <= RECHECK_GOAL))
    print("\ngoals on the ordinary model, the due rule at its defaults (poll_budget_share 0):")
    for text, met in checks:
        print(f"- {'met' if met else 'MISSED'}: {text}")


SHARES = (0, 0.05, 0.1, 0.25)
DEFAULT_SHARE = 0.1


def freshness(days: int, backlog_days: int) -> dict[tuple[str, float], Outcome]:
    """Each traffic model at each `poll_budget_share`, with the other defaults."""
    defaults = PollPolicy.from_settings(0.1, 5, 168)
    outcomes: dict[tuple[str, float], Outcome] = {}
    print(
        f"\n## poll_budget_share: each model, {days} days, runs every 15 minutes on the "
        "essentials plan (60 requests a minute), other settings at their defaults"
    )
    print("| model | share | requests a day | of the plan | p50 | p95 | max | never captured |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = [(model, share, days, 0) for model in MODELS for share in SHARES]
    rows += [(MODELS[0], share, backlog_days, 10_000) for share in (0, DEFAULT_SHARE)]
    for model, share, length, backlog in rows:
        outcome = simulate(model, defaults, length, share=share, backlog=backlog)
        name = model.name + (f" + {backlog:,} pending ({length} days)" if backlog else "")
        outcomes[name, share] = outcome
        a_day = outcome.requests / length
        print(
            f"| {name} | {share:g} | {a_day:,.0f} | {a_day / PLAN_A_DAY:.1%} | "
            f"{minutes(percentile(outcome.delays, 0.5))} | "
            f"{minutes(percentile(outcome.delays, 0.95))} | "
            f"{minutes(max(outcome.delays, default=0))} | {outcome.never_captured:,} |"
        )
    return outcomes


def minutes(seconds: float) -> str:
    if seconds >= 2 * HOUR:
        return f"{seconds / HOUR:.1f} h"
    return f"{seconds / MINUTE:.1f} min"


def freshness_goals(outcomes: dict[tuple[str, float], Outcome], model: Model, days: int) -> None:
    """The goals of issue 36, and share 0 planning exactly as the due rule alone."""
    ordinary = outcomes["ordinary", DEFAULT_SHARE]
    slow = outcomes["slow buyers", DEFAULT_SHARE]
    defaults = PollPolicy.from_settings(0.1, 5, 168)
    alone = simulate(model, defaults, days)  # the planner without the share's arguments
    zero = outcomes[model.name, 0]
    same = (alone.delays, alone.requests_by_day) == (zero.delays, zero.requests_by_day)
    big = [o for (name, share), o in outcomes.items() if "pending" in name and share]
    p95, worst = percentile(ordinary.delays, 0.95), max(ordinary.delays)
    slow_p95, a_day = percentile(slow.delays, 0.95), ordinary.requests / days
    at = f"at {DEFAULT_SHARE}"
    checks = [
        (f"ordinary {at}: p95 <= 20 min ({minutes(p95)})", p95 <= 20 * MINUTE),
        (f"ordinary {at}: max <= 2 h ({minutes(worst)})", worst <= 2 * HOUR),
        (
            f"ordinary {at}: polling <= 10% of the plan a day ({a_day / PLAN_A_DAY:.1%})",
            a_day <= 0.1 * PLAN_A_DAY,
        ),
        (f"slow buyers {at}: p95 <= 3 h ({minutes(slow_p95)})", slow_p95 <= 3 * HOUR),
        ("share 0 plans exactly as the due rule alone (same requests, same delays)", same),
    ]
    for outcome in big:
        big_a_day = outcome.requests / outcome.days
        backlog_alone = outcomes[f"ordinary + 10,000 pending ({outcome.days} days)", 0]
        text = (
            f"10,000 pending {at}: polling {big_a_day / PLAN_A_DAY:.1%} of the plan a day: "
            "the backlog's own polls plus at most the share"
        )
        limit = 0.1 * PLAN_A_DAY + backlog_alone.requests / outcome.days
        checks.append((text, big_a_day <= limit))
    print("\ngoals of poll_budget_share:")
    for text, met in checks:
        print(f"- {'met' if met else 'MISSED'}: {text}")


def state_bytes_per_completed(completed: int) -> None:
    """The interviews' state with `completed` completed interviews and their digests.

    Built through the calls the stream makes (`mark_completed` with each record's digest),
    stored as the tap stores it.
    """
    from tap_hindsight.recheck import Digest  # noqa: PLC0415 (only for this measurement)

    state = LifecycleState()
    for interview_id in range(1_000_000, 1_000_000 + completed):
        record = {"interview_request_id": interview_id, "transcript": {"content": "..."}}
        state.mark_completed(interview_id, Digest.of(record, interview_id % 60))
    plain = len(json.dumps(write_interviews(LifecycleState(completed=state.completed))))
    state.recheck_through = float(START)
    size = len(json.dumps(write_interviews(state)))
    print(
        f"\ninterview state with {completed:,} completed interviews: {size:,} bytes with the "
        f"re-read cycle's digests ({size / completed:.1f} bytes per completed interview; "
        f"goal: <= 16), {plain:,} without"
    )


def state_bytes_per_pending(pending: int) -> None:
    """The real tap's final STATE after polling `pending` pending interviews."""
    from hindsight_simulator import (  # noqa: PLC0415 (only for this measurement)
        HindsightSimulator,
        SimulatorConfig,
        default_organisations,
    )

    config = SimulatorConfig(organisations=default_organisations(pending), rate_limit=10**9)
    with HindsightSimulator(config) as simulator, tempfile.TemporaryDirectory() as workdir:
        acme = simulator.organisation("acme")
        for interview_id in acme.ids:
            simulator.set_status(interview_id, "sent")
        config_path = Path(workdir) / "config.json"
        config_path.write_text(
            json.dumps(
                {
                    "api_key": acme.api_key,
                    "base_url": simulator.url,
                    "interview_ids": acme.ids,
                    "requests_per_minute": 100_000,
                    "concurrency": 16,
                }
            )
        )
        tap = str(Path(sys.executable).with_name("tap-hindsight"))
        done = subprocess.run(
            [tap, "--config", str(config_path)], capture_output=True, text=True, check=True
        )
    line = [m for m in done.stdout.splitlines() if m.startswith('{"type":"STATE"')][-1]
    state = json.loads(line)["value"]["bookmarks"]["interviews"]["interview_lifecycle"]
    lifecycle = read_interviews(state)
    assert len(lifecycle.pending) == pending, len(lifecycle.pending)
    size = len(json.dumps(state, separators=(",", ":")).encode())
    deals = json.loads(line)["value"]["bookmarks"].get("deals", {}).get("deal_marks", {})
    dealt = len(deals.get("marks", "").split(",")) if deals.get("marks") else 0
    print(
        f"\ninterview state after the real tap polled {pending:,} pending interviews: "
        f"{size:,} bytes = {size / pending:.1f} bytes per pending interview (goal: <= 40); "
        f"the whole STATE message, with the marks of the organisation's {dealt:,} deals: "
        f"{len(line.encode()):,} bytes"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--skip-tap", action="store_true", help="skip the real tap's STATE")
    parser.add_argument(
        "--freshness-only", action="store_true", help="only the poll_budget_share table"
    )
    parser.add_argument(
        "--backlog-days", type=int, default=28, help="days of the 10,000-pending rows"
    )
    args = parser.parse_args()
    outcomes = freshness(args.days, args.backlog_days)
    freshness_goals(outcomes, MODELS[0], args.days)
    if args.freshness_only:
        return 0
    results = [report(model, args.days) for model in MODELS]
    goals(results[0])
    state_bytes_per_completed(100_000)
    if not args.skip_tap:
        state_bytes_per_pending(10_000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
