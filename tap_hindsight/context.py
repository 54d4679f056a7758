"""What every stream of one run shares, built once by the tap at the start of the run.

The checked settings, the one request budget (interviews and deals spend the same one),
the run's deadline on that budget's clock (`max_run_minutes`), how to write a STATE
message, and whether a signal asked the run to stop. Streams read it; none of them
reaches back into the tap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_hindsight.client import HindsightClient
from tap_hindsight.limiter import RateLimiter, StopRequest

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from tap_hindsight.settings import Settings


@dataclass(frozen=True)
class RunContext:
    """One run's shared settings, budget and deadline."""

    settings: Settings
    limiter: RateLimiter
    #: No request starts after this instant of `limiter`'s clock (None: no deadline).
    deadline: float | None
    #: Writes the whole tap state as a STATE message.
    write_state: Callable[[Any], None]
    #: A graceful stop asked for by a signal.
    stop: StopRequest = field(default_factory=StopRequest)

    @classmethod
    def start(
        cls,
        settings: Settings,
        write_state: Callable[[Any], None],
    ) -> RunContext:
        """A run starting now: a fresh budget, and `max_run_minutes` counted from now."""
        limiter = RateLimiter(settings.budget)
        limit = settings.max_run_minutes
        deadline = None if limit is None else limiter.now() + limit * 60.0
        return cls(settings, limiter, deadline, write_state)

    def client(self, logger: logging.Logger) -> HindsightClient:
        """A client that spends this run's budget and keeps to its deadline."""
        return HindsightClient(self.settings, logger, self.limiter, self.deadline, self.stop)
