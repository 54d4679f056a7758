"""The HTTP side of the tap: auth, status handling, retries and the pool of workers.

Every transport decision lives here. The interviews stream hands in interview IDs and gets
back one `FetchResult` per ID, on its own thread, in completion order; the deals stream
asks for one page of `GET /deals` at a time, with the parser that reads its deals. Every
request, retries included, takes its slot from the run's one `RateLimiter` (limiter.py).

Threading model: worker threads only send requests and classify answers. Everything a
Singer consumer sees (records, counters, STATE) is produced by the thread that iterates
`HindsightClient.fetch_all`, because the SDK's writers and state dicts are not thread-safe.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import backoff
import requests
import requests.auth
from requests.adapters import HTTPAdapter

from tap_hindsight import __version__
from tap_hindsight.answers import (
    Attempts,
    FetchResult,
    Outcome,
    PageResult,
    server_time,
)
from tap_hindsight.limiter import RateLimiter, StopRequest, rate_limit_pause, reset_wait

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from tap_hindsight.settings import Settings

#: 429 answers tolerated for one ID before it is reported as failed.
MAX_RATE_LIMITED_ATTEMPTS = 30
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
MAX_REDIRECTS = 3
#: The largest answer read: transcripts run to a few MB; a runaway body (a proxy
#: streaming garbage) must not exhaust memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: HTTP statuses worth retrying besides 5xx: they say "not now", not "never".
RETRYABLE_STATUSES = frozenset({408, 425})


class ApiKeyRejectedError(Exception):
    """The API answered 401/403 for interviews: no other request can succeed, so the run stops."""


class DealsRefusedError(ApiKeyRejectedError):
    """The API answered 401/403 for `GET /deals`: the deals streams stop, nothing else."""


class _Retry(Exception):  # noqa: N818 (a signal inside fetch, never raised out of it)
    """This attempt failed in a way another attempt may fix."""


class _Fail(Exception):  # noqa: N818
    """This ID failed in a way retrying cannot fix."""


def retry_waits() -> Iterator[float]:
    """Seconds to wait before each retry of one request.

    `backoff`'s exponential series (1, 2, 4, 8, 16, then 30 s for every further retry) with
    full jitter: each wait is uniform between 0 and that ceiling, so that many workers do
    not retry in step.
    """
    ceilings = backoff.expo(base=2, factor=BACKOFF_FIRST_SECONDS, max_value=BACKOFF_CAP_SECONDS)
    next(ceilings)  # the generator's first value only primes it (backoff's protocol)
    for ceiling in ceilings:
        yield backoff.full_jitter(ceiling)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _error_code(body: bytes) -> str:
    """The API's error code (`{"error": {"code": ...}}`), never the raw body."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return code if isinstance(code, str) and len(code) < 64 else ""  # noqa: PLR2004


