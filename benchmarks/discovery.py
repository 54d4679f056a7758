"""What ID discovery finds, and what it costs, in an ID space shared by every organisation.

A simulated year on a simulated clock: the platform hands out 5,000 interview IDs a week
in working-hours bursts (Monday to Friday, 9:00 to 17:00, a burst every 10 minutes), each
to our organisation at its share (`hindsight_simulator.ids.SharedIdSpace`), after a
week of history that the first run starts in (`scan_start_id` is the first ID); a run
every 15 minutes on the essentials plan (one request a second) with `max_run_minutes:
12`, each probe answered as the API would at its instant.

Two strategies side by side, per share (1%, 10%, 100%): the fixed tail of earlier versions
(`scan_max_misses`, 25 misses in a row; a faithful model of it, `FixedTail`), and the tap's
own discovery (`tap_hindsight.discovery`, which follows the platform's counter; its
one probe a quiet run to learn the API's clock counted as the tap sends it). Printed:
the share of our interviews found by the end (of those created at least three days before
it: a 404 is final only once one of ours above it is found; goal 100%), probes per platform
ID created (goal at most 1.5), the delay from creation to discovery of interviews created
while the tap runs, p50 / p95 / max (goal p95 at most 30 minutes), probes a day and the
most in one day, the longest run in probes and how many runs the limit cut, how long the
first runs took to catch up with the week of history, and the bytes discovery keeps in
state (the last run's, and the most any run wrote).

A second table (alone with `--early-only`; `--usual-only` leaves it out) runs the tap where
the platform's speed is unknown or hard to learn, without `max_run_minutes` (a run ends
when discovery has nothing left to probe; one that reaches 86,400 probes is stopped and
counted as cut), over `--early-weeks` (13): shares of 0.1%, 0.14% (one interview a day)
and 0.5%; a single interview
of ours just before the first run and none after; and a new customer's import of 5,000
interview requests in ten minutes on a Tuesday at 03:00, at shares 100% and 50%.

With `--foreign-burst N`, other organisations also create N IDs within one minute every
Wednesday at 11:00 (an import): the table then adds the delay of our interviews created
in the six hours after each such burst, which the usual speed of the counter would cross
only after N / (its speed) of busy time.

With `--lag-minutes 5,20,45`, the tap's discovery instead of the fixed tail, with new IDs
probed that many minutes of busy time after the counter should have passed them (the tap's
own is 7.5): what a shorter delay costs in probes. A 404 is final only once one of ours above
it was created before it, so an ID probed soon after it is handed out is probed again more
often (docs/state-and-polling.md, "What the goals cost").

Run: `.venv/bin/python benchmarks/discovery.py [--weeks 52] [--scan-max-misses 25]
[--foreign-burst 2000] [--lag-minutes 5,20,45] [--early-only | --usual-only]
[--early-weeks 13]`.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hindsight_simulator.ids import SharedIdSpace
from tap_hindsight.discovery import POLICY, Discovery, Policy
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.store import scan_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_hindsight.scan import ScanMemory

MINUTE, HOUR, DAY, WEEK = 60, 3600, 86_400, 7 * 86_400
SCHEDULE = 15 * MINUTE
PER_RUN = 12 * 60  # max_run_minutes 12, one request a second
START = 1_790_000_000 - (1_790_000_000 - 345_600) % WEEK  # a Monday, 00:00 UTC
PER_WEEK = 5_000
BURST_EVERY = 10 * MINUTE
WORKING = (9 * HOUR, 17 * HOUR)
FIRST_ID = 1_000_000
SHARES = (0.01, 0.10, 1.00)
DEFAULT_SHARES = ",".join(f"{s:g}" for s in SHARES)
#: An import: this many interview requests over this many seconds.
IMPORT_COUNT = 5_000
IMPORT_SECONDS = 600.0
#: A run without `max_run_minutes` that sends this many probes (a day at one a second) is
#: counted as one that does not end, and stopped.
RUN_LIMIT = 86_400
#: Our interviews created this close to the end are not counted as found or missed.
SETTLE_SECONDS = 3 * DAY
#: Weeks of IDs the platform handed out before the first run (`scan_start_id` is the first).
BACKLOG_WEEKS = 1
#: When other organisations' bursts come (`--foreign-burst`): Wednesday 11:00, and how long
#: after one our interviews count as created after it.
FOREIGN_AT = 2 * DAY + 11 * HOUR
AFTER_FOREIGN = 6 * HOUR


class ApiClock:
    """The simulated clock, read as the tap reads the API's: known once an answer came."""

    def __init__(self, read: Callable[[], float]) -> None:
        self.read = read
        self.sampled = False

    def __call__(self) -> float:
        return self.read()


