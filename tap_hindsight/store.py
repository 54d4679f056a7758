"""What the tap remembers, as its bookmarks store it: read and written here only. Pure.

Each part is read checked (a bad one is named) and written compact.

Everything stored is JSON of short strings, cheap to copy into every STATE message (the
SDK deep-copies the state for each one), in one grammar:

- an ID set is ranges, `1001-1500,1502` (`RangeSet`);
- a table is entries split by `,` and fields by `:`, numbers in base 36 and instants in
  base-36 seconds since 2020-01-01T00:00:00Z: pending interviews `ID:mark[:polled:age]`
  (about 30 bytes each), deals `ID:fingerprint[:drivers[:positions]]` (`deal_store.py`);
- the completed interviews' digests (`tap_hindsight.recheck`) are 14 characters each, in
  the completed IDs' order, so no ID is written twice;
- discovery's memory (`tap_hindsight.scan`) is parts split by `;`, each named by its
  first letter: `n1200;g1180-1199@3k2f1a.0;a1175@3k2e9b;s12/1190;r125;w1fe00@3k2d10`;
- instants a person may read (`recheck_through`, `run_started_at`) are ISO 8601.

Version 2 is the only form any release wrote (0.1.0 on): there is nothing to convert.
"""

from __future__ import annotations

import math
from typing import Any

from tap_hindsight.encoding import TIME_ORIGIN, RangeSet, base36, iso_instant
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.polling import Poll
from tap_hindsight.recheck import DIGEST_CHARS, RECORD_CHARS, TURNS_CHARS, UNKNOWN, Digest
from tap_hindsight.records import parse_datetime
from tap_hindsight.scan import HOURS_A_WEEK, Gap, ScanMemory
from tap_hindsight.state import Resumable

#: The key of the interviews' state inside the stream's bookmark. The SDK keeps its keys
#: (replication_key_value, progress_markers...) beside it and leaves this one alone.
STATE_KEY = "interview_lifecycle"
STATE_VERSION = 2
_ID_SETS = ("completed", "pending", "failed", "out_of_range", "missing", "deleted", "digests")
_DIGITS36 = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")


# The grammar -----------------------------------------------------------------------------


def entries(text: str) -> list[list[str]]:
    """A table's entries, each split into its fields (blank entries skipped)."""
    return [item.strip().split(":") for item in text.split(",") if item.strip()]


def time36(instant: float) -> str:
    """An instant (epoch seconds) in a table: base-36 seconds since TIME_ORIGIN; 0: none."""
    return base36(max(0, round(instant) - TIME_ORIGIN)) if instant else "0"


def instant36(text: str) -> float:
    """The instant `time36` wrote (0.0: none); ValueError if it is not base 36."""
    seconds = int(text, 36)
    return 0.0 if seconds == 0 else float(seconds + TIME_ORIGIN)


def text_of(stored: dict[str, Any], name: str) -> str:
    """The string stored under `name` ("" if absent); ValueError naming it if not a string."""
    value = stored.get(name, "")
    if not isinstance(value, str):
        msg = f"'{name}' should be a string, found {type(value).__name__}"
        raise ValueError(msg)  # noqa: TRY004 (a bad value, reported as such)
    return value


def _iso(stored: dict[str, Any], name: str) -> float | None:
    value = stored.get(name)
    if value is None:
        return None
    try:
        return parse_datetime(value).timestamp()
    except (AttributeError, TypeError, ValueError):
        msg = f"'{name}' should be a date-time string, found {value!r}"
        raise ValueError(msg) from None


# The interviews' lifecycle ---------------------------------------------------------------


