"""The interviews' lifecycle state: what a run remembers of each ID. Pure.

The planner (`planner.py`) decides from it which IDs a run fetches.

Interviews complete hours or days after they are created, so a `created_at` cursor alone
would miss late transcripts. The state remembers each interview's lifecycle instead:

- completed IDs: their transcript is final; fetched again only by the re-read cycle
  (`recheck_completed_days`, `tap_hindsight.recheck`), which keeps a 14-character digest
  of each one's record and the instant up to which every re-read due was answered;
- pending IDs (created, sent, or a status Hindsight may add) with a fingerprint of the
  record last emitted, so a re-poll that changed nothing emits nothing, and when each was
  last polled and how old it was then, so that a run polls only those due
  (`tap_hindsight.polling`);
- failed IDs: fetched again next run, even if they left the config;
- out-of-range IDs: created before `start_date`; not fetched again while it holds;
- missing IDs: interviews seen before whose last answer was 404 (asked again next run: a
  second 404 in a row deletes them, one can be a glitch), and deleted IDs (emitted once
  more with `_sdc_deleted_at`; never requested again);
- what ID discovery (probing ascending IDs) knows: where it goes on, the IDs still open,
  and what our interviews say of the platform's ID counter (`tap_hindsight.scan`);
- unsent IDs, per stream: those whose latest record a stream has not emitted because it
  was not selected (a stream selected later gets them: its history, once).

ID sets are stored as range strings ("1001-1500,1502"): 100,000 mostly consecutive IDs take
a few bytes, and a string is copied in O(1) by the SDK's deep copy of every STATE message.
Pending IDs are stored as `ID:fingerprint:polled:age` (fingerprint 8 hex digits; `polled`,
seconds since 2020-01-01T00:00:00Z, and `age`, seconds, in base 36): about 30 bytes each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tap_hindsight.encoding import RangeSet
from tap_hindsight.polling import Poll, next_poll

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tap_hindsight.recheck import Digest
    from tap_hindsight.scan import ScanMemory


@dataclass(frozen=True)
class Learned:
    """What one answer taught about its ID: applied (`LifecycleState.learn`) once written."""

    #: completed, pending, failed, out_of_range (before start_date) or not_found.
    status: str
    #: A completed record's digest, as emitted.
    digest: Digest | None = None
    #: A pending record's fingerprint, when it was polled, and where its age counts from.
    mark: str = ""
    polled_at: int = 0
    anchor: int = 0
    #: The streams that emitted its latest record now, and those that did not (unselected).
    sent: frozenset[str] = frozenset()
    unsent: frozenset[str] = frozenset()


@dataclass
class LifecycleState:
    """Each interview's place in its lifecycle, as far as this tap has seen it."""

    completed: RangeSet = field(default_factory=RangeSet)
    pending: dict[int, Poll] = field(default_factory=dict)
    failed: RangeSet = field(default_factory=RangeSet)
    out_of_range: RangeSet = field(default_factory=RangeSet)
    #: Seen before, and 404 when last asked (a second 404 in a row deletes them).
    missing: RangeSet = field(default_factory=RangeSet)
    #: Deleted from Hindsight: emitted once more as deleted, never requested again.
    deleted: RangeSet = field(default_factory=RangeSet)
    #: The start_date the out-of-range IDs were judged against (ISO 8601).
    out_of_range_before: str | None = None
    #: What ID discovery knows (`tap_hindsight.scan`); None: it never ran.
    scan: ScanMemory | None = None
    #: Per stream, the IDs whose latest record it has not emitted (it was not selected).
    unsent: dict[str, RangeSet] = field(default_factory=dict)
    #: What each completed interview's record was when last emitted (`tap_hindsight.recheck`).
    digests: dict[int, Digest] = field(default_factory=dict)
    #: Every completed interview due a re-read up to this instant was re-read (epoch
    #: seconds; None: the cycle is off, or starts at the next run).
    recheck_through: float | None = None
    #: When the last run started (epoch seconds; None: no run wrote it): the request
    #: budget that accrued since sets the next run's polling allowance (`planner`).
    run_started: float | None = None
    #: Each pending entry's stored text, kept with the Poll it was written from: a
    #: checkpoint then re-encodes only the entries that changed.
    _texts: dict[int, tuple[Poll, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    #: The digests' stored text while no digest or completed ID changed.
    _digests_text: str | None = field(default=None, init=False, repr=False, compare=False)

    # What the stored form is built from (`tap_hindsight.store`) -------------------------

    def settle_merged(self) -> None:
        """Resolve a state merged or edited by hand, as read.

        An ID both completed and pending or failed (Meltano's own merge replaces each
        stored text whole) counts as completed: its transcript is final and it was
        emitted. A deleted ID is only deleted: it was emitted as such.
        """
        for interview_id in [i for i in self.pending if i in self.completed]:
            del self.pending[interview_id]
        for interview_id in [i for i in self.failed if i in self.completed]:
            self.failed.discard(interview_id)
        for interview_id in list(self.deleted):
            self.mark_deleted(interview_id)

    def pending_text(self, entry: Callable[[int, Poll], str]) -> str:
        """The pending entries joined, each written by `entry` only when it changed."""
        texts = self._texts
        parts = []
        for interview_id in sorted(self.pending):
            poll = self.pending[interview_id]
            cached = texts.get(interview_id)
            if cached is None or cached[0] is not poll:
                cached = texts[interview_id] = (poll, entry(interview_id, poll))
            parts.append(cached[1])
        if len(texts) > 2 * len(self.pending):  # forget entries no longer pending
            self._texts = {i: texts[i] for i in self.pending if i in texts}
        return ",".join(parts)

    def digests_text(self, write: Callable[[list[int], dict[int, Digest]], str]) -> str:
        """The digests as `write` puts them, written again only when one changed."""
        if self._digests_text is None:
            self._digests_text = write(list(self.completed), self.digests)
        return self._digests_text

    # What to fetch -----------------------------------------------------------------------

    def needs_fetch(self, interview_id: int) -> bool:
        """False for IDs whose answer cannot change what was emitted."""
        return (
            interview_id not in self.completed
            and interview_id not in self.out_of_range
            and interview_id not in self.deleted
        )

    def holds(self, interview_id: int) -> bool:
        """True if this interview is ours already: completed, pending or out of range."""
        return (
            interview_id in self.completed
            or interview_id in self.out_of_range
            or interview_id in self.pending
        )

    def seen(self, interview_id: int) -> bool:
        """True if this interview answered before (a 404 from it now means a deletion)."""
        return (
            interview_id in self.completed
            or interview_id in self.pending
            or interview_id in self.missing
        )

    def unsent_for(self, streams: Iterable[str]) -> RangeSet:
        """The IDs any of `streams` has not emitted."""
        result = RangeSet()
        for stream in streams:
            for interview_id in self.unsent.get(stream, ()):
                result.add(interview_id)
        return result

    def is_unsent(self, stream: str, interview_id: int) -> bool:
        """True if `stream` has not emitted this ID's latest record."""
        return interview_id in self.unsent.get(stream, ())

    def sent_by(self, streams: Iterable[str], interview_id: int, *, sent: bool = True) -> None:
        """Each of `streams` has emitted this ID's latest record (or, `sent=False`, has not)."""
        for stream in streams:
            ids = self.unsent.setdefault(stream, RangeSet())
            if sent:
                ids.discard(interview_id)
            else:
                ids.add(interview_id)

    def apply_start_date(self, start_date: str | None) -> None:
        """Forget out-of-range IDs if start_date moved earlier (or was removed)."""
        if self.out_of_range_before is None:
            self.out_of_range_before = start_date
            return
        if start_date is None or start_date < self.out_of_range_before:
            self.out_of_range = RangeSet()
        self.out_of_range_before = start_date

    # What was learned (called only after a record was emitted, or when none will be) ----

    def is_unchanged(self, interview_id: int, mark: str) -> bool:
        """True if a pending interview's record is the same as the one last emitted."""
        poll = self.pending.get(interview_id)
        return poll is not None and poll.mark == mark

    def learn(self, interview_id: int, learned: Learned) -> None:
        """Remember what an answer taught (once its record, if any, is written)."""
        status = learned.status
        if status == "completed":
            self.mark_completed(interview_id, learned.digest)
        elif status == "pending":
            self.mark_pending(interview_id, learned.mark, learned.polled_at, learned.anchor)
        elif status == "failed":
            self.mark_failed(interview_id)
        elif status == "out_of_range":
            self.mark_out_of_range(interview_id)
        elif status == "not_found":
            self.mark_not_found(interview_id)
        else:
            msg = f"unknown status {status!r}"
            raise ValueError(msg)
        self.sent_by(learned.sent, interview_id)
        self.sent_by(learned.unsent, interview_id, sent=False)

    def mark_completed(self, interview_id: int, digest: Digest | None = None) -> None:
        """Its transcript is final (`digest`: of the record as emitted, if known)."""
        if interview_id not in self.completed or self.digests.get(interview_id) != digest:
            self._digests_text = None
        self._move(interview_id, "completed")
        self.completed.add(interview_id)
        if digest is not None:
            self.digests[interview_id] = digest

    def mark_pending(self, interview_id: int, mark: str, now: int, record_anchor: int) -> None:
        """Polled at `now` (and emitted if it changed) in a status that may still change.

        `record_anchor`: the latest of its `created_at` and `email_sent_at` (epoch seconds).
        """
        self._move(interview_id, "pending")
        previous = self.pending.get(interview_id)
        self.pending[interview_id] = next_poll(previous, mark, now, record_anchor)

    def mark_out_of_range(self, interview_id: int) -> None:
        """Created before start_date: not fetched again while start_date holds."""
        self._move(interview_id, "out_of_range")
        self.out_of_range.add(interview_id)
        self.sent_by(self.unsent, interview_id)

    def mark_deleted(self, interview_id: int) -> None:
        """Deleted (404 twice in a row) and emitted as such: never requested again."""
        self._move(interview_id, "deleted")
        self.deleted.add(interview_id)
        self.sent_by(self.unsent, interview_id)

    def _move(self, interview_id: int, place: str) -> None:
        """Take the ID out of every place but `place`, and clear its failed and missing marks.

        The places of a lifecycle: completed, pending, out_of_range and deleted. An ID is
        in one at most; the marks (failed, missing) say how its last request went.
        """
        if place != "completed" and interview_id in self.completed:
            self.completed.discard(interview_id)
            self.digests.pop(interview_id, None)
            self._digests_text = None
        if place != "pending":
            self.pending.pop(interview_id, None)
        if place != "out_of_range":
            self.out_of_range.discard(interview_id)
        if place != "deleted":
            self.deleted.discard(interview_id)
        self.failed.discard(interview_id)
        self.missing.discard(interview_id)

    def mark_missing(self, interview_id: int) -> None:
        """Seen before, 404 now: asked again next run (a second 404 deletes it)."""
        self.missing.add(interview_id)
        self.failed.discard(interview_id)

    def mark_failed(self, interview_id: int) -> None:
        """Could not be fetched or emitted: fetched again next run."""
        self.failed.add(interview_id)

    def mark_not_found(self, interview_id: int) -> None:
        """404: nothing to remember but that it is no longer worth retrying as failed."""
        self.failed.discard(interview_id)