class HindsightClient:
    """Gets interviews and deals pages from the Hindsight API, within the run's budget."""

    def __init__(
        self,
        settings: Settings,
        logger: logging.Logger,
        limiter: RateLimiter | None = None,
        deadline: float | None = None,
        stop_request: StopRequest | None = None,
    ) -> None:
        """Prepare a session that sends the key only to `settings.base_url`'s origin.

        Every request, retries included, takes its slot from `limiter` (by default one
        that keeps to `settings.budget`). After `deadline` (on the limiter's clock) no
        request starts: IDs not started yet are left to the caller (`deadline_reached`).
        Once `stop_request` is set (a signal), the same holds from then on.
        """
        self.settings = settings
        self.logger = logger
        self.limiter = limiter or RateLimiter(settings.budget)
        self.deadline = deadline
        self.stop_request = stop_request
        self._stop = threading.Event()
        self._origin = _origin(settings.base_url)
        self.session = requests.Session()
        # Proxy settings from the environment are honoured. The key travels as an auth
        # object rather than a plain header so that a ~/.netrc entry cannot replace it.
        self._auth = _BearerAuth(settings.api_key)
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.concurrency, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {
                "Accept": "application/json",
                "User-Agent": f"tap-hindsight/{__version__}",
            },
        )

    def url_for(self, interview_id: int) -> str:
        """The interview's URL; IDs are integers, so they cannot alter the path."""
        return f"{self.settings.base_url}/interviews/{int(interview_id)}"

    @property
    def deadline_reached(self) -> bool:
        """True once the run's deadline has passed: no request starts any more."""
        return self.deadline is not None and self.limiter.now() >= self.deadline

    @property
    def stopping(self) -> bool:
        """True once a signal asked the run to stop: no request starts any more.

        Read on the main thread, which then stops the workers (a signal handler must not).
        """
        if self.stop_request is not None and self.stop_request.requested:
            if not self._stop.is_set():
                self.stop()
            return True
        return False

    def stop(self) -> None:
        """Ask every worker to give up as soon as it can."""
        self._stop.set()
        self.limiter.wake_all()

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def fetch(self, interview_id: int) -> FetchResult:
        """Fetch one interview, retrying what may succeed later. Runs on a worker thread.

        Raises:
            ApiKeyRejectedError: the API rejected the key (401/403).

        """
        result = FetchResult(interview_id, Outcome.CANCELLED)
        request = _Request(
            self.url_for(interview_id), {}, f"interview {interview_id}", _interviews_refused
        )
        result.outcome, result.record = self._get(request, _json_object, result)
        return result

    def fetch_page(
        self,
        page_index: int,
        params: Mapping[str, str | int],
        items: Callable[[object], list[dict[str, Any]]],
    ) -> PageResult:
        """Fetch one page of `GET /deals` with `params`, retrying what may succeed later.

        `items` reads the deals from the page's JSON; its ValueError fails the page (an
        answer of the wrong shape would be again).

        Raises:
            DealsRefusedError: the API refused the key access to deals (401/403).

        """
        result = PageResult(page_index)
        query = {**params, "page_index": page_index}
        request = _Request(
            f"{self.settings.base_url}/deals", query, f"deals page {page_index}", _deals_refused
        )
        result.outcome, result.deals = self._get(request, _items_of(items), result)
        return result

    def _get(
        self, request: _Request, parse: Callable[[requests.Response, bytes], _T], result: Attempts
    ) -> tuple[Outcome, _T | None]:
        """Get `request` until an answer, a failure, the deadline or a stop; count into `result`.

        Raises:
            ApiKeyRejectedError: the API rejected the key (401/403).

        """
        failures = redirects = 0
        waits = retry_waits()
        url = request.url
        try:
            while (
                not self.stopping
                and (ticket := self.limiter.acquire(self._stop, self.deadline)) is not None
            ):
                result.requests_sent += 1
                try:
                    value = self._attempt(url, request, result, ticket, parse)
                except _RedirectError as redirect:
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        raise _Fail("too many redirects") from None
                    url = redirect.location
                except _RateLimitedError:
                    if result.rate_limited >= MAX_RATE_LIMITED_ATTEMPTS:
                        msg = f"rate limited (HTTP 429) {result.rate_limited} times"
                        raise _Fail(msg) from None
                except (_Retry, requests.RequestException) as exc:
                    failures += 1
                    if not self._back_off(request.label, failures, exc, next(waits)):
                        break  # stopped while waiting
                else:
                    return (Outcome.NOT_FOUND, None) if value is None else (Outcome.OK, value)
        except _Fail as exc:
            result.error = str(exc)
            return Outcome.FAILED, None
        return Outcome.CANCELLED, None

    def _attempt(
        self,
        url: str,
        request: _Request,
        result: Attempts,
        ticket: int,
        parse: Callable[[requests.Response, bytes], _T],
    ) -> _T | None:
        """Send one request; its parsed answer, None for a 404, or raise what to do next."""
        try:
            response = self.session.get(
                url,
                params=request.params if url == request.url else None,
                auth=self._auth,
                timeout=self.settings.request_timeout,
                allow_redirects=False,
                stream=True,
            )
            with response:
                body = _read_capped(response)
                result.server_time = server_time(response.headers.get("Date"))
                self._watch_budget(result, response, ticket)
                if self._classify(request, response, body, result):
                    return parse(response, body)
                return None
        finally:
            self.limiter.release()

    def _watch_budget(self, result: Attempts, response: requests.Response, ticket: int) -> None:
        """Slow down before a 429 when another client spends the same key's budget.

        The server's `X-RateLimit-Remaining` counts every client of the key; our own
        limiter counts only this tap. When the requests still in flight may spend what
        remains, nothing more is sent until `X-RateLimit-Reset`.
        """
        remaining_text = response.headers.get("X-RateLimit-Remaining")
        if remaining_text is None or response.status_code == 429:  # noqa: PLR2004
            return
        try:
            remaining = int(remaining_text)
        except ValueError:
            return
        left = self.limiter.record_remaining(remaining, ticket)
        if left is None:
            return
        wait_for = reset_wait(response.headers, time.time())
        if wait_for is not None and self.limiter.pause(wait_for):
            result.budget_pauses += 1
            self.logger.info(
                "Only %d requests left in this rate-limit window (other clients of the key "
                "are spending it too): pausing all requests for %.1f s",
                left,
                wait_for,
            )

    def _back_off(self, label: str, failures: int, exc: Exception, delay: float) -> bool:
        """Wait `delay` s before retry number `failures`; False if the run stopped meanwhile.

        The wait is on the stop flag, so a rejected key or the end of the run cuts it short.

        Raises:
            _Fail: the retries are used up.

        """
        if isinstance(exc, requests.RequestException):
            reason = _describe(exc, self.settings)
        else:
            reason = str(exc)
        if failures > self.settings.max_retries:
            msg = f"{reason} (gave up after {failures} attempts)"
            raise _Fail(msg)
        self.logger.warning(
            "%s: %s; retrying in %.1f s (attempt %d of %d)",
            label[:1].upper() + label[1:],
            reason,
            delay,
            failures + 1,
            self.settings.max_retries + 1,
        )
        if self.deadline is not None:
            delay = min(delay, max(self.deadline - self.limiter.now(), 0.0))
        return not self._stop.wait(delay)

    def _classify(
        self,
        request: _Request,
        response: requests.Response,
        body: bytes,
        result: Attempts,
    ) -> bool:
        """True for an answer to parse, False for a 404; or raise what to do next."""
        status = response.status_code
        if status == 200:  # noqa: PLR2004
            return True
        if status in {401, 403}:
            self.stop()
            code = _error_code(body)
            raise request.refused(f"HTTP {status}{', ' + code if code else ''}")
        if status == 404:  # noqa: PLR2004
            return False
        if status == 429:  # noqa: PLR2004
            result.rate_limited += 1
            pause = rate_limit_pause(response.headers, time.time())
            if self.limiter.pause(pause):
                self.logger.warning(
                    "Rate limit reached (HTTP 429) on %s: pausing all requests for %.1f s",
                    request.label,
                    pause,
                )
            raise _RateLimitedError
        if 300 <= status < 400:  # noqa: PLR2004
            location = urljoin(response.url, response.headers.get("Location", ""))
            if _origin(location) != self._origin:
                host = urlsplit(location).hostname or "?"
                msg = (
                    f"HTTP {status} redirect to another host ({host}) not followed: "
                    "the API key is only ever sent to base_url's host"
                )
                raise _Fail(msg)
            raise _RedirectError(location)
        code = _error_code(body)
        described = f"HTTP {status}{' ' + code if code else ''}"
        if status >= 500 or status in RETRYABLE_STATUSES:  # noqa: PLR2004
            raise _Retry(described)
        raise _Fail(described)

    def fetch_all(
        self,
        interview_ids: Iterable[int | None],
        on_idle: Callable[[], None] | None = None,
    ) -> Iterator[FetchResult]:
        """Fetch every ID, `concurrency` at a time; yield results as they complete.

        `interview_ids` may yield None to say "no ID until more answers are in" (ID
        discovery decides how far to probe from the answers). Results come back in
        completion order, not input order: waiting for the oldest request would let one
        slow answer hold back all the others. `on_idle` is called on this thread about
        once a second while no answer comes (waiting on the budget, or on slow answers).
        Once the deadline passes or a stop is asked for, no further ID is taken from
        `interview_ids`; an ID whose request could not start comes back CANCELLED, and
        the requests in flight finish.

        Raises:
            ApiKeyRejectedError: the key was rejected; nothing more is fetched.

        """
        source = iter(interview_ids)
        window = self.settings.concurrency
        in_flight: set[Future[FetchResult]] = set()
        exhausted = False
        with ThreadPoolExecutor(max_workers=window, thread_name_prefix="hindsight") as pool:
            try:
                while True:
                    while not exhausted and len(in_flight) < window:
                        if self.deadline_reached or self.stopping:
                            exhausted = True
                            break
                        try:
                            next_id = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                        if next_id is None:
                            break  # wait for answers before asking again
                        in_flight.add(pool.submit(self.fetch, next_id))
                    if not in_flight:
                        return  # exhausted, or waiting on nothing (a source's mistake)
                    done, in_flight = wait(in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
                    exhausted = exhausted or self.stopping  # the workers waiting give up
                    if not done and on_idle is not None:
                        on_idle()
                    for future in done:
                        yield future.result()
            finally:
                # Reached on success, on a rejected key, and when the consumer stops
                # early (GeneratorExit): in-flight workers must not keep spending budget.
                self.stop()
                pool.shutdown(wait=True, cancel_futures=True)


_T = TypeVar("_T")


@dataclass(frozen=True)
class _Request:
    """One GET as the tap means it: where, with which query, named how in logs."""

    url: str
    params: Mapping[str, str | int]
    #: `interview 5`, `deals page 3`
    label: str
    #: The error a 401/403 raises, from what the API said (`HTTP 403, forbidden`).
    refused: Callable[[str], ApiKeyRejectedError]


def _interviews_refused(said: str) -> ApiKeyRejectedError:
    return ApiKeyRejectedError(
        f"The Hindsight API rejected the API key ({said}). "
        "Check the api_key setting: it must be a key from the Hindsight dashboard "
        "of the organisation that owns these interviews."
    )


def _deals_refused(said: str) -> ApiKeyRejectedError:
    return DealsRefusedError(
        f"The Hindsight API refused GET /deals ({said}): this API key has no access to "
        "deals (or is not valid). The streams deals, deal_drivers and deal_competitors "
        "stop here; interviews are not affected. To stop extracting deals, deselect "
        "those three streams: with Meltano, `meltano select tap-hindsight --exclude deals "
        "'*'` (and the same for deal_drivers and deal_competitors); in a Singer catalog, "
        'set "selected": false in their metadata.'
    )


class _BearerAuth(requests.auth.AuthBase):
    """Adds the bearer key to a request; its repr never shows the key."""

    def __init__(self, api_key: str) -> None:
        self._value = f"Bearer {api_key}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<redacted>)"


class _RedirectError(Exception):
    """A same-origin redirect to follow."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class _RateLimitedError(Exception):
    """A 429: the limiter is paused; try the same request again."""


def _read_capped(response: requests.Response) -> bytes:
    """The whole body, refusing one larger than MAX_RESPONSE_BYTES (a runaway answer).

    Raises:
        _Fail: the body is too large (not retried: it would be again).

    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        msg = f"answer of {int(declared):,} bytes refused (limit {MAX_RESPONSE_BYTES:,})"
        raise _Fail(msg)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=1 << 16):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            msg = f"answer larger than {MAX_RESPONSE_BYTES:,} bytes refused"
            raise _Fail(msg)
        chunks.append(chunk)
    return b"".join(chunks)


