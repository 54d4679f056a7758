"""One run of the interviews stream: what it works from and what it counts as answers come.

Each answer is told to discovery here (`InterviewRun.hear`). No SDK: the stream
(`streams.py`) holds one for the length of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tap_hindsight.absence import Absence, judge_absence, two_strikes
from tap_hindsight.answers import FetchResult, Outcome
from tap_hindsight.encoding import minutes
from tap_hindsight.planner import FIRST_RUN_MINUTES, Planning, accrued_budget, plan_run
from tap_hindsight.progress import estimate
from tap_hindsight.summary import INFO, WARNING, describe_discovery, describe_plan, describe_spare

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_hindsight.client import HindsightClient
    from tap_hindsight.discovery import Discovery
    from tap_hindsight.judge import Rules
    from tap_hindsight.lifecycle import LifecycleState
    from tap_hindsight.planner import RunPlan
    from tap_hindsight.progress import Progress
    from tap_hindsight.settings import Settings
    from tap_hindsight.summary import SyncReport


@dataclass(frozen=True)
class Gone:
    """What this run's 404s from interviews seen before come to."""

    #: The run fails with this: the key may be another organisation's (none is marked).
    wrong_key: str = ""
    #: Said as a warning: none is marked.
    warning: str = ""
    #: Missing now (a first 404), and deleted (a second in a row): emitted as deleted.
    first: tuple[int, ...] = ()
    second: tuple[int, ...] = ()
    #: The line that says so.
    line: str = ""


@dataclass
class InterviewRun:
    """One run of the interviews stream: what it works from and with."""

    lifecycle: LifecycleState
    plan: RunPlan
    discovery: Discovery | None
    client: HindsightClient
    progress: Progress
    rules: Rules
    #: Planned IDs whose answer came (not cut short by the deadline or a stop), and
    #: discovery's probes whose answer came (the progress line counts both).
    answered: int = 0
    probes_answered: int = 0
    #: Interviews seen before that answered this run, and those of them that were 404.
    known_answered: int = 0
    gone: list[int] = field(default_factory=list)
    #: Completed interviews due a re-read, and those of them that answered.
    rechecks: set[int] = field(default_factory=set)
    rechecked: set[int] = field(default_factory=set)
    #: Pending interviews polled because due, and on the spare budget.
    due: set[int] = field(default_factory=set)
    spare: set[int] = field(default_factory=set)
    _planned: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        """What the plan says: the IDs planned, due, spared and re-read."""
        plan = self.plan
        self._planned = set(plan.ids)
        self.rechecks = {interview_id for _, interview_id in plan.rechecks}
        self.due = set(plan.due_ids)
        self.spare = set(plan.spare)

    def count(self, result: FetchResult, report: SyncReport) -> None:
        """Count a planned ID's answer (the deadline's deferred IDs are the rest)."""
        if result.interview_id in self._planned and result.outcome is not Outcome.CANCELLED:
            self.answered += 1
            report.polled_due += result.interview_id in self.due
            report.polled_spare += result.interview_id in self.spare
            if result.interview_id in self.rechecks:
                self.rechecked.add(result.interview_id)
            if self.lifecycle.seen(result.interview_id) and result.outcome in {
                Outcome.OK,
                Outcome.NOT_FOUND,
            }:
                self.known_answered += 1

    def hear(self, answer: FetchResult) -> bool:
        """Tell discovery what one fetch says; True if it answered one of its probes.

        A probe's answer (any but 404 means the interview exists; a failure is fetched
        again next run, as a failed ID), and any record's creation instant.
        """
        discovery = self.discovery
        if discovery is None:
            return False
        interview_id = answer.interview_id
        created = answer.created_at()
        probe = discovery.is_probe(interview_id)
        if not probe:
            if created is not None:
                discovery.observed(interview_id, created)
        elif answer.outcome is Outcome.CANCELLED:
            discovery.unsent(interview_id)
        else:
            self.probes_answered += 1
            exists = answer.outcome is not Outcome.NOT_FOUND
            discovery.answered(
                interview_id, exists=exists, created_at=created, answered_at=answer.server_time
            )
        return probe

    def settle_gone(self, *, erase_deleted: bool) -> Gone | None:
        """Interviews seen before that answered 404: missing the first time, then deleted.

        One 404 can be a glitch: an interview is deleted when it answers 404 in two runs
        in a row (the caller emits it once more with `_sdc_deleted_at`). A key of another
        organisation answers 404 for every interview: `absence.judge_absence` says when
        none is marked, and when the run fails. None: no such 404.
        """
        gone = self.gone
        if not gone:
            return None
        absence = judge_absence(len(gone), self.known_answered)
        if absence is Absence.WRONG_KEY:
            return Gone(
                wrong_key=f"{len(gone):,} of the {self.known_answered:,} interviews this run "
                "asked for that answered before now answer 404 (not found): the API key may "
                "belong to another organisation. None is marked deleted; check api_key, and "
                "the next run with the right key finds them as they were"
            )
        if absence is Absence.NONE_LEFT:
            return Gone(
                warning=f"{len(gone)} interviews that answered before now answer 404 and none "
                "answered: none is marked missing or deleted (a key of another organisation "
                "would answer so); they are asked again next run"
            )
        strikes = two_strikes(gone, self.lifecycle.missing)
        for interview_id in strikes.first:
            self.lifecycle.mark_missing(interview_id)
        erased = ", transcript erased" if erase_deleted else ""
        line = (
            f"{len(gone)} interviews seen before answered 404: {len(strikes.first)} for the "
            f"first time (asked again next run), {len(strikes.second)} a second time in a row "
            f"(deleted: emitted with _sdc_deleted_at{erased})"
        )
        return Gone(first=tuple(strikes.first), second=tuple(strikes.second), line=line)


