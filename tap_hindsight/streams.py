"""The interviews stream: which IDs are fetched, what is emitted, and what state is kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from singer_sdk import metrics
from typing_extensions import override

from tap_hindsight.client import FetchResult, HindsightClient, Outcome
from tap_hindsight.progress import Progress, duration, estimate
from tap_hindsight.records import COMPLETED, KNOWN_STATUSES, RecordValidator, storable
from tap_hindsight.schemas import load_schema
from tap_hindsight.seams import CreatedAtBookmark, HindsightStream, RunCounter, RunTimer
from tap_hindsight.settings import parse_datetime
from tap_hindsight.state import STATE_KEY, Discovery, LifecycleState, fingerprint, id_source
from tap_hindsight.transcript import is_interviewer, parse_turns, word_count

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from singer_sdk.helpers.types import Context

    from tap_hindsight.tap import TapHindsight

#: A STATE message once this many fetch results and turn records went out (so at least
#: every N records, rounded up to the end of an interview's turns).
CHECKPOINT_EVERY = 50


@dataclass
class SyncReport:
    """What one run did, counted on the main thread. Failures fail the run at the end."""

    ids: int = 0
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
    requests_sent: int = 0
    rate_limited: int = 0
    budget_pauses: int = 0
    waited_seconds: float = 0.0
    elapsed_seconds: float = 0.0

    def count(self, result: FetchResult) -> None:
        """Add one fetch result's requests to the totals."""
        self.requests_sent += result.requests_sent
        self.rate_limited += result.rate_limited
        self.budget_pauses += result.budget_pauses
        if result.outcome is not Outcome.CANCELLED:
            self.fetched += 1

    def summary(self) -> str:
        """The end-of-run summary line."""
        return (
            f"Summary: {self.fetched:,} IDs fetched ({self.ids:,} to poll, {self.probes:,} "
            f"discovery probes finding {self.discovered:,}); {self.emitted:,} records "
            f"emitted ({self.completed:,} completed, {self.pending:,} pending), "
            f"{self.unchanged:,} unchanged, {self.before_start_date:,} before start_date, "
            f"{len(self.not_found):,} not found, {len(self.failed):,} failed; "
            f"{self.requests_sent:,} requests sent, {self.rate_limited:,} rate-limited "
            f"(429), {self.budget_pauses:,} pauses for a budget shared with other clients, "
            f"{duration(self.waited_seconds)} waiting for the rate limit, in "
            f"{duration(self.elapsed_seconds)}"
        )


def _nothing() -> None:
    """Nothing to remember."""


