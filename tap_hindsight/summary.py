"""What a run of the interviews stream did, in the words its log lines use. Pure.

The shell counts each answer's verdict here (`SyncReport.tally`) and logs the lines; the
time is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tap_hindsight.answers import FetchResult, Outcome, RequestTally
from tap_hindsight.encoding import duration, iso_instant, minutes
from tap_hindsight.judge import Kind, Verdict
from tap_hindsight.planner import RunPlan

if TYPE_CHECKING:
    from tap_hindsight.discovery import Discovery


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
    #: The run's deadline in minutes (None: none), the signal that stopped it (None:
    #: none), and the due IDs it left for next run.
    max_run_minutes: float | None = None
    stopped_by: str | None = None
    deferred: int = 0
    #: Pending interviews polled because due, and on the spare budget (`poll_budget_share`).
    polled_due: int = 0
    polled_spare: int = 0

    def count(self, result: FetchResult) -> None:
        """Add one fetch result's requests to the totals."""
        self.add(result)
        if result.outcome is not Outcome.CANCELLED:
            self.fetched += 1

    def tally(self, interview_id: int, verdict: Verdict) -> None:
        """Count what the judge made of one answer."""
        kind = verdict.kind
        if kind in {Kind.FAILED, Kind.INVALID}:
            self.failed[interview_id] = verdict.problem
        elif kind is Kind.COMPLETED:
            self.completed += 1
        elif kind is Kind.REREAD:
            self.rechecked += 1
            self.changed += verdict.changed
        elif kind is Kind.PENDING:
            self.pending += 1
        elif kind is Kind.UNCHANGED:
            self.unchanged += 1
        elif kind is Kind.BEFORE_START:
            self.before_start_date += 1

    def failures(self) -> str:
        """Why the run fails ("" if it does not): a wrong key, and the IDs not extracted."""
        problems = [self.wrong_key] if self.wrong_key else []
        if self.failed:
            failed = ", ".join(map(str, sorted(self.failed)))
            problems.append(
                f"{len(self.failed)} interviews could not be extracted; the run fails so they "
                f"are not missed silently: {failed}"
            )
        return "; ".join(problems)

    def summary(self, now: float) -> str:
        """The end-of-run summary line at `now` (epoch seconds)."""
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
            f"{duration(self.elapsed_seconds)}; {not_due_text(self.plan, now)}"
            f"{self.deferred_text()}; {self.polling_text()}"
        )

    def deferred_text(self) -> str:
        """`; 29 due interviews deferred to the next run by max_run_minutes (5)`.

        Or `by SIGTERM`; nothing if the run had no deadline and no stop was asked for.
        """
        if self.stopped_by:
            cause = self.stopped_by
        elif self.max_run_minutes is not None:
            cause = f"max_run_minutes ({self.max_run_minutes:g})"
        else:
            return ""
        return f"; {self.deferred:,} due interviews deferred to the next run by {cause}"

    def polling_text(self) -> str:
        """`pending polled: 4 due, 86 on the spare budget (...); the run used 10.4% of ...`."""
        plan = self.plan
        used = self.requests_sent / plan.accrued if plan.accrued else 0.0
        return (
            f"pending polled: {self.polled_due:,} due, {self.polled_spare:,} on the spare "
            f"budget (poll_budget_share allowed {plan.allowance:,} polls in all); the run "
            f"used {used:.1%} of {accrued_text(plan)}"
        )


def not_due_text(plan: RunPlan, now: float) -> str:
    """`3 pending not due yet (the next at 2026-11-29T05:00:00Z, in 1h05m)`."""
    if not plan.not_due or plan.next_due is None:
        return "0 pending not due yet"
    at = iso_instant(plan.next_due)
    wait = duration(plan.next_due - now)
    return f"{plan.not_due:,} pending not due yet (the next at {at}, in {wait})"


def describe_plan(plan: RunPlan, completed: int, now: float) -> str:
    """The start line's account of what this run polls and what waits."""
    skipped = f"{completed - len(plan.rechecks) - plan.backfill:,} completed skipped"
    if plan.before_start:
        skipped += f", {plan.before_start:,} created before start_date skipped"
    return (
        f"Polling {len(plan.ids):,} interviews ({plan.first_time:,} new or never found, "
        f"{plan.failed:,} failed last time, {plan.missing:,} not found last run, "
        f"{plan.backfill:,} completed ones for a stream "
        f"selected since, {plan.due:,} pending and due, {len(plan.rechecks):,} completed "
        f"due a re-read; {not_due_text(plan, now)}; {skipped})"
    )


def describe_spare(plan: RunPlan, share: float) -> str:
    """The start line's account of the polls on the spare budget (`poll_budget_share`)."""
    if not share:
        return "poll_budget_share 0: only pending interviews due are polled"
    return (
        f"poll_budget_share {share:g}: up to {plan.allowance:,} polls of pending interviews "
        f"(of {accrued_text(plan)}), {len(plan.spare):,} of them not due yet, those with "
        "the largest share of their age elapsed since their last poll"
    )


def accrued_text(plan: RunPlan) -> str:
    """`the 900 requests the budget accrued since the previous run started`.

    A first run has no previous start: it counts `max_run_minutes`, or 15 minutes.
    """
    if plan.first_minutes is None:
        return f"the {plan.accrued:,.0f} requests the budget accrued since the previous run started"
    return (
        f"the {plan.accrued:,.0f} requests of a first run's {minutes(plan.first_minutes)} of budget"
    )


#: Log levels, as the logging module numbers them (the core does not log).
INFO, WARNING, ERROR = 20, 30, 40


