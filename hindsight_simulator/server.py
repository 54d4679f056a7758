"""A Hindsight API simulator: a real HTTP server on loopback that behaves like the API.

It serves `GET /interviews/{id}` with per-organisation keys (another organisation's IDs
answer 404), a per-minute request budget with `X-RateLimit-*` headers and 429s, the
created -> sent -> completed lifecycle, latency, and injected faults of every kind the
tap must survive. `GET /deals` pages the organisation's deals as documented (`page_size`
at most 100, default 50; `page_index` from 0; `sort`, `sort_order`; `count=true`; a bare
array whose last page is short), every deal an interview's `deal_id` names among them, on
the same budget and with the same faults (403 for a key without access to deals). Tests,
benchmarks and the demo all run against it.

Control endpoints under `/_sim/` (no key needed; the server only listens on loopback):
    GET  /_sim/stats                 counters, arrival times, in-flight peak
    POST /_sim/advance  {"ids": [..]}  move each one step along the lifecycle (all if omitted)
    POST /_sim/status   {"id": N, "status": "..."}
    POST /_sim/faults   {"id": N, "faults": ["500", "disconnect", ...]}  scripted, per ID
    POST /_sim/body     {"id": N, "body": {...}}  serve this body instead (for broken data)
    POST /_sim/reset-stats
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import math
import random
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

from typing_extensions import Self

from hindsight_simulator.data import (
    initial_status,
    interview_deal,
    make_deal,
    make_interview,
    next_status,
)
from tap_hindsight.window import api_window_seconds

if TYPE_CHECKING:
    from collections.abc import Callable

    from hindsight_simulator.ids import SharedIdSpace

#: GET /deals: the largest page, and the columns it sorts by.
MAX_DEALS_PAGE_SIZE = 100
#: How often the serving loop looks whether `stop` was asked for (seconds).
_POLL_SECONDS = 0.02
DEFAULT_DEALS_PAGE_SIZE = 50
DEAL_SORT_COLUMNS = frozenset({"id", "created_at", "name", "amount"})


def _instant(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Every failure kind the simulator can inject.
FAULT_KINDS = (
    "500",  # JSON 500
    "502_html",  # a proxy's HTML error page
    "503",  # service unavailable with Retry-After
    "html_200",  # 200 with an HTML body (a captive portal or login page)
    "truncated",  # 200 whose JSON body is cut short (Content-Length matches the cut)
    "incomplete",  # 200 that promises more bytes than it sends, then disconnects
    "disconnect",  # the connection closes without an answer
    "hang",  # no answer for hang_seconds, then the connection closes
    "429",  # a spurious rate-limit answer
)
#: Needs `redirect_to`; never drawn at random unless listed.
REDIRECT_FAULT = "redirect"
#: An error that quotes the request's key back (never drawn at random unless listed).
ECHO_FAULT = "echo_auth"
#: A 40 MiB answer (never drawn at random unless listed).
HUGE_FAULT = "huge"
#: 401 as if the key had just been revoked (never drawn at random unless listed).
REVOKED_FAULT = "revoked"
#: The longest `hold_answers` keeps a request waiting (a test that forgets to release
#: does not hang the server for ever).
_HOLD_LIMIT_SECONDS = 600.0

#: An answer held back until `hold_release_after` answers went out since the last reset
#: (or `hang_seconds` passed), then served normally (never drawn at random unless listed).
HOLD_FAULT = "hold"
#: Not a fault: in a script, "answer this request normally" (to fail a later one).
NO_FAULT = "ok"


@dataclass(frozen=True)
class Organisation:
    """A Hindsight organisation: its API key and the IDs it owns."""

    name: str
    api_key: str
    first_id: int
    count: int
    #: IDs inside the range that are not this organisation's (another one's, or deleted).
    gaps: frozenset[int] = frozenset()
    #: False: the key may read interviews but GET /deals answers 403.
    deals_access: bool = True

    def owns(self, interview_id: int) -> bool:
        """True if this organisation created `interview_id`."""
        in_range = self.first_id <= interview_id < self.first_id + self.count
        return in_range and interview_id not in self.gaps

    @property
    def ids(self) -> list[int]:
        """Every ID this organisation owns, ascending."""
        return [i for i in range(self.first_id, self.first_id + self.count) if i not in self.gaps]


def default_organisations(count: int = 200) -> tuple[Organisation, ...]:
    """Two organisations: acme (the one under test) and globex (someone else)."""
    return (
        Organisation("acme", "hs_sim_acme_key", 1001, count),
        Organisation("globex", "hs_sim_globex_key", 500_001, 20),
    )


@dataclass
class SimulatorConfig:
    """How the simulator behaves; every field has a command-line option."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 7
    organisations: tuple[Organisation, ...] = field(default_factory=default_organisations)
    transcript_chars: int = 2_000
    latency_ms: float = 0.0
    rate_limit: int = 1_000
    #: The budget's window: the API's minute, or what the tests shortened it to for the
    #: tap and the simulator at once (tap_hindsight/window.py).
    window_seconds: float = field(default_factory=api_window_seconds)
    reset_style: str = "epoch"  # epoch | seconds | retry-after
    #: Requests other clients of the same key spend at the start of every window.
    other_clients_per_window: int = 0
    #: Send X-RateLimit-* on every answer (False: only on 429s, as some APIs do).
    limit_headers_always: bool = True
    #: The "huge" fault sends no Content-Length (the tap must count what it reads).
    huge_without_length: bool = False
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    hang_seconds: float = 5.0
    redirect_to: str | None = None
    #: For the "hold" fault: how many answers (since the last reset) release a held one.
    #: Counted from the reset, not from the held request's arrival: answers that went out
    #: before its handler ran (a busy machine) still count.
    hold_release_after: int = 0
    #: Hold every interview's answer until this many requests have been in flight at once
    #: (or `hang_seconds` passed): a test of concurrency that does not depend on latency.
    #: Deals pages are not held: the tap reads them one at a time.
    hold_until_in_flight: int = 0
    #: GET /deals wraps its array in an object under this key (None: a bare array, as
    #: documented; older reference pages showed an envelope).
    deals_envelope: str | None = None
    #: False: every organisation's CRM holds no deal (GET /deals answers an empty list).
    #: The tests' simulators serve none unless a test asks (tests/conftest.py): the
    #: deals streams cost a run a thousand rows it has no use for elsewhere.
    serve_deals: bool = True
    #: Interview IDs handed out on one counter shared by every organisation: the
    #: organisations it names own the IDs it gave them, once created (ids.py); the others
    #: keep their ranges.
    shared_ids: SharedIdSpace | None = None
    #: The instant "now" for the shared IDs (epoch seconds): a test may move it.
    clock: Callable[[], float] = time.time