class InterviewsStream(HindsightStream):
    """One record per interview request, transcript included once completed."""

    name = "interviews"
    primary_keys = ("interview_request_id",)
    replication_key = "created_at"
    # The SDK's own checkpoint would come after a record but before our per-ID state
    # learns of it; this stream writes its own checkpoints (CHECKPOINT_EVERY) instead.
    STATE_MSG_FREQUENCY = 10**12

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
        #: Fetch results and turn records since the last STATE (turns add to it).
        self.since_checkpoint = 0

    @property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        # One context for all IDs: a partition per ID does not scale (each state lookup
        # scans the list), and an old state's `partitions` must not turn them back on.
        return None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        settings = self.hindsight_tap.settings
        lifecycle = LifecycleState.from_bookmark(self.stream_state.get(STATE_KEY))
        start = settings.start_date.isoformat() if settings.start_date else None
        lifecycle.apply_start_date(start)
        ids = lifecycle.ids_to_fetch(settings.interview_ids)
        discovery = None
        if settings.scan_start_id is not None:
            scan_from = max(settings.scan_start_id, lifecycle.scan_next_id or 0)
            discovery = Discovery(scan_from, settings.scan_max_misses, lifecycle, set(ids))
        self.report = SyncReport(ids=len(ids))
        bookmark = CreatedAtBookmark(self.stream_state, self.replication_key)
        self.logger.info(
            "Polling %d interviews (%d completed ones skipped)%s from %s; budget %s, "
            "%d requests at a time",
            len(ids),
            len(lifecycle.completed),
            f", then discovering IDs from {discovery.next_id}" if discovery else "",
            settings.base_url,
            settings.describe_budget(),
            settings.concurrency,
        )
        self.logger.info(estimate(len(ids), settings.budget, discovering=discovery is not None))
        client = HindsightClient(settings, self.logger)
        limiter = client.limiter
        progress = Progress(
            self.logger,
            len(ids),
            settings.budget,
            lambda: (self.report.fetched, limiter.sent_in_last(60), limiter.blocked_seconds),
        )
        try:
            source = id_source(ids, discovery)
            for result in client.fetch_all(source, progress.tick):
                progress.tick()
                record, remember = self._accept(result, lifecycle, discovery)
                if record is not None:
                    yield record
                    self.report.emitted += 1
                    bookmark.saw(record["created_at"])
                # Only now is the record written: state may cover it.
                remember()
                if discovery is not None:
                    discovery.kept(result.interview_id)
                self.since_checkpoint += 1
                if self.since_checkpoint >= CHECKPOINT_EVERY:
                    self.since_checkpoint = 0
                    self._store(lifecycle, discovery)
                    self.hindsight_tap.state_writer.write_state(self.tap_state)
        finally:
            client.close()
            bookmark.release()
            for child in self.child_streams:
                if isinstance(child, InterviewTurnsStream) and child.selected:
                    child.report_metrics()
            self._store(lifecycle, discovery)
            if discovery is not None:
                self.report.probes = discovery.probes
                self.report.discovered = discovery.found
            self.report.waited_seconds = client.limiter.blocked_seconds
            self.report.elapsed_seconds = progress.elapsed()
            self.logger.info("%s", self.report.summary())

    @override
    def generate_child_contexts(
        self,
        record: dict[str, Any],
        context: Context | None,
    ) -> Iterable[Context | None]:
        # Only an interview with a transcript has turns; the SDK syncs the children with
        # each context yielded, right before it writes this record.
        transcript = record.get("transcript")
        if transcript and any(child.selected for child in self.child_streams):
            interview_id = record["interview_request_id"]
            self._transcripts[interview_id] = transcript
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
    ) -> tuple[dict[str, Any] | None, Callable[[], None]]:
        """Judge one fetch result (main thread only).

        Returns the record to emit (or None) and what to remember once it is emitted.
        """
        report = self.report
        report.count(result)
        interview_id = result.interview_id
        probe = discovery is not None and discovery.is_probe(interview_id)
        if probe and discovery is not None:
            discovery.answered(interview_id, exists=result.outcome is Outcome.OK)
        if result.outcome is Outcome.CANCELLED:
            return None, _nothing
        if result.outcome is Outcome.NOT_FOUND:
            if not probe:
                report.not_found.append(interview_id)
                self.logger.warning(
                    "Interview %d not found (HTTP 404): it does not exist or belongs to "
                    "another organisation; skipped",
                    interview_id,
                )
            return None, lambda: lifecycle.mark_not_found(interview_id)
        if result.outcome is Outcome.FAILED or result.record is None:
            report.failed[interview_id] = result.error
            self.logger.error("Interview %d failed: %s", interview_id, result.error)
            return None, lambda: lifecycle.mark_failed(interview_id)
        record: dict[str, Any] = storable(result.record)
        problems = self._problems(interview_id, record)
        if problems:
            report.failed[interview_id] = problems
            self.logger.error(
                "Interview %d not emitted: it does not match the schema: %s",
                interview_id,
                problems,
            )
            return None, lambda: lifecycle.mark_failed(interview_id)
        start_date = self.hindsight_tap.settings.start_date
        if start_date is not None and parse_datetime(record["created_at"]) < start_date:
            report.before_start_date += 1
            return None, lambda: lifecycle.mark_out_of_range(interview_id)
        if record["status"] == COMPLETED:
            report.completed += 1
            return record, lambda: lifecycle.mark_completed(interview_id)
        mark = fingerprint(record)
        if lifecycle.is_unchanged(interview_id, mark):
            report.unchanged += 1
            return None, _nothing
        report.pending += 1
        return record, lambda: lifecycle.mark_pending(interview_id, mark)

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


class InterviewTurnsStream(HindsightStream):
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
        # The SDK syncs a child stream once per parent record: one counter and one timer
        # for the whole run keep its METRIC lines from being logged per interview.
        self.run_counter = RunCounter(self.name)
        self.run_timer = RunTimer(self.name)

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        # "Beginning sync of 'interview_turns'" would be logged once per interview.
        super().log(
            message, *args, level=logging.DEBUG if level == logging.INFO else level, **kwargs
        )

    @override
    def get_record_counter(
        self,
        *,
        endpoint: str | None = None,
        log_interval: float = metrics.DEFAULT_LOG_INTERVAL,
    ) -> RunCounter:
        return self.run_counter

    @override
    def get_sync_timer(self) -> RunTimer:
        return self.run_timer

    def report_metrics(self) -> None:
        """Log the run's turn count and parsing time, once."""
        self.run_counter.report()
        self.run_timer.report()

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
            self.interviews.since_checkpoint += 1
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
