"""The planner: which IDs a run asks for, in which order, and what waits. Pure.

From what is known of each ID (the lifecycle state), the settings that shape a plan
(`Planning`) and the time, `plan_run` lists the IDs of one run; discovery's probes take
turns with them (`discovery.id_source`). After the run, `rechecked` moves the re-read
cycle on over the re-reads that were answered.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Planning:
    """The settings that shape a run's plan."""

    #: When a pending interview is due again (`poll_age_ratio` and its bounds).
    policy: PollPolicy
    #: The streams selected in the run: a completed ID one of them lacks is fetched.
    selected: AbstractSet[str] = frozenset()
    #: `recheck_completed_days` (0: no re-reads).
    recheck_days: float = 0


@dataclass
class RunPlan:
    """Which IDs a run fetches, in order, and what it leaves for later."""

    ids: list[int]
    first_time: int = 0
    failed: int = 0
    #: Seen before, 404 last run: asked again to confirm the deletion.
    missing: int = 0
    backfill: int = 0
    due: int = 0
    not_due: int = 0
    #: When the next pending interview that is not due now falls due (epoch seconds).
    next_due: float | None = None
    #: Completed interviews re-read (the last in `ids`): (instant due, ID), in order.
    rechecks: list[tuple[float, int]] = field(default_factory=list)
    #: The instant the re-reads were judged at (None: the cycle is off).
    recheck_now: float | None = None


def plan_run(
    known: LifecycleState, configured: Iterable[int], now: float, planning: Planning
) -> RunPlan:
    """The IDs a run fetches at `now`, in order, and what waits.

    First configured IDs never fetched, then failed ones, then those a 404 last run may
    have deleted (asked again to confirm), then completed ones a
    selected stream has not emitted (their history), then pending ones that are due,
    longest overdue first: a run cut short by its deadline leaves the rest at the head
    of the next run's queue. Last, completed ones due a re-read in the cycle of
    `planning.recheck_days` (0: none), in the order they fell due. Pending and failed IDs are
    polled even after they leave the config; out-of-range ones are not fetched again.
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
    plan.failed = _choose(chosen, known.failed)
    plan.missing = _choose(chosen, known.missing)
    unsent = known.unsent_for(planning.selected)
    for interview_id in unsent:
        if interview_id in known.completed and interview_id not in chosen:
            chosen[interview_id] = None
            plan.backfill += 1
    due: list[tuple[float, int]] = []
    for interview_id, poll in known.pending.items():
        if interview_id in chosen:
            continue
        due_at = -math.inf if interview_id in unsent else poll.due_at(planning.policy)
        if due_at <= now:
            due.append((due_at, interview_id))
        else:
            plan.not_due += 1
            plan.next_due = due_at if plan.next_due is None else min(plan.next_due, due_at)
    due.sort()
    plan.due = len(due)
    plan.ids = [*chosen, *(interview_id for _, interview_id in due)]
    if planning.recheck_days > 0:
        plan.recheck_now = now
        if known.recheck_through is not None:
            taken = {*chosen, *known.pending}
            plan.rechecks = [
                (at, i)
                for at, i in rechecks_due(
                    known.completed, known.recheck_through, now, planning.recheck_days * DAY
                )
                if i not in taken
            ]
            plan.ids += [interview_id for _, interview_id in plan.rechecks]
    return plan


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