def burst_times(weeks: int) -> list[float]:
    """The instants of the platform's bursts: every 10 minutes of working hours."""
    weekdays = [day for day in range(weeks * 7) if day % 7 < 5]  # noqa: PLR2004 (Mon-Fri)
    return [
        float(START + day * DAY + second)
        for day in weekdays
        for second in range(WORKING[0], WORKING[1], BURST_EVERY)
    ]


@dataclass(frozen=True)
class Traffic:
    """Whose IDs the platform hands out, and how the tap runs over them.

    `steady`: every burst at `share`, after a week of history (`scan_start_id` its first
    ID). `single`: one interview of ours just before the first run and none after
    (`scan_start_id` is its ID): a new customer who stops. `import`: a new customer
    (nothing of ours before) imports `IMPORT_COUNT` interview requests in ten minutes at a
    quiet hour (Tuesday 03:00), at `share` (the rest other organisations'); the first run
    follows (`scan_start_id` is the import's first ID) and the bursts go on at `share`.
    """

    share: float
    scenario: str = "steady"
    #: Probes a run may send: `PER_RUN` (`max_run_minutes: 12`), or None: no
    #: `max_run_minutes`, a run goes on until discovery has nothing left to probe now.
    per_run: int | None = PER_RUN

    @property
    def label(self) -> str:
        if self.scenario == "single":
            return "one of ours, then none"
        if self.scenario == "import":
            return f"an import, share {self.share:.0%}"
        return f"share {self.share * 100:.3g}%"


#: The rows before the platform's speed is known, or where it is hard to learn: small
#: organisations (one interview a day at 0.14%), one interview and then none, an import.
#: These run without `max_run_minutes`, so that a run that would not end shows.
EARLY = (
    Traffic(0.001, per_run=None),
    Traffic(0.0014, per_run=None),
    Traffic(0.005, per_run=None),
    Traffic(1.0, "single", per_run=None),
    Traffic(1.0, "import", per_run=None),
    Traffic(0.5, "import", per_run=None),
)


@dataclass
class Outcome:
    """One traffic's year."""

    share: float
    ours: int = 0
    found: int = 0
    probes: int = 0
    #: Of the probes: open IDs probed again, and scouting past the reach (the tap's).
    reprobes: int = 0
    scouts: int = 0
    created: int = 0
    delays: list[float] = field(default_factory=list)
    state_bytes: int = 0
    state_max: int = 0
    backlog_done: float = 0.0
    days: float = 0.0
    #: Delays of our interviews created within AFTER_FOREIGN of a foreign burst.
    after_burst: list[float] = field(default_factory=list)
    #: The most probes one run sent, and runs that reached `per_run` (or `RUN_LIMIT`).
    longest_run: int = 0
    runs_cut: int = 0
    #: Probes on each day since the first run.
    by_day: dict[int, int] = field(default_factory=dict)


class FixedTail:
    """Discovery before issue 23: probe ascending IDs, stop `max_misses` past the highest
    found; the next run starts one above the highest found (a faithful model of it).
    """

    def __init__(self, start: int, max_misses: int) -> None:
        self.next_id = start
        self.highest_found = start - 1
        self.max_misses = max_misses

    def next_probe(self) -> int | None:
        if self.next_id > self.highest_found + self.max_misses:
            return None
        self.next_id += 1
        return self.next_id - 1

    def answered(self, interview_id: int, *, exists: bool) -> None:
        if exists:
            self.highest_found = max(self.highest_found, interview_id)


