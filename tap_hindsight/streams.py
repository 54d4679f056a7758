"""The interviews stream: which IDs are fetched, what is emitted, and what state is kept."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_hindsight.checkpoints import CheckpointedStream, HandedRowsStream
from tap_hindsight.client import FetchResult, HindsightClient, Outcome, RequestTally
from tap_hindsight.discovery import Discovery, ServerClock, id_source
from tap_hindsight.encoding import fingerprint, iso_instant
from tap_hindsight.lifecycle import INTERVIEWS_RESUME, LifecycleState, RunPlan
from tap_hindsight.progress import Progress, duration, estimate
from tap_hindsight.recheck import Digest
from tap_hindsight.records import (
    COMPLETED,
    KNOWN_STATUSES,
    RecordValidator,
    parse_datetime,
    storable,
)
from tap_hindsight.schemas import load_schema
from tap_hindsight.state import looks_like_wrong_key
from tap_hindsight.transcript import is_interviewer, parse_turns, word_count

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context


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
    #: Interviews seen before that answered 404: first time (asked again next run), and
    #: a second time in a row (deleted, emitted as such).
    missing: int = 0
    deleted: int = 0
    #: Completed interviews re-read (the cycle), those found changed, and the turns a
    #: replaced transcript no longer has (emitted as deleted).
    rechecked: int = 0
    changed: int = 0
    vanished_turns: int = 0
    #: Why no 404 was taken for a deletion, when too many came (the run fails).
    wrong_key: str = ""
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
            f"{len(self.not_found):,} not found, {len(self.failed):,} failed, "
            f"{self.missing:,} missing (404 once), {self.deleted:,} deleted, "
            f"{self.rechecked:,} completed re-read ({self.changed:,} changed, "
            f"{self.vanished_turns:,} vanished turns); "
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


def tell_discovery(discovery: Discovery, result: FetchResult, *, probe: bool) -> None:
    """What a fetch says to discovery.

    A probe's answer, and any record's creation instant (where the ID counter was then).
    """
    created_at = None
    if result.outcome is Outcome.OK and result.record is not None:
        with contextlib.suppress(TypeError, ValueError):
            created_at = parse_datetime(str(result.record.get("created_at"))).timestamp()
    if probe:
        if result.outcome is Outcome.CANCELLED:
            discovery.unsent(result.interview_id)
        else:  # a failure is fetched again next run, as a failed ID: it exists
            exists = result.outcome is not Outcome.NOT_FOUND
            discovery.answered(
                result.interview_id,
                exists=exists,
                created_at=created_at,
                answered_at=result.server_time,
            )
    elif created_at is not None:
        discovery.observed(result.interview_id, created_at)


def not_due_text(plan: RunPlan) -> str:
    """`3 pending not due yet (the next at 2026-11-29T05:00:00Z, in 1h05m)`."""
    if not plan.not_due or plan.next_due is None:
        return "0 pending not due yet"
    at = iso_instant(plan.next_due)
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
    #: The turns' rows, when judging needed them already.
    turn_rows: list[dict[str, Any]] | None = None
    #: Turns a replaced transcript no longer has (their indexes): emitted as deleted.
    vanished: range = range(0)


@dataclass
class _Run:
    """One run of the interviews stream: what it works from and with."""

    lifecycle: LifecycleState
    plan: RunPlan
    discovery: Discovery | None
    client: HindsightClient
    progress: Progress
    #: Planned IDs whose answer came (not cut short by the deadline or a stop).
    answered: int = 0
    #: Interviews seen before that answered this run, and those of them that were 404.
    known_answered: int = 0
    gone: list[int] = field(default_factory=list)
    #: Completed interviews due a re-read, and those of them that answered.
    rechecks: set[int] = field(default_factory=set)
    rechecked: set[int] = field(default_factory=set)
    _planned: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._planned = set(self.plan.ids)
        self.rechecks = {interview_id for _, interview_id in self.plan.rechecks}

    def count(self, result: FetchResult) -> None:
        """Count a planned ID's answer (the deadline's deferred IDs are the rest)."""
        if result.interview_id in self._planned and result.outcome is not Outcome.CANCELLED:
            self.answered += 1
            if result.interview_id in self.rechecks:
                self.rechecked.add(result.interview_id)
            if self.lifecycle.seen(result.interview_id) and result.outcome in {
                Outcome.OK,
                Outcome.NOT_FOUND,
            }:
                self.known_answered += 1


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
        self._current: _Run | None = None
        #: The API's clock, as its answers' `Date` headers show it (discovery's clock).
        self._clock = ServerClock()
        #: Whether this run said how far discovery is behind (once the clock is known).
        self._eta_told = False

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        run = self._current = self._start_run()
        interviewers = self.run.settings.interviewer_names
        try:
            with self.checkpointed():
                source = id_source(run.plan.ids, run.discovery)
                for result in run.client.fetch_all(source, run.progress.tick):
                    run.progress.tick()
                    run.count(result)
                    decision = self._judge(result, run.lifecycle, run.discovery)
                    record = decision.record
                    if record is not None and decision.turns:
                        turns = decision.turn_rows
                        if turns is None:
                            turns = turn_rows(record, interviewers)
                        rows = {InterviewTurnsStream.name: turns}
                        if decision.row:
                            self.hand_to_children(record, rows)  # synced as the row goes out
                        else:
                            self.sync_children(record, rows)  # the row is out already
                    if decision.row and record is not None:
                        # The SDK writes it (if this stream is selected), its turns first.
                        yield record
                        self.report.emitted += 1
                        self.saw_replication_value(record["created_at"])
                    if decision.vanished:
                        self._turns_vanished(result.interview_id, decision.vanished)
                    # Only now is the record written: state may cover it.
                    decision.remember()
                    if run.discovery is not None:
                        run.discovery.kept(result.interview_id)
                    # A STATE comes after an interview and its turns, never between them.
                    self.count_item()
                    self.checkpoint_if_due()
                self._settle_deletions(run)
                # The cycle moves on over the re-reads answered (none, for a wrong key).
                answered = set() if self.report.wrong_key else run.rechecked
                run.lifecycle.rechecked(run.plan, answered)
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
        return run.lifecycle.to_bookmark()

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

    def _start_run(self) -> _Run:
        """Read the state, plan the run, log what it will do, and prepare the client."""
        settings = self.run.settings
        lifecycle = LifecycleState.from_bookmark(
            self.stored_bookmark(), self._unsent_before_version_2()
        )
        start = settings.start_date.isoformat() if settings.start_date else None
        lifecycle.apply_start_date(start)
        self._selected = self.selected_streams()
        plan = lifecycle.plan(
            settings.interview_ids,
            time.time(),
            settings.poll_policy,
            self._selected,
            settings.recheck_completed_days,
        )
        discovery = None
        if settings.scan_start_id is not None:
            if lifecycle.scan is not None:  # the API's clock as the last run saw it
                self._clock.offset = lifecycle.scan.clock_offset
            discovery = Discovery(
                settings.scan_start_id, lifecycle.scan, lifecycle, plan.ids, clock=self._clock
            )
        self.report = SyncReport(plan=plan, max_run_minutes=settings.max_run_minutes)
        self.logger.info(
            "%s%s from %s; budget %s, %d requests at a time%s",
            describe_plan(plan, len(lifecycle.completed)),
            ", with ID discovery (polls and probes take turns)" if discovery else "",
            settings.base_url,
            settings.describe_budget(),
            settings.concurrency,
            self.run.describe_deadline(),
        )
        self.logger.info(
            estimate(len(plan.ids), settings.budget, discovering=discovery is not None)
        )
        if discovery is not None:
            self.logger.info("%s", discovery.describe())
            self._eta_told = False
        limiter = self.run.limiter
        report = self.report
        progress = Progress(
            self.logger,
            len(plan.ids),
            settings.budget,
            lambda: (report.fetched, limiter.sent_in_last(60), limiter.blocked_seconds),
        )
        return _Run(lifecycle, plan, discovery, self.run.client(self.logger), progress)

    def _finish_run(self, run: _Run) -> None:
        """Close the client, log the turns' metrics and the summary (also after a failure)."""
        run.client.close()
        self.report_child_metrics()
        discovery = run.discovery
        if discovery is not None:
            tally = discovery.tally
            self.report.probes = tally.sent
            self.report.discovered = tally.found
            self.logger.info("%s", discovery.summary())
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
        self.logger.info("%s", self.report.summary())
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

    def _settle_deletions(self, run: _Run) -> None:
        """Interviews seen before that answered 404: missing the first time, then deleted.

        One 404 can be a glitch: an interview is deleted when it answers 404 in two runs
        in a row, and then emitted once more with `_sdc_deleted_at` (its transcript null
        unless `erase_deleted` is false). A key of another organisation answers 404 for
        every interview: when more than a tenth (and at least 5) of those a run asked
        answer 404, or none answered 200, none is marked, and many 404s fail the run.
        """
        gone = run.gone
        if not gone:
            return
        lifecycle = run.lifecycle
        asked = run.known_answered
        if looks_like_wrong_key(len(gone), asked):
            self.report.wrong_key = (
                f"{len(gone):,} of the {asked:,} interviews this run asked for that answered "
                "before now answer 404 (not found): the API key may belong to another "
                "organisation. None is marked deleted; check api_key, and the next run with "
                "the right key finds them as they were"
            )
            return
        if len(gone) == asked:
            self.logger.warning(
                "%d interviews that answered before now answer 404 and none answered: "
                "none is marked missing or deleted (a key of another organisation would "
                "answer so); they are asked again next run",
                len(gone),
            )
            return
        deleted = [i for i in gone if i in lifecycle.missing]
        for interview_id in gone:
            if interview_id not in lifecycle.missing:
                lifecycle.mark_missing(interview_id)
                self.report.missing += 1
        if deleted:
            self._emit_deleted(deleted, lifecycle)
        self.logger.info(
            "%d interviews seen before answered 404: %d for the first time (asked again "
            "next run), %d a second time in a row (deleted: emitted with _sdc_deleted_at%s)",
            len(gone),
            len(gone) - len(deleted),
            len(deleted),
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

    def _unsent_before_version_2(self) -> list[str]:
        """Child streams an old state says nothing of: they never emitted its IDs."""
        known = self.run.streams_in_state
        return [child.name for child in self.child_streams if child.name not in known]

    def _judge(  # noqa: PLR0911 (one return per outcome reads as a decision table)
        self,
        result: FetchResult,
        lifecycle: LifecycleState,
        discovery: Discovery | None,
    ) -> Decision:
        """Judge one fetch result (main thread only): emit, reject, and what to remember."""
        report = self.report
        report.count(result)
        interview_id = result.interview_id
        self._clock.saw(result.server_time)
        if discovery is not None and not self._eta_told and self._clock.sampled:
            self._eta_told = True
            self._tell_eta(discovery)
        probe = discovery is not None and discovery.is_probe(interview_id)
        if discovery is not None:
            tell_discovery(discovery, result, probe=probe)
        if result.outcome is Outcome.CANCELLED:
            return Decision()
        if result.outcome is Outcome.NOT_FOUND:
            return self._not_found(interview_id, lifecycle, probe=probe)
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
        start_date = self.run.settings.start_date
        if start_date is not None and parse_datetime(record["created_at"]) < start_date:
            report.before_start_date += 1
            return Decision(remember=lambda: lifecycle.mark_out_of_range(interview_id))
        if record["status"] == COMPLETED:
            return self._completed(record, lifecycle)
        return self._pending(record, lifecycle)

    def _not_found(self, interview_id: int, lifecycle: LifecycleState, *, probe: bool) -> Decision:
        """A 404: a probe's miss, an interview seen before, or an ID that does not exist.

        An interview seen before is judged at the end of the run: a deletion, or a wrong key.
        """
        if not probe and lifecycle.seen(interview_id) and self._current is not None:
            self._current.gone.append(interview_id)
            return Decision()
        if not probe:
            self.report.not_found.append(interview_id)
            self.logger.warning(
                "Interview %d not found (HTTP 404): it does not exist or belongs to "
                "another organisation; skipped",
                interview_id,
            )
        return Decision(remember=lambda: lifecycle.mark_not_found(interview_id))

    def _completed(self, record: dict[str, Any], lifecycle: LifecycleState) -> Decision:
        """A final record: each stream that lacks it gets it, once; the others are noted.

        A re-read (the cycle) compares it with the digest of what was emitted: an edited
        record goes out again, and its turns only if the transcript changed; the turns a
        replaced transcript no longer has go out as deleted.
        """
        interview_id = record["interview_request_id"]
        first = interview_id not in lifecycle.completed
        children = {child.name for child in self.child_streams}
        wanted = {
            name
            for name in (self.name, *children)
            if first or lifecycle.is_unsent(name, interview_id)
        }
        known = lifecycle.digests.get(interview_id)
        current = Digest.of(record, 0)  # its turns are counted below, as they go out
        # A first completion; or one emitted before digests were kept: a re-read of the
        # cycle sends it again, a stream's history (a backfill) takes it as it is.
        replaced = edited = first or self._is_recheck(interview_id)
        if known is not None:
            replaced = current.transcript != known.transcript
            edited = current.record != known.record
        if not first:  # a re-read
            self.report.rechecked += 1
            if replaced or edited:
                self.report.changed += 1
                wanted.add(self.name)
            if replaced:
                wanted |= children
        if not record.get("transcript"):
            wanted -= children  # no turns to emit
        emitted, missed = wanted & self._selected, wanted - self._selected
        # The digest counts the turns emitted: parsed only when they go out.
        rows = None
        if emitted - {self.name}:
            rows = turn_rows(record, self.run.settings.interviewer_names)
        digest, vanished = digest_and_vanished(current, known, replaced=replaced, rows=rows)
        if first:
            self.report.completed += 1

        def remember() -> None:
            lifecycle.mark_completed(interview_id, digest)
            lifecycle.sent_by(emitted, interview_id)
            lifecycle.sent_by(missed, interview_id, sent=False)

        return Decision(
            record,
            self.name in wanted,
            bool(emitted - {self.name}),
            remember,
            turn_rows=rows,
            vanished=vanished,
        )

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

    def _is_recheck(self, interview_id: int) -> bool:
        """True if this run fetched the interview as a re-read of the cycle."""
        return self._current is not None and interview_id in self._current.rechecks

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


def describe_plan(plan: RunPlan, completed: int) -> str:
    """The start line's account of what this run polls and what waits."""
    return (
        f"Polling {len(plan.ids):,} interviews ({plan.first_time:,} never fetched, "
        f"{plan.failed:,} failed last time, {plan.missing:,} not found last run, "
        f"{plan.backfill:,} completed ones for a stream "
        f"selected since, {plan.due:,} pending and due, {len(plan.rechecks):,} completed "
        f"due a re-read; {not_due_text(plan)}; "
        f"{completed - len(plan.rechecks) - plan.backfill:,} completed skipped)"
    )


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


class InterviewTurnsStream(HandedRowsStream):
    """One record per speaker turn of a transcript: the rows its interview hands over."""

    name = "interview_turns"
    primary_keys = ("interview_request_id", "turn_index")
    parent_stream_type = InterviewsStream

    def __init__(self, tap: Tap, interviews: InterviewsStream) -> None:
        """Attach to `tap`; turns come from the transcripts `interviews` emits."""
        super().__init__(tap, interviews, load_schema(self.name))
