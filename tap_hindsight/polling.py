"""When a pending interview is worth asking about again: the age-aware polling rule. Pure.

Many interviews never complete (the buyer never answers) and stay pending for ever. Polling
each of them every run makes a run's cost grow without end, so the interval between two
polls of one interview grows with its age:

    due when  now - last_poll >= clamp(age * ratio, min_interval, max_interval)

where `age` is taken at the last poll: the time since the latest of its `created_at`, its
`email_sent_at` and the last poll that saw it change (status or content; the first sight
is not a change). An interview that just moved is watched closely again; one untouched for
a month is asked about every few days; none waits longer than `max_interval`, so every
completion is seen, at worst `max_interval` (plus one schedule interval) late.

The stream and `benchmarks/polling.py` both decide through this module, the one with the
wall clock and the other with simulated time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PollPolicy:
    """The rule's three settings, in seconds."""

    ratio: float
    min_interval: float
    max_interval: float

    @classmethod
    def from_settings(cls, ratio: float, min_minutes: float, max_hours: float) -> PollPolicy:
        """From `poll_age_ratio`, `min_poll_interval_minutes`, `max_poll_interval_hours`."""
        return cls(ratio, min_minutes * 60.0, max_hours * 3600.0)

    def interval(self, age: float) -> float:
        """Seconds between two polls of an interview that was `age` seconds old at the last."""
        return min(max(age * self.ratio, self.min_interval), self.max_interval)


@dataclass(frozen=True, slots=True)
class Poll:
    """What the state remembers of a pending interview: its record's mark and its last poll."""

    #: Fingerprint of the record last emitted: an unchanged re-poll emits nothing.
    mark: str
    #: When it was last polled (seconds since the Unix epoch); None when read from a state
    #: written before polling was age-aware: due at once.
    polled_at: int | None = None
    #: Its age at that poll, in seconds.
    age: int = 0

    def due_at(self, policy: PollPolicy) -> float:
        """When the next poll is due (-inf: at once)."""
        if self.polled_at is None:
            return -math.inf
        return self.polled_at + policy.interval(self.age)

    def anchor(self) -> int | None:
        """Where its age counts from, as of the last poll (None: not known)."""
        return None if self.polled_at is None else self.polled_at - self.age


def next_poll(previous: Poll | None, mark: str, now: int, record_anchor: int) -> Poll:
    """The poll just made at `now` of a record whose mark is `mark`.

    `record_anchor` is the latest of the record's `created_at` and `email_sent_at`. A
    different mark than last time is a change, and the age starts again from now.
    """
    anchor = record_anchor
    if previous is not None:
        known = previous.anchor()
        if known is not None:
            anchor = max(anchor, known)
        if previous.mark != mark:
            anchor = now
    return Poll(mark, now, max(now - anchor, 0))
