"""How long Hindsight's request budget lasts: one place for the tap and the simulator.

Hindsight counts each key's requests per minute. The tap's limiter keeps to the budget over
a window of this length plus a margin (client.py), and the API simulator counts arrivals
over the same length. Tests that prove the budget over whole windows shorten it for both
at once through `HINDSIGHT_API_WINDOW_SECONDS`, read here and nowhere else: the tap runs
as a process of its own, so the environment is the one channel both sides see. Nothing
sets it in production, where the window is Hindsight's minute; the tap warns when it is set.
"""

from __future__ import annotations

import math
import os

MINUTE = 60.0
VARIABLE = "HINDSIGHT_API_WINDOW_SECONDS"


def api_window_seconds() -> float:
    """The API's budget window: a minute, unless the environment shortens it (tests)."""
    value = os.environ.get(VARIABLE)
    if value is None:
        return MINUTE
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MINUTE:
        msg = f"{VARIABLE} must be a number of seconds above 0 and at most 60, not {value!r}"
        raise ValueError(msg)
    return seconds
