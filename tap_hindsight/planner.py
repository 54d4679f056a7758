"""The planner: which IDs a run asks for, in which order, and what waits. Pure.

From what is known of each ID (the lifecycle state), the settings that shape a plan
(`Planning`) and the time, `plan_run` lists the IDs of one run; discovery's probes take
turns with them (`interview_run.id_source`). After the run, `rechecked` moves the re-read
cycle on over the re-reads that were answered.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tap_hindsight.recheck import DAY
from tap_hindsight.recheck import due as rechecks_due

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Set as AbstractSet

    from tap_hindsight.lifecycle import LifecycleState
    from tap_hindsight.polling import PollPolicy


#: What a first run counts as the time since the previous one, without `max_run_minutes`.
FIRST_RUN_MINUTES = 15


@dataclass(frozen=True)
class Planning:
    """The settings that shape a run's plan."""

    #: When a pending interview is due again (`poll_age_ratio` and its bounds).
    policy: PollPolicy
    #: The streams selected in the run: a completed ID one of them lacks is fetched.
    selected: AbstractSet[str] = frozenset()
    #: `recheck_completed_days` (0: no re-reads).
    recheck_days: float = 0
    #: `poll_budget_share`, and the requests the budget accrued since the previous run
    #: started (`accrued_budget`): their product is the run's polling allowance.
    share: float = 0.0
    accrued: float = 0.0
    #: On a first run (no previous start known), the minutes of budget it counts.
    first_minutes: float | None = None

    @property
    def allowance(self) -> int:
        """Polls of pending interviews the run may spend in all.

        What is due beyond it is still polled; what those due leave goes to further polls
        (`spare_polls`).
        """
        return polling_allowance(self.share, self.accrued)


@dataclass
class RunPlan:
    """Which IDs a run fetches, in order, and what it leaves for later."""

    ids: list[int]
    #: Configured IDs of which nothing is stored: new, or 404 whenever asked.
    first_time: int = 0
    failed: int = 0
    #: Seen before, 404 last run: asked again to confirm the deletion.
    missing: int = 0
    backfill: int = 0
    due: int = 0
    #: Pending interviews not due, polled on the spare budget (after the due ones).
    spare: list[int] = field(default_factory=list)
    #: The polls the run could spend in all (`Planning.allowance`), and the requests the
    #: budget accrued since the previous run started.
    allowance: int = 0
    accrued: float = 0.0
    #: On a first run, the minutes of budget `accrued` counts (`Planning.first_minutes`).
    first_minutes: float | None = None
    not_due: int = 0
    #: Configured IDs created before `start_date` (out of range): not fetched.
    before_start: int = 0
    #: When the next pending interview that is not due now falls due (epoch seconds).
    next_due: float | None = None
    #: Completed interviews re-read (the last in `ids`): (instant due, ID), in order.
    rechecks: list[tuple[float, int]] = field(default_factory=list)
    #: The instant the re-reads were judged at (None: the cycle is off).
    recheck_now: float | None = None

    @property
    def due_ids(self) -> list[int]:
        """The pending IDs polled because they are due (in `ids`, after the backfill)."""
        start = self.first_time + self.failed + self.missing + self.backfill
        return self.ids[start : start + self.due]