@dataclass
class Arrival:
    """One request as the simulator saw it."""

    at: float
    interview_id: int | None
    status: int
    fault: str | None
    authorized: bool
    client: str = ""  # the User-Agent
    path: str = ""  # without the query


class HindsightSimulator:
    """Run the simulated API in a background thread; use as a context manager."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        """Prepare (not start) a simulator."""
        self.config = config or SimulatorConfig()
        self._lock = threading.Lock()
        self._statuses: dict[int, str] = {}
        self._bodies: dict[int, Any] = {}
        #: Fields changed after creation (as PATCH /interviews/{id} changes them), and
        #: transcripts replaced (a redaction), by ID.
        self._edits: dict[int, dict[str, Any]] = {}
        self._transcripts: dict[int, str] = {}
        self._times: dict[int, tuple[datetime, datetime | None]] = {}
        self._deal_changes: dict[str, dict[str, Any]] = {}
        self._deleted_deals: set[str] = set()
        self._generated_deals: dict[str, list[dict[str, Any]]] = {}
        self._deal_faults: deque[str] = deque()
        self._scripted: dict[int, deque[str]] = {}
        self._windows: dict[str, tuple[float, int]] = {}
        self._rng = random.Random(self.config.seed)  # noqa: S311 (fault dice)
        self.arrivals: list[Arrival] = []
        #: Interview IDs in the order their answers went out (None: not an interview URL).
        self.answered: list[int | None] = []
        self._answers = threading.Condition(self._lock)
        self._in_flight = 0
        self.max_in_flight = 0
        self._gate_open = threading.Event()
        #: Cleared by `hold_answers`: every request then waits until `release_answers`.
        self._answering = threading.Event()
        self._answering.set()
        self._held = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle -----------------------------------------------------------------------

    def bind(self) -> Self:
        """Listen on the configured address (port 0: a free one); `url` is known from now.

        Connections wait in the listen queue until `start` serves them.
        """
        if self._server is None:
            handler = type("Handler", (_Handler,), {"simulator": self})
            server = ThreadingHTTPServer((self.config.host, self.config.port), handler)
            server.daemon_threads = True
            server.block_on_close = False
            self._server = server
        return self

    def start(self) -> Self:
        """Listen (if not bound yet) and serve in a daemon thread."""
        self.bind()
        server = self._server
        if server is None:  # pragma: no cover (bind sets it)
            msg = "simulator could not listen"
            raise RuntimeError(msg)
        # `stop` waits for the serving loop to look at its flag, which it does once a poll
        # interval: the default half second would hold every test's teardown that long.
        serve = functools.partial(server.serve_forever, poll_interval=_POLL_SECONDS)
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (answers in progress are abandoned)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        """Start on entry."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()

    @property
    def url(self) -> str:
        """The API root to give the tap as `base_url`."""
        if self._server is None:
            msg = "simulator not started"
            raise RuntimeError(msg)
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/v1"

    # Data and lifecycle of interviews ---------------------------------------------------

    def serves(self, org: Organisation, interview_id: int) -> bool:
        """True if `org`'s key gets this interview now (else the API's 404)."""
        shared = self.config.shared_ids
        if shared is not None and org.name in shared.names:
            return shared.answers(org.name, interview_id, self.config.clock())
        return org.owns(interview_id)

    def organisation(self, name: str) -> Organisation:
        """The organisation called `name`."""
        return next(org for org in self.config.organisations if org.name == name)

    def status_of(self, interview_id: int) -> str:
        """The interview's current status."""
        with self._lock:
            return self._status_locked(interview_id)

    def _status_locked(self, interview_id: int) -> str:
        status = self._statuses.get(interview_id)
        if status is None:
            status = initial_status(self.config.seed, interview_id)
            self._statuses[interview_id] = status
        return status

    def interview(self, interview_id: int) -> Any:  # noqa: ANN401 (any JSON body)
        """What GET /interviews/{id} serves now (the ground truth tests compare with)."""
        with self._lock:
            if interview_id in self._bodies:
                return self._bodies[interview_id]
            status = self._status_locked(interview_id)
            times = self._times.get(interview_id)
            edits = dict(self._edits.get(interview_id, {}))
            content = self._transcripts.get(interview_id)
        record = make_interview(
            self.config.seed, interview_id, status, self.config.transcript_chars
        )
        record.update(edits)
        if content is not None and record.get("transcript"):
            record["transcript"]["content"] = content
        shared = self.config.shared_ids
        created_at = None if shared is None else shared.created_at(interview_id)
        if times is None and created_at is not None:
            created = datetime.fromtimestamp(created_at, tz=timezone.utc)
            times = (created, created + timedelta(minutes=5 + interview_id % 85))
        if times is not None:
            created, sent = times
            record["created_at"] = _instant(created)
            if record["email_sent_at"] is not None:
                record["email_sent_at"] = _instant(sent or created)
        return record

    def set_times(
        self, interview_id: int, created_at: datetime, email_sent_at: datetime | None = None
    ) -> None:
        """Serve these instants instead of the generated ones (ages of seconds).

        `email_sent_at` stays null while the interview is `created`; once sent it is this
        instant (or `created_at`).
        """
        with self._lock:
            self._times[interview_id] = (created_at, email_sent_at)

    def create_interviews(self, organisation: str, count: int) -> list[int]:
        """Append `count` new interviews to an organisation, as POST /interviews would."""
        with self._lock:
            orgs = list(self.config.organisations)
            index = next(i for i, org in enumerate(orgs) if org.name == organisation)
            grown = replace(orgs[index], count=orgs[index].count + count)
            orgs[index] = grown
            self.config.organisations = tuple(orgs)
            new_ids = list(
                range(grown.first_id + grown.count - count, grown.first_id + grown.count)
            )
            for interview_id in new_ids:
                self._statuses[interview_id] = "sent"
        return new_ids

    def delete_interviews(self, organisation: str, ids: list[int]) -> None:
        """Delete interviews: from now on they answer 404, as DELETE would leave them."""
        with self._lock:
            orgs = list(self.config.organisations)
            index = next(i for i, org in enumerate(orgs) if org.name == organisation)
            orgs[index] = replace(orgs[index], gaps=orgs[index].gaps | frozenset(ids))
            self.config.organisations = tuple(orgs)

    def edit_interview(self, interview_id: int, **fields: Any) -> None:  # noqa: ANN401
        """Change fields from now on, as `PATCH /interviews/{id}` does (`objective`...)."""
        with self._lock:
            self._edits.setdefault(interview_id, {}).update(fields)

    def replace_transcript(self, interview_id: int, content: str) -> None:
        """Serve this markdown as the completed transcript from now on (a redaction)."""
        with self._lock:
            self._transcripts[interview_id] = content

    def set_status(self, interview_id: int, status: str) -> None:
        """Put an interview in `status` (any string: the API may add statuses)."""
        with self._lock:
            self._statuses[interview_id] = status

    def advance(self, ids: list[int] | None = None) -> dict[int, str]:
        """Move each interview one step along created -> sent -> completed."""
        if ids is None:
            ids = [i for org in self.config.organisations for i in org.ids]
        with self._lock:
            for interview_id in ids:
                self._statuses[interview_id] = next_status(self._status_locked(interview_id))
            return {interview_id: self._statuses[interview_id] for interview_id in ids}

    def deals(self, organisation: str) -> list[dict[str, Any]]:
        """Every deal of the organisation as GET /deals serves it (ground truth), by ID.

        The deals its interviews point to (each with the competitor its buyer talks
        about as the primary one), and a tenth more that no interview points to.
        """
        return copy.deepcopy(self._served_deals(organisation))

    def _served_deals(self, organisation: str) -> list[dict[str, Any]]:
        """`deals`, sharing the generated deals (never change them): one page is cheap."""
        if not self.config.serve_deals:
            return []
        with self._lock:
            generated = self._generated_deals.get(organisation)
        if generated is None:
            org = self.organisation(organisation)
            seed = self.config.seed
            competitors: dict[str, str | None] = {}
            for interview_id in org.ids:
                referenced, competitor = interview_deal(seed, interview_id)
                if referenced is not None:
                    competitors.setdefault(referenced, competitor)
            for extra in range(max(org.count // 10, 1)):
                rng = random.Random(f"{seed}:{org.name}:deal:{extra}")  # noqa: S311
                competitors.setdefault(f"deal_{rng.getrandbits(40):010x}", None)
            generated = [make_deal(seed, d, primary) for d, primary in competitors.items()]
            with self._lock:
                self._generated_deals[organisation] = generated
        with self._lock:
            changes = {k: dict(v) for k, v in self._deal_changes.items()}
        with self._lock:
            deleted = set(self._deleted_deals)
        deals = [
            {**deal, **changes[deal["id"]]} if deal["id"] in changes else deal
            for deal in generated
            if deal["id"] not in deleted
        ]
        return sorted(deals, key=lambda deal: str(deal["id"]))

    def delete_deals(self, deal_ids: list[str]) -> None:
        """The deals list no longer holds these deals (deleted in the CRM)."""
        with self._lock:
            self._deleted_deals.update(deal_ids)

    def change_deal(self, deal_id: str, **fields: Any) -> None:  # noqa: ANN401
        """Serve these fields for the deal from now on (a stage change, a new driver...)."""
        with self._lock:
            self._deal_changes.setdefault(deal_id, {}).update(fields)

    def script_deal_faults(self, faults: list[str]) -> None:
        """The next GET /deals requests fail in these ways, in order, then succeed."""
        self._check_faults(faults)
        with self._lock:
            self._deal_faults.extend(faults)

    def set_body(self, interview_id: int, body: Any) -> None:  # noqa: ANN401
        """Serve `body` for this ID instead of generated data (a broken payload)."""
        with self._lock:
            self._bodies[interview_id] = body

    @staticmethod
    def _check_faults(faults: list[str]) -> None:
        known = {*FAULT_KINDS, REDIRECT_FAULT, ECHO_FAULT, HUGE_FAULT, HOLD_FAULT, REVOKED_FAULT}
        known.add(NO_FAULT)
        unknown = set(faults) - known
        if unknown:
            msg = f"unknown fault kinds: {sorted(unknown)}"
            raise ValueError(msg)

    def script_faults(self, interview_id: int, faults: list[str]) -> None:
        """The next requests for this ID fail in these ways, in order, then succeed."""
        self._check_faults(faults)
        with self._lock:
            self._scripted.setdefault(interview_id, deque()).extend(faults)

    def hold_answers(self) -> None:
        """Hold every request from now on until `release_answers` (a run kept running)."""
        self._answering.clear()

    def release_answers(self) -> None:
        """Answer the held requests and every later one."""
        self._answering.set()

    def wait_for_held(self, count: int, timeout: float) -> bool:
        """Block until `count` requests are held at once (False on timeout)."""
        with self._answers:
            return self._answers.wait_for(lambda: self._held >= count, timeout)

    # Statistics ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters over every request so far."""
        with self._lock:
            arrivals = list(self.arrivals)
        per_id = Counter(a.interview_id for a in arrivals if a.interview_id is not None)
        return {
            "requests": len(arrivals),
            "deal_requests": sum(1 for a in arrivals if a.path.endswith("/deals")),
            "interview_requests": sum(1 for a in arrivals if not a.path.endswith("/deals")),
            "by_status": dict(Counter(str(a.status) for a in arrivals)),
            "faults": dict(Counter(a.fault for a in arrivals if a.fault)),
            "rate_limited": sum(1 for a in arrivals if a.status == 429),  # noqa: PLR2004
            "unauthorized": sum(1 for a in arrivals if a.status == 401),  # noqa: PLR2004
            "authorized_requests": sum(1 for a in arrivals if a.authorized),
            "max_in_flight": self.max_in_flight,
            "max_requests_per_id": max(per_id.values(), default=0),
            "distinct_ids": len(per_id),
            "max_in_any_window": max_in_window(
                [a.at for a in arrivals if a.authorized], self.config.window_seconds
            ),
            "arrivals": [a.at for a in arrivals],
        }

    def requests_for(self, interview_id: int) -> int:
        """How many requests asked for this ID."""
        with self._lock:
            return sum(1 for a in self.arrivals if a.interview_id == interview_id)

    def reset_stats(self) -> None:
        """Forget past requests (counters, arrivals, answer order, in-flight peak)."""
        with self._lock:
            self.arrivals.clear()
            self.answered.clear()
            self.max_in_flight = self._in_flight

    # Request handling (called from handler threads) -------------------------------------

    def _enter(self, *, interview: bool) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            gate = self.config.hold_until_in_flight
            if gate and self._in_flight >= gate:
                self._gate_open.set()
        if self.config.hold_until_in_flight and interview:
            self._gate_open.wait(self.config.hang_seconds)
        if not self._answering.is_set():
            with self._answers:
                self._held += 1
                self._answers.notify_all()
            self._answering.wait(_HOLD_LIMIT_SECONDS)
            with self._answers:
                self._held -= 1

    def _leave(self, interview_id: int | None) -> None:
        with self._lock:
            self._in_flight -= 1
            if interview_id is not None:  # an interview's answer (not a deals page)
                self.answered.append(interview_id)
            self._answers.notify_all()

    def wait_for_answers(self, count: int, timeout: float) -> bool:
        """Block until `count` answers went out since the last reset (False on timeout)."""
        with self._answers:
            return self._answers.wait_for(lambda: len(self.answered) >= count, timeout)

    def _hold(self) -> None:
        """Wait until `hold_release_after` answers went out (or `hang_seconds`)."""
        self.wait_for_answers(self.config.hold_release_after, self.config.hang_seconds)

    def _record(self, arrival: Arrival) -> None:
        with self._lock:
            self.arrivals.append(arrival)

    def _organisation_for(self, authorization: str | None) -> Organisation | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        key = authorization[len("Bearer ") :]
        return next((o for o in self.config.organisations if o.api_key == key), None)

    def _spend(self, org: Organisation) -> tuple[bool, int, float]:
        """Count one request against the org's window: (allowed, remaining, reset epoch)."""
        window = self.config.window_seconds
        now = time.time()
        with self._lock:
            start, used = self._windows.get(org.name, (0.0, 0))
            if now >= start + window:
                start = math.floor(now / window) * window
                used = min(self.config.other_clients_per_window, self.config.rate_limit)
            allowed = used < self.config.rate_limit
            if allowed:
                used += 1
            self._windows[org.name] = (start, used)
        return allowed, max(self.config.rate_limit - used, 0), start + window

    def _draw_fault(self, interview_id: int | None, *, deals: bool = False) -> str | None:
        with self._lock:
            if deals and self._deal_faults:
                scripted = self._deal_faults.popleft()
                return None if scripted == NO_FAULT else scripted
            if interview_id is not None and self._scripted.get(interview_id):
                scripted = self._scripted[interview_id].popleft()
                return None if scripted == NO_FAULT else scripted
            if self.config.fault_rate > 0 and self._rng.random() < self.config.fault_rate:
                return self._rng.choice(self.config.fault_kinds)
        return None

    def rate_limit_headers(self, remaining: int, reset_at: float) -> dict[str, str]:
        """`X-RateLimit-*` headers in the configured style."""
        headers = {
            "X-RateLimit-Limit": str(self.config.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
        }
        if self.config.reset_style == "seconds":
            headers["X-RateLimit-Reset"] = str(max(math.ceil(reset_at - time.time()), 0))
        elif self.config.reset_style == "epoch":
            headers["X-RateLimit-Reset"] = str(math.ceil(reset_at))
        return headers


def max_in_window(times: list[float], window: float) -> int:
    """The most events inside any half-open interval of `window` seconds."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
)
_LOGIN_PAGE = b"<!DOCTYPE html><html><body><form action='/login'>Sign in</form></body></html>"


class _Handler(BaseHTTPRequestHandler):
    simulator: HindsightSimulator
    _arrived: float = 0.0
    _interview_id: int | None = None
    _authorized: bool = False
    protocol_version = "HTTP/1.1"
    server_version = "HindsightSimulator/1.0"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK add about 40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401
        """Quiet: tests read counters, not access logs."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header, on the simulator's clock (the one `created_at` follows)."""
        return formatdate(
            self.simulator.config.clock() if timestamp is None else timestamp, usegmt=True
        )

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        sim = self.simulator
        self._interview_id = None  # a kept-alive connection serves several requests
        path, _, query = self.path.partition("?")
        sim._enter(interview=path.startswith("/api/v1/interviews/"))  # noqa: SLF001
        try:
            if self.path.startswith("/_sim/stats"):
                self._send(200, json.dumps(sim.stats()).encode())
                return
            if path == "/api/v1/deals":
                self._serve_deals(query)
                return
            self._serve_interview()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            sim._leave(self._interview_id)  # noqa: SLF001

    def _log(self, status: int, fault: str | None = None) -> None:
        client = self.headers.get("User-Agent", "")
        self.simulator._record(  # noqa: SLF001
            Arrival(
                self._arrived,
                self._interview_id,
                status,
                fault,
                self._authorized,
                client,
                self.path.partition("?")[0],
            ),
        )

    def _admit(self, *, deals: bool) -> tuple[Organisation, str | None, dict[str, str]] | None:
        """Key, budget and faults, as for every API request: None if already answered."""
        sim = self.simulator
        config = sim.config
        if config.latency_ms > 0:
            time.sleep(config.latency_ms / 1000.0)
        org = sim._organisation_for(self.headers.get("Authorization"))  # noqa: SLF001
        self._authorized = org is not None
        if org is None:
            self._log(401)
            self._send(401, _error_body("unauthorized", "Invalid or missing API key"))
            return None
        allowed, remaining, reset_at = sim._spend(org)  # noqa: SLF001
        headers_429 = sim.rate_limit_headers(remaining, reset_at)
        limit_headers = headers_429 if config.limit_headers_always else {}
        if not allowed:
            self._log(429)
            headers = dict(headers_429)
            if config.reset_style == "retry-after":
                headers["Retry-After"] = str(max(math.ceil(reset_at - time.time()), 1))
            self._send(429, _error_body("rate_limit_exceeded", "Too many requests"), headers)
            return None
        fault = sim._draw_fault(self._interview_id, deals=deals)  # noqa: SLF001
        if fault == HOLD_FAULT:
            sim._hold()  # noqa: SLF001 (then answered as usual)
        if fault in self.EARLY_FAULTS:
            status, answer = self.EARLY_FAULTS[fault]
            self._log(status, fault)
            getattr(self, answer)(limit_headers)
            return None
        return org, fault, limit_headers

    def _serve_deals(self, query: str) -> None:
        """GET /deals: one page of the organisation's deals, a bare array (documented)."""
        sim = self.simulator
        self._arrived = time.time()
        admitted = self._admit(deals=True)
        if admitted is None:
            return
        org, fault, limit_headers = admitted
        if not org.deals_access:
            self._log(403, fault)
            body = _error_body("forbidden", "This API key has no access to deals")
            self._send(403, body, limit_headers)
            return
        params = dict(parse_qsl(query))
        try:
            page_size = int(params.get("page_size", DEFAULT_DEALS_PAGE_SIZE))
            page_index = int(params.get("page_index", 0))
        except ValueError:
            page_size = page_index = -1
        sort = params.get("sort", "created_at")
        order = params.get("sort_order", "desc")
        if not (
            1 <= page_size <= MAX_DEALS_PAGE_SIZE
            and page_index >= 0
            and sort in DEAL_SORT_COLUMNS
            and order in {"asc", "desc"}
        ):
            self._log(400, fault)
            message = f"page_size 1-{MAX_DEALS_PAGE_SIZE}, page_index >= 0, sort one of " + (
                ", ".join(sorted(DEAL_SORT_COLUMNS)) + ", sort_order asc or desc"
            )
            self._send(400, _error_body("bad_request", message), limit_headers)
            return
        deals = sim._served_deals(org.name)  # noqa: SLF001
        answer: Any
        if params.get("count") == "true":
            answer = {"count": len(deals)}
        else:
            deals.sort(key=lambda deal: (deal[sort] is None, deal[sort], str(deal["id"])))
            if order == "desc":
                deals.reverse()
            answer = deals[page_index * page_size : (page_index + 1) * page_size]
            if sim.config.deals_envelope:
                answer = {sim.config.deals_envelope: answer}
        self._log(200, fault)
        self._send_body(json.dumps(answer, ensure_ascii=False).encode(), fault, limit_headers)

    def _serve_interview(self) -> None:
        sim = self.simulator
        self._arrived = time.time()
        path = self.path.split("?", 1)[0]
        prefix = "/api/v1/interviews/"
        tail = path[len(prefix) :] if path.startswith(prefix) else ""
        self._interview_id = int(tail) if tail.isdigit() else None
        admitted = self._admit(deals=False)
        if admitted is None:
            return
        org, fault, limit_headers = admitted
        if self._interview_id is None or not sim.serves(org, self._interview_id):
            self._log(404, fault)
            body = _error_body("not_found", "Interview request not found")
            self._send(404, body, limit_headers)
            return
        self._log(200, fault)
        body = json.dumps(sim.interview(self._interview_id), ensure_ascii=False).encode()
        self._send_body(body, fault, limit_headers)

    def _send_body(self, body: bytes, fault: str | None, limit_headers: dict[str, str]) -> None:
        """A 200 with `body`, cut short if the fault says so."""
        if fault == "truncated":
            self._send(200, body[: max(len(body) // 2, 1)], limit_headers)
        elif fault == "incomplete":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._drop()
        else:
            self._send(200, body, limit_headers)

    # Faults answered before looking the interview up: the status logged, and the method
    # that answers. ("truncated" and "incomplete" need the body, so they come later.)
    EARLY_FAULTS: ClassVar[dict[str, tuple[int, str]]] = {
        "500": (500, "_answer_500"),
        "502_html": (502, "_answer_502_html"),
        "503": (503, "_answer_503"),
        "html_200": (200, "_answer_html_200"),
        "disconnect": (0, "_answer_disconnect"),
        "hang": (0, "_answer_hang"),
        "429": (429, "_answer_429"),
        REDIRECT_FAULT: (302, "_answer_redirect"),
        ECHO_FAULT: (400, "_answer_echo"),
        HUGE_FAULT: (200, "_answer_huge"),
        REVOKED_FAULT: (401, "_answer_revoked"),
    }

    def _answer_huge(self, _headers: dict[str, str]) -> None:
        # A runaway answer: 40 MiB that never forms a record.
        size = 40 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if not self.simulator.config.huge_without_length:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b" " * (1 << 20)
        for _ in range(size >> 20):
            self.wfile.write(chunk)
        self._drop()

    def _answer_revoked(self, _headers: dict[str, str]) -> None:
        self._send(401, _error_body("unauthorized", "Invalid or missing API key"))

    def _answer_echo(self, _headers: dict[str, str]) -> None:
        # A hostile proxy: the error quotes the request's Authorization header back.
        echoed = self.headers.get("Authorization", "")
        self._send(400, _error_body(echoed, f"bad request from {echoed}"))

    def _answer_500(self, _headers: dict[str, str]) -> None:
        self._send(500, _error_body("internal_error", "Something went wrong"))

    def _answer_502_html(self, _headers: dict[str, str]) -> None:
        self._send(502, _HTML_PAGE, content_type="text/html")

    def _answer_503(self, _headers: dict[str, str]) -> None:
        self._send(503, b"Service Unavailable", {"Retry-After": "1"}, "text/plain")

    def _answer_html_200(self, _headers: dict[str, str]) -> None:
        self._send(200, _LOGIN_PAGE, content_type="text/html; charset=utf-8")

    def _answer_disconnect(self, _headers: dict[str, str]) -> None:
        self._drop()

    def _answer_redirect(self, _headers: dict[str, str]) -> None:
        target = (self.simulator.config.redirect_to or "").rstrip("/") + self.path
        self._send(302, b"", {"Location": target})

    def _answer_hang(self, _headers: dict[str, str]) -> None:
        time.sleep(self.simulator.config.hang_seconds)
        self._drop()

    def _answer_429(self, headers: dict[str, str]) -> None:
        seconds_style = self.simulator.config.reset_style == "seconds"
        headers = {
            **headers,
            "X-RateLimit-Limit": str(self.simulator.config.rate_limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "1" if seconds_style else str(math.ceil(time.time() + 1)),
            "Retry-After": "1",
        }
        self._send(429, _error_body("rate_limit_exceeded", "Too many requests"), headers)

    def do_POST(self) -> None:
        sim = self.simulator
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, _error_body("bad_request", "body is not JSON"))
            return
        path = self.path.split("?", 1)[0]
        try:
            if path == "/_sim/advance":
                result: Any = sim.advance(payload.get("ids"))
                result = {str(k): v for k, v in result.items()}
            elif path == "/_sim/status":
                sim.set_status(int(payload["id"]), str(payload["status"]))
                result = {"ok": True}
            elif path == "/_sim/faults":
                sim.script_faults(int(payload["id"]), list(payload["faults"]))
                result = {"ok": True}
            elif path == "/_sim/body":
                sim.set_body(int(payload["id"]), payload["body"])
                result = {"ok": True}
            elif path == "/_sim/reset-stats":
                sim.reset_stats()
                result = {"ok": True}
            else:
                self._send(404, _error_body("not_found", "no such control endpoint"))
                return
        except (KeyError, TypeError, ValueError) as exc:
            self._send(400, _error_body("bad_request", str(exc)))
            return
        self._send(200, json.dumps(result).encode())
