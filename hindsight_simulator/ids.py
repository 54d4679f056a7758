"""Interview IDs as Hindsight hands them out: one ascending counter for every organisation.

`GET /interviews/{id}` answers 404 both for another organisation's ID and for one not handed
out yet. `SharedIdSpace` models the platform's counter: IDs created on a clock, each given to
an organisation drawn at its share (the rest belong to organisations without a key here).
The simulator, the discovery benchmark and the tests read which IDs exist at an instant,
whose they are and when each was created. Pure: no I/O, no wall clock.
"""

from __future__ import annotations

import bisect
import random
from array import array
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The owner index of an ID that belongs to an organisation this space does not name.
_OTHERS = 255


class SharedIdSpace:
    """IDs from `first_id` up, handed out in ascending order, each at an instant."""

    def __init__(self, first_id: int, shares: Mapping[str, float], seed: int = 7) -> None:
        """Organisations get IDs at their `shares` (0 to 1, at most 1 in all)."""
        if first_id < 1:
            msg = f"first_id must be a positive integer, not {first_id}"
            raise ValueError(msg)
        if any(not 0 < share <= 1 for share in shares.values()) or sum(shares.values()) > 1:
            msg = f"shares must each be in (0, 1] and at most 1 in all: {dict(shares)}"
            raise ValueError(msg)
        if len(shares) >= _OTHERS:
            msg = f"at most {_OTHERS - 1} organisations"
            raise ValueError(msg)
        self.first_id = first_id
        self.names = list(shares)
        self._bounds: list[float] = []
        total = 0.0
        for share in shares.values():
            total += share
            self._bounds.append(total)
        self._random = random.Random(seed)  # noqa: S311 (simulated data, not security)
        self._owners = bytearray()
        self._created = array("d")

    @property
    def next_id(self) -> int:
        """The ID the platform hands out next (its counter)."""
        return self.first_id + len(self._owners)

    def create(
        self, count: int, at: float, spread_seconds: float = 0.0, *, others: bool = False
    ) -> list[int]:
        """Hand out `count` IDs created evenly over `spread_seconds` from `at` (epoch s).

        Creation instants never go backwards: an ID's instant is at least its predecessor's.
        With `others`, every one goes to organisations this space does not name (a burst
        of other organisations' interviews).
        """
        if count < 0 or spread_seconds < 0:
            msg = "count and spread_seconds cannot be negative"
            raise ValueError(msg)
        start = max(at, self._created[-1]) if self._created else at
        step = spread_seconds / count if count else 0.0
        first = self.next_id
        for index in range(count):
            draw = self._random.random()
            owner = _OTHERS if others else bisect.bisect_right(self._bounds, draw)
            self._owners.append(owner if owner < len(self.names) else _OTHERS)
            self._created.append(start + index * step)
        return list(range(first, first + count))

    def _index(self, interview_id: int) -> int | None:
        index = interview_id - self.first_id
        return index if 0 <= index < len(self._owners) else None

    def owner(self, interview_id: int) -> str | None:
        """The organisation named here that owns the ID; None: another's, or not handed out."""
        index = self._index(interview_id)
        if index is None or self._owners[index] == _OTHERS:
            return None
        return self.names[self._owners[index]]

    def created_at(self, interview_id: int) -> float | None:
        """When the ID was handed out (epoch seconds); None if it was not."""
        index = self._index(interview_id)
        return None if index is None else self._created[index]

    def exists_at(self, interview_id: int, when: float) -> bool:
        """True if the ID had been handed out (to anyone) by `when`."""
        created = self.created_at(interview_id)
        return created is not None and created <= when

    def answers(self, organisation: str, interview_id: int, when: float) -> bool:
        """True if `organisation`'s key gets the interview at `when` (else the API's 404)."""
        return self.owner(interview_id) == organisation and self.exists_at(interview_id, when)

    def ids_of(self, organisation: str) -> list[int]:
        """Every ID handed out to `organisation`, ascending."""
        wanted = self.names.index(organisation)
        return [self.first_id + i for i, owner in enumerate(self._owners) if owner == wanted]
