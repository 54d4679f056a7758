"""The interviews' state in its stored form: each part read (checked, named when bad) and written.

`LifecycleState.from_bookmark` and `to_bookmark` (lifecycle.py) are built on these. ID
sets are range strings (`RangeSet`), pending IDs `ID:fingerprint:polled:age` entries,
digests 14-character texts in the completed IDs' order (`recheck.py`), discovery's memory
its own text (`scan.py`), instants ISO 8601 strings.
"""

from __future__ import annotations

from typing import Any

from tap_hindsight.encoding import FINGERPRINT_CHARS, TIME_ORIGIN, RangeSet, base36
from tap_hindsight.polling import Poll
from tap_hindsight.records import parse_datetime
from tap_hindsight.scan import ScanMemory


def entry_text(interview_id: int, poll: Poll) -> str:
    """One pending entry: `ID:mark`, or `ID:mark:polled:age` once polled (base 36)."""
    if poll.polled_at is None:
        return f"{interview_id}:{poll.mark}"
    when = base36(poll.polled_at - TIME_ORIGIN)
    return f"{interview_id}:{poll.mark}:{when}:{base36(poll.age)}"


def pending_from_text(text: str) -> dict[int, Poll]:
    """`ID:mark` (version 1, or never polled yet) or `ID:mark:polled:age` entries."""
    pending: dict[int, Poll] = {}
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        fields = item.split(":")
        number, mark = fields[0], fields[1] if len(fields) > 1 else ""
        if (
            len(fields) not in {2, 4}
            or not number.isdigit()
            or int(number) < 1
            or not mark.isalnum()
        ):
            msg = f"{item!r} is not an ID:fingerprint or ID:fingerprint:polled:age entry"
            raise ValueError(msg)
        # Version 1 kept 12 hex digits: their first 8 are this version's fingerprint.
        poll = Poll(mark[:FINGERPRINT_CHARS])
        if len(fields) == 4:  # noqa: PLR2004
            try:
                polled_at, age = int(fields[2], 36) + TIME_ORIGIN, int(fields[3], 36)
            except ValueError:
                msg = f"{item!r}: poll time and age must be base-36 numbers"
                raise ValueError(msg) from None
            if age < 0:
                msg = f"{item!r}: an age cannot be negative"
                raise ValueError(msg)
            poll = Poll(poll.mark, polled_at, age)
        pending[int(number)] = poll
    return pending


def stored_texts(stored: dict[str, Any]) -> dict[str, str]:
    """The stored ID sets and the scalars beside them, checked for their types.

    Raises:
        ValueError: a part of the wrong type, named.

    """
    texts = {}
    for name in ("completed", "pending", "failed", "out_of_range", "missing", "deleted", "digests"):
        value = stored.get(name, "")
        if not isinstance(value, str):
            msg = f"'{name}' should be a string, found {type(value).__name__}"
            raise ValueError(msg)  # noqa: TRY004 (a bad value, reported as such)
        texts[name] = value
    before = stored.get("out_of_range_before")
    scan_next = stored.get("scan_next_id")
    if before is not None and not isinstance(before, str):
        msg = "'out_of_range_before' should be a date-time string"
        raise ValueError(msg)
    if scan_next is not None and (
        not isinstance(scan_next, int) or isinstance(scan_next, bool) or scan_next < 1
    ):
        msg = f"'scan_next_id' should be a positive integer, found {scan_next!r}"
        raise ValueError(msg)
    return texts


def scan_from_stored(stored: dict[str, Any]) -> ScanMemory | None:
    """Discovery's memory: `scan`, or an earlier version's `scan_next_id`.

    Below `scan_next_id`, an earlier version found or passed every ID: they count as
    settled, and the scan goes on from there.
    """
    text = stored.get("scan")
    if text is not None:
        if not isinstance(text, str):
            msg = "'scan' should be a string"
            raise ValueError(msg)
        return ScanMemory.from_text(text)
    scan_next = stored.get("scan_next_id")
    return None if scan_next is None else ScanMemory(scan_next)


def instant_from_stored(stored: dict[str, Any], name: str) -> float | None:
    """The instant stored under `name` (None: absent); a bad one is named."""
    value = stored.get(name)
    if value is None:
        return None
    try:
        return parse_datetime(value).timestamp()
    except (AttributeError, TypeError, ValueError):
        msg = f"'{name}' should be a date-time string, found {value!r}"
        raise ValueError(msg) from None


def unsent_from_stored(value: object) -> dict[str, RangeSet]:
    """Per stream, the IDs it has not emitted; a bad value is named."""
    if not isinstance(value, dict) or not all(
        isinstance(name, str) and isinstance(ids, str) for name, ids in value.items()
    ):
        msg = "'unsent' should map stream names to ID ranges"
        raise ValueError(msg)
    return {name: RangeSet.from_text(ids) for name, ids in value.items()}