def read_interviews(stored: object) -> LifecycleState:
    """The interviews' state from its stored form (None: a first run).

    A state merged or edited by hand is settled as `LifecycleState.settle_merged` says.

    Raises:
        ValueError: the stored value is not this tap's state; the message says why.

    """
    if stored is None:
        return LifecycleState()
    if not isinstance(stored, dict):
        msg = f"expected an object, found {type(stored).__name__}"
        raise ValueError(msg)  # noqa: TRY004 (a bad value, reported as such)
    if stored.get("version") != STATE_VERSION:
        msg = f"unknown state version {stored.get('version')!r} (this tap reads {STATE_VERSION})"
        raise ValueError(msg)
    texts = {name: text_of(stored, name) for name in _ID_SETS}
    before = stored.get("out_of_range_before")
    if before is not None and not isinstance(before, str):
        msg = "'out_of_range_before' should be a date-time string"
        raise ValueError(msg)
    scan = stored.get("scan")
    if scan is not None and not isinstance(scan, str):
        msg = "'scan' should be a string"
        raise ValueError(msg)
    state = LifecycleState(
        completed=RangeSet.from_text(texts["completed"]),
        pending=read_pending(texts["pending"]),
        failed=RangeSet.from_text(texts["failed"]),
        out_of_range=RangeSet.from_text(texts["out_of_range"]),
        missing=RangeSet.from_text(texts["missing"]),
        deleted=RangeSet.from_text(texts["deleted"]),
        out_of_range_before=before,
        scan=None if scan is None else read_scan(scan),
        unsent=_read_unsent(stored.get("unsent", {})),
        recheck_through=_iso(stored, "recheck_through"),
        run_started=_iso(stored, "run_started_at"),
    )
    state.digests = read_digests(list(state.completed), texts["digests"])
    state.settle_merged()
    return state


def write_interviews(state: LifecycleState) -> dict[str, Any]:
    """The stored form of the interviews' state (parts left out when empty)."""
    stored: dict[str, Any] = {
        "version": STATE_VERSION,
        "completed": state.completed.to_text(),
        "pending": state.pending_text(pending_entry),
        "failed": state.failed.to_text(),
        "out_of_range": state.out_of_range.to_text(),
    }
    for name, ids in (("missing", state.missing), ("deleted", state.deleted)):
        if len(ids):
            stored[name] = ids.to_text()
    if state.out_of_range_before is not None:
        stored["out_of_range_before"] = state.out_of_range_before
    if state.scan is not None:
        stored["scan"] = scan_text(state.scan)
    unsent = {name: ids.to_text() for name, ids in sorted(state.unsent.items()) if len(ids)}
    if unsent:
        stored["unsent"] = unsent
    for name, instant in (
        ("recheck_through", state.recheck_through),
        ("run_started_at", state.run_started),
    ):
        if instant is not None:
            stored[name] = iso_instant(instant)
    if state.digests:
        stored["digests"] = state.digests_text(digests_text)
    return stored


def pending_entry(interview_id: int, poll: Poll) -> str:
    """One pending entry: `ID:mark`, or `ID:mark:polled:age` once polled (base 36)."""
    if poll.polled_at is None:
        return f"{interview_id}:{poll.mark}"
    when = base36(poll.polled_at - TIME_ORIGIN)
    return f"{interview_id}:{poll.mark}:{when}:{base36(poll.age)}"


def read_pending(text: str) -> dict[int, Poll]:
    """`ID:mark` (never polled yet) or `ID:mark:polled:age` entries."""
    pending: dict[int, Poll] = {}
    for fields in entries(text):
        number, mark = fields[0], fields[1] if len(fields) > 1 else ""
        shown = ":".join(fields)
        well_formed = number.isdigit() and int(number) >= 1 and mark.isalnum()
        if len(fields) not in {2, 4} or not well_formed:
            msg = f"{shown!r} is not an ID:fingerprint or ID:fingerprint:polled:age entry"
            raise ValueError(msg)
        poll = Poll(mark)
        if len(fields) == 4:  # noqa: PLR2004
            try:
                polled_at, age = int(fields[2], 36) + TIME_ORIGIN, int(fields[3], 36)
            except ValueError:
                msg = f"{shown!r}: poll time and age must be base-36 numbers"
                raise ValueError(msg) from None
            if age < 0:
                msg = f"{shown!r}: an age cannot be negative"
                raise ValueError(msg)
            poll = Poll(mark, polled_at, age)
        pending[int(number)] = poll
    return pending


def _read_unsent(value: object) -> dict[str, RangeSet]:
    if not isinstance(value, dict) or not all(
        isinstance(name, str) and isinstance(ids, str) for name, ids in value.items()
    ):
        msg = "'unsent' should map stream names to ID ranges"
        raise ValueError(msg)
    return {name: RangeSet.from_text(ids) for name, ids in value.items()}


# The completed interviews' digests -------------------------------------------------------


def digest_text(digest: Digest) -> str:
    """One digest: DIGEST_CHARS base-36 characters."""
    return digest.record + digest.transcript + base36(digest.turns, TURNS_CHARS)


