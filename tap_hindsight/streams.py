"""The interviews stream: which IDs are fetched, what is emitted, and what state is kept."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_hindsight.client import FetchResult, HindsightClient, Outcome, RequestTally
from tap_hindsight.discovery import Discovery, id_source
from tap_hindsight.encoding import fingerprint
from tap_hindsight.lifecycle import STATE_KEY, LifecycleState, RunPlan
from tap_hindsight.progress import Progress, duration, estimate
from tap_hindsight.records import (
    COMPLETED,
    KNOWN_STATUSES,
    RecordValidator,
    parse_datetime,
    storable,
)
from tap_hindsight.schemas import load_schema
from tap_hindsight.seams import CheckpointedStream, ChildStream, CreatedAtBookmark
from tap_hindsight.transcript import is_interviewer, parse_turns, word_count

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from singer_sdk.helpers.types import Context

    from tap_hindsight.tap import TapHindsight


@dataclass
class SyncReport(RequestTally):
    """What one run did, counted on the main thread. Failures fail the run at the end."""

    #: What the run set out to poll, and the pending interviews it left as not due.
    plan: RunPlan = field(default_factory=lambda: RunPlan([]))
    fetched: int = 0
    emitted: int = 0
    unchanged: int = 0
    completed: int = 0
    pending: int = 0
    before_start_date: int = 0
    probes: int = 0
    discovered: int = 0
    not_found: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    waited_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    #: The run's deadline in minutes (None: none), and the due IDs it left for next run.
    max_run_minutes: float | None = None
    deferred: int = 0

    def count(self, result: FetchResult) -> None:
        """Add one fetch result's requests to the totals."""
        self.add(result)
        if result.outcome is not Outcome.CANCELLED:
            self.fetched += 1

    def summary(self) -> str:
        """The end-of-run summary line."""
        return (
            f"Summary: {self.fetched:,} IDs fetched ({len(self.plan.ids):,} to poll, "
            f"{self.probes:,} discovery probes finding {self.discovered:,}); "
            f"{self.emitted:,} records "
            f"emitted ({self.completed:,} completed, {self.pending:,} pending), "
            f"{self.unchanged:,} unchanged, {self.before_start_date:,} before start_date, "
            f"{len(self.not_found):,} not found, {len(self.failed):,} failed; "
            f"{self.requests_sent:,} requests sent, {self.rate_limited:,} rate-limited "
            f"(429), {self.budget_pauses:,} pauses for a budget shared with other clients, "
            f"{duration(self.waited_seconds)} waiting for the rate limit, in "
            f"{duration(self.elapsed_seconds)}; {not_due_text(self.plan)}"
            + (
                f"; {self.deferred:,} due interviews deferred to the next run by "
                f"max_run_minutes ({self.max_run_minutes:g})"
                if self.max_run_minutes is not None
                else ""
            )
        )


