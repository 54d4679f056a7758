"""One run of the interviews stream: what it works from and what it counts as answers come.

No SDK: the stream (`streams.py`) holds one for the length of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tap_hindsight.answers import FetchResult, Outcome

if TYPE_CHECKING:
    from tap_hindsight.client import HindsightClient
    from tap_hindsight.discovery import Discovery
    from tap_hindsight.judge import Rules
    from tap_hindsight.lifecycle import LifecycleState
    from tap_hindsight.planner import RunPlan
    from tap_hindsight.progress import Progress
    from tap_hindsight.summary import SyncReport


@dataclass
class InterviewRun:
    """One run of the interviews stream: what it works from and with."""

    lifecycle: LifecycleState
    plan: RunPlan
    discovery: Discovery | None
    client: HindsightClient
    progress: Progress
    rules: Rules
    #: Planned IDs whose answer came (not cut short by the deadline or a stop).
    answered: int = 0
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
        start = plan.first_time + plan.failed + plan.missing + plan.backfill
        self.due = set(plan.ids[start : start + plan.due])
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
