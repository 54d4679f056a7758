"""Compact encodings that the interviews' and the deals' state share. Pure: no I/O.

ID sets are kept as range strings ("1001-1500,1502"): 100,000 mostly consecutive IDs take
a few bytes, and a string is copied in O(1) by the SDK's deep copy of every STATE message.
Records are remembered by a short fingerprint of their content, and numbers (times,
ages, counts) in base 36.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Hex digits of a record's fingerprint.
FINGERPRINT_CHARS = 8
#: Times are stored relative to this instant (2020-01-01T00:00:00Z), in base 36.
TIME_ORIGIN = 1_577_836_800
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class RangeSet:
    """A set of positive integers kept as sorted, disjoint, non-adjacent ranges."""

    def __init__(self, values: Iterable[int] = ()) -> None:
        """Start with `values`."""
        self._starts: list[int] = []
        self._ends: list[int] = []
        for value in values:
            self.add(value)

    def __contains__(self, value: object) -> bool:
        """True if `value` is in one of the ranges."""
        if not isinstance(value, int):
            return False
        index = bisect_right(self._starts, value) - 1
        return index >= 0 and self._ends[index] >= value

    def __len__(self) -> int:
        """How many integers the set holds."""
        return sum(end - start + 1 for start, end in zip(self._starts, self._ends, strict=True))

    def __iter__(self) -> Iterator[int]:
        """Every integer, ascending."""
        for start, end in zip(self._starts, self._ends, strict=True):
            yield from range(start, end + 1)

    def __eq__(self, other: object) -> bool:
        """Same integers."""
        if not isinstance(other, RangeSet):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        """`RangeSet('1-3,7')`."""
        return f"RangeSet({self.to_text()!r})"

    @property
    def ranges(self) -> int:
        """How many separate ranges: what the stored size grows with."""
        return len(self._starts)

    def max(self) -> int | None:
        """The largest integer, or None if empty."""
        return self._ends[-1] if self._ends else None

    def add(self, value: int) -> None:
        """Add one integer, merging it into a neighbouring range where it touches one."""
        index = bisect_right(self._starts, value) - 1
        if index >= 0 and self._ends[index] >= value:
            return
        joins_left = index >= 0 and self._ends[index] == value - 1
        joins_right = index + 1 < len(self._starts) and self._starts[index + 1] == value + 1
        if joins_left and joins_right:
            self._ends[index] = self._ends[index + 1]
            del self._starts[index + 1]
            del self._ends[index + 1]
        elif joins_left:
            self._ends[index] = value
        elif joins_right:
            self._starts[index + 1] = value
        else:
            self._starts.insert(index + 1, value)
            self._ends.insert(index + 1, value)

    def discard(self, value: int) -> None:
        """Remove one integer if present, splitting its range."""
        index = bisect_right(self._starts, value) - 1
        if index < 0 or self._ends[index] < value:
            return
        start, end = self._starts[index], self._ends[index]
        del self._starts[index]
        del self._ends[index]
        if value + 1 <= end:
            self._starts.insert(index, value + 1)
            self._ends.insert(index, end)
        if start <= value - 1:
            self._starts.insert(index, start)
            self._ends.insert(index, value - 1)

    def to_text(self) -> str:
        """`1001-1500,1502`: the stored form."""
        return ",".join(
            str(start) if start == end else f"{start}-{end}"
            for start, end in zip(self._starts, self._ends, strict=True)
        )

    @classmethod
    def from_text(cls, text: str) -> RangeSet:
        """Parse the stored form; ranges may come in any order and overlap (merged state).

        Raises:
            ValueError: not a list of positive integers and `a-b` ranges.

        """
        result = cls()
        spans: list[tuple[int, int]] = []
        for part in text.split(","):
            item = part.strip()
            if not item:
                continue
            low, dash, high = item.partition("-")
            if not low.isdigit() or (dash and not high.isdigit()):
                msg = f"{item!r} is not an ID or a range of IDs"
                raise ValueError(msg)
            start, end = int(low), int(high or low)
            if start < 1 or end < start:
                msg = f"{item!r} is not an ascending range of positive IDs"
                raise ValueError(msg)
            spans.append((start, end))
        for start, end in sorted(spans):
            if result._ends and start <= result._ends[-1] + 1:
                result._ends[-1] = max(result._ends[-1], end)
            else:
                result._starts.append(start)
                result._ends.append(end)
        return result


def _sha256(value: Any) -> bytes:  # noqa: ANN401 (any JSON value)
    """The SHA-256 of a JSON value written canonically (sorted keys, no spaces)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def fingerprint(record: dict[str, Any]) -> str:
    """A short hash of a record's content: equal records, equal fingerprints."""
    return _sha256(record).hex()[:FINGERPRINT_CHARS]


def hash36(value: Any, width: int) -> str:  # noqa: ANN401 (any JSON value)
    """A hash of a JSON value in `width` base-36 characters: equal values, equal hashes."""
    number = int.from_bytes(_sha256(value)[:8], "big")
    return base36(number % 36**width, width)


def base36(number: int, width: int = 0) -> str:
    """`number` in base 36 (digits, then lower-case letters), zero-padded to `width`."""
    if number < 0:
        return "-" + base36(-number, width)
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _BASE36[digit] + digits
        if not number:
            return digits.rjust(width, "0")


def iso_instant(epoch_seconds: float) -> str:
    """`2026-12-02T18:00:00Z`: an instant to the second, as a person reads it in state."""
    moment = datetime.fromtimestamp(int(epoch_seconds), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def minutes(count: float) -> str:
    """`1 minute`, `2.5 minutes`: a number of minutes as a setting gives it."""
    return f"{count:g} minute{'' if count == 1 else 's'}"


def duration(seconds: float) -> str:
    """`2h03m`, `4m10s`, `12s`."""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