def plan_run(
    known: LifecycleState, configured: Iterable[int], now: float, planning: Planning
) -> RunPlan:
    """The IDs a run fetches at `now`, in order, and what waits.

    First configured IDs of which nothing is stored (never fetched, or never found: a 404
    of an ID never seen leaves nothing), then failed ones, then those a 404 last run may
    have deleted (asked again to confirm), then completed ones a selected stream has not
    emitted (their history), then pending ones that are due, longest overdue first: a run
    cut short by its deadline leaves the rest at the head of the next run's queue. Then,
    with what the run's polling allowance leaves after those due, pending ones that are
    not due yet (`spare_polls`). Last, completed ones due a re-read in the cycle of
    `planning.recheck_days` (0: none), in the order they fell due. Pending and failed IDs
    are polled even after they leave the config; out-of-range ones are not fetched again.
    """
    chosen: dict[int, None] = {}
    plan = RunPlan([])
    for interview_id in configured:
        if (
            known.needs_fetch(interview_id)
            and interview_id not in known.pending
            and interview_id not in known.failed
            and interview_id not in chosen
        ):
            chosen[interview_id] = None
            plan.first_time += 1
        plan.before_start += interview_id in known.out_of_range
    plan.failed = _choose(chosen, known.failed)
    plan.missing = _choose(chosen, known.missing)
    unsent = known.unsent_for(planning.selected)
    for interview_id in unsent:
        if interview_id in known.completed and interview_id not in chosen:
            chosen[interview_id] = None
            plan.backfill += 1
    due: list[tuple[float, int]] = []
    waiting: list[tuple[float, int]] = []
    for interview_id, poll in known.pending.items():
        if interview_id in chosen:
            continue
        due_at = -math.inf if interview_id in unsent else poll.due_at(planning.policy)
        (due if due_at <= now else waiting).append((due_at, interview_id))
    due.sort()
    plan.due = len(due)
    plan.allowance, plan.accrued = planning.allowance, planning.accrued
    plan.first_minutes = planning.first_minutes
    spare = spare_polls(known, waiting, now, planning, planning.allowance - len(due))
    plan.spare = spare
    taken = set(spare)
    rest = [at for at, interview_id in waiting if interview_id not in taken]
    plan.not_due = len(rest)
    plan.next_due = min(rest, default=None)
    plan.ids = [*chosen, *(interview_id for _, interview_id in due), *spare]
    if planning.recheck_days > 0:
        plan.recheck_now = now
        plan.rechecks = _rechecks(known, {*chosen, *known.pending}, now, planning.recheck_days)
        plan.ids += [interview_id for _, interview_id in plan.rechecks]
    return plan


def _rechecks(
    known: LifecycleState, taken: AbstractSet[int], now: float, days: float
) -> list[tuple[float, int]]:
    """Completed interviews due a re-read in the cycle of `days`, not `taken` already."""
    if known.recheck_through is None:  # the cycle starts at this run
        return []
    due = rechecks_due(known.completed, known.recheck_through, now, days * DAY)
    return [(at, interview_id) for at, interview_id in due if interview_id not in taken]


def rechecked(known: LifecycleState, plan: RunPlan, answered: AbstractSet[int]) -> None:
    """The run is over: every re-read due before the first unanswered one is done.

    The cycle starts (at the plan's instant) in the first run that has it on, and
    stops in the first that has it off.
    """
    if plan.recheck_now is None:
        known.recheck_through = None
        return
    through = plan.recheck_now
    for at, interview_id in plan.rechecks:
        if interview_id not in answered:
            through = math.floor(at) - 1.0
            break
    previous = known.recheck_through
    known.recheck_through = through if previous is None else max(previous, through)


def _choose(chosen: dict[int, None], ids: Iterable[int]) -> int:
    """Add `ids` not chosen yet to `chosen`, in order; how many were added."""
    added = 0
    for interview_id in ids:
        if interview_id not in chosen:
            chosen[interview_id] = None
            added += 1
    return added


def accrued_budget(
    budget: float, now: float, previous_start: float | None, first_minutes: float
) -> float:
    """The requests the budget (`budget` a minute) accrued since the previous run started.

    At most an hour's worth; a first run (no `previous_start`) counts `first_minutes`
    (`max_run_minutes`, or 15).
    """
    minutes = first_minutes if previous_start is None else (now - previous_start) / 60
    return budget * min(max(minutes, 0.0), 60.0)


def polling_allowance(share: float, accrued: float) -> int:
    """The polls of pending interviews a run may spend in all: `share` of `accrued`."""
    return math.floor(share * accrued)


def spare_polls(
    known: LifecycleState,
    waiting: Iterable[tuple[float, int]],
    now: float,
    planning: Planning,
    count: int,
) -> list[int]:
    """Up to `count` pending interviews not due, polled on the spare budget, in order.

    Those with the largest share of their age elapsed since their last poll come first
    (a young interview polled ten minutes ago before one a month old polled yesterday);
    none polled less than `min_poll_interval_minutes` ago.
    """
    if count <= 0:
        return []
    ranked = []
    for _, interview_id in waiting:
        poll = known.pending[interview_id]
        if poll.polled_at is None:
            continue
        since = now - poll.polled_at
        if since < planning.policy.min_interval or since <= 0:
            continue
        ranked.append((-since / (poll.age + since), interview_id))
    return [interview_id for _, interview_id in heapq.nsmallest(count, ranked)]
