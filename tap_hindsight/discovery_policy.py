"""Discovery's knobs: how it trades requests against delay.

Fixed; the benchmark measures them (`benchmarks/discovery.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    """How discovery trades requests against delay (fixed; the benchmark measures it)."""

    #: How far the API's `created_at` clock may run ahead of this machine's (seconds).
    margin_seconds: float = 60.0
    #: Beyond our highest interview, probe at most this many expected gaps ahead.
    cap_gaps: float = 2.0
    #: Open tail IDs are checked again after this many expected gaps' time, then doubling.
    reprobe_gaps: float = 4.0
    #: Bounds of that spacing (seconds).
    reprobe_min_seconds: float = 3600.0
    reprobe_max_seconds: float = 86400.0
    #: The counter's speed is measured between our interviews at most this far apart...
    rate_window_seconds: float = 4 * 3600.0
    #: ...and at least this far apart (a burst of IDs says little of the speed).
    rate_min_seconds: float = 10 * 60.0
    #: An hour of the week counts as one the counter rests in once this many of our
    #: interviews would have been created in it, had it moved then, and none was.
    resting_evidence: float = 3.0
    #: New IDs are probed once the counter should have passed them this much busy time
    #: ago (seconds): fewer probes of IDs not handed out yet, for minutes of delay.
    lag_seconds: float = 450.0
    #: Past `cap`, the bound on the reach doubles after this long busy without one of
    #: ours, then after twice as long, and so on (seconds).
    doubling_seconds: float = 900.0
    #: While the counter rests as foreseen (a night), new IDs are probed past `cap` up to
    #: where it should have stopped, as long as the 404s past our highest could all be
    #: other organisations' with this chance at least.
    rest_lift_chance: float = 0.001
    #: Before any interview of ours is found, discovery looks this many IDs past
    #: `scan_start_id` at most, and as many more each day.
    blind_limit: int = 1_000
    #: Past the reach, scout once this many expected gaps of busy time passed without one
    #: of ours (a burst of other organisations' IDs, or a counter slower than thought),
    #: and at least `scout_min_seconds`; then after twice as long, and so on.
    scout_gaps: float = 5.0
    scout_min_seconds: float = 3600.0
    #: A round's probes are spaced so that this many of ours would be among them in the
    #: IDs handed out since a burst half-way through the overdue time (found with a
    #: chance of 1 - e^-cover)...
    scout_cover: float = 3.0
    #: ...and the first round sends `scout_rounds_of_cover` times as many as it takes to
    #: find `scout_cover` of ours in a row of IDs, each later round twice as many as the
    #: last; never more than the counter should have handed out in the overdue time.
    scout_rounds_of_cover: float = 6.0
    #: A round whose stride would be below this is not sent (too few of ours handed out
    #: in the overdue time to cross a burst): the reach probes those IDs anyway.
    scout_min_stride: float = 2.0
    #: An open tail ID checked this many times waits for one of ours above it instead of
    #: being checked again every day of a long silence (once a speed is known).
    tail_checks: int = 3
    #: The lag is at least this many expected gaps' IDs (`lag_gaps / share`): at a small
    #: share the counter passes an ID long before one of ours proves its 404, so probing
    #: it minutes after it is handed out saves no delay and costs probes.
    lag_gaps: float = 0.16


POLICY = Policy()
