"""ID discovery in an ID space shared by every organisation. Pure: no I/O.

Hindsight hands out interview IDs from one ascending counter for every organisation, and
`GET /interviews/{id}` answers 404 both for another organisation's ID and for one not
created yet. Discovery probes IDs from `scan_start_id` up and uses what the API gives:

- Proof: IDs ascend with `created_at`, so an ID below one of our interviews existed when
  that interview was created. A 404 answered after that instant (on the API's clock: its
  `Date` header; plus a margin) is final: the ID is another organisation's and is never
  probed again. A 404 without such a proof leaves the ID open (a gap); it is probed once more
  after one of our interviews above it appears, and then it is final.
- Speed and rest: where the counter should be, from our interviews (the anchors), how
  fast it moves while busy and in which hours of the week it rests: counter.py.
- Reach: a run probes new IDs up to where the counter should have been `lag_seconds` of
  busy time ago, at least one ID past our highest interview, and past `cap_gaps` expected
  gaps (cap = cap_gaps / share) only as busy time without one of ours doubles; while the
  counter rests as foreseen, on to where it should have stopped, as long as the 404s past
  ours could all be other organisations' (`rest_lift_chance`). At a small share the lag
  is at least `lag_gaps` expected gaps. Before a speed is known the reach is what the
  platform could have handed out at `blind_limit` IDs a day: since our highest was
  created (one of ours, or an import), or, before any, since the scan began (doubling
  while nothing is found), so a run without `max_run_minutes` ends.
- Bursts: once one of ours is overdue (an hour of busy time, or `scout_gaps` expected
  gaps if longer), a round scouts past the reach at an even stride (`schedule.py`); one
  of ours found there moves the reach past the burst.
- Open IDs above our highest interview (the tail) may have been probed before they were
  handed out: they are probed again (reprobed: "recheck" is the re-read cycle of completed
  interviews, recheck.py) once the counter should have passed them (if it
  should not have when they were probed), at once if they were probed before our highest
  interview was created, when the counter moves again after resting, and otherwise at
  spacing that doubles from four expected gaps' busy time (one hour to one day), at most
  `tail_checks` times: then they wait for one of ours above. Before a speed is known,
  from a day, doubling without end: the reach may run days ahead of the counter, and the
  next of ours lies in such a gap (a day's probes grow with the log of a silence).

`benchmarks/discovery.py` drives it through a simulated year, and
`tests/test_discovery_rules.py` over days of runs. Where the goals collide (probes
against delay at a small share; a burst crossed by the next run), the choice and why are
in docs/state-and-polling.md, "Where the goals collide, and what the tap chose".

Answers are reported with `answered` (any answer but 404 means the interview exists;
`InterviewRun.hear` turns a fetch into these calls) and `kept` once its record is out; the
state (`stored`) never counts an ID settled before it is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tap_hindsight.counter import CounterModel, thin
from tap_hindsight.discovery_policy import POLICY, Policy
from tap_hindsight.proofs import Proofs
from tap_hindsight.scan import ScanMemory, add_to_gaps, take_out_of_gaps
from tap_hindsight.schedule import Schedule

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from tap_hindsight.lifecycle import LifecycleState


#: Within a run, which gaps are due is judged again after this long or a new anchor.
_RESCAN_SECONDS = 60.0
#: A `Date` header counts whole seconds: the answer was decided up to this much before.
_DATE_SLACK = 2.0


@dataclass
class Outstanding:
    """A probe in flight: when it was sent, and how often its ID was checked before."""

    sent_at: float
    checks: int
    #: A scouting probe past the reach: a 404 is forgotten (the ID is probed in turn).
    scout: bool = False


@dataclass
class RunTally:
    """What discovery did in one run."""

    probes: int = 0
    reprobes: int = 0
    found: int = 0
    settled: int = 0
    scouts: int = 0

    @property
    def sent(self) -> int:
        """Every probe sent: new IDs, open ones checked again, and scouting."""
        return self.probes + self.reprobes + self.scouts

    def count(self, probe: Outstanding, by: int = 1) -> None:
        """Count a probe handed out (`by` -1: one the run stopped before it was sent)."""
        if probe.scout:
            self.scouts += by
        elif probe.checks:
            self.reprobes += by
        else:
            self.probes += by


class Discovery:
    """Which IDs to probe next, and what their answers prove."""

    def __init__(  # noqa: PLR0913 (the run's inputs, each named)
        self,
        start: int,
        memory: ScanMemory | None,
        known: LifecycleState,
        skip: Iterable[int] = (),
        *,
        clock: Callable[[], float],
        policy: Policy = POLICY,
    ) -> None:
        """Probe from `start` (or where `memory` left off); `known` IDs are ours already."""
        self.start = start
        self.policy = policy
        self._clock = clock
        memory = memory if memory is not None else ScanMemory(start)
        memory.clip(start)
        self.memory = memory
        self.model = CounterModel(memory, policy)
        #: Our interviews with their creation instants, ascending by ID (the model's).
        self._anchors = self.model.anchors
        self._highest_ours = max([start - 1, *(i for i, _ in self._anchors)])
        self._schedule = Schedule(self.model, memory, policy, start)
        #: What each gap's probes prove (`proofs.py`).
        self.proofs = Proofs(self.model, policy, self.reach, lambda: self._highest_ours)
        self._known = known
        self._skip = set(skip)
        self._outstanding: dict[int, Outstanding] = {}
        self._found_not_kept: set[int] = set()
        self.tally = RunTally()
        #: Whether this run already tried `sense` (once a run at most).
        self.sensed = False
        #: The gaps due a probe, and when that was judged (None: judge again).
        self._due: list[tuple[int, int]] | None = None
        self._due_at = 0.0
        #: This run's scouting probes past the reach (None: not judged yet), and when the
        #: need for them was last judged.
        self._scout: Iterator[int] | None = None
        self._scout_judged = -math.inf

    def reach(self, now: float) -> int:
        """The highest ID worth probing at `now` (`schedule.Schedule.reach`)."""
        return self._schedule.reach(now, self._highest_ours)

    # Choosing probes ----------------------------------------------------------------------

    def next_probe(self) -> int | None:
        """The next ID to probe now; None if none now (ask again after an answer)."""
        now = self._clock()
        reprobe = self._next_reprobe(now)
        if reprobe is not None:
            return reprobe
        while self.memory.next_id <= self.reach(now):
            interview_id = self._take_new(now)
            if interview_id is not None:
                return interview_id
        return self._next_scout(now)

    def _take_new(self, now: float) -> int | None:
        """The next new ID, sent at `now`; None if it is ours already (counted as ours)."""
        interview_id = self.memory.next_id
        self.memory.next_id += 1
        if self._exists_already(interview_id):
            self.memory.count(ours=True)
            self._highest_ours = max(self._highest_ours, interview_id)
            return None
        return self._send(interview_id, Outstanding(now, 0))

    def _next_scout(self, now: float) -> int | None:
        """The next scouting probe past the reach, when one of ours is overdue."""
        if self._scout is None:
            if now - self._scout_judged < _RESCAN_SECONDS:
                return None
            self._scout_judged = now
            self._scout = self._schedule.scout_round(now)
            if self._scout is None:
                return None
        for interview_id in self._scout:
            if (
                interview_id < self.memory.next_id
                or interview_id in self._outstanding
                or self._exists_already(interview_id)
            ):
                continue
            return self._send(interview_id, Outstanding(now, 0, scout=True))
        # Judged again in a minute: the next round needs twice as long, or a newer
        # interview of ours overdue since.
        self._scout = None
        return None

    def sense(self) -> int | None:
        """One probe to learn the API's clock when nothing is due by this machine's.

        The lowest open ID above our highest interview is checked again (or the next new
        ID): its answer's `Date` sets the clock (`ServerClock`), and what is due is judged
        again by it. At most once a run, and only if something would be due within the
        hour by this machine's clock (nothing is, over a night the counter rests in).
        """
        self.sensed = True
        now = self._clock()
        unsampled = not getattr(self._clock, "sampled", True)
        if not self._outstanding and unsampled and self._due_by(now + 3600.0):
            tail = [gap for gap in self.memory.gaps if gap.low > self._highest_ours]
            if tail:
                gap = tail[0]
                interview_id = gap.low
                self._take_out_of_gaps(interview_id)
                return self._send(interview_id, Outstanding(now, gap.checks + 1))
            return self._take_new(now)
        return None

    def _due_by(self, later: float) -> bool:
        """True if anything would be due by `later` (nothing, over a night it rests in)."""
        reach = self.reach(later)
        verdicts = (self.proofs.verdict(gap, later, reach) for gap in self.memory.gaps)
        return reach >= self.memory.next_id or any(v in {"due", "split"} for v in verdicts)

    @property
    def idle(self) -> bool:
        """No probe in flight: a None from `next_probe` means discovery is done."""
        return not self._outstanding

    def is_probe(self, interview_id: int) -> bool:
        """True if this ID was sent as a probe and not answered yet."""
        return interview_id in self._outstanding

    def _send(self, interview_id: int, probe: Outstanding) -> int:
        """Count `probe` as sent and await its answer."""
        self._outstanding[interview_id] = probe
        self.tally.count(probe)
        return interview_id

    def _exists_already(self, interview_id: int) -> bool:
        return self._known.holds(interview_id) or interview_id in self._skip

    def _next_reprobe(self, now: float) -> int | None:
        """The lowest open ID due another probe, taken out of the gap that holds it now.

        The due list holds ranges of IDs, not the gaps themselves: an answer may join the
        gap an ID is in with another one meanwhile, and the gaps stay the one truth.
        """
        if self._due is None or now - self._due_at >= _RESCAN_SECONDS:
            self._rescan(now)
        due = self._due
        assert due is not None  # noqa: S101 (set by _rescan)
        while due:
            low, high = due[0]
            if low > high:
                due.pop(0)
                continue
            if high > self._highest_ours and low > self.reach(now):
                return None  # the rest of a tail gap the counter has not passed yet
            due[0] = (low + 1, high)
            checks = take_out_of_gaps(self.memory.gaps, low)
            if checks is None:
                continue  # not open any more (found, or settled)
            return self._send(low, Outstanding(now, checks + 1))
        return None

    def _rescan(self, now: float) -> None:
        """Settle the gaps proven another organisation's, and list those due a probe."""
        self.memory.gaps, due, settled = self.proofs.sweep(self.memory.gaps, now)
        self.memory.settled += settled
        self.tally.settled += settled
        self._due, self._due_at = due, now

    # Answers ------------------------------------------------------------------------------

    def observed(self, interview_id: int, created_at: float) -> None:
        """One of our interviews and its creation instant (from any record fetched)."""
        top = self.model.observe(interview_id, created_at)
        if top is None:
            return  # no new anchor: known already, or contradicting the counter
        self._due = None
        if top:
            self.memory.scouts, self.memory.scouted_after = 0, 0.0
        self._highest_ours = max(self._highest_ours, interview_id)
        self._take_out_of_gaps(interview_id)

    def answered(
        self,
        interview_id: int,
        *,
        exists: bool,
        created_at: float | None = None,
        answered_at: float | None = None,
    ) -> None:
        """A probe's answer: the interview exists (any answer but 404) or not.

        `answered_at` is the API's clock when it answered (its `Date` header): a 404 is
        judged against `created_at` on that same clock, a little before it (the header
        counts whole seconds). Without it, the instant the probe was sent, on this
        machine's clock, within `margin_seconds` of the API's.
        """
        sent = self._outstanding.pop(interview_id, None)
        if sent is None:
            return
        if exists:
            self.tally.found += 1
            if sent.scout:  # past the next new ID: counted when that passes it
                self._skip.add(interview_id)
                self._scout = iter(())  # crossed: the reach takes over
            else:
                self.memory.count(ours=True)
            self._found_not_kept.add(interview_id)
            self._highest_ours = max(self._highest_ours, interview_id)
            if created_at is not None:
                self.observed(interview_id, created_at)
            return
        if sent.scout:
            return  # a scouting probe's 404: the ID is probed in its turn
        probed_at = sent.sent_at if answered_at is None else answered_at - _DATE_SLACK
        if self.proofs.foreign(interview_id, probed_at):
            self.memory.count(ours=False)
            self.tally.settled += 1
        else:
            self._add_to_gaps(interview_id, probed_at, sent.checks)

    def unsent(self, interview_id: int) -> None:
        """A probe the run stopped before it was sent: not counted, and probed again."""
        sent = self._outstanding.pop(interview_id, None)
        if sent is not None:
            self.tally.count(sent, -1)
            if not sent.scout:
                self._add_to_gaps(interview_id, 0.0, 0)

    def kept(self, interview_id: int) -> None:
        """A found probe's record is out: the state may count it settled."""
        self._found_not_kept.discard(interview_id)

    # Gaps ---------------------------------------------------------------------------------

    def _add_to_gaps(self, interview_id: int, probed_at: float, checks: int) -> None:
        add_to_gaps(self.memory.gaps, interview_id, probed_at, checks, self.policy.margin_seconds)

    def _take_out_of_gaps(self, interview_id: int) -> None:
        self._due = None
        take_out_of_gaps(self.memory.gaps, interview_id)

    # State --------------------------------------------------------------------------------

    def stored(self) -> ScanMemory:
        """What the state keeps now: probes in flight and found IDs not yet kept stay open."""
        open_ids = [
            i for i in {*self._outstanding, *self._found_not_kept} if i < self.memory.next_id
        ]
        return self.memory.snapshot(thin(self._anchors), open_ids, self.policy.margin_seconds)
