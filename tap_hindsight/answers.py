"""What an answer is, once the HTTP side has classified it: pure data the core judges.

The client (`client.py`) fills these in on its worker threads; the streams and the core's
judge (`judge.py`) read them on the main thread.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

from tap_hindsight.records import parse_datetime


class Outcome(Enum):
    """How fetching one interview ended."""

    OK = "ok"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(kw_only=True)
class Attempts:
    """What getting one answer cost, and why it failed if it did."""

    error: str = ""
    rate_limited: int = 0
    budget_pauses: int = 0
    #: The API's clock when it last answered (its `Date` header, epoch seconds; None:
    #: no such header). Discovery compares it with `created_at`, from the same clock.
    server_time: float | None = None


@dataclass
class RequestTally:
    """Requests a run sent, and how often the budget held them back (for its summary).

    The requests sent are the limiter's count (`RateLimiter.sent`) since the run started
    (`since`): it also counts those whose answer the run never read, when a rejected key
    ends it at once.
    """

    requests_sent: int = 0
    rate_limited: int = 0
    budget_pauses: int = 0
    since: int = 0

    def sent_until(self, total: int) -> None:
        """The run is over: the limiter has let out `total` requests in all."""
        self.requests_sent = total - self.since

    def add(self, attempts: Attempts) -> None:
        """Add what getting one answer cost."""
        self.rate_limited += attempts.rate_limited
        self.budget_pauses += attempts.budget_pauses


@dataclass
class FetchResult(Attempts):
    """The answer for one interview ID, handed from a worker to the main thread."""

    interview_id: int
    outcome: Outcome
    record: dict[str, Any] | None = None

    def created_at(self) -> float | None:
        """When the record fetched was created (epoch seconds; None: no usable record)."""
        if self.outcome is not Outcome.OK or self.record is None:
            return None
        with contextlib.suppress(TypeError, ValueError):
            return parse_datetime(str(self.record.get("created_at"))).timestamp()
        return None


@dataclass
class PageResult(Attempts):
    """One page of `GET /deals`: its deals once `outcome` is OK."""

    page_index: int
    outcome: Outcome = Outcome.CANCELLED
    deals: list[dict[str, Any]] | None = None


def server_time(date: str | None) -> float | None:
    """An HTTP `Date` header as epoch seconds (None: missing or not a date)."""
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
