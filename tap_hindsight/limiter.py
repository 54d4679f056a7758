"""The request budget: one sliding-window limiter that every worker of a run shares.

Also here: reading the headers that say when the API's budget resets
(`X-RateLimit-Reset`, `Retry-After`), which pause the limiter.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, NamedTuple

from tap_hindsight.window import api_window_seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

#: Added to the API's window (window.py) for the limiter's sliding window: the server sees
#: a request a little after we send it, and arrival jitter must not squeeze one request
#: too many into its window.
WINDOW_MARGIN_SECONDS = 1.0
#: Longest pause a 429 can impose, whatever its headers say (a skewed clock or an epoch
#: in milliseconds must not stall a scheduled run for hours).
MAX_RATE_LIMIT_PAUSE = 120.0


class RateLimiter:
    """At most `limit` acquisitions in any sliding window, shared by all workers.

    A 429 pauses every worker (`pause`), not only the one that received it; so does an
    answer whose `X-RateLimit-Remaining` says the requests already in flight will spend
    the rest of the budget (another client of the same key is spending it too).
    """

    def __init__(
        self,
        limit: int,
        window: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        trace: list[tuple[str, float]] | None = None,
    ) -> None:
        """Allow `limit` acquisitions per `window` seconds of `clock`.

        The window is by default the API's (window.py) plus WINDOW_MARGIN_SECONDS.

        With `trace`, every slot claimed (`"send"`, clock) and every pause (`"pause"`,
        the clock it lasts until) is appended to it in the order the lock saw them.
        """
        self.limit = limit
        self.window = api_window_seconds() + WINDOW_MARGIN_SECONDS if window is None else window
        self._clock = clock
        self.trace = trace
        self._sent: deque[float] = deque()
        #: Every request let out, for the runs' summaries.
        self.sent = 0
        self._paused_until = 0.0
        self._condition = threading.Condition()
        self.in_flight = 0
        self._waiting = 0
        self._blocked_since = 0.0
        self._blocked = 0.0
        #: The server's word on the current window: the lowest X-RateLimit-Remaining
        #: read in it, and how many answers had been read once it was.
        self._answers_read = 0
        self._floor: int | None = None
        self._floor_read_at = 0
        #: Requests that answers have allowed (each answer that did not pause allows its
        #: worker's next request) but that were not sent yet: they count as in flight.
        self._allowed = 0

    def try_claim(self) -> float:
        """Claim a slot if one is free (0.0), else say the seconds until one is. Lock held."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if self._paused_until > now:
            return self._paused_until - now
        if len(self._sent) >= self.limit:
            return self._sent[0] + self.window - now
        self._sent.append(now)
        self.sent += 1
        self.in_flight += 1
        self._allowed = max(self._allowed - 1, 0)
        if self.trace is not None:
            self.trace.append(("send", now))
        return 0.0

    def acquire(self, stop: threading.Event, until: float | None = None) -> int | None:
        """Block until a request may be sent; None if `stop` was set or `until` passed.

        `until` is a deadline on this limiter's clock: no request starts after it.
        Returns the request's ticket (how many answers had been read when it was sent),
        for `record_remaining`. Every ticket must be followed by one `release()` once the
        answer is in.
        """
        with self._condition:
            while not stop.is_set():
                if until is not None and self._clock() >= until:
                    return None
                wait_for = self.try_claim()
                if wait_for <= 0:
                    return self._answers_read
                if until is not None:
                    wait_for = min(wait_for, max(until - self._clock(), 0.0))
                self._start_waiting()
                self._condition.wait(wait_for)
                self._stop_waiting()
        return None

    def _start_waiting(self) -> None:
        if self._waiting == 0:
            self._blocked_since = self._clock()
        self._waiting += 1

    def _stop_waiting(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self._blocked += self._clock() - self._blocked_since

    def release(self) -> None:
        """One request is answered (or failed): it is no longer in flight."""
        with self._condition:
            self.in_flight -= 1

    def wake_all(self) -> None:
        """Make every waiting caller look again (at the stop flag, for one)."""
        with self._condition:
            self._condition.notify_all()

    def pause(self, seconds: float) -> bool:
        """Hold back every request for `seconds`; True if they were not held back yet."""
        with self._condition:
            now = self._clock()
            newly = self._paused_until <= now
            self._paused_until = max(self._paused_until, now + seconds)
            if self.trace is not None:
                self.trace.append(("pause", self._paused_until))
            self._condition.notify_all()
            return newly

    def record_remaining(self, remaining: int, ticket: int) -> int | None:
        """Record an answer's `remaining`; what is left if requests in flight may spend it.

        A number (the caller should pause) or None (go on).

        `remaining` is an answer's X-RateLimit-Remaining, `ticket` its request's (from
        `acquire`). Answers are read out of order, so a late one may claim more than is
        left: within a window the lowest value read counts. A higher value starts a new
        window only if its request was sent after the lowest was read (in one window,
        a request counted later always leaves less). What may still be spent is the
        requests in flight, and those that earlier answers allowed but that were not sent
        yet (each answer that does not pause allows one more: its worker's next). Called
        while the caller's own request is answered but not yet released, so it counts as
        in flight: a margin of one request.
        """
        with self._condition:
            self._answers_read += 1
            floor = self._floor
            if floor is None or remaining < floor or ticket >= self._floor_read_at:
                floor, self._floor_read_at = remaining, self._answers_read
                self._floor = floor
            if floor <= self.in_flight + self._allowed:
                return floor
            self._allowed += 1
            return None

    def pause_for_remaining(
        self, headers: Mapping[str, str], ticket: int, now: float, api_limit: int
    ) -> BudgetPause | None:
        """Pause before a 429 when the requests in flight may spend the API's window.

        The server's `X-RateLimit-Remaining` counts every client of the key; this limiter
        counts only this tap. When the requests still in flight may spend what remains,
        nothing more is sent until `X-RateLimit-Reset`. Returns what paused, else None.
        `now`: the wall clock the reset is read against; `api_limit`: the key's limit a
        minute, where the answer has no `X-RateLimit-Limit`.
        """
        remaining = _integer(headers.get("X-RateLimit-Remaining"))
        if remaining is None:
            return None
        left = self.record_remaining(remaining, ticket)
        if left is None:
            return None
        wait_for = reset_wait(headers, now)
        if wait_for is None or not self.pause(wait_for):
            return None
        limit = _integer(headers.get("X-RateLimit-Limit")) or api_limit
        # The API's window began `window - wait_for` s ago; a second more, as the reset
        # is often given in whole seconds. What it counted beyond this tap's requests
        # since then, another client spent.
        since = min(max(api_window_seconds() - wait_for + 1.0, 1.0), self.window)
        return BudgetPause(left, wait_for, shared=limit - left > self.sent_in_last(since))

    def now(self) -> float:
        """This limiter's clock."""
        return self._clock()

    @property
    def blocked_seconds(self) -> float:
        """Wall-clock time during which at least one request waited for the budget."""
        with self._condition:
            ongoing = self._clock() - self._blocked_since if self._waiting else 0.0
            return self._blocked + ongoing

    def sent_in_last(self, seconds: float) -> int:
        """Requests sent in the last `seconds` (at most the window)."""
        with self._condition:
            since = self._clock() - seconds
            return sum(1 for at in self._sent if at > since)


class BudgetPause(NamedTuple):
    """An answer's `X-RateLimit-Remaining` paused every request until the window resets."""

    #: What the API said was left in its window.
    left: int
    seconds: float
    #: The API counted more requests in its window than this run sent: another client of
    #: the key spends the budget too (False: this run's own requests spent it).
    shared: bool

    def describe(self) -> str:
        """The log line: who spent the window, and the pause."""
        if self.shared:
            spent = "this rate-limit window (other clients of the key are spending it too)"
        else:
            spent = "the API's rate-limit window, which this run's requests in flight may spend"
        pause = f"pausing all requests for {self.seconds:.1f} s"
        return f"Only {self.left} requests left in {spent}: {pause}"


def _integer(text: str | None) -> int | None:
    """A header's integer; None if it is absent or not one."""
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the budget resets, from `X-RateLimit-Reset` or `Retry-After`.

    Hindsight documents `X-RateLimit-Reset` without saying whether it is an epoch time or
    a number of seconds: a value above 10^9 is taken as an epoch (seconds, or ms above
    10^12), anything smaller as seconds to wait. `Retry-After` may be seconds or an HTTP
    date. None if neither header says.
    """
    wait_for: float | None = None
    reset = headers.get("X-RateLimit-Reset")
    if reset is not None:
        with contextlib.suppress(ValueError):
            value = float(reset)
            if value > 1e12:  # noqa: PLR2004 (an epoch in milliseconds)
                value /= 1000.0
            wait_for = value - now if value > 1e9 else value  # noqa: PLR2004
    retry_after = headers.get("Retry-After")
    if wait_for is None and retry_after is not None:
        try:
            wait_for = float(retry_after)
        except ValueError:
            try:
                wait_for = parsedate_to_datetime(retry_after).timestamp() - now
            except (TypeError, ValueError):
                wait_for = None
    if wait_for is None:
        return None
    return min(max(wait_for, 0.5), MAX_RATE_LIMIT_PAUSE)


def rate_limit_pause(headers: Mapping[str, str], now: float) -> float:
    """Seconds to wait after a 429: until the reset, or a whole window if unsaid."""
    wait_for = reset_wait(headers, now)
    return api_window_seconds() if wait_for is None else wait_for


class StopRequest:
    """A graceful stop asked for (SIGTERM, SIGINT): set from a signal handler, read by the run.

    Setting it is one attribute assignment, safe in a signal handler (which runs between
    two bytecodes of the main thread, whatever lock that holds). The run notices it where
    it waits: no new request starts, those in flight finish and their records go out, and
    the run ends with a STATE that covers them.
    """

    def __init__(self) -> None:
        """Not asked for yet."""
        #: The signal's name once asked for (None: not asked).
        self.signal: str | None = None

    def request(self, signal_name: str) -> None:
        """Stop as soon as it is safe."""
        self.signal = signal_name

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self.signal is not None
