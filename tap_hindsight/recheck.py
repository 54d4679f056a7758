"""The re-read cycle of completed interviews, and what the state keeps for it. Pure.

A completed interview can still change: its `objective` is edited, its transcript replaced
(a redaction), or it is deleted. With `recheck_completed_days` (D), every completed
interview is read again once in every D days:

- Each ID has a phase in the cycle (a Fibonacci hash of the ID: consecutive IDs fall far
  apart, so any set of them spreads evenly over the cycle). An ID is due when the clock
  passes its phase; the state keeps the instant up to which every due ID was answered
  (`recheck_through`). A run re-reads the IDs whose phase fell since then, in that order,
  so a run right after another re-reads none, and a cycle's re-reads are spread over its
  runs as evenly as the IDs' phases are: none carries a burst, however many interviews
  completed on the same day.
- A run cut short (its budget, `max_run_minutes`, a stop) advances the instant only as far
  as its answers go; the next run goes on from there.
- What a re-read compares with is a digest of the record last emitted (`Digest`): 14
  characters per completed interview, stored in the order of the completed IDs (so no ID
  is written twice). It tells an edited record from a replaced transcript, and how many
  turns the transcript had, so that the turns a replacement removed are marked deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_hindsight.encoding import hash36

if TYPE_CHECKING:
    from collections.abc import Iterable

DAY = 86_400
#: Characters a digest takes: the record's fingerprint, the transcript's, the turn count.
RECORD_CHARS, TRANSCRIPT_CHARS, TURNS_CHARS = 6, 5, 3
DIGEST_CHARS = RECORD_CHARS + TRANSCRIPT_CHARS + TURNS_CHARS
#: The most turns a digest counts (a longer transcript is counted as this many).
MOST_TURNS = 36**TURNS_CHARS - 1
#: A completed interview emitted before digests were kept: any re-read emits it again.
UNKNOWN = "-" * DIGEST_CHARS
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / the golden ratio: Fibonacci hashing
_MASK = 2**64 - 1


@dataclass(frozen=True)
class Digest:
    """What a re-read of a completed interview compares with."""

    record: str
    transcript: str
    turns: int

    @classmethod
    def of(cls, record: dict[str, Any], turns: int) -> Digest:
        """The digest of `record` as emitted, whose transcript has `turns` turns."""
        rest = {name: value for name, value in record.items() if name != "transcript"}
        return cls(
            hash36(rest, RECORD_CHARS),
            hash36(record.get("transcript"), TRANSCRIPT_CHARS),
            min(turns, MOST_TURNS),
        )

    def with_turns(self, turns: int) -> Digest:
        """The same record and transcript, with `turns` turns."""
        return Digest(self.record, self.transcript, min(turns, MOST_TURNS))


def phase(interview_id: int, period: float) -> float:
    """Where in a cycle of `period` seconds the ID falls due (0 <= phase < period)."""
    return ((interview_id * _GOLDEN) & _MASK) / 2**64 * period


def last_due(interview_id: int, now: float, period: float) -> float:
    """The latest instant at or before `now` at which the ID fell due."""
    return now - (now - phase(interview_id, period)) % period


def due(ids: Iterable[int], through: float, now: float, period: float) -> list[tuple[float, int]]:
    """(instant due, ID) of `ids` due since `through`, in the order they fell due.

    Each ID once at most, however long ago `through` is (a paused schedule catches up
    with one cycle, not with every cycle it missed).
    """
    if now <= through or period <= 0:
        return []
    if now - through >= period:
        through = now - period
    found = [(at, i) for i in ids if (at := last_due(i, now, period)) > through]
    found.sort()
    return found