def verdict_notes(
    interview_id: int, verdict: Verdict, *, probe: bool, first: bool
) -> list[tuple[int, str]]:
    """What a person must read of one answer, with its log level (none: nothing to say).

    `first`: the first answer of this run with its undocumented status (named once).
    """
    notes = []
    if verdict.unknown_status is not None and first:
        text = (
            f"Interview {interview_id} has status {verdict.unknown_status!r}, which "
            "Hindsight does not document: emitted as it is and treated as not completed "
            "(this is logged once per status)"
        )
        notes.append((WARNING, text))
    if verdict.kind is Kind.FAILED:
        notes.append((ERROR, f"Interview {interview_id} failed: {verdict.problem}"))
    elif verdict.kind is Kind.INVALID:
        text = (
            f"Interview {interview_id} not emitted: it does not match the schema: {verdict.problem}"
        )
        notes.append((ERROR, text))
    elif verdict.kind is Kind.NOT_FOUND and not probe:
        text = (
            f"Interview {interview_id} not found (HTTP 404): it does not exist or belongs "
            "to another organisation; skipped"
        )
        notes.append((WARNING, text))
    return notes


def describe_discovery(discovery: Discovery) -> str:
    """The start-of-run line of ID discovery: what it knows.

    The counter's speed, and the hours of the week it is taken to move in: those that
    the estimate of where it is counts (every hour not known to rest).
    """
    memory = discovery.memory
    rate = discovery.model.rate
    speed = "the platform's pace is not known yet (it takes two of our interviews)"
    if rate:
        hourly = rate * 3600
        shown = f"{hourly:,.0f}" if hourly >= 10 else f"{hourly:.2g}"  # noqa: PLR2004
        speed = (
            f"the platform hands out about {shown} IDs an hour while it is busy (taken as "
            f"busy in {discovery.model.busy_hours} hours of the week; one of ours was "
            f"created in {memory.hours.bit_count()} of them)"
        )
    return (
        f"ID discovery from {discovery.start:,} (scan_start_id): "
        f"{settled_ids(discovery):,} IDs settled, {memory.open_ids:,} open, new IDs from "
        f"{memory.next_id:,}; {share_text(discovery)}; {speed}"
    )


def discovery_summary(discovery: Discovery) -> str:
    """The end-of-run line of ID discovery: what it spent and what it knows now."""
    tally = discovery.tally
    scouted = f", {tally.scouts:,} scouting past the reach" if tally.scouts else ""
    return (
        f"ID discovery summary: {tally.sent:,} probes "
        f"({tally.probes:,} new IDs, {tally.reprobes:,} open IDs checked again{scouted}), "
        f"{tally.found:,} interviews found; {settled_ids(discovery):,} IDs settled, "
        f"{discovery.memory.open_ids:,} open, new IDs from {discovery.memory.next_id:,}; "
        f"{share_text(discovery)}"
    )


def describe_backlog(backlog: int, budget: int, max_run_minutes: float | None) -> str:
    """How far ID discovery is behind the counter, and for how long; "" unless far.

    Far: more than a minute's budget (a first run from an old `scan_start_id`, or one
    after a long pause).
    """
    if backlog <= budget:
        return ""
    spread = ", spread over runs by max_run_minutes" if max_run_minutes is not None else ""
    return (
        f"ID discovery: about {backlog:,} IDs to go up to where the platform's counter "
        f"should be; at {budget:,} requests/min beside the polls that is about "
        f"{duration(backlog / budget * 60)}{spread}"
    )


def behind_warning(behind: int, ahead: int) -> str:
    """The warning when ID discovery left IDs within its reach unprobed.

    `ahead`: the IDs up to where the counter should be (`backlog`), said when more: the
    reach stops short of the counter while the speed is uncertain.
    """
    further = (
        f" (about {ahead:,} up to where the platform's counter should be)" if ahead > behind else ""
    )
    return (
        f"ID discovery could not keep up: {behind:,} IDs the platform has probably handed out "
        f"were not probed before this run ended{further}; the next run goes on from there (said "
        "at the end of every run, it means the budget or max_run_minutes is too small for "
        "the platform's pace)"
    )


def stopped_line(signal: str | None) -> str:
    """The warning of a run stopped by a signal."""
    return (
        f"Stopped by {signal}: no new request was started, those in flight finished and "
        "their records went out; the STATE that follows covers every record written, and "
        "the next run goes on from there"
    )


def share_text(discovery: Discovery) -> str:
    """`about 1.7% of IDs are this organisation's`, once an ID has been settled."""
    if not discovery.memory.settled:
        return "this organisation's share of IDs is not known yet"
    return f"about {discovery.model.share:.1%} of IDs are this organisation's"


def settled_ids(discovery: Discovery) -> int:
    """IDs from `scan_start_id` up that discovery will not probe again."""
    memory = discovery.memory
    return max(0, memory.next_id - discovery.start - memory.open_ids)


def backlog(discovery: Discovery, now: float) -> int:
    """IDs from the next new one up to where the counter should be now (0: unknown)."""
    counter = discovery.model.counter(now)
    return 0 if counter is None else max(0, math.floor(counter) - discovery.memory.next_id + 1)


def left_behind(discovery: Discovery, now: float) -> int:
    """IDs within reach that this run left unprobed, or open and due another probe."""
    reach = discovery.reach(now)
    unprobed = max(0, reach - discovery.memory.next_id + 1)
    due = sum(
        len(part)
        for gap in discovery.memory.gaps
        for part, verdict in discovery.proofs.judged(gap, now, reach)
        if verdict == "due"
    )
    return unprobed + due
