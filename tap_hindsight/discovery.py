"""ID discovery: probing ascending IDs for interviews no config lists. Pure: no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_hindsight.lifecycle import LifecycleState


class Discovery:
    """Probes ascending IDs; stops after `max_misses` IDs in a row answer not found.

    IDs are handed out in ascending order by Hindsight (shared by all organisations, so
    another organisation's IDs answer 404 too). The scan stops once `max_misses` IDs above
    the highest one known to exist are all not found. Probes are issued while earlier ones
    are still in flight; each answer is reported with `found` or `missed`, on the thread
    that consumes the results.
    """

    def __init__(self, start: int, max_misses: int, known: LifecycleState, skip: set[int]) -> None:
        """Probe from `start`; IDs the state knows count as found; `skip` are fetched anyway."""
        self.next_id = start
        self.max_misses = max_misses
        self.highest_found = start - 1
        #: The highest found ID whose record was emitted (or is known from state): the
        #: next run may start above it without losing one.
        self.highest_kept = start - 1
        self._found_not_kept: set[int] = set()
        self._known = known
        self._skip = skip
        self._outstanding: set[int] = set()
        self.probes = 0
        self.found = 0

    def _exists_already(self, interview_id: int) -> bool:
        known = self._known
        return (
            interview_id in known.completed
            or interview_id in known.out_of_range
            or interview_id in known.pending
            or interview_id in self._skip
        )

    def next_probe(self) -> int | None:
        """The next ID to probe; None if none now (or ever, once nothing is outstanding)."""
        while self.next_id <= self.highest_found + self.max_misses:
            interview_id = self.next_id
            self.next_id += 1
            if self._exists_already(interview_id):
                self.highest_found = max(self.highest_found, interview_id)
                if interview_id not in self._skip:  # known from state: already kept
                    self.highest_kept = max(self.highest_kept, interview_id)
                continue
            self._outstanding.add(interview_id)
            self.probes += 1
            return interview_id
        return None

    @property
    def finished(self) -> bool:
        """No probe in flight and none left to send."""
        return not self._outstanding and self.next_id > self.highest_found + self.max_misses

    def is_probe(self, interview_id: int) -> bool:
        """True if this ID was sent as a probe and not answered yet."""
        return interview_id in self._outstanding

    def answered(self, interview_id: int, *, exists: bool) -> None:
        """Record a probe's answer: it exists (any answer but 404) or was not found."""
        self._outstanding.discard(interview_id)
        if exists:
            self.found += 1
            self.highest_found = max(self.highest_found, interview_id)
            self._found_not_kept.add(interview_id)

    def kept(self, interview_id: int) -> None:
        """A found probe's outcome is in the state now (called after its record went out)."""
        if interview_id in self._found_not_kept:
            self._found_not_kept.discard(interview_id)
            self.highest_kept = max(self.highest_kept, interview_id)

    @property
    def resume_at(self) -> int:
        """Where the next run's scan starts: above the highest found ID already kept.

        Not above the highest found: a run stopped between an answer and its record must
        probe that ID again, or it would never be seen.
        """
        return self.highest_kept + 1


def id_source(ids: Iterable[int], discovery: Discovery | None) -> Iterator[int | None]:
    """The IDs to fetch, then the probes; None means "wait for answers, then ask again"."""
    yield from ids
    if discovery is None:
        return
    while not discovery.finished:
        yield discovery.next_probe()