class Platform:
    """The shared ID space, handing out its bursts (and the traffic's extras) on time."""

    def __init__(self, traffic: Traffic, weeks: int, foreign: int) -> None:
        self.traffic = traffic
        scenario = traffic.scenario
        self.space = SharedIdSpace(
            FIRST_ID, {"acme": 1.0 if scenario == "single" else traffic.share}, seed=11
        )
        self.bursts = burst_times(BACKLOG_WEEKS + weeks)
        self.per_burst = PER_WEEK / len(burst_times(1))
        self.imports = (
            [float(START + week * WEEK + FOREIGN_AT) for week in range(BACKLOG_WEEKS + weeks)]
            if foreign
            else []
        )
        self.foreign = foreign
        self.carried = 0.0
        self.burst = 0
        history_end = float(START + BACKLOG_WEEKS * WEEK)
        #: Before this instant every burst is other organisations' (ours: a new customer).
        self.ours_from = history_end
        self.first_run = history_end
        self.scan_start = FIRST_ID
        if scenario == "steady":
            self.ours_from = float(START)
        elif scenario == "single":
            self.create_until(history_end - 300)
            self.scan_start = self.space.create(1, history_end - 300)[0]
            self.ours_from = math.inf
        elif scenario == "import":
            at = history_end + DAY + 3 * HOUR  # Tuesday 03:00: nothing else is created
            self.create_until(at)
            self.scan_start = self.space.next_id
            self.space.create(IMPORT_COUNT, at, spread_seconds=IMPORT_SECONDS)
            self.ours_from = at
            self.first_run = at + SCHEDULE

    def create_until(self, instant: float) -> None:
        """Hand out the bursts due by `instant` (never after a probe saw their IDs)."""
        bursts, space = self.bursts, self.space
        while self.burst < len(bursts) and bursts[self.burst] <= instant:
            at = bursts[self.burst]
            while self.imports and self.imports[0] <= at:
                space.create(self.foreign, self.imports.pop(0), spread_seconds=60.0, others=True)
            self.carried += self.per_burst
            count = int(self.carried)
            self.carried -= count
            space.create(count, at, spread_seconds=60.0, others=at < self.ours_from)
            self.burst += 1


