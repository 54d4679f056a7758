"""Discovery's gaps and what proves them: foreign, due a probe again, or waiting. Pure.

A gap is a run of IDs that answered 404 (`scan.Gap`). One of ours created later, above it,
proves it foreign once it was probed after that one's creation (`settled`); until then a
gap is probed again when the counter should have passed it since (`due`), or it waits for
the counter, for one of ours above, or for its next check (`wait`). `Discovery` asks these
questions; the model of the counter (`counter.py`) answers what they need of the platform.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tap_hindsight.scan import Gap

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_hindsight.counter import CounterModel
    from tap_hindsight.discovery_policy import Policy


class Proofs:
    """What each gap's probes prove, judged against the model of the platform's counter."""

    def __init__(
        self,
        model: CounterModel,
        policy: Policy,
        reach: Callable[[float], int],
        highest: Callable[[], int],
    ) -> None:
        """Judge with `model` and `policy`.

        `reach(now)` is the highest ID worth probing, `highest()` our highest interview's ID.
        """
        self.model = model
        self.policy = policy
        self._reach = reach
        self._highest = highest

    def foreign(self, interview_id: int, probed_at: float) -> bool:
        """True if a 404 at `probed_at` is final: one of ours above was created before it."""
        return self._proven(self.model.created_above(interview_id), probed_at)

    def _proven(self, above: float | None, probed_at: float) -> bool:
        """True if probed after `above` (one of ours above the ID) was created, past the margin."""
        return above is not None and probed_at >= above + self.policy.margin_seconds

    def joined(self, below: Gap, gap: Gap, now: float, reach: int) -> Gap | None:
        """Two waiting tail gaps side by side kept as one (a compact state), or None.

        Both were checked enough to wait for one of ours above them, which settles or
        calls both alike; or, before a speed is known, both were checked as often, within
        a day of each other (`reprobe_max_seconds`), and are checked again together: a
        gap for each day of a long silence, not one for each run, and not one for all
        (whose checks would then come all at once). The joined gap keeps the earlier
        probe and the fewer checks, and is kept only if it still waits: an earlier probe
        could make it due (probed before the counter should have passed its top), and
        its IDs, probed again, would join it again, and again.
        """
        if not (
            below.high + 1 == gap.low
            and bool(below.probed_at)
            and bool(gap.probed_at)
            and gap.low > self._highest()
        ):
            return None
        if self.model.rate:
            if not (self.exhausted(below) and self.exhausted(gap)):
                return None
        elif not (
            below.checks == gap.checks
            and abs(gap.probed_at - below.probed_at) < self.policy.reprobe_max_seconds
        ):
            return None
        joined = Gap(
            below.low,
            gap.high,
            min(below.probed_at, gap.probed_at),
            min(below.checks, gap.checks),
        )
        return joined if self.verdict(joined, now, reach) == "wait" else None

    def sweep(self, gaps: list[Gap], now: float) -> tuple[list[Gap], list[tuple[int, int]], int]:
        """The gaps judged at `now`: those kept, the ranges due a probe, the IDs settled.

        Kept gaps are joined where they may be; settled IDs are proven another
        organisation's.
        """
        kept: list[Gap] = []
        due: list[tuple[int, int]] = []
        settled = 0
        reach = self._reach(now)  # the same for every gap: worked out once
        for whole in gaps:
            for gap, verdict in self.judged(whole, now, reach):
                if verdict == "settled":
                    settled += len(gap)
                    continue
                if verdict == "due":
                    due.append((gap.low, gap.high))
                elif kept and (joined := self.joined(kept[-1], gap, now, reach)) is not None:
                    kept[-1] = joined
                    continue
                kept.append(gap)
        return kept, due, settled

    def judged(self, gap: Gap, now: float, reach: int) -> list[tuple[Gap, str]]:
        """The gap's verdict; a tail gap the counter was inside of when probed, cut there.

        The IDs below where the counter should have been were probed after they were
        handed out; those above, maybe before, and they are due once it passed them.
        Judged whole, a long gap would be probed again whole for its top few IDs.
        """
        verdict = self.verdict(gap, now, reach)
        if verdict != "split":
            return [(gap, verdict)]
        counter_then = self.model.counter(gap.probed_at)
        assert counter_then is not None  # noqa: S101 (a split needs it)
        middle = math.floor(counter_then)
        lower = Gap(gap.low, middle, gap.probed_at, gap.checks)
        upper = Gap(middle + 1, gap.high, gap.probed_at, gap.checks)
        return [(lower, self.verdict(lower, now, reach)), (upper, "due")]

    def verdict(self, gap: Gap, now: float, reach: int) -> str:  # noqa: PLR0911 (a decision table)
        """`settled` (proven foreign), `due` (probe again now), `wait`, or `split`.

        `reach` is `reach(now)`, the same for every gap at `now`: the caller works it out once.

        `split`: its IDs above where the counter should have been when they were probed
        are due, the rest are judged apart (`judged`).
        """
        if not gap.probed_at:
            return "due"
        above = self.model.created_above(gap.high)
        margin = self.policy.margin_seconds
        if above is not None:
            if self._proven(above, gap.probed_at):
                return "settled"
            return "due" if now >= above + margin else "wait"
        if gap.low > reach:
            return "wait"
        if self.model.anchors and gap.probed_at < self.model.anchors[-1][1] + margin:
            return "due"  # probed before our highest interview was created: too early
        if self.model.active(now) and not self.model.active(gap.probed_at):
            return "due"  # probed while the counter rested, and it moves again
        counter_then = self.model.counter(gap.probed_at)
        if counter_then is not None and counter_then < gap.high:
            # Probed before the counter should have reached it; it has now.
            return "due" if counter_then < gap.low else "split"
        if self.exhausted(gap):
            return "wait"
        waited = self.model.active_seconds(gap.probed_at, now)  # nights and weekends do not count
        return "due" if waited >= self.reprobe_after(gap.checks) else "wait"

    def exhausted(self, gap: Gap) -> bool:
        """True if a tail gap was probed again enough: it waits for one of ours above it.

        Each check is worth less than the last (the counter should have passed the gap
        long ago), and a long silence would otherwise have every ID of it probed again
        every day. Never without a speed: nothing says when the gap was handed out, the
        reach (`blind_limit` a day) may run days ahead of the counter, and the next of ours
        lies in such a gap; its checks are spaced from a day, doubling (`reprobe_after`).
        """
        return bool(self.model.rate) and gap.checks >= self.policy.tail_checks

    def reprobe_after(self, checks: int) -> float:
        """The busy time an open ID checked `checks` times waits before its next check."""
        policy = self.policy
        rate = self.model.rate
        if not rate:
            # Without a speed nothing says when an ID was handed out: from a day, doubling
            # without end, so that IDs looked at for long cost ever less.
            return math.ldexp(policy.reprobe_max_seconds, min(checks, 30))
        expected_gap = 1.0 / (self.model.share * rate)
        gap_seconds: float = expected_gap * policy.reprobe_gaps
        base = min(max(gap_seconds, policy.reprobe_min_seconds), policy.reprobe_max_seconds)
        return min(math.ldexp(base, min(checks, 60)), policy.reprobe_max_seconds)
