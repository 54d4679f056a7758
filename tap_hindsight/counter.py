"""The model of the platform's ID counter: its speed, and the hours it moves in. Pure.

Our interviews say where the counter was when each was created (the anchors) and how fast
it moves while busy (over spans of `rate_min_seconds` to `rate_window_seconds`; while no
two of ours fall in that window, as with a small organisation or an import, over the span
to the nearest older one, however far). The hours of the week in which ours were created
are busy; the hours deep inside a span between two of ours over which the counter moved
little (a night, a weekend) rest, and so does an hour in which several of ours would have
been created had the counter moved, and none was. Resting hours do not move the estimate.

`CounterModel` holds that knowledge (kept in `ScanMemory`, with the anchors); discovery.py
asks it where the counter should be and how much busy time lies between two instants.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

from tap_hindsight.scan import HOURS_A_WEEK, MAX_ANCHORS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_hindsight.discovery_policy import Policy
    from tap_hindsight.scan import ScanMemory

#: An hour of the week: busy or resting if known (else None), the seconds of it our
#: interviews' span covered, and what the same hour of other days says.
_Hour = tuple[bool | None, float, bool]

#: Busy time a span between two of ours may hold beyond its end hours, for the doubt in
#: the counter's speed, before an hour next to an end counts as busy (`_learn_rest`).
_REST_DOUBT_SECONDS = 900.0
_WEEK = 7 * 86_400.0
#: The hour of the week of the epoch's first hour (1970-01-01 was a Thursday).
_EPOCH_HOUR_OF_WEEK = 3 * 24


class CounterModel:
    """Where the platform's counter should be, from our interviews (the anchors)."""

    def __init__(self, memory: ScanMemory, policy: Policy) -> None:
        """The model `memory` keeps, with discovery's knobs (`discovery_policy.py`)."""
        self.memory = memory
        self.rate_min_seconds = policy.rate_min_seconds
        self.rate_window_seconds = policy.rate_window_seconds
        self.resting_evidence = policy.resting_evidence
        #: Our interviews with their creation instants, ascending by ID.
        self.anchors: list[tuple[int, float]] = sorted(memory.anchors)
        #: Each hour of the week busy or not, with the busy seconds before it (`_week`).
        self._mask: tuple[tuple[float, ...], tuple[list[bool], list[float]]] | None = None

    def observe(self, interview_id: int, created_at: float) -> bool | None:
        """One of our interviews: None if it is no (new) anchor, True if the new top.

        A creation instant earlier than a lower anchor's contradicts the counter (IDs
        ascend with time): not an anchor. A new top measures the speed and learns the
        rest of the span below it. Answers arrive in completion order, so one below the
        top measures the speed too while none is known: the speed is known once two of
        ours can time it, whichever answer came first.
        """
        anchors = self.anchors
        if anchors and anchors[-1][0] < interview_id and created_at < anchors[-1][1]:
            return None
        index = bisect_left(anchors, (interview_id, -math.inf))
        if index < len(anchors) and anchors[index][0] == interview_id:
            return None
        anchors.insert(index, (interview_id, created_at))
        memory = self.memory
        memory.hours |= 1 << _hour_of_week(created_at)
        if not memory.hours_since or created_at < memory.hours_since:
            memory.hours_since = created_at
        if index < len(anchors) - 1:
            if not memory.rate:  # the first speed does not wait for a new top
                self._measure_rate()
            return False
        if index:
            self._learn_rest(anchors[index - 1], anchors[index])
        self._measure_rate()
        return True

    @property
    def share(self) -> float:
        """The estimated share of the counter's IDs that are ours (0 to 1)."""
        return (self.memory.ours + 1) / (self.memory.settled + 2)

    @property
    def rate(self) -> float | None:
        """The counter's speed while it moves, IDs a second (None: not measured yet)."""
        return self.memory.rate or None

    def _measure_rate(self) -> None:
        """Fold the speed since our recent interviews into the estimate (a new top anchor).

        The speed over the longest span between the newest of our interviews and an older
        one `rate_min_seconds` to `rate_window_seconds` before it: a burst says little of
        the speed, and a span across a night little of the next hour.
        """
        anchors = self.anchors
        top, top_at = anchors[-1]
        measured = 0.0
        for number, created in reversed(anchors[:-1]):
            elapsed = top_at - created
            if elapsed > self.rate_window_seconds:
                if not measured and self._untimed(anchors):
                    busy = self.active_seconds(created, top_at)
                    measured = (top - number) / busy if busy > 0 else 0.0
                break
            if elapsed >= self.rate_min_seconds:
                measured = (top - number) / elapsed  # the longest span in the window
        if measured:
            known = self.memory.rate
            if known:  # a burst of other organisations' IDs is not the usual speed
                measured = min(measured, 2 * known)
            self.memory.rate = measured if not known else known + 0.3 * (measured - known)

    def _untimed(self, anchors: list[tuple[int, float]]) -> bool:
        """True if no speed is known and no two of ours so far could time the counter.

        Then (a small organisation, a single interview, an import) the span to the nearest
        older one beyond the window gives the speed over its busy time, rough while the
        hours the counter rests are not known yet.
        """
        if self.memory.rate or len(anchors) < 2:  # noqa: PLR2004 (a pair)
            return False
        low, high = self.rate_min_seconds, self.rate_window_seconds
        return not any(
            low <= later - earlier <= high for (_, earlier), (_, later) in pairwise(anchors)
        )

    def _learn_rest(self, below: tuple[int, float], top: tuple[int, float]) -> None:
        """Hours inside a span over which the counter hardly moved rest.

        Between two of our interviews (the newest on top) the counter moved `top - below`
        IDs: at its speed, that much busy time lay in the span. It was busy at both ends,
        so that time goes first to the parts of the end hours the span covers, and what
        is left over (beyond a quarter of an hour, for the doubt in the speed) to as many
        whole hours next to either end; the whole hours between (a night, a weekend) rest.
        The IDs say so at any share, where our own interviews' absence takes weeks to say
        it at a small one.
        """
        rate = self.rate
        (low, low_at), (high, high_at) = below, top
        if not rate or high_at - low_at > 3 * 86_400:
            return
        first = (low_at // 3600 + 1) * 3600  # the end of the first hour
        last = high_at // 3600 * 3600  # the start of the last
        edges = min(first, high_at) - low_at + max(0.0, high_at - max(last, first))
        left_over = (high - low) / rate - edges - _REST_DOUBT_SECONDS
        busy_hours = math.ceil(max(0.0, left_over) / 3600)
        for moment, _ in _hour_slices(first + busy_hours * 3600, last - busy_hours * 3600):
            self.memory.resting |= 1 << _hour_of_week(moment)

    def counter(self, now: float) -> float | None:
        """Where the counter should be at `now` (None: no speed known yet)."""
        rate = self.rate
        if rate is None or not self.anchors:
            return None
        top, top_at = self.anchors[-1]
        return top + rate * self.active_seconds(top_at, now)

    @property
    def _every_hour_busy(self) -> bool:
        """Nothing says yet when the counter rests: no hour of ours, no anchor or no speed."""
        return not self.memory.hours or not self.anchors or not self.rate

    def active(self, instant: float) -> bool:
        """True unless the counter rests in this hour of the week, as far as is known.

        An hour in which one of ours was created is busy; one learnt from a span between
        two of ours (`_learn_rest`) rests, and so does one that our interviews' span covered
        long enough that several of ours would have been created in it if the counter
        moved then, and none was. An hour not known either way goes as the same hour of
        other days goes: busy if it is busy on one, resting if it rests on one and is busy
        on none, busy if nothing is known of it. An estimate that runs ahead of the counter
        has every ID probed before it is handed out, and nothing found corrects it; one
        that lags is corrected by the next interview of ours found.
        """
        if self._every_hour_busy:
            return True
        return self._week()[0][_hour_of_week(instant)]

    @property
    def busy_hours(self) -> int:
        """The hours of the week the counter is taken to move in (`active`)."""
        if self._every_hour_busy:
            return HOURS_A_WEEK
        return sum(self._week()[0])

    def _week(self) -> tuple[list[bool], list[float]]:
        """Each hour of the week: whether the counter moves in it, and the busy seconds before.

        Judged again whenever what `active` rests on changes: the hours known (`_hours`),
        and the share and speed that say whether an hour watched without one of ours rests.
        """
        memory = self.memory
        key: tuple[float, ...] = (memory.hours, memory.resting, memory.hours_since)
        key += (self.anchors[-1][1], memory.ours, memory.settled, memory.rate)
        if self._mask is None or self._mask[0] != key:
            share, rate, evidence = self.share, self.rate or 0.0, self.resting_evidence
            busy = [
                known if known is not None else not covered * share * rate >= evidence and usual
                for known, covered, usual in _hours(
                    memory.hours, memory.resting, memory.hours_since, self.anchors[-1][1]
                )
            ]
            before = [0.0]
            for moves in busy:
                before.append(before[-1] + (3600.0 if moves else 0.0))
            self._mask = (key, (busy, before))
        return self._mask[1]

    def active_seconds(self, start: float, end: float) -> float:
        """How much of `start`..`end` falls in hours in which the counter moves."""
        if end <= start:
            return 0.0
        if self._every_hour_busy:
            return end - start  # every hour busy (`active`)
        limit = start + 2 * _WEEK  # two weeks say it all: the mask repeats weekly
        total = self._busy_until(min(end, limit)) - self._busy_until(start)
        if end > limit:
            total += (end - limit) * (total / (limit - start))
        return total

    def _busy_until(self, instant: float) -> float:
        """Busy seconds from the first week of the epoch's calendar up to `instant`."""
        busy, before = self._week()
        hours = math.floor(instant / 3600) + _EPOCH_HOUR_OF_WEEK
        week, hour = divmod(hours, HOURS_A_WEEK)
        within = instant - (hours - _EPOCH_HOUR_OF_WEEK) * 3600.0
        return week * before[-1] + before[hour] + (within if busy[hour] else 0.0)

    def created_above(self, interview_id: int) -> float | None:
        """When the lowest of our interviews above `interview_id` was created (None: none)."""
        index = bisect_right(self.anchors, (interview_id, math.inf))
        return self.anchors[index][1] if index < len(self.anchors) else None


@lru_cache(maxsize=16)
def _hours(hours: int, resting: int, since: float, top_at: float) -> tuple[_Hour, ...]:
    """Each hour of the week as `_Hour` says.

    From the hours known busy and resting, and our interviews' span (`since` to `top_at`,
    of which four weeks count). Cached: each run's model asks again of the same memory.
    """
    busy_at = resting_at = 0  # the hours of the day busy on some day, and resting on some
    for day in range(7):
        busy_at |= hours >> 24 * day & 0xFFFFFF
        resting_at |= resting >> 24 * day & 0xFFFFFF
    covered = _covered(since, min(top_at, since + 4 * _WEEK))
    week: list[_Hour] = []
    for hour in range(HOURS_A_WEEK):
        known = True if hours >> hour & 1 else None
        if known is None and resting >> hour & 1:
            known = False
        of_day = 1 << hour % 24
        week.append((known, covered[hour], bool(busy_at & of_day) or not resting_at & of_day))
    return tuple(week)


def _covered(start: float, end: float) -> list[float]:
    """Seconds of each hour of the week that `start`..`end` covers."""
    seconds = [0.0] * HOURS_A_WEEK
    if end <= start:
        return seconds
    head_end = min((start // 3600 + 1) * 3600, end)  # the rest of the first clock hour
    seconds[_hour_of_week(start)] += head_end - start
    full = int((end - head_end) // 3600)
    weeks, rest = divmod(full, HOURS_A_WEEK)
    first = _hour_of_week(head_end)
    for offset in range(min(full, HOURS_A_WEEK)):
        seconds[(first + offset) % HOURS_A_WEEK] += 3600.0 * (weeks + (offset < rest))
    tail = head_end + full * 3600.0
    if tail < end:
        seconds[_hour_of_week(tail)] += end - tail
    return seconds


def _hour_slices(start: float, end: float) -> Iterator[tuple[float, float]]:
    """`start`..`end` cut at each clock hour: (where a piece starts, its seconds)."""
    moment = start
    while moment < end:
        hour_end = (moment // 3600 + 1) * 3600
        yield moment, min(hour_end, end) - moment
        moment = hour_end


def _hour_of_week(instant: float) -> int:
    """0 for Monday 00:00-00:59 UTC, up to 167 (1970-01-01 was a Thursday)."""
    return int((instant // 3600 + _EPOCH_HOUR_OF_WEEK) % HOURS_A_WEEK)


def thin(anchors: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The anchors worth keeping, highest first.

    The top, then older ones ever further apart in time (10 minutes, then four times as
    far each): enough to measure the speed over the last minutes and hours.
    """
    if not anchors:
        return []
    kept = [anchors[-1]]
    spacing = 600.0
    for anchor in reversed(anchors[:-1]):
        if len(kept) == MAX_ANCHORS:
            break
        if anchor[1] <= kept[-1][1] - spacing:
            kept.append(anchor)
            spacing *= 4
    return kept
