"""The judge: what one answer means, and what follows from it. Pure.

No SDK, no HTTP, no logging, no clock: the shell (`streams.py`) passes in the answer, what
is known of its ID (the lifecycle state), the run's rules and the time; it gets back a
`Verdict` (the record to emit or none, its turn rows, the turns to mark deleted, and what
is known of the ID after, applied once the record is written) and reports it.

An interview seen before that answers 404 is judged with the run's others, by the rule
deals follow too (`absence.py`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from tap_hindsight.answers import FetchResult, Outcome
from tap_hindsight.encoding import fingerprint
from tap_hindsight.lifecycle import Learned, LifecycleState
from tap_hindsight.recheck import Digest
from tap_hindsight.records import (
    COMPLETED,
    KNOWN_STATUSES,
    RecordValidator,
    parse_datetime,
    storable,
)
from tap_hindsight.transcript import is_interviewer, parse_turns, word_count

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime


class Kind(Enum):
    """What an answer turned out to be (the run's summary counts each)."""

    #: No answer: the deadline or a stop came first. Nothing changes.
    CANCELLED = "cancelled"
    #: Could not be fetched: fetched again next run.
    FAILED = "failed"
    #: Does not match the schema: not emitted, fetched again next run.
    INVALID = "invalid"
    #: 404 for an ID never seen (or a discovery probe's miss): nothing to emit.
    NOT_FOUND = "not found"
    #: 404 for an interview seen before: judged with the run's others (`judge_absence`).
    GONE = "gone"
    #: Created before `start_date`: not emitted, not fetched again while it holds.
    BEFORE_START = "before start_date"
    #: Completed, the first time this tap sees it so.
    COMPLETED = "completed"
    #: Completed before, and read again (the re-read cycle, or a stream's history).
    REREAD = "re-read"
    #: Not completed yet, and new or changed: emitted.
    PENDING = "pending"
    #: Not completed yet, and the same as last emitted: nothing to emit.
    UNCHANGED = "unchanged"


class Asked(Enum):
    """Why the run asked for an ID."""

    #: From the plan: configured, failed, missing, a stream's history, or pending and due.
    PLAN = "plan"
    #: Discovery's probe: its 404 is a miss, not a warning.
    PROBE = "probe"
    #: The re-read cycle, for a completed interview.
    REREAD = "re-read"


@dataclass(frozen=True)
class Rules:
    """What judging needs from the settings and the run: fixed for a run."""

    #: The parent stream's name (`interviews`), and its children's (`interview_turns`).
    stream: str
    children: frozenset[str]
    #: The streams selected in this run.
    selected: frozenset[str]
    validator: RecordValidator
    interviewers: tuple[str, ...] = ()
    start_date: datetime | None = None


@dataclass
class Verdict:
    """The judge's answer for one fetch result."""

    kind: Kind
    #: The record fetched (None: nothing to emit).
    record: dict[str, Any] | None = None
    #: Hand the record to the SDK, which writes it if the stream is selected.
    row: bool = False
    #: The turn rows to emit (with the row, or on their own for a stream's history).
    turns: list[dict[str, Any]] | None = None
    #: Turns a replaced transcript no longer has (their indexes): emitted as deleted.
    vanished: range = range(0)
    #: What is known of the ID once the record is written (None: nothing changes yet).
    learned: Learned | None = None
    #: Why it failed (FAILED, INVALID).
    problem: str = ""
    #: A re-read found the record changed (REREAD).
    changed: bool = False
    #: A status Hindsight does not document: emitted as it is, treated as not completed.
    unknown_status: str | None = None


def judge(
    answer: FetchResult,
    known: LifecycleState,
    rules: Rules,
    now: int,
    asked: Asked = Asked.PLAN,
) -> Verdict:
    """Judge one answer at `now` (epoch seconds), asked for as `asked` says."""
    interview_id = answer.interview_id
    if answer.outcome is Outcome.CANCELLED:
        return Verdict(Kind.CANCELLED)
    if answer.outcome is Outcome.NOT_FOUND:
        if asked is not Asked.PROBE and known.seen(interview_id):
            return Verdict(Kind.GONE)
        return Verdict(Kind.NOT_FOUND, learned=Learned("not_found"))
    if answer.outcome is Outcome.FAILED or answer.record is None:
        return Verdict(Kind.FAILED, problem=answer.error, learned=Learned("failed"))
    record: dict[str, Any] = storable(answer.record)
    problems = rules.validator.problems(record)
    if not problems and record["interview_request_id"] != interview_id:
        carried = record["interview_request_id"]
        problems = [f"field 'interview_request_id': the answer carries {carried!r}"]
    if problems:
        return Verdict(Kind.INVALID, problem="; ".join(problems), learned=Learned("failed"))
    if rules.start_date is not None and parse_datetime(record["created_at"]) < rules.start_date:
        verdict = Verdict(Kind.BEFORE_START, learned=Learned("out_of_range"))
    elif record["status"] == COMPLETED:
        verdict = _completed(record, known, rules, reread=asked is Asked.REREAD)
    else:
        verdict = _pending(record, known, rules, now)
    if record["status"] not in KNOWN_STATUSES:
        verdict.unknown_status = record["status"]
    return verdict


def _completed(
    record: dict[str, Any], known: LifecycleState, rules: Rules, *, reread: bool
) -> Verdict:
    """A final record: each stream that lacks it gets it, once; the others are noted.

    A re-read compares it with the digest of what was emitted: an edited record goes out
    again, and its turns only if the transcript changed; the turns a replaced transcript
    no longer has go out as deleted.
    """
    interview_id = record["interview_request_id"]
    first = interview_id not in known.completed
    wanted = {
        name
        for name in (rules.stream, *rules.children)
        if first or known.is_unsent(name, interview_id)
    }
    before = known.digests.get(interview_id)
    current = Digest.of(record, 0)  # its turns are counted below, as they go out
    # A first completion; or one emitted before digests were kept: a re-read of the
    # cycle sends it again, a stream's history (a backfill) takes it as it is.
    replaced = edited = first or reread
    if before is not None:
        replaced = current.transcript != before.transcript
        edited = current.record != before.record
    changed = not first and (replaced or edited)
    if changed:
        wanted.add(rules.stream)
    if not first and replaced:
        wanted |= rules.children
    if not record.get("transcript"):
        wanted -= rules.children  # no turns to emit
    emitted = frozenset(wanted & rules.selected)
    # The digest counts the turns emitted: parsed only when they go out.
    rows = turn_rows(record, rules.interviewers) if emitted - {rules.stream} else None
    digest, vanished = digest_and_vanished(current, before, replaced=replaced, rows=rows)
    return Verdict(
        Kind.COMPLETED if first else Kind.REREAD,
        record,
        row=rules.stream in wanted,
        turns=rows,
        vanished=vanished,
        learned=Learned(
            "completed", digest=digest, sent=emitted, unsent=frozenset(wanted) - emitted
        ),
        changed=changed,
    )


def _pending(record: dict[str, Any], known: LifecycleState, rules: Rules, now: int) -> Verdict:
    """A record that may still change: emitted when it did, and its poll noted."""
    interview_id = record["interview_request_id"]
    mark = fingerprint(record)
    anchor = record_anchor(record, now)
    polled = Learned("pending", mark=mark, polled_at=now, anchor=anchor)
    if known.is_unchanged(interview_id, mark) and not known.is_unsent(rules.stream, interview_id):
        return Verdict(Kind.UNCHANGED, learned=polled)
    selected = rules.stream in rules.selected
    sent = frozenset({rules.stream}) if selected else frozenset()
    unsent = frozenset() if selected else frozenset({rules.stream})
    children = bool(rules.selected - {rules.stream})
    rows = turn_rows(record, rules.interviewers) if record.get("transcript") and children else None
    return Verdict(
        Kind.PENDING,
        record,
        row=True,
        turns=rows,
        learned=replace(polled, sent=sent, unsent=unsent),
    )


def digest_and_vanished(
    current: Digest, known: Digest | None, *, replaced: bool, rows: list[Any] | None
) -> tuple[Digest, range]:
    """What to remember of a completed record, and the indexes of turns that vanished.

    `rows`: the turns going out now (None: none do; an unchanged transcript keeps its
    count, a changed one that does not go out counts none).
    """
    turns = len(rows) if rows is not None else 0
    if rows is None and known is not None and not replaced:
        turns = known.turns
    digest = current.with_turns(turns)
    vanished = range(digest.turns, known.turns) if known is not None and replaced else range(0)
    return digest, vanished


def record_anchor(record: dict[str, Any], now: int) -> int:
    """Where a record's age counts from: the latest of its creation and its email (epoch s).

    An instant the schema's date-time format admits but Python cannot parse is left out;
    without either, the age counts from `now` (young: polled often rather than late).
    """
    instants = []
    for name in ("created_at", "email_sent_at"):
        with contextlib.suppress(AttributeError, KeyError, TypeError, ValueError):
            instants.append(int(parse_datetime(record[name]).timestamp()))
    return max(instants, default=now)


def turn_rows(record: dict[str, Any], interviewers: Iterable[str]) -> list[dict[str, Any]]:
    """The `interview_turns` rows of a record's transcript, parsed without another request."""
    transcript = record.get("transcript") or {}
    interview_id = record["interview_request_id"]
    return [
        {
            "interview_request_id": interview_id,
            "turn_index": turn.index,
            "speaker": turn.speaker,
            "is_interviewer": is_interviewer(turn.speaker, interviewers),
            "text": turn.text,
            "word_count": word_count(turn.text),
            "document_id": transcript.get("document_id"),
            "transcript_created_at": transcript.get("created_at"),
        }
        for turn in parse_turns(transcript.get("content"))
    ]
