"""Unit tests of the pure pieces: limiter arithmetic, 429 headers, NULs, validation."""

from __future__ import annotations

import io
import itertools
import logging
import threading
from datetime import datetime, timezone
from email.utils import format_datetime

import backoff
import pytest
from requests.structures import CaseInsensitiveDict

from hindsight_simulator.data import make_interview
from hindsight_simulator.server import max_in_window
from tap_hindsight.api import BACKOFF_CAP_SECONDS, retry_waits
from tap_hindsight.limiter import MAX_RATE_LIMIT_PAUSE, RateLimiter, rate_limit_pause
from tap_hindsight.records import RecordValidator, storable
from tap_hindsight.redact import RedactSecrets
from tap_hindsight.schemas import load_schema
from tests.helpers import FakeClock


def test_limiter_allows_the_limit_then_waits_for_the_oldest_to_leave_the_window():
    clock = FakeClock()
    limiter = RateLimiter(3, window=60.0, clock=clock)
    assert [limiter.try_claim() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_claim() == pytest.approx(60.0)
    clock.now += 59.9
    assert limiter.try_claim() == pytest.approx(0.1)
    clock.now += 0.1
    assert limiter.try_claim() == 0.0


def test_limiter_never_admits_more_than_the_limit_in_any_window():
    clock = FakeClock()
    limiter = RateLimiter(5, window=10.0, clock=clock)
    admitted = []
    for _ in range(400):
        wait = limiter.try_claim()
        if wait == 0.0:
            admitted.append(clock.now)
        clock.now += 0.37
    assert len(admitted) >= 5 * (400 * 0.37 // 10)
    assert max_in_window(admitted, 10.0) == 5


def test_a_pause_holds_back_every_caller():
    clock = FakeClock()
    limiter = RateLimiter(100, window=60.0, clock=clock)
    limiter.pause(5.0)
    assert limiter.try_claim() == pytest.approx(5.0)
    assert limiter.try_claim() == pytest.approx(5.0)
    clock.now += 5.0
    assert limiter.try_claim() == 0.0


def test_acquire_gives_up_when_stopped():
    limiter = RateLimiter(1, window=60.0)
    stop = threading.Event()
    assert limiter.acquire(stop) == 0  # a ticket: no answer read yet
    stop.set()
    assert limiter.acquire(stop) is None


def test_a_caller_waiting_for_the_budget_is_released_by_a_stop():
    waiting = threading.Event()
    calls = []

    def clock():
        # The limiter reads the clock with its lock held, just before it waits: the
        # second reading is the waiter's, so from then on a stop must wake it.
        calls.append(1)
        if len(calls) >= 2:
            waiting.set()
        return 1000.0

    limiter = RateLimiter(1, window=3600.0, clock=clock)
    stop = threading.Event()
    assert limiter.acquire(stop) is not None
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(limiter.acquire(stop)))
    waiter.start()
    assert waiting.wait(timeout=60)
    stop.set()
    limiter.wake_all()  # takes the lock: only once the waiter is inside its wait
    waiter.join(timeout=60)  # without the wake-up it would wait out the hour
    assert not waiter.is_alive()
    assert outcome == [None]


def test_a_late_answer_cannot_claim_more_than_the_window_has_left():
    limiter = RateLimiter(100, clock=FakeClock())
    stop = threading.Event()
    tickets = [limiter.acquire(stop) for _ in range(3)]
    assert tickets == [0, 0, 0]
    # 3 left with 3 in flight: they may spend it all.
    assert limiter.record_remaining(3, tickets[0]) == 3
    # An answer counted earlier but read later says 10: stale, it changes nothing.
    assert limiter.record_remaining(10, tickets[1]) == 3
    for _ in range(3):
        limiter.release()
    # A request sent after the low value was read, reporting more: a new window.
    later = limiter.acquire(stop)
    assert later == 2
    assert limiter.record_remaining(10, later) is None
    # Within a window a lower value always counts, whenever its request was sent.
    assert limiter.record_remaining(1, tickets[2]) == 1


def test_an_answer_that_allows_a_request_keeps_its_slot_until_that_request_is_sent():
    limiter = RateLimiter(100, clock=FakeClock())
    stop = threading.Event()
    first, second = limiter.acquire(stop), limiter.acquire(stop)
    assert limiter.record_remaining(4, first) is None  # 4 left, 2 in flight: one more may go
    limiter.release()  # its worker's next request is not sent yet, but it is allowed
    # 2 left: the request in flight and the allowed one may spend both.
    assert limiter.record_remaining(2, second) == 2


@pytest.mark.parametrize(("ours", "shared"), [(52, False), (40, True)])
def test_a_pause_for_the_window_says_whether_another_client_spent_it(ours, shared):
    # A 60-request key, a minute's window that resets in 10 s: 8 are left. If this run
    # sent 52 in the window the API counted only its own; if 40, someone else sent 12.
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    stop = threading.Event()
    for _ in range(ours):
        limiter.acquire(stop)
        limiter.release()
        clock.now += 0.5
    in_flight = [limiter.acquire(stop) for _ in range(8)]
    headers = {"X-RateLimit-Remaining": "8", "X-RateLimit-Reset": "10"}
    paused = limiter.pause_for_remaining(headers, in_flight[0], NOW, api_limit=60)
    assert paused is not None
    assert (paused.left, paused.seconds, paused.shared) == (8, 10.0, shared)
    assert ("other clients of the key" in paused.describe()) == shared


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Reset": str(int(NOW) + 12)}, 12.0),  # an epoch time
        ({"X-RateLimit-Reset": str(int(NOW) - 30)}, 0.5),  # an epoch already past
        ({"X-RateLimit-Reset": "7"}, 7.0),  # a number of seconds
        ({"X-RateLimit-Reset": "0"}, 0.5),  # never spin without waiting
        ({"X-RateLimit-Reset": "86400"}, MAX_RATE_LIMIT_PAUSE),
        ({"Retry-After": "3"}, 3.0),
        ({"X-RateLimit-Reset": "garbage", "Retry-After": "4"}, 4.0),
        ({}, 60.0),  # the budget is per minute
    ],
)
def test_rate_limit_pause_reads_epochs_seconds_and_retry_after(headers, expected):
    assert rate_limit_pause(CaseInsensitiveDict(headers), NOW) == pytest.approx(expected)


