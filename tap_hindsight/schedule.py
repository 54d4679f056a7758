"""Discovery's probe schedule: how far new IDs are probed (the reach), and scouting past it.

Pure: no I/O.

`tap_hindsight.discovery` explains the rules; this module holds their arithmetic, read
from the model of the platform's counter (`counter.py`), what discovery remembers
(`scan.py`) and its knobs (`discovery_policy.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_hindsight.counter import CounterModel
    from tap_hindsight.discovery_policy import Policy
    from tap_hindsight.scan import ScanMemory


@dataclass(frozen=True)
class Schedule:
    """The reach and the scouting rounds of one run."""

    model: CounterModel
    memory: ScanMemory
    policy: Policy
    #: `scan_start_id`.
    start: int

    def reach(self, now: float, highest_ours: int) -> int:
        """The highest ID worth probing at `now`, our highest interview being `highest_ours`."""
        base = highest_ours
        cap = self.policy.cap_gaps / self.model.share
        rate = self.model.rate
        if rate is None or not self.model.anchors:
            return self._blind_reach(now, base, cap)
        # Up to where the counter should have been `lag_seconds` of busy time ago: an ID
        # probed before it is handed out costs a probe more. Past `cap`, only as the
        # counter keeps busy without one of ours: the bound doubles with each doubling of
        # that time, so a counter that rests unforeseen is overtaken by little.
        top, top_at = self.model.anchors[-1]
        busy = self.model.active_seconds(top_at, now)  # what `counter` counts from the top
        # In a rest foreseen (a night, a weekend) the bound may be lifted: it guards against
        # a rest not foreseen, and would hold the IDs handed out in the last minutes of
        # the day back until the counter moves again, hours or days later. So would the lag of
        # `lag_gaps`: no interview of ours is created in a rest to prove a 404 meanwhile.
        lifted = not self.model.active(now) and self._rest_lifts_bound(base)
        lag = rate * self.model.active_seconds(now - self.policy.lag_seconds, now)
        if not lifted:
            lag = max(lag, self.policy.lag_gaps / self.model.share)
        ahead = top + rate * busy - lag - base
        if not lifted:
            doublings = int(math.log2(1 + busy / self.policy.doubling_seconds))
            ahead = min(ahead, math.ldexp(cap, min(doublings, 40)))
        return base + max(1, math.floor(ahead))

    def _blind_reach(self, now: float, base: int, cap: float) -> int:
        """The reach before the counter's speed is known: `blind_limit` IDs a day at most.

        With one of ours known (or several, created too close together to time the counter:
        an import), the platform is taken to hand out at most `blind_limit` IDs a day since
        our highest was created, until two of ours say how fast it goes. Before any, from
        `scan_start_id`: twice as far as has been looked while nothing is found, at most
        `blind_limit` IDs a day since the scan began.
        """
        limit = self.policy.blind_limit
        if self.model.anchors:
            since = max(0.0, now - self.model.anchors[-1][1])
            return base + max(1, math.floor(limit * since / 86_400))
        looked = self.memory.next_id - 1 - base
        reach = base + max(math.ceil(cap), 2 * looked, 1)
        began = min((g.probed_at for g in self.memory.gaps if g.probed_at), default=now)
        days = 1 + int(max(0.0, now - began) // 86_400)
        return min(reach, max(base, self.start - 1 + limit * days))

    def _rest_lifts_bound(self, base: int) -> bool:
        """True if, the counter resting as foreseen, the reach may go on past the bound.

        As long as the 404s past our highest could all be other organisations' IDs with a
        chance of at least `rest_lift_chance`: past that, they say the counter stopped
        below where it should have (at a share near 100%, at the first 404).
        """
        misses = self.memory.next_id - 1 - base
        return (1 - self.model.share) ** max(0, misses) >= self.policy.rest_lift_chance

    def scout_round(self, now: float) -> Iterator[int] | None:
        """A round of scouting probes if one of ours is overdue past the reach, else None.

        The reach follows the counter's usual speed, so a burst of other organisations'
        IDs would be crossed only at that speed. Once `scout_gaps` expected gaps of busy
        time (`scout_min_seconds` at least) passed since our highest interview was created
        (then twice as long, and so on), a round probes IDs past the next new one at an even
        stride, nearest first, until one of ours answers. The IDs handed out since a burst
        grow with the time since: the stride is such that `scout_cover` of ours would be
        among the probes in the IDs the counter handed out in half the overdue time, and a
        round sends twice as many probes as the last, so the distance it covers grows four
        times a round. That one of ours is an anchor: the counter was past it, so the reach
        jumps there and the IDs below it are probed once each and proven another
        organisation's. A false alarm (a gap this long by chance) costs one round, never
        more probes than the counter should have handed out meanwhile; its IDs are probed
        again in their turn.
        """
        rate = self.model.rate
        if rate is None or not self.model.anchors:
            return None
        policy = self.policy
        first = max(policy.scout_gaps / (rate * self.model.share), policy.scout_min_seconds)
        memory = self.memory
        overdue = self.model.active_seconds(self.model.anchors[-1][1], now)
        if overdue < max(first, 2 * memory.scouted_after):
            return None
        rounds = memory.scouts
        memory.scouts, memory.scouted_after = rounds + 1, overdue  # the next: twice as long
        share = self.model.share
        handed_out = rate * overdue
        stride = max(1, math.floor(handed_out / 2 * share / policy.scout_cover))
        if stride < policy.scout_min_stride:
            return None
        wanted = policy.scout_rounds_of_cover * policy.scout_cover / share
        count = math.ceil(min(handed_out, math.ldexp(wanted, min(rounds, 60))))
        start = self.memory.next_id
        return (start + stride * index for index in range(count))