def simulate(  # noqa: C901, PLR0912, PLR0913, PLR0915 (one year, step by step, in one place)
    traffic: Traffic | float,
    weeks: int,
    strategy: str,
    max_misses: int,
    *,
    foreign: int = 0,
    policy: Policy = POLICY,
) -> Outcome:
    """Run one strategy (`fixed` or `tap`, with `policy`) through `weeks` of bursts."""
    if not isinstance(traffic, Traffic):
        traffic = Traffic(traffic)
    platform = Platform(traffic, weeks, foreign)
    space = platform.space
    lifecycle = LifecycleState()
    found_at: dict[int, float] = {}
    outcome = Outcome(traffic.share)
    end = START + (BACKLOG_WEEKS + weeks) * WEEK
    first_run = run_at = platform.first_run
    memory: ScanMemory | None = None
    resume = platform.scan_start
    per_run = traffic.per_run or RUN_LIMIT

    while run_at < end:
        platform.create_until(run_at)
        clock = run_at
        if strategy == "tap":
            api_clock = ApiClock(lambda: clock)  # noqa: B023 (this run's clock)
            discovery = Discovery(
                platform.scan_start, memory, lifecycle, clock=api_clock, policy=policy
            )
        else:
            tail = FixedTail(resume, max_misses)
        sent = 0
        while sent < per_run:
            platform.create_until(clock)
            if strategy == "tap":
                probe = discovery.next_probe()
                if probe is None and not discovery.sensed:
                    probe = discovery.sense()  # as the tap does, to learn the API's clock
            else:
                probe = tail.next_probe()
            if probe is None:
                break
            exists = space.answers("acme", probe, clock)
            outcome.probes += 1
            sent += 1
            day = int((clock - first_run) // DAY)
            outcome.by_day[day] = outcome.by_day.get(day, 0) + 1
            if strategy == "tap":
                api_clock.sampled = True
                discovery.answered(probe, exists=exists, created_at=space.created_at(probe))
                discovery.kept(probe)
            else:
                tail.answered(probe, exists=exists)
            if exists:
                lifecycle.mark_completed(probe)
                found_at.setdefault(probe, clock)
            clock += 1.0
        outcome.longest_run = max(outcome.longest_run, sent)
        outcome.runs_cut += sent >= per_run
        if strategy == "tap":
            outcome.reprobes += discovery.tally.reprobes
            outcome.scouts += discovery.tally.scouts
            memory = discovery.stored()
            outcome.state_bytes = len(scan_text(memory))
            outcome.state_max = max(outcome.state_max, outcome.state_bytes)
        else:
            resume = tail.highest_found + 1
            outcome.state_bytes = len(json.dumps({"scan_next_id": resume}))
            outcome.state_max = max(outcome.state_max, outcome.state_bytes)
        # The scheduler starts no run while one goes on (max_active_runs: 1).
        run_at = max(run_at + SCHEDULE, clock)
    # A 404 is final only once one of ours above it is found: at a small share that is
    # hours later, over a weekend days. Ours created in the last days are not counted.
    settled_by = end - SETTLE_SECONDS
    ours = [
        i
        for i in space.ids_of("acme")
        if i >= platform.scan_start and (space.created_at(i) or 0.0) < settled_by
    ]
    outcome.ours = len(ours)
    outcome.found = sum(1 for i in ours if i in found_at)
    outcome.created = space.next_id - platform.scan_start
    created = {i: space.created_at(i) or 0.0 for i in found_at}
    outcome.delays = sorted(found_at[i] - created[i] for i in found_at if created[i] >= first_run)
    outcome.backlog_done = (
        max((found_at[i] for i in found_at if created[i] < first_run), default=first_run)
        - first_run
    )
    outcome.days = (end - first_run) / DAY
    starts = [float(START + week * WEEK + FOREIGN_AT) for week in range(BACKLOG_WEEKS + weeks)]
    outcome.after_burst = sorted(
        found_at[i] - created[i]
        for i in found_at
        if foreign and created[i] >= first_run and _after_one(created[i], starts)
    )
    return outcome


def _after_one(instant: float, starts: list[float]) -> bool:
    """True if `instant` falls within AFTER_FOREIGN after one of `starts`."""
    return any(0 <= instant - start < AFTER_FOREIGN for start in starts)


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile of sorted `values` (nearest rank); nan if none."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(share * len(values)) - 1))]


def minutes(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds / 60:,.1f} min"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--scan-max-misses", type=int, default=25)
    parser.add_argument("--shares", default=DEFAULT_SHARES)
    parser.add_argument(
        "--early-only",
        action="store_true",
        help="only the table of small organisations, one interview then none, and imports",
    )
    parser.add_argument("--usual-only", action="store_true", help="only the table of shares")
    parser.add_argument(
        "--early-weeks",
        type=int,
        default=13,
        help="weeks of the second table (a quarter: what happens before a speed is known "
        "shows in the first weeks, and its runs without max_run_minutes are long to simulate)",
    )
    parser.add_argument("--foreign-burst", type=int, default=0)
    parser.add_argument(
        "--lag-minutes",
        default="",
        help="instead of the fixed tail, the tap with new IDs probed this many minutes of "
        "busy time after the counter should have passed them (comma-separated; the tap's "
        f"own: {POLICY.lag_seconds / 60:g}): what the delay goal costs",
    )
    args = parser.parse_args()
    shares = [] if args.early_only else [float(text) for text in args.shares.split(",")]
    if args.lag_minutes:
        lags = [float(text) for text in args.lag_minutes.split(",")]
        results = [
            (
                f"tap, lag {lag:g} min",
                simulate(
                    share,
                    args.weeks,
                    "tap",
                    args.scan_max_misses,
                    foreign=args.foreign_burst,
                    policy=replace(POLICY, lag_seconds=lag * 60),
                ),
            )
            for share in shares
            for lag in lags
        ]
    else:
        results = [
            (
                name,
                simulate(
                    share, args.weeks, strategy, args.scan_max_misses, foreign=args.foreign_burst
                ),
            )
            for share in shares
            for strategy, name in (("fixed", "fixed tail"), ("tap", "tap"))
        ]
    if not args.early_only:
        print_table([(f"{name}, share {r.share:.0%}", r) for name, r in results], args)
        print(
            f"platform IDs created: {results[0][1].created:,} in {args.weeks} weeks; "
            f"scan_max_misses {args.scan_max_misses} for the fixed tail"
            + (
                f"; {args.foreign_burst:,} foreign IDs every Wednesday 11:00"
                if args.foreign_burst
                else ""
            )
        )
    if args.usual_only or args.lag_minutes or args.foreign_burst or args.shares != DEFAULT_SHARES:
        return 0
    print()
    early = [
        (f"tap, {traffic.label}", simulate(traffic, args.early_weeks, "tap", 0))
        for traffic in EARLY
    ]
    print_table(early, args)
    print(
        "these runs have no max_run_minutes (a run ends when discovery has nothing left to "
        f"probe; one that reaches {RUN_LIMIT:,} probes is stopped and counted as cut); "
        f"{args.early_weeks} weeks"
    )
    return 0