def test_rate_limit_pause_reads_epoch_milliseconds_and_http_dates():
    now = 1_700_000_000.0
    millis = CaseInsensitiveDict({"X-RateLimit-Reset": str(int((now + 9) * 1000))})
    assert rate_limit_pause(millis, now) == pytest.approx(9.0)
    date = format_datetime(datetime.fromtimestamp(now + 20, tz=timezone.utc), usegmt=True)
    assert rate_limit_pause(CaseInsensitiveDict({"Retry-After": date}), now) == pytest.approx(20.0)


def test_retry_waits_grow_exponentially_with_full_jitter_and_a_cap():
    ceilings = [1, 2, 4, 8, 16, 30, 30, 30]
    samples = [list(itertools.islice(retry_waits(), len(ceilings))) for _ in range(300)]
    for attempt, ceiling in enumerate(ceilings):
        waits = [sample[attempt] for sample in samples]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert min(waits) < ceiling / 4  # full jitter: spread over the whole range
        assert max(waits) > ceiling * 3 / 4
    assert BACKOFF_CAP_SECONDS == 30


def test_retry_waits_are_drawn_by_backoff(monkeypatch):
    drawn = []
    monkeypatch.setattr(backoff, "full_jitter", lambda value: drawn.append(value) or 0.0)
    assert list(itertools.islice(retry_waits(), 3)) == [0.0, 0.0, 0.0]
    assert drawn == [1, 2, 4]


def test_storable_removes_nul_at_every_depth_and_keeps_everything_else():
    value = {
        "a\x00": ["x\x00y", {"b": "\x00\x00"}, 3, None, True],
        "emoji": "👍 مرحبا 価格",
    }
    assert storable(value) == {"a": ["xy", {"b": ""}, 3, None, True], "emoji": "👍 مرحبا 価格"}
    clean = {"k": "v"}
    assert storable(clean) == clean
    # A lone surrogate is not text (it cannot be written as UTF-8): it becomes U+FFFD.
    assert storable(["a\ud800b", "\udfff"]) == ["a\ufffdb", "\ufffd"]


def test_validator_accepts_every_status_the_simulator_serves():
    validator = RecordValidator(load_schema("interviews"))
    for status in ("created", "sent", "completed", "archived"):
        assert validator.problems(make_interview(7, 1001, status)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"created_at": "2026-02-30T10:00:00Z"}, "field 'created_at': "),
        ({"email_sent_at": "soon"}, "field 'email_sent_at': "),
        ({"interview_request_id": "1001"}, "field 'interview_request_id': "),
        ({"status": None}, "field 'status': "),
        ({"transcript": "text"}, "field 'transcript': "),
        (
            {"transcript": {"document_id": "d", "content": "c"}},
            "field 'transcript.created_at' is missing",
        ),
    ],
)
def test_validator_names_the_field(change, expected):
    validator = RecordValidator(load_schema("interviews"))
    record = {**make_interview(7, 1001, "completed"), **change}
    problems = validator.problems(record)
    assert len(problems) == 1
    assert problems[0].startswith(expected)


def test_validator_messages_stay_short_for_huge_values():
    validator = RecordValidator(load_schema("interviews"))
    record = {**make_interview(7, 1001, "completed"), "created_at": "x" * 1_000_000}
    (problem,) = validator.problems(record)
    assert len(problem) < 300


def test_max_in_window_counts_half_open_windows():
    assert max_in_window([0, 1, 2, 60, 61], 60.0) == 3
    assert max_in_window([], 60.0) == 0


def test_redaction_covers_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets(["hs_live_SECRET42", "abc"]))  # too short: ignored
    logger = logging.getLogger("test-redaction")
    logger.addHandler(handler)
    logger.propagate = False
    secret = "hs_live_" + "SECRET42"  # not spelled out in the traceback's source line
    try:
        logger.warning("key %s in an argument", secret)
        try:
            raise ValueError(secret + " in an exception")  # noqa: TRY301
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "hs_live_SECRET42" not in output
    assert "key <redacted> in an argument" in output
    assert "ValueError: <redacted> in an exception" in output
    assert "abc" not in output.replace("<redacted>", "")  # short strings are left alone
