"""What ID discovery remembers between runs. Pure: no I/O.

Hindsight hands out interview IDs from one ascending counter shared by every organisation,
so a probe that answers 404 means "another organisation's" or "not created yet". Discovery
keeps (`tap_hindsight.discovery` explains the rules):

- `next_id`: the lowest ID never probed; every ID below it (from `scan_start_id`) is
  settled (found, or proven another organisation's) unless it is in a gap;
- gaps: IDs that answered 404 but are not proven someone else's yet, as ranges with the
  instant of their last probe and how many times they were checked without a proof;
- anchors: the most recent of our interviews with their `created_at` (the counter's
  position at that instant; together they give its speed);
- how many settled IDs were ours, for the share of the counter that is ours, the
  counter's speed while it moves (IDs an hour), the hours of the week in which it
  moves (those in which our interviews were created) and those in which it rests;
- how many scouting rounds went past the reach since our highest interview was created,
  and how long after it the last one went.

Stored as one short string (`tap_hindsight.store`): in steady state tens of bytes; the
gaps are bounded by the IDs still open. `add_to_gaps` and `take_out_of_gaps`
keep the gaps sorted and apart as IDs open and close.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace

#: The anchors kept: enough to estimate the counter's speed over several of our interviews.
MAX_ANCHORS = 6
#: Hours in a week: the counter's active hours are kept as a mask of them.
HOURS_A_WEEK = 168
#: Counts above this are halved (the share follows the recent past).
SHARE_WINDOW = 20_000


@dataclass
class Gap:
    """IDs `low`..`high` that answered 404 and are not proven another organisation's."""

    low: int
    high: int
    #: When they were last probed (epoch seconds; the earliest of the range): a 404 is
    #: final once one of our interviews above them was created before it. 0: never probed
    #: (a probe was in flight, or an answer not yet kept, when the state was written).
    probed_at: float
    #: How many times they were probed again without a proof (spaces the next check).
    checks: int = 0

    def __len__(self) -> int:
        """How many IDs."""
        return self.high - self.low + 1


@dataclass
class ScanMemory:
    """Discovery's state between runs."""

    next_id: int
    gaps: list[Gap] = field(default_factory=list)
    #: (ID, created_at) of our most recent interviews, highest first.
    anchors: list[tuple[int, float]] = field(default_factory=list)
    #: Of the IDs settled, how many were ours.
    ours: int = 0
    settled: int = 0
    #: The counter's speed while it moves (IDs a second; 0: not measured yet).
    rate: float = 0.0
    #: The hours of the week (UTC, bit 0: Monday 00:00) in which one of our interviews
    #: was created: the counter moves then.
    hours: int = 0
    #: When the earliest of those interviews was created: the span since says which
    #: hours were watched long enough to count as resting when none was created in them.
    hours_since: float = 0.0
    #: The hours of the week (as `hours`) that lay inside a span between two of our
    #: interviews over which the counter moved too little to have moved in them: it rests
    #: then (unless one of ours was created in one since, which `hours` says).
    resting: int = 0
    #: How far the API's clock ran ahead of this machine's at the last answer (seconds):
    #: the next run reads the API's clock this way until an answer shows it again.
    clock_offset: float = 0.0
    #: Scouting rounds sent past the reach since our highest interview was created (a
    #: burst of other organisations' IDs; `tap_hindsight.discovery` explains), and the
    #: busy seconds since then at the last round (the next waits until twice as long).
    scouts: int = 0
    scouted_after: float = 0.0

    def clip(self, start: int) -> None:
        """Forget what lies below `start` (a `scan_start_id` raised since it was stored)."""
        self.next_id = max(self.next_id, start)
        self.gaps = [
            Gap(max(gap.low, start), gap.high, gap.probed_at, gap.checks)
            for gap in self.gaps
            if gap.high >= start and gap.low < self.next_id
        ]

    @property
    def open_ids(self) -> int:
        """IDs probed and not settled."""
        return sum(len(gap) for gap in self.gaps)

    def snapshot(
        self, anchors: list[tuple[int, float]], open_ids: list[int], merge_seconds: float
    ) -> ScanMemory:
        """A copy to store, with these `anchors`, and `open_ids` added to the gaps.

        Open: IDs whose answer is not kept yet, never probed as far as the next run knows.
        """
        gaps = [Gap(g.low, g.high, g.probed_at, g.checks) for g in self.gaps]
        for interview_id in sorted(open_ids):
            add_to_gaps(gaps, interview_id, 0.0, 0, merge_seconds)
        return replace(self, gaps=gaps, anchors=list(anchors))

    def count(self, *, ours: bool) -> None:
        """One more ID settled."""
        self.settled += 1
        self.ours += int(ours)
        if self.settled > SHARE_WINDOW:
            self.settled //= 2
            self.ours //= 2


def add_to_gaps(
    gaps: list[Gap], interview_id: int, probed_at: float, checks: int, merge_seconds: float
) -> None:
    """Add one open ID, joining the gap just below it if probed at about the same time."""
    index = bisect_left(gaps, interview_id, key=lambda gap: gap.low)
    before = gaps[index - 1] if index > 0 else None
    after = gaps[index] if index < len(gaps) else None

    def joins(gap: Gap | None, edge: int) -> bool:
        return (
            gap is not None
            and edge == interview_id
            and gap.checks == checks
            and bool(gap.probed_at) == bool(probed_at)
            and abs(gap.probed_at - probed_at) <= merge_seconds
        )

    if before is not None and joins(before, before.high + 1):
        before.high = interview_id
        before.probed_at = min(before.probed_at, probed_at)
        if after is not None and joins(after, after.low - 1):  # it closed the hole
            before.high = after.high
            before.probed_at = min(before.probed_at, after.probed_at)
            del gaps[index]
        return
    if after is not None and joins(after, after.low - 1):
        after.low = interview_id
        after.probed_at = min(after.probed_at, probed_at)
        return
    gaps.insert(index, Gap(interview_id, interview_id, probed_at, checks))


def take_out_of_gaps(gaps: list[Gap], interview_id: int) -> int | None:
    """Take one ID out of the gap that holds it; its checks (None: in no gap)."""
    index = bisect_right(gaps, interview_id, key=lambda gap: gap.low) - 1
    if index < 0 or gaps[index].high < interview_id:
        return None
    gap = gaps[index]
    if gap.low == gap.high:
        del gaps[index]
    elif interview_id == gap.low:
        gap.low += 1
    elif interview_id == gap.high:
        gap.high -= 1
    else:
        gaps.insert(index + 1, Gap(interview_id + 1, gap.high, gap.probed_at, gap.checks))
        gap.high = interview_id - 1
    return gap.checks
