"""What ID discovery finds, and what it costs, in an ID space shared by every organisation.

A simulated year on a simulated clock, driven through the tap's own discovery code
(`tap_hindsight.discovery.Discovery` over a `LifecycleState`, as the interviews stream
uses them): the platform hands out 5,000 interview IDs a week in working-hours bursts
(Monday to Friday, 9:00 to 17:00, a burst every 10 minutes), each to our organisation at
its share (`tap_hindsight.simulator.ids.SharedIdSpace`); a run every 15 minutes on the
essentials plan (one request a second) with `max_run_minutes: 12`, probing from where the
last run stopped (`scan_next_id`) and answered as the API would at each probe's instant.

Printed per share (1%, 10%, 100%): the share of our interviews found by the end (goal
100%), probes per platform ID created (goal at most 1.5), the delay from creation to
discovery p50 / p95 / max (goal p95 at most 30 minutes), probes a day, and the bytes
discovery keeps in state. This is today's fixed tail (`scan_max_misses`); a new
strategy is printed beside it once it exists.

Run: `.venv/bin/python benchmarks/discovery.py [--weeks 52] [--scan-max-misses 25]`.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field

from tap_hindsight.discovery import Discovery
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.simulator.ids import SharedIdSpace

MINUTE, HOUR, DAY, WEEK = 60, 3600, 86_400, 7 * 86_400
SCHEDULE = 15 * MINUTE
PER_RUN = 12 * 60  # max_run_minutes 12, one request a second
START = 1_790_000_000 - (1_790_000_000 - 345_600) % WEEK  # a Monday, 00:00 UTC
PER_WEEK = 5_000
BURST_EVERY = 10 * MINUTE
WORKING = (9 * HOUR, 17 * HOUR)
FIRST_ID = 1_000_000
SHARES = (0.01, 0.10, 1.00)


def burst_times(weeks: int) -> list[float]:
    """The instants of the platform's bursts: every 10 minutes of working hours."""
    weekdays = [day for day in range(weeks * 7) if day % 7 < 5]  # noqa: PLR2004 (Mon-Fri)
    return [
        float(START + day * DAY + second)
        for day in weekdays
        for second in range(WORKING[0], WORKING[1], BURST_EVERY)
    ]


@dataclass
class Outcome:
    """One share's year."""

    share: float
    ours: int = 0
    found: int = 0
    probes: int = 0
    created: int = 0
    delays: list[float] = field(default_factory=list)
    state_bytes: int = 0
    days: float = 0.0


def simulate(share: float, weeks: int, max_misses: int) -> Outcome:
    """Run the fixed tail through `weeks` of the platform's bursts."""
    space = SharedIdSpace(FIRST_ID, {"acme": share}, seed=11)
    bursts = burst_times(weeks)
    per_burst = PER_WEEK / len(burst_times(1))
    lifecycle = LifecycleState()
    found_at: dict[int, float] = {}
    outcome = Outcome(share)
    end = START + weeks * WEEK
    carried = 0.0
    burst = 0
    run_at = float(START)
    while run_at < end:
        while burst < len(bursts) and bursts[burst] <= run_at:
            carried += per_burst
            count = int(carried)
            carried -= count
            space.create(count, bursts[burst], spread_seconds=60.0)
            burst += 1
        start_id = max(FIRST_ID, lifecycle.scan_next_id or 0)
        discovery = Discovery(start_id, max_misses, lifecycle, set())
        clock = run_at
        for _ in range(PER_RUN):
            probe = discovery.next_probe()
            if probe is None:
                break
            exists = space.answers("acme", probe, clock)
            discovery.answered(probe, exists=exists)
            if exists:
                lifecycle.mark_completed(probe)
                found_at.setdefault(probe, clock)
            discovery.kept(probe)
            clock += 1.0
        lifecycle.scan_next_id = discovery.resume_at
        outcome.probes += discovery.probes
        run_at += SCHEDULE
    ours = space.ids_of("acme")
    outcome.ours = len(ours)
    outcome.found = sum(1 for i in ours if i in found_at)
    outcome.created = space.next_id - FIRST_ID
    outcome.delays = sorted(found_at[i] - (space.created_at(i) or 0.0) for i in found_at)
    stored = {"scan_next_id": lifecycle.scan_next_id}
    outcome.state_bytes = len(json.dumps(stored, separators=(",", ":")))
    outcome.days = weeks * 7
    return outcome


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
    args = parser.parse_args()
    results = [simulate(share, args.weeks, args.scan_max_misses) for share in SHARES]
    header = "| fixed tail (scan_max_misses " + str(args.scan_max_misses) + ") |"
    print(header + "".join(f" share {r.share:.0%} |" for r in results))
    print("|---|" + "---:|" * len(results))
    rows = [
        ("our interviews found", lambda r: f"{r.found / r.ours:.1%} of {r.ours:,}"),
        ("probes per platform ID", lambda r: f"{r.probes / max(r.created, 1):.3f}"),
        ("delay p50", lambda r: minutes(percentile(r.delays, 0.5))),
        ("delay p95", lambda r: minutes(percentile(r.delays, 0.95))),
        ("delay max", lambda r: minutes(r.delays[-1] if r.delays else math.nan)),
        ("probes a day", lambda r: f"{r.probes / r.days:,.0f}"),
        ("state bytes", lambda r: f"{r.state_bytes}"),
    ]
    for label, cell in rows:
        print(f"| {label} |" + "".join(f" {cell(r)} |" for r in results))
    print(f"platform IDs created: {results[0].created:,} in {args.weeks} weeks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
