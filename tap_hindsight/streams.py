"""The interviews stream: which IDs are fetched, what is emitted, and what state is kept."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_hindsight.absence import Absence, judge_absence, two_strikes
from tap_hindsight.api import ServerClock
from tap_hindsight.checkpoints import CheckpointedStream, HandedRowsStream
from tap_hindsight.discovery import Discovery, id_source
from tap_hindsight.encoding import duration
from tap_hindsight.interview_run import InterviewRun
from tap_hindsight.judge import Asked, Kind, Rules, Verdict, judge
from tap_hindsight.planner import (
    FIRST_RUN_MINUTES,
    Planning,
    RunPlan,
    accrued_budget,
    plan_run,
    rechecked,
)
from tap_hindsight.progress import Progress, estimate
from tap_hindsight.records import RecordValidator
from tap_hindsight.schemas import load_schema
from tap_hindsight.store import INTERVIEWS_RESUME, read_interviews, write_interviews
from tap_hindsight.summary import (
    SyncReport,
    describe_discovery,
    describe_plan,
    describe_spare,
    discovery_summary,
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
        failed = sorted(self.report.failed)
        problems = [self.report.wrong_key] if self.report.wrong_key else []
        if failed:
            problems.append(
                f"{len(failed)} interviews could not be extracted; the run fails so they are "
                f"not missed silently: {', '.join(map(str, failed))}"
            )
        return "; ".join(problems)

    def _start_run(self) -> InterviewRun:
        """Read the state, plan the run, log what it will do, and prepare the client."""
        settings = self.run.settings
        lifecycle = read_interviews(self.stored_bookmark(), self._unsent_before_version_2())
        start = settings.start_date.isoformat() if settings.start_date else None
        lifecycle.apply_start_date(start)
        self._selected = self.selected_streams()
        plan = self._plan(lifecycle)
        discovery = None
        if settings.scan_start_id is not None:
            if lifecycle.scan is not None:  # the API's clock as the last run saw it
                self._clock.offset = lifecycle.scan.clock_offset
            discovery = Discovery(
                settings.scan_start_id, lifecycle.scan, lifecycle, plan.ids, clock=self._clock
            )
        self.report = SyncReport(plan=plan, max_run_minutes=settings.max_run_minutes)
        self._log_start(plan, len(lifecycle.completed), discovery)
        limiter = self.run.limiter
        report = self.report
        progress = Progress(
            self.logger,
            len(plan.ids),
            settings.budget,
            lambda: (report.fetched, limiter.sent_in_last(60), limiter.blocked_seconds),
        )
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

    def _plan(self, lifecycle: LifecycleState) -> RunPlan:
        """The core's plan for this run, now; the state notes when the run started."""
        settings = self.run.settings
        now = time.time()
        first_minutes = settings.max_run_minutes or FIRST_RUN_MINUTES
        planning = Planning(
            settings.poll_policy,
            self._selected,
            settings.recheck_completed_days,
            share=settings.poll_budget_share,
            accrued=accrued_budget(settings.budget, now, lifecycle.run_started, first_minutes),
        )
        plan = plan_run(lifecycle, settings.interview_ids, now, planning)
        lifecycle.run_started = now
        return plan

    def _log_start(self, plan: RunPlan, completed: int, discovery: Discovery | None) -> None:
        """The start lines: what the run polls and what waits, the budget, the estimate."""
        settings = self.run.settings
        self.logger.info(
            "%s%s from %s; budget %s, %d requests at a time%s; %s",
            describe_plan(plan, completed, time.time()),
            ", with ID discovery (polls and probes take turns)" if discovery else "",
            settings.base_url,
            settings.describe_budget(),
            settings.concurrency,
            self.run.describe_deadline(),
            describe_spare(plan, settings.poll_budget_share),
        )
        self.logger.info(
            estimate(len(plan.ids), settings.budget, discovering=discovery is not None)
        )
        if discovery is not None:
            self.logger.info("%s", describe_discovery(discovery))
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
            behind = discovery.behind(self._clock())
            if behind:
                self.logger.warning(
                    "ID discovery could not keep up: %d IDs the platform has probably "
                    "handed out were not probed in this run (its budget or max_run_minutes "
                    "ran out first); the next run goes on from there",
                    behind,
                )
        stop = self.run.stop
        if run.client.deadline_reached or stop.requested:
            self.report.deferred = len(run.plan.ids) - run.answered
        if stop.requested:
            self.logger.warning(
                "Stopped by %s: no new request was started, those in flight finished and "
                "their records went out; the STATE that follows covers every record "
                "written, and the next run goes on from there",
                stop.signal,
            )
        self.report.waited_seconds = run.client.limiter.blocked_seconds
        self.report.elapsed_seconds = run.progress.elapsed()
        self.logger.info("%s", self.report.summary(time.time()))
        self._current = None

    def _tell_eta(self, discovery: Discovery) -> None:
        """Once the API's clock is known: how far discovery is behind, and for how long.

        Said only when it is far behind: a first run from an old `scan_start_id`, or one
        after a long pause.
        """
        settings = self.run.settings
        backlog = discovery.backlog(self._clock())
        if backlog > settings.budget:
            self.logger.info(
                "ID discovery: about %s IDs to go up to where the platform's counter "
                "should be; at %s requests/min beside the polls that is about %s%s",
                f"{backlog:,}",
                f"{settings.budget:,}",
                duration(backlog / settings.budget * 60),
                ", spread over runs by max_run_minutes"
                if settings.max_run_minutes is not None
                else "",
            )

    def _settle_deletions(self, run: InterviewRun) -> None:
        """Interviews seen before that answered 404: missing the first time, then deleted.

        One 404 can be a glitch: an interview is deleted when it answers 404 in two runs
        in a row, and then emitted once more with `_sdc_deleted_at` (its transcript null
        unless `erase_deleted` is false). A key of another organisation answers 404 for
        every interview: `absence.judge_absence` says when none is marked, and when the run
        fails.
        """
        gone = run.gone
        if not gone:
            return
        lifecycle = run.lifecycle
        asked = run.known_answered
        absence = judge_absence(len(gone), asked)
        if absence is Absence.WRONG_KEY:
            self.report.wrong_key = (
                f"{len(gone):,} of the {asked:,} interviews this run asked for that answered "
                "before now answer 404 (not found): the API key may belong to another "
                "organisation. None is marked deleted; check api_key, and the next run with "
                "the right key finds them as they were"
            )
            return
        if absence is Absence.NONE_LEFT:
            self.logger.warning(
                "%d interviews that answered before now answer 404 and none answered: "
                "none is marked missing or deleted (a key of another organisation would "
                "answer so); they are asked again next run",
                len(gone),
            )
            return
        strikes = two_strikes(gone, lifecycle.missing)
        for interview_id in strikes.first:
            lifecycle.mark_missing(interview_id)
        self.report.missing += len(strikes.first)
        if strikes.second:
            self._emit_deleted(strikes.second, lifecycle)
        self.logger.info(
            "%d interviews seen before answered 404: %d for the first time (asked again "
            "next run), %d a second time in a row (deleted: emitted with _sdc_deleted_at%s)",
            len(gone),
            len(strikes.first),
            len(strikes.second),
            ", transcript erased" if self.run.settings.erase_deleted else "",
        )

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

    def _unsent_before_version_2(self) -> tuple[str, ...]:
        """Child streams an old state says nothing of: they never emitted its IDs."""
        known = self.run.streams_in_state
        return tuple(child.name for child in self.child_streams if child.name not in known)

    def _answer(self, run: InterviewRun, result: FetchResult) -> Verdict:
        """Count one answer, tell discovery, and judge it (main thread only)."""
        report = self.report
        report.count(result)
        run.count(result, report)
        interview_id = result.interview_id
        discovery = run.discovery
        self._clock.saw(result.server_time)
        if discovery is not None and not self._eta_told and self._clock.sampled:
            self._eta_told = True
            self._tell_eta(discovery)
        probe = discovery is not None and discovery.is_probe(interview_id)
        if discovery is not None:
            discovery.heard(result, probe=probe)
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
