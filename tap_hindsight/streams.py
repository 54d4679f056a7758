"""The interviews stream: which IDs are fetched, what is emitted, and what state is kept."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_hindsight.api import ServerClock
from tap_hindsight.checkpoints import CheckpointedStream, HandedRowsStream
from tap_hindsight.discovery import Discovery
from tap_hindsight.interview_run import InterviewRun, id_source, plan_for, start_lines
from tap_hindsight.judge import Asked, Kind, Rules, Verdict, judge
from tap_hindsight.planner import RunPlan, rechecked
from tap_hindsight.progress import Progress, Snapshot
from tap_hindsight.records import RecordValidator
from tap_hindsight.schemas import load_schema
from tap_hindsight.store import INTERVIEWS_RESUME, read_interviews, write_interviews
from tap_hindsight.summary import (
    SyncReport,
    backlog,
    behind_warning,
    describe_backlog,
    discovery_summary,
    left_behind,
    stopped_line,
    verdict_notes,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_hindsight.answers import FetchResult
    from tap_hindsight.lifecycle import LifecycleState


class InterviewsStream(CheckpointedStream):
    """One record per interview request, transcript included once completed."""

    name = "interviews"
    primary_keys = ("interview_request_id",)
    #: What it serves: the catalog declares the stream INCREMENTAL on `created_at` (what
    #: Meltano and targets read: each run sends new and changed rows, never a whole table
    #: to replace), and the state shows the newest `created_at` seen. What a run fetches
    #: comes from the lifecycle state, never from this key: its progress marker is held
    #: still for the run (checkpoints.CreatedAtBookmark).
    replication_key = "created_at"
    resume = INTERVIEWS_RESUME

    def __init__(self, tap: Tap) -> None:
        """Attach the stream to `tap`; it syncs in the run the tap hands it (`begin_run`)."""
        super().__init__(tap, schema=load_schema("interviews"), name=self.name)
        self.report = SyncReport()
        self._validator = RecordValidator(self.schema)
        self._unknown_statuses: set[str] = set()
        #: The streams selected in this run (this one and its children).
        self._selected: frozenset[str] = frozenset()
        self._current: InterviewRun | None = None
        #: The API's clock, as its answers' `Date` headers show it (discovery's clock).
        self._clock = ServerClock()
        #: Whether this run said how far discovery is behind (once the clock is known).
        self._eta_told = False

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        run = self._current = self._start_run()
        try:
            with self.checkpointed():
                source = id_source(run.plan.ids, run.discovery)
                for result in run.client.fetch_all(source, run.progress.tick):
                    run.progress.tick()
                    verdict = self._answer(run, result)
                    record = verdict.record
                    if record is not None and verdict.turns is not None:
                        rows = {InterviewTurnsStream.name: verdict.turns}
                        if verdict.row:
                            self.hand_to_children(record, rows)  # synced as the row goes out
                        else:
                            self.sync_children(record, rows)  # the row is out already
                    if verdict.row and record is not None:
                        # The SDK writes it (if this stream is selected), its turns first.
                        yield record
                        self.report.emitted += 1
                        self.saw_replication_value(record["created_at"])
                    if verdict.vanished:
                        self._turns_vanished(result.interview_id, verdict.vanished)
                    # Only now is the record written: state may cover it.
                    if verdict.learned is not None:
                        run.lifecycle.learn(result.interview_id, verdict.learned)
                    if run.discovery is not None:
                        run.discovery.kept(result.interview_id)
                    # A STATE comes after an interview and its turns, never between them.
                    self.count_item()
                    self.checkpoint_if_due()
                self._settle_deletions(run)
                # The cycle moves on over the re-reads answered (none, for a wrong key).
                answered = set() if self.report.wrong_key else run.rechecked
                rechecked(run.lifecycle, run.plan, answered)
        finally:
            self._finish_run(run)

    @override
    def bookmark(self) -> dict[str, Any]:
        run = self._current
        if run is None:  # only ever written while a run lasts (checkpointed)
            msg = "the interviews bookmark is written only during a run"
            raise RuntimeError(msg)
        if run.discovery is not None:
            scan = run.discovery.stored()
            scan.clock_offset = self._clock.offset  # the API's clock, for the next run
            run.lifecycle.scan = scan
        return write_interviews(run.lifecycle)

    @override
    def child_context(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"interview_request_id": record["interview_request_id"]}

    @override
    def failures(self) -> str:
        return self.report.failures()

    def _start_run(self) -> InterviewRun:
        """Read the state, plan the run, log what it will do, and prepare the client."""
        settings = self.run.settings
        lifecycle = read_interviews(self.stored_bookmark())
        start = settings.start_date.isoformat() if settings.start_date else None
        lifecycle.apply_start_date(start)
        self._selected = self.selected_streams()
        plan = plan_for(settings, lifecycle, self._selected, time.time())
        discovery = None
        if settings.scan_start_id is not None:
            if lifecycle.scan is not None:  # the API's clock as the last run saw it
                self._clock.offset = lifecycle.scan.clock_offset
            discovery = Discovery(
                settings.scan_start_id, lifecycle.scan, lifecycle, plan.ids, clock=self._clock
            )
        limit, since = settings.max_run_minutes, self.run.limiter.sent
        self.report = SyncReport(plan=plan, max_run_minutes=limit, since=since)
        self._log_start(plan, len(lifecycle.completed), discovery)
        progress = Progress(self.logger, len(plan.ids), settings.budget, self._progress)
        rules = Rules(
            self.name,
            frozenset(child.name for child in self.child_streams),
            self._selected,
            self._validator,
            tuple(settings.interviewer_names),
            settings.start_date,
        )
        client = self.run.client(self.logger)
        return InterviewRun(lifecycle, plan, discovery, client, progress, rules)

    def _progress(self) -> Snapshot:
        """What a progress line says: IDs answered, the rate, the waits, discovery's work."""
        run, limiter = self._current, self.run.limiter
        sent, waited = limiter.sent_in_last(60), limiter.blocked_seconds
        if run is None:
            return Snapshot(0, sent, waited)
        discovery = run.discovery
        if discovery is None:
            return Snapshot(run.answered, sent, waited)
        found, probing = discovery.tally.found, not discovery.idle
        return Snapshot(run.answered, sent, waited, run.probes_answered, found, probing)

    def _log_start(self, plan: RunPlan, completed: int, discovery: Discovery | None) -> None:
        """The start lines at their levels (`interview_run.start_lines`)."""
        lines = start_lines(plan, completed, self.run.settings, discovery, time.time())
        for level, line in lines:
            self.logger.log(level, "%s", line)
        self._eta_told = False

    def _finish_run(self, run: InterviewRun) -> None:
        """Close the client, log the turns' metrics and the summary (also after a failure)."""
        run.client.close()
        self.report_child_metrics()
        discovery = run.discovery
        if discovery is not None:
            tally = discovery.tally
            self.report.probes = tally.sent
            self.report.discovered = tally.found
            self.logger.info("%s", discovery_summary(discovery))
            now = self._clock()
            if behind := left_behind(discovery, now):
                self.logger.warning("%s", behind_warning(behind, backlog(discovery, now)))
        stop = self.run.stop
        self.report.stopped_by = stop.signal
        if run.client.deadline_reached or stop.requested:
            self.report.deferred = len(run.plan.ids) - run.answered
        if stop.requested:
            self.logger.warning("%s", stopped_line(stop.signal))
        self.report.sent_until(run.client.limiter.sent)
        self.report.waited_seconds = run.client.limiter.blocked_seconds
        self.report.elapsed_seconds = run.progress.elapsed()
        self.logger.info("%s", self.report.summary(time.time()))
        self._current = None

    def _tell_eta(self, discovery: Discovery) -> None:
        """Once the API's clock and the counter's speed are known: how far behind, if far."""
        now = self._clock()
        if discovery.model.counter(now) is None:
            return
        self._eta_told = True
        settings = self.run.settings
        ahead = backlog(discovery, now)
        if line := describe_backlog(ahead, settings.budget, settings.max_run_minutes):
            self.logger.info("%s", line)

    def _settle_deletions(self, run: InterviewRun) -> None:
        """404s from interviews seen before (`InterviewRun.settle_gone`): the deleted go out."""
        gone = run.settle_gone(erase_deleted=self.run.settings.erase_deleted)
        if gone is None:
            return
        self.report.wrong_key = gone.wrong_key
        if gone.warning:
            self.logger.warning("%s", gone.warning)
        self.report.missing += len(gone.first)
        if gone.second:
            self._emit_deleted(list(gone.second), run.lifecycle)
        if gone.line:
            self.logger.info("%s", gone.line)

    def _emit_deleted(self, deleted: list[int], lifecycle: LifecycleState) -> None:
        """Emit each deleted interview once more as deleted; the state forgets it."""
        erased: dict[str, Any] = {}
        if self.run.settings.erase_deleted:  # every part of the transcript, flattened or not
            parts = self.schema["properties"]["transcript"].get("properties", {})
            erased["transcript"] = dict.fromkeys(parts)
        self.write_deletions([{"interview_request_id": i, **erased} for i in deleted])
        for interview_id in deleted:  # and each of its turns the state counted
            digest = lifecycle.digests.get(interview_id)
            if digest is not None and digest.turns:
                self._turns_vanished(interview_id, range(digest.turns), count=False)
            lifecycle.mark_deleted(interview_id)
            self.count_item()
        self.report.deleted += len(deleted)

    def _turns_vanished(self, interview_id: int, indexes: range, *, count: bool = True) -> None:
        """Emit turns that no longer exist once more as deleted (their text erased)."""
        erased = dict.fromkeys(("speaker", "text")) if self.run.settings.erase_deleted else {}
        rows = [
            {"interview_request_id": interview_id, "turn_index": index, **erased}
            for index in indexes
        ]
        for child in self.child_streams:
            if isinstance(child, InterviewTurnsStream):
                child.write_deletions(rows)
        if count:
            self.report.vanished_turns += len(rows)

    def _answer(self, run: InterviewRun, result: FetchResult) -> Verdict:
        """Count one answer, tell discovery, and judge it (main thread only)."""
        report = self.report
        report.count(result)
        run.count(result, report)
        interview_id = result.interview_id
        discovery = run.discovery
        self._clock.saw(result.server_time)
        if discovery is not None and not self._eta_told and self._clock.sampled:
            self._tell_eta(discovery)
        probe = run.hear(result)
        asked = Asked.PROBE if probe else Asked.PLAN
        if interview_id in run.rechecks:
            asked = Asked.REREAD
        verdict = judge(result, run.lifecycle, run.rules, int(time.time()), asked)
        report.tally(interview_id, verdict)
        self._log_verdict(interview_id, verdict, probe=probe)
        if verdict.kind is Kind.GONE:
            run.gone.append(interview_id)
        elif verdict.kind is Kind.NOT_FOUND and not probe:
            report.not_found.append(interview_id)
        return verdict

    def _log_verdict(self, interview_id: int, verdict: Verdict, *, probe: bool) -> None:
        """Say what a person must know of one answer (a status is named once a run)."""
        status = verdict.unknown_status
        first_of_status = status is not None and status not in self._unknown_statuses
        if status is not None:
            self._unknown_statuses.add(status)
        for level, line in verdict_notes(interview_id, verdict, probe=probe, first=first_of_status):
            self.logger.log(level, "%s", line)


class InterviewTurnsStream(HandedRowsStream):
    """One record per speaker turn of a transcript: the rows its interview hands over."""

    name = "interview_turns"
    primary_keys = ("interview_request_id", "turn_index")
    parent_stream_type = InterviewsStream

    def __init__(self, tap: Tap, interviews: InterviewsStream) -> None:
        """Attach to `tap`; turns come from the transcripts `interviews` emits."""
        super().__init__(tap, interviews, load_schema(self.name))