def print_table(results: list[tuple[str, Outcome]], args: argparse.Namespace) -> None:
    print("| |" + "".join(f" {name} |" for name, _ in results))
    print("|---|" + "---:|" * len(results))
    rows = [
        (
            "our interviews found (created 3 days before the end)",
            lambda r: f"{r.found / max(r.ours, 1):.1%} of {r.ours:,}",
        ),
        ("probes per platform ID", lambda r: f"{r.probes / max(r.created, 1):.3f}"),
        (
            "of which open IDs again, scouting",
            lambda r: f"{r.reprobes / max(r.created, 1):.3f}, {r.scouts / max(r.created, 1):.3f}",
        ),
        ("delay p50", lambda r: minutes(percentile(r.delays, 0.5))),
        ("delay p95", lambda r: minutes(percentile(r.delays, 0.95))),
        ("delay max", lambda r: minutes(r.delays[-1] if r.delays else math.nan)),
        (
            "found over an hour after creation",
            lambda r: f"{sum(1 for d in r.delays if d > HOUR):,} of {len(r.delays):,}",
        ),
        ("probes a day", lambda r: f"{r.probes / r.days:,.0f}"),
        ("most probes in a day", lambda r: f"{max(r.by_day.values(), default=0):,}"),
        ("longest run (probes), runs cut", lambda r: f"{r.longest_run:,}, {r.runs_cut:,}"),
        ("backlog caught up after", lambda r: minutes(r.backlog_done)),
        ("state bytes (last, max)", lambda r: f"{r.state_bytes}, {r.state_max}"),
    ]
    if args.foreign_burst:
        rows += [
            ("after a foreign burst: delay p50", lambda r: minutes(percentile(r.after_burst, 0.5))),
            ("after a foreign burst: p95", lambda r: minutes(percentile(r.after_burst, 0.95))),
            ("after a foreign burst: max", lambda r: minutes(max(r.after_burst, default=math.nan))),
        ]
    for label, cell in rows:
        print(f"| {label} |" + "".join(f" {cell(r)} |" for _, r in results))


if __name__ == "__main__":
    raise SystemExit(main())
