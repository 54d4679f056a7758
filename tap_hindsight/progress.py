"""Progress lines for the operator: how far, how fast, how long to go. Main thread only."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, NamedTuple

from tap_hindsight.encoding import duration, minutes
from tap_hindsight.window import MINUTE, api_window_seconds

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

#: Progress lines per budget window on long runs: every 30 s of Hindsight's minute, so a
#: run held back by its budget says so before the window turns.
LINES_PER_WINDOW = 2


def poll_pace(requests_per_minute: float, *, probing: bool) -> float:
    """The polls a minute at this rate: half of it while discovery probes.

    Polls and discovery's probes take turns (`interview_run.id_source`); once discovery
    has nothing to probe, the polls get the whole rate.
    """
    return requests_per_minute / 2 if probing else requests_per_minute


def estimate(ids: int, budget: int, *, discovering: bool) -> str | None:
    """The start-of-run estimate: what the request budget alone allows (`poll_pace`).

    None when there is nothing to poll (discovery's start line tells its own).
    """
    if not ids:
        return None
    pace = poll_pace(budget, probing=discovering)
    beside = ", taking turns with discovery's probes" if discovering else ""
    polls = f"{ids:,} IDs to poll at {budget:,} requests/min{beside}"
    if ids <= pace:
        return f"{polls}: within the first minute's budget"
    took = math.ceil(ids / pace * 10) / 10
    return f"{polls}: {'up to about' if discovering else 'about'} {minutes(took)}"


class Snapshot(NamedTuple):
    """What a progress line reports, read when the line is due."""

    #: Planned IDs answered.
    done: int
    #: Requests sent in the last minute.
    sent: int
    #: Seconds spent waiting for the rate limit.
    waited: float
    #: Discovery's probes answered, and the interviews they found (0 without discovery).
    probes: int = 0
    found: int = 0
    #: Probes in flight (waiting for the budget, say).
    in_flight: bool = False


class Progress:
    """Logs polls done, discovery's probes, the request rate, waits and an ETA, now and then."""

    def __init__(  # noqa: PLR0913
        self,
        logger: logging.Logger,
        total: int,
        budget: int,
        snapshot: Callable[[], Snapshot],
        *,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Report on `total` IDs to poll under a budget of `budget` requests per minute.

        `snapshot` tells what a line reports, when one is due: a line every `every`
        seconds (by default, LINES_PER_WINDOW a budget window).
        """
        self.logger = logger
        self.total = total
        self.budget = budget
        self.snapshot = snapshot
        self.every = api_window_seconds() / LINES_PER_WINDOW if every is None else every
        self._clock = clock
        self.started = clock()
        self._last = self.started
        #: Discovery's probes at the last line: more since, and it is still probing.
        self._probes = 0

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return self._clock() - self.started

    def line(self, snapshot: Snapshot, *, probing: bool) -> str:
        """One progress line; `probing`: discovery sent probes since the last line.

        The rate is what the budget counts: the requests sent in the last minute. The ETA
        is the polls' (`poll_pace`).
        """
        done, sent = snapshot.done, snapshot.sent
        rate = float(min(sent, self.budget)) if self.elapsed() >= MINUTE else 0.0
        pace = poll_pace(rate or float(self.budget), probing=probing)
        left = max(self.total - done, 0)
        polled = "no IDs to poll"
        if self.total:
            polled = f"{done:,}/{self.total:,} IDs ({done / self.total:.0%})"
        probed = ""
        if snapshot.probes:
            probed = f", {snapshot.probes:,} discovery probes finding {snapshot.found:,}"
        eta = f"ETA {duration(left / pace * 60.0)}"
        if probing and not left:
            eta = "polls done, discovery goes on" if self.total else "discovery goes on"
        return (
            f"Progress: {polled}{probed}, "
            f"{sent:,} requests/min (budget {self.budget:,}), "
            f"{duration(snapshot.waited)} waiting for the rate limit, {eta}"
        )

    def tick(self) -> None:
        """Log a progress line if the last one is `every` seconds old (cheap otherwise)."""
        now = self._clock()
        if now - self._last >= self.every:
            self._last = now
            snapshot = self.snapshot()
            # Still probing: probes in flight, or some answered since the last line.
            probing = snapshot.in_flight or snapshot.probes > self._probes
            self._probes = snapshot.probes
            self.logger.info(self.line(snapshot, probing=probing))