def not_due_text(plan: RunPlan) -> str:
    """`3 pending not due yet (the next at 2026-11-29T05:00:00Z, in 1h05m)`."""
    if not plan.not_due or plan.next_due is None:
        return "0 pending not due yet"
    at = datetime.fromtimestamp(plan.next_due, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    wait = duration(plan.next_due - time.time())
    return f"{plan.not_due:,} pending not due yet (the next at {at}, in {wait})"


@dataclass
class Decision:
    """What to do with one fetch result (main thread only)."""

    #: The record fetched (None: nothing to emit).
    record: dict[str, Any] | None = None
    #: Hand the record to the SDK, which writes it if this stream is selected (and syncs
    #: its turns first if `turns`).
    row: bool = False
    #: Emit this record's turns (with the row, or on their own for a turns backfill).
    turns: bool = False
    #: What to remember once the record is out.
    remember: Callable[[], None] = field(default=lambda: None)


@dataclass
class _Run:
    """One run of the interviews stream: what it works from and with."""

    lifecycle: LifecycleState
    plan: RunPlan
    discovery: Discovery | None
    client: HindsightClient
    progress: Progress
    bookmark: CreatedAtBookmark
    #: Planned IDs whose answer came (not cut short by the deadline or a stop).
    answered: int = 0
    _planned: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._planned = set(self.plan.ids)

    def count(self, result: FetchResult) -> None:
        """Count a planned ID's answer (the deadline's deferred IDs are the rest)."""
        if result.interview_id in self._planned and result.outcome is not Outcome.CANCELLED:
            self.answered += 1


class InterviewsStream(CheckpointedStream):
    """One record per interview request, transcript included once completed."""

    name = "interviews"
    primary_keys = ("interview_request_id",)
    replication_key = "created_at"

    def __init__(self, tap: TapHindsight) -> None:
        """Attach the stream to `tap`, whose checked settings it reads at sync time."""
        super().__init__(tap, schema=load_schema("interviews"), name=self.name)
        self.hindsight_tap = tap
        self.report = SyncReport()
        self._validator = RecordValidator(self.schema)
        self._unknown_statuses: set[str] = set()
        # Transcripts handed to the turns stream, by interview ID: a child's context is
        # written to state and logged, so it carries only the ID.
        self._transcripts: dict[int, dict[str, Any]] = {}
        #: The streams selected in this run (this one and its children).
        self._selected: frozenset[str] = frozenset()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        run = self._start_run()
        try:
            source = id_source(run.plan.ids, run.discovery)
            for result in run.client.fetch_all(source, run.progress.tick):
                run.progress.tick()
                run.count(result)
                decision = self._accept(result, run.lifecycle, run.discovery)
                interview_id = result.interview_id
                if decision.turns and decision.record is not None:
                    self._transcripts[interview_id] = decision.record["transcript"]
                if decision.row and decision.record is not None:
                    # The SDK writes it (if this stream is selected), syncing its turns first.
                    yield decision.record
                    self.report.emitted += 1
                    run.bookmark.saw(decision.record["created_at"])
                elif decision.turns:
                    self._sync_turns(interview_id)
                # Only now is the record written: state may cover it.
                decision.remember()
                if run.discovery is not None:
                    run.discovery.kept(interview_id)
                # An item per answer, and per turn record (the turns stream counts those):
                # a STATE comes at the end of an interview, never between its turns.
                self.items_since_checkpoint += 1
                if self.checkpoint_due():
                    self._store(run.lifecycle, run.discovery)
                    self.checkpoint()
        finally:
            self._finish_run(run)

    def _start_run(self) -> _Run:
        """Read the state, plan the run, log what it will do, and prepare the client."""
        settings = self.hindsight_tap.settings
        lifecycle = LifecycleState.from_bookmark(
            self.stream_state.get(STATE_KEY), self._unsent_before_version_2()
        )
        start = settings.start_date.isoformat() if settings.start_date else None
        lifecycle.apply_start_date(start)
        self._selected = self.selected_streams()
        plan = lifecycle.plan(
            settings.interview_ids, time.time(), settings.poll_policy, self._selected
        )
        discovery = None
        if settings.scan_start_id is not None:
            scan_from = max(settings.scan_start_id, lifecycle.scan_next_id or 0)
            discovery = Discovery(scan_from, settings.scan_max_misses, lifecycle, set(plan.ids))
        self.report = SyncReport(plan=plan, max_run_minutes=settings.max_run_minutes)
        deadline_text = ""
        if settings.max_run_minutes is not None:
            deadline_text = (
                f"; no request starts after {settings.max_run_minutes:g} minutes (max_run_minutes)"
            )
        self.logger.info(
            "%s%s from %s; budget %s, %d requests at a time%s",
            describe_plan(plan, len(lifecycle.completed)),
            f", then discovering IDs from {discovery.next_id}" if discovery else "",
            settings.base_url,
            settings.describe_budget(),
            settings.concurrency,
            deadline_text,
        )
        self.logger.info(
            estimate(len(plan.ids), settings.budget, discovering=discovery is not None)
        )
        limiter, deadline = self.hindsight_tap.run_limits()
        report = self.report
        progress = Progress(
            self.logger,
            len(plan.ids),
            settings.budget,
            lambda: (report.fetched, limiter.sent_in_last(60), limiter.blocked_seconds),
        )
        return _Run(
            lifecycle,
            plan,
            discovery,
            HindsightClient(settings, self.logger, limiter, deadline),
            progress,
            CreatedAtBookmark(self.stream_state, self.replication_key),
        )

    def _finish_run(self, run: _Run) -> None:
        """Store the state, log the turns' metrics and the summary (also after a failure)."""
        run.client.close()
        run.bookmark.release()
        self.report_child_metrics()
        self._store(run.lifecycle, run.discovery)
        if run.discovery is not None:
            self.report.probes = run.discovery.probes
            self.report.discovered = run.discovery.found
        if run.client.deadline_reached:
            self.report.deferred = len(run.plan.ids) - run.answered
        self.report.waited_seconds = run.client.limiter.blocked_seconds
        self.report.elapsed_seconds = run.progress.elapsed()
        self.logger.info("%s", self.report.summary())

    def _unsent_before_version_2(self) -> list[str]:
        """Child streams an old state says nothing of: they never emitted its IDs."""
        known = self.hindsight_tap.streams_in_state
        return [child.name for child in self.child_streams if child.name not in known]

    def _sync_turns(self, interview_id: int) -> None:
        """Emit the turns of an interview whose row is already in the warehouse."""
        for child in self.child_streams:
            if child.selected:
                child.sync(context={"interview_request_id": interview_id})

    @override
    def generate_child_contexts(
        self,
        record: dict[str, Any],
        context: Context | None,
    ) -> Iterable[Context | None]:
        # Only an interview with a transcript has turns; the SDK syncs the children with
        # each context yielded, right before it writes this record.
        interview_id = record["interview_request_id"]
        if interview_id in self._transcripts:
            yield {"interview_request_id": interview_id}

    def take_transcript(self, interview_id: int) -> dict[str, Any] | None:
        """The transcript handed over for `interview_id` (once)."""
        return self._transcripts.pop(interview_id, None)

    def _store(self, lifecycle: LifecycleState, discovery: Discovery | None) -> None:
        """Put the lifecycle into the stream's bookmark (the SDK writes it out)."""
        if discovery is not None:
            lifecycle.scan_next_id = discovery.resume_at
        self.stream_state[STATE_KEY] = lifecycle.to_bookmark()

    def _accept(  # noqa: PLR0911 (one return per outcome reads as a decision table)
        self,
        result: FetchResult,
        lifecycle: LifecycleState,
        discovery: Discovery | None,
    ) -> Decision:
        """Judge one fetch result (main thread only): what to emit and what to remember."""
        report = self.report
        report.count(result)
        interview_id = result.interview_id
        probe = discovery is not None and discovery.is_probe(interview_id)
        if probe and discovery is not None:
            discovery.answered(interview_id, exists=result.outcome is Outcome.OK)
        if result.outcome is Outcome.CANCELLED:
            return Decision()
        if result.outcome is Outcome.NOT_FOUND:
            if not probe:
                report.not_found.append(interview_id)
                self.logger.warning(
                    "Interview %d not found (HTTP 404): it does not exist or belongs to "
                    "another organisation; skipped",
                    interview_id,
                )
            return Decision(remember=lambda: lifecycle.mark_not_found(interview_id))
        if result.outcome is Outcome.FAILED or result.record is None:
            report.failed[interview_id] = result.error
            self.logger.error("Interview %d failed: %s", interview_id, result.error)
            return Decision(remember=lambda: lifecycle.mark_failed(interview_id))
        record: dict[str, Any] = storable(result.record)
        problems = self._problems(interview_id, record)
        if problems:
            report.failed[interview_id] = problems
            self.logger.error(
                "Interview %d not emitted: it does not match the schema: %s",
                interview_id,
                problems,
            )
            return Decision(remember=lambda: lifecycle.mark_failed(interview_id))
        start_date = self.hindsight_tap.settings.start_date
        if start_date is not None and parse_datetime(record["created_at"]) < start_date:
            report.before_start_date += 1
            return Decision(remember=lambda: lifecycle.mark_out_of_range(interview_id))
        if record["status"] == COMPLETED:
            return self._completed(record, lifecycle)
        return self._pending(record, lifecycle)

    def _completed(self, record: dict[str, Any], lifecycle: LifecycleState) -> Decision:
        """A final record: each stream that lacks it gets it, once; the others are noted."""
        interview_id = record["interview_request_id"]
        first = interview_id not in lifecycle.completed
        streams = [self.name, *(child.name for child in self.child_streams)]
        wanted = {name for name in streams if first or lifecycle.is_unsent(name, interview_id)}
        if not record.get("transcript"):
            wanted -= {child.name for child in self.child_streams}  # no turns to emit
        emitted, missed = wanted & self._selected, wanted - self._selected
        if first:
            self.report.completed += 1

        def remember() -> None:
            lifecycle.mark_completed(interview_id)
            lifecycle.sent_by(emitted, interview_id)
            lifecycle.sent_by(missed, interview_id, sent=False)

        return Decision(record, self.name in wanted, bool(emitted - {self.name}), remember)

    def _pending(self, record: dict[str, Any], lifecycle: LifecycleState) -> Decision:
        """A record that may still change: emitted when it did, and its poll noted."""
        interview_id = record["interview_request_id"]
        mark = fingerprint(record)
        now = int(time.time())
        anchor = record_anchor(record, now)
        unsent = lifecycle.is_unsent(self.name, interview_id)
        if lifecycle.is_unchanged(interview_id, mark) and not unsent:
            self.report.unchanged += 1
            return Decision(
                remember=lambda: lifecycle.mark_pending(interview_id, mark, now, anchor)
            )
        self.report.pending += 1
        selected = self.name in self._selected

        def remember() -> None:
            lifecycle.mark_pending(interview_id, mark, now, anchor)
            lifecycle.sent_by([self.name], interview_id, sent=selected)

        has_turns = bool(record.get("transcript")) and bool(self._selected - {self.name})
        return Decision(record, row=True, turns=has_turns, remember=remember)

    def _problems(self, interview_id: int, record: dict[str, Any]) -> str:
        """Why the record cannot be emitted ('' if it can); warns once per unknown status."""
        problems = self._validator.problems(record)
        if not problems and record["interview_request_id"] != interview_id:
            carried = record["interview_request_id"]
            problems = [f"field 'interview_request_id': the answer carries {carried!r}"]
        if problems:
            return "; ".join(problems)
        status = record["status"]
        if status not in KNOWN_STATUSES and status not in self._unknown_statuses:
            self._unknown_statuses.add(status)
            self.logger.warning(
                "Interview %d has status %r, which Hindsight does not document: emitted "
                "as it is and treated as not completed (this is logged once per status)",
                interview_id,
                status,
            )
        return ""


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


def describe_plan(plan: RunPlan, completed: int) -> str:
    """The start line's account of what this run polls and what waits."""
    return (
        f"Polling {len(plan.ids):,} interviews ({plan.first_time:,} never fetched, "
        f"{plan.failed:,} failed last time, {plan.backfill:,} completed ones for a stream "
        f"selected since, {plan.due:,} pending and due; "
        f"{not_due_text(plan)}; {completed:,} completed skipped)"
    )


class InterviewTurnsStream(ChildStream):
    """One record per speaker turn of a transcript, parsed without another request."""

    name = "interview_turns"
    primary_keys = ("interview_request_id", "turn_index")
    replication_key = None
    parent_stream_type = InterviewsStream
    # One bookmark for the stream, not one partition per interview (they do not scale).
    state_partitioning_keys = ()

    def __init__(self, tap: TapHindsight, interviews: InterviewsStream) -> None:
        """Attach to `tap`; turns come from the transcripts `interviews` emits."""
        super().__init__(tap, schema=load_schema("interview_turns"), name=self.name)
        self.hindsight_tap = tap
        self.interviews = interviews

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        if context is None:
            return
        interview_id = int(context["interview_request_id"])
        transcript = self.interviews.take_transcript(interview_id)
        if transcript is None:
            return
        interviewers = self.hindsight_tap.settings.interviewer_names
        for turn in parse_turns(transcript.get("content")):
            self.interviews.items_since_checkpoint += 1
            yield {
                "interview_request_id": interview_id,
                "turn_index": turn.index,
                "speaker": turn.speaker,
                "is_interviewer": is_interviewer(turn.speaker, interviewers),
                "text": turn.text,
                "word_count": word_count(turn.text),
                "document_id": transcript.get("document_id"),
                "transcript_created_at": transcript.get("created_at"),
            }