def read_digest(text: str) -> Digest | None:
    """One digest (None: UNKNOWN, or not a digest)."""
    if len(text) != DIGEST_CHARS or text == UNKNOWN or not set(text) <= _DIGITS36:
        return None
    transcript_end = DIGEST_CHARS - TURNS_CHARS
    return Digest(text[:RECORD_CHARS], text[RECORD_CHARS:transcript_end], int(text[-3:], 36))


def digests_text(ids: list[int], digests: dict[int, Digest]) -> str:
    """The digests of `ids`, in their order, UNKNOWN for those without one."""
    return "".join(digest_text(digests[i]) if i in digests else UNKNOWN for i in ids)


def read_digests(ids: list[int], text: str) -> dict[int, Digest]:
    """The digests stored for `ids` (in their order); none if the two do not line up.

    A state merged or edited by hand may hold other IDs than the digests were written
    for: then every digest is unknown, and each interview is emitted again at its next
    re-read (an upsert of what the warehouse has), rather than compared with another's.
    """
    if len(text) != DIGEST_CHARS * len(ids):
        return {}
    digests = {}
    for index, interview_id in enumerate(ids):
        digest = read_digest(text[index * DIGEST_CHARS : (index + 1) * DIGEST_CHARS])
        if digest is not None:
            digests[interview_id] = digest
    return digests


# Discovery's memory ----------------------------------------------------------------------


def scan_text(memory: ScanMemory) -> str:
    """Discovery's memory as one short string (see the module docstring)."""
    parts = [f"n{memory.next_id}"]
    if memory.gaps:
        parts.append("g" + ",".join(_gap_text(gap) for gap in memory.gaps))
    if memory.anchors:
        parts.append("a" + ",".join(f"{i}@{time36(t)}" for i, t in memory.anchors))
    parts.append(f"s{memory.ours}/{memory.settled}")
    if memory.rate:
        parts.append(f"r{memory.rate * 3600:.4g}")
    if round(memory.clock_offset):
        parts.append(f"o{round(memory.clock_offset)}")
    if memory.hours:
        parts.append(f"w{memory.hours:x}@{time36(memory.hours_since)}")
    if memory.resting:
        parts.append(f"q{memory.resting:x}")
    if memory.scouts:
        parts.append(f"x{memory.scouts}@{round(memory.scouted_after)}")
    return ";".join(parts)


def read_scan(text: str) -> ScanMemory:
    """Discovery's memory from `scan_text`'s form.

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


def _pair(text: str, separator: str, what: str) -> tuple[str, str]:
    first, _, second = text.partition(separator)
    if not first or not second:
        msg = f"{text!r} is not {what}"
        raise ValueError(msg)
    return first, second


def _memory_from_fields(fields: dict[str, str]) -> ScanMemory:
    memory = ScanMemory(int(fields["n"]))
    if fields.get("g"):
        memory.gaps = [_read_gap(item) for item in fields["g"].split(",")]
    for item in fields["a"].split(",") if fields.get("a") else ():
        number, when = _pair(item, "@", "an anchor (ID@created)")
        if not number.isdigit():
            msg = f"{item!r} is not an anchor (ID@created)"
            raise ValueError(msg)
        memory.anchors.append((int(number), instant36(when)))
    memory.rate = float(fields.get("r", 0)) / 3600
    if "w" in fields:
        mask, _, since = fields["w"].partition("@")
        memory.hours, memory.hours_since = int(mask, 16), instant36(since or "0")
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
    _check_scan(memory, fields)
    return memory


def _check_scan(memory: ScanMemory, fields: dict[str, str]) -> None:
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


def _gap_text(gap: Gap) -> str:
    ids = str(gap.low) if gap.low == gap.high else f"{gap.low}-{gap.high}"
    return f"{ids}@{time36(gap.probed_at)}.{gap.checks}"


def _read_gap(item: str) -> Gap:
    ids, _, rest = item.partition("@")
    when, _, checks = rest.partition(".")
    low, _, high = ids.partition("-")
    if not low.isdigit() or not (high or low).isdigit() or not checks.isdigit():
        msg = f"{item!r} is not a gap (IDs@probed.checks)"
        raise ValueError(msg)
    gap = Gap(int(low), int(high or low), instant36(when), int(checks))
    if gap.low < 1 or gap.high < gap.low:
        msg = f"{item!r} is not an ascending range of positive IDs"
        raise ValueError(msg)
    return gap


INTERVIEWS_RESUME = Resumable(
    STATE_KEY,
    read_interviews,
    "interview state",
    "every configured ID will be fetched again, and ID discovery (if scan_start_id is set) "
    "starts again from scan_start_id",
)
