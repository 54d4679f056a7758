"""What ID discovery remembers between runs, and its stored form. Pure: no I/O.

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

Stored as one short string,
`n1200;g1180-1199@3k2f1a.0;a1175@3k2e9b,1160@3k2d10;s12/1190;r125;w1fe00@3k2d10;q7f;x1@3600`:
times in base-36 seconds since 2020-01-01T00:00:00Z. In steady state that is tens of
bytes; the gaps are bounded by the IDs still open. `add_to_gaps` and `take_out_of_gaps`
keep the gaps sorted and apart as IDs open and close.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from tap_hindsight.encoding import TIME_ORIGIN, base36

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

    @property
    def open_ids(self) -> int:
        """IDs probed and not settled."""
        return sum(len(gap) for gap in self.gaps)

    def count(self, *, ours: bool) -> None:
        """One more ID settled."""
        self.settled += 1
        self.ours += int(ours)
        if self.settled > SHARE_WINDOW:
            self.settled //= 2
            self.ours //= 2

    def to_text(self) -> str:
        """The stored form (see the module docstring)."""
        parts = [f"n{self.next_id}"]
        if self.gaps:
            parts.append("g" + ",".join(_gap_text(gap) for gap in self.gaps))
        if self.anchors:
            parts.append("a" + ",".join(f"{i}@{_time(t)}" for i, t in self.anchors))
        parts.append(f"s{self.ours}/{self.settled}")
        if self.rate:
            parts.append(f"r{self.rate * 3600:.4g}")
        if round(self.clock_offset):
            parts.append(f"o{round(self.clock_offset)}")
        if self.hours:
            parts.append(f"w{self.hours:x}@{_time(self.hours_since)}")
        if self.resting:
            parts.append(f"q{self.resting:x}")
        if self.scouts:
            parts.append(f"x{self.scouts}@{round(self.scouted_after)}")
        return ";".join(parts)

    @classmethod
    def from_text(cls, text: str) -> ScanMemory:
        """Parse the stored form.

        Raises:
            ValueError: not this form; the message quotes the part.

        """
        fields: dict[str, str] = {}
        for part in text.split(";"):
            if not part or part[0] not in "ngasrwoqx" or part[0] in fields:
                msg = f"{part!r} is not a part of a discovery state ({text!r})"
                raise ValueError(msg)
            fields[part[0]] = part[1:]
        if "n" not in fields or not fields["n"].isdigit() or int(fields["n"]) < 1:
            msg = f"a discovery state needs its next ID ('n' and a positive integer): {text!r}"
            raise ValueError(msg)
        try:
            memory = _memory_from_fields(fields)
        except ValueError as error:
            msg = f"{error} in the discovery state {text!r}"
            raise ValueError(msg) from None
        memory.gaps.sort(key=lambda gap: gap.low)
        for before, after in zip(memory.gaps, memory.gaps[1:], strict=False):
            if after.low <= before.high:
                msg = f"overlapping gaps {before.low}-{before.high} and {after.low}-{after.high}"
                raise ValueError(msg)
        memory.anchors.sort(reverse=True)
        return memory


def _memory_from_fields(fields: dict[str, str]) -> ScanMemory:
    memory = ScanMemory(int(fields["n"]))
    if fields.get("g"):
        memory.gaps = [_gap_from_text(item) for item in fields["g"].split(",")]
    if fields.get("a"):
        memory.anchors = [_anchor_from_text(item) for item in fields["a"].split(",")]
    if "r" in fields:
        memory.rate = float(fields["r"]) / 3600
    if "w" in fields:
        mask, _, since = fields["w"].partition("@")
        memory.hours, memory.hours_since = int(mask, 16), _instant(since or "0")
    if "q" in fields:
        memory.resting = int(fields["q"], 16)
    if "x" in fields:
        rounds, _, after = fields["x"].partition("@")
        if not rounds.isdigit() or not (after or "0").isdigit():
            msg = f"{fields['x']!r} is not scouting rounds and when (rounds@seconds)"
            raise ValueError(msg)
        memory.scouts, memory.scouted_after = int(rounds), float(after or 0)
    if "o" in fields:
        memory.clock_offset = float(int(fields["o"]))
    if "s" in fields:
        ours, _, settled = fields["s"].partition("/")
        memory.ours, memory.settled = int(ours), int(settled)
    _check(memory, fields)
    return memory


def _check(memory: ScanMemory, fields: dict[str, str]) -> None:
    """Raise ValueError for values no discovery writes."""
    if not math.isfinite(memory.rate) or memory.rate < 0:
        msg = f"{fields['r']!r} is not a speed in IDs an hour"
        raise ValueError(msg)
    for key, mask in (("w", memory.hours), ("q", memory.resting)):
        if not 0 <= mask < 2**HOURS_A_WEEK:
            msg = f"{fields[key]!r} is not a mask of the week's hours"
            raise ValueError(msg)
    if memory.ours < 0 or memory.settled < memory.ours:
        msg = f"the share counts cannot be {fields['s']!r}"
        raise ValueError(msg)


def _time(instant: float) -> str:
    return base36(max(0, round(instant) - TIME_ORIGIN)) if instant else "0"


def _instant(text: str) -> float:
    seconds = int(text, 36)
    return 0.0 if seconds == 0 else float(seconds + TIME_ORIGIN)


def _gap_text(gap: Gap) -> str:
    ids = str(gap.low) if gap.low == gap.high else f"{gap.low}-{gap.high}"
    return f"{ids}@{_time(gap.probed_at)}.{gap.checks}"


def _gap_from_text(item: str) -> Gap:
    ids, _, rest = item.partition("@")
    when, _, checks = rest.partition(".")
    low, _, high = ids.partition("-")
    if not low.isdigit() or not (high or low).isdigit() or not checks.isdigit():
        msg = f"{item!r} is not a gap (IDs@probed.checks)"
        raise ValueError(msg)
    gap = Gap(int(low), int(high or low), _instant(when), int(checks))
    if gap.low < 1 or gap.high < gap.low:
        msg = f"{item!r} is not an ascending range of positive IDs"
        raise ValueError(msg)
    return gap


def _anchor_from_text(item: str) -> tuple[int, float]:
    number, _, when = item.partition("@")
    if not number.isdigit() or not when:
        msg = f"{item!r} is not an anchor (ID@created)"
        raise ValueError(msg)
    return int(number), _instant(when)


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