def _json_body(response: requests.Response, body: bytes) -> Any:  # noqa: ANN401 (any JSON)
    """The JSON of a 200 answer; `_Retry` if it is not complete JSON.

    Decoding the bytes ourselves avoids requests' charset guessing, which is slow on
    megabyte transcripts.
    """
    try:
        return json.loads(body)
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        msg = f"answer was not complete JSON ({kind}, {len(body)} bytes)"
        raise _Retry(msg) from None


def _json_object(response: requests.Response, body: bytes) -> dict[str, Any]:
    """The body of a 200 answer; `_Retry` if it is not a complete JSON object."""
    parsed = _json_body(response, body)
    if not isinstance(parsed, dict):
        msg = f"answer was JSON but not an object ({type(parsed).__name__})"
        raise _Retry(msg)
    return parsed


def _items_of(
    items: Callable[[object], list[dict[str, Any]]],
) -> Callable[[requests.Response, bytes], list[dict[str, Any]]]:
    """A page parser: `_Retry` if the answer is not complete JSON, `_Fail` if `items` refuses it."""

    def parse(response: requests.Response, body: bytes) -> list[dict[str, Any]]:
        parsed = _json_body(response, body)
        try:
            return items(parsed)
        except ValueError as exc:
            raise _Fail(str(exc)) from None

    return parse


def _describe(exc: requests.RequestException, settings: Settings) -> str:
    """Name a transport failure without echoing anything the server sent."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within request_timeout ({settings.request_timeout:g} s)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped in the middle of the answer"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed or was dropped"
    return f"request failed ({type(exc).__name__})"


class ServerClock:
    """The API's clock, as its `Date` headers show it: this machine's, plus their gap."""

    def __init__(self) -> None:
        """Until an answer says otherwise, the two clocks agree."""
        self.offset = 0.0
        #: Whether an answer's `Date` has been seen.
        self.sampled = False

    def saw(self, server_time: float | None) -> None:
        """An answer's `Date` (epoch seconds; None: the answer had none)."""
        if server_time is not None:
            self.offset = server_time - time.time()
            self.sampled = True

    def __call__(self) -> float:
        """Now, on the API's clock."""
        return time.time() + self.offset