def plan_for(
    settings: Settings, lifecycle: LifecycleState, selected: frozenset[str], now: float
) -> RunPlan:
    """The core's plan for a run starting at `now`; the state notes when it started.

    Its polling allowance is what the budget accrued since the previous run started (a
    first run counts `max_run_minutes`, or FIRST_RUN_MINUTES).
    """
    first_minutes = settings.max_run_minutes or FIRST_RUN_MINUTES
    planning = Planning(
        settings.poll_policy,
        selected,
        settings.recheck_completed_days,
        share=settings.poll_budget_share,
        accrued=accrued_budget(settings.budget, now, lifecycle.run_started, first_minutes),
        first_minutes=first_minutes if lifecycle.run_started is None else None,
    )
    plan = plan_run(lifecycle, settings.interview_ids, now, planning)
    lifecycle.run_started = now
    return plan


#: Said when the interviews stream has nothing to work from.
NOTHING_TO_POLL = (
    "Nothing to extract for the interviews stream: interview_ids is empty, scan_start_id "
    "is not set, and the state holds no interview. Set interview_ids (the IDs that POST "
    "/interviews answered) or scan_start_id (to find this organisation's interviews)."
)


def start_lines(
    plan: RunPlan,
    completed: int,
    settings: Settings,
    discovery: Discovery | None,
    now: float,
) -> list[tuple[int, str]]:
    """The start of a run of the interviews stream at `now`, each line with its level.

    What it polls and what waits, the budget and the deadline, the estimate, what
    discovery knows; a warning when there is nothing to work from (`NOTHING_TO_POLL`).
    """
    limit = settings.max_run_minutes
    deadline = ""
    if limit is not None:
        deadline = f"; no request starts after {minutes(limit)} (max_run_minutes)"
    first = (
        f"{describe_plan(plan, completed, now)}"
        f"{', with ID discovery (polls and probes take turns)' if discovery else ''} "
        f"from {settings.base_url}; budget {settings.describe_budget()}, "
        f"{settings.concurrency} requests at a time{deadline}; "
        f"{describe_spare(plan, settings.poll_budget_share)}"
    )
    lines = [(INFO, first)]
    if line := estimate(len(plan.ids), settings.budget, discovering=discovery is not None):
        lines.append((INFO, line))
    if discovery is not None:
        lines.append((INFO, describe_discovery(discovery)))
    elif not (settings.interview_ids or completed or plan.ids or plan.not_due):
        lines.append((WARNING, NOTHING_TO_POLL))
    return lines


def id_source(ids: Iterable[int], discovery: Discovery | None) -> Iterator[int | None]:
    """The IDs to fetch and the probes, alternating while both have work.

    Neither starves the other within a run's budget. None means "wait for answers, then
    ask again".
    """
    planned = iter(ids)
    polling = True
    while True:
        if polling:
            interview_id = next(planned, None)
            if interview_id is None:
                polling = False
            else:
                yield interview_id
        if discovery is None:
            if not polling:
                return
            continue
        probe = discovery.next_probe()
        if probe is None and not discovery.sensed:
            probe = discovery.sense()  # learn the API's clock: what is due may change
        if probe is not None:
            yield probe
        elif not polling:
            if discovery.idle:
                return
            yield None
