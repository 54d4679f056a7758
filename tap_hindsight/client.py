"""HTTP: auth, status handling and retries. The only module that speaks HTTP.

The interviews stream hands in IDs and gets back one `FetchResult` per ID, in completion
order (the pool of workers: `workers.py`); the deals stream asks for one page of
`GET /deals` at a time. Every request, retries included, takes its slot from the run's one
`RateLimiter`. What the API's answers mean (refusals, errors, waits, its clock): `api.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter

from tap_hindsight import __version__
from tap_hindsight.answers import Attempts, FetchResult, Outcome, PageResult, server_time
from tap_hindsight.api import (
    MAX_RATE_LIMITED_ATTEMPTS,
    MAX_REDIRECTS,
    RETRYABLE_STATUSES,
    ApiKeyRejectedError,
    Fail,
    Retry,
    deals_refused,
    error_code,
    interviews_refused,
    items_parser,
    json_object,
    read_capped,
    retry_waits,
)
from tap_hindsight.limiter import RateLimiter, StopRequest, rate_limit_pause
from tap_hindsight.workers import fetch_all

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from tap_hindsight.settings import Settings


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


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
            self.url_for(interview_id), {}, f"interview {interview_id}", interviews_refused
        )
        result.outcome, result.record = self._get(request, json_object, result)
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
            f"{self.settings.base_url}/deals", query, f"deals page {page_index}", deals_refused
        )
        result.outcome, result.deals = self._get(request, items_parser(items), result)
        return result

    def _get(
        self, request: _Request, parse: Callable[[str | None, bytes], _T], result: Attempts
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
                try:
                    value = self._attempt(url, request, result, ticket, parse)
                except _RedirectError as redirect:  # noqa: PERF203 (one try per request sent)
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        raise Fail("too many redirects") from None
                    url = redirect.location
                except _RateLimitedError:
                    if result.rate_limited >= MAX_RATE_LIMITED_ATTEMPTS:
                        msg = f"rate limited (HTTP 429) {result.rate_limited} times"
                        raise Fail(msg) from None
                except (Retry, requests.RequestException) as exc:
                    failures += 1
                    if not self._back_off(request.label, failures, exc, next(waits)):
                        break  # stopped while waiting
                else:
                    return (Outcome.NOT_FOUND, None) if value is None else (Outcome.OK, value)
        except Fail as exc:
            result.error = str(exc)
            return Outcome.FAILED, None
        return Outcome.CANCELLED, None

    def _attempt(
        self,
        url: str,
        request: _Request,
        result: Attempts,
        ticket: int,
        parse: Callable[[str | None, bytes], _T],
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
                status = response.status_code
                if status in {401, 403}:
                    self.stop()
                elif status == 429:  # noqa: PLR2004
                    result.rate_limited += 1
                    pause = rate_limit_pause(response.headers, time.time())
                    if self.limiter.pause(pause):
                        self.logger.warning(
                            "Rate limit reached (HTTP 429) on %s: pausing all requests for %.1f s",
                            request.label,
                            pause,
                        )
                if _classify(request, response, body, self._origin):
                    return parse(response.headers.get("Content-Type"), body)
                return None
        finally:
            self.limiter.release()

    def _watch_budget(self, result: Attempts, response: requests.Response, ticket: int) -> None:
        """Slow down before a 429 when the requests in flight may spend the API's window."""
        if response.status_code == 429:  # noqa: PLR2004 (a 429 pauses in _attempt)
            return
        limit = self.settings.requests_per_minute
        paused = self.limiter.pause_for_remaining(response.headers, ticket, time.time(), limit)
        if paused is not None:
            # Said at INFO only when another client spends the window: the run's own pace
            # is routine, and the progress line counts the wait.
            result.budget_pauses += paused.shared
            self.logger.log(logging.INFO if paused.shared else logging.DEBUG, paused.describe())

    def _back_off(self, label: str, failures: int, exc: Exception, delay: float) -> bool:
        """Wait `delay` s before retry number `failures`; False if the run stopped meanwhile.

        The wait is on the stop flag, so a rejected key or the end of the run cuts it short.

        Raises:
            Fail: the retries are used up.

        """
        if isinstance(exc, requests.RequestException):
            reason = _describe(exc, self.settings)
        else:
            reason = str(exc)
        if failures > self.settings.max_retries:
            msg = f"{reason} (gave up after {failures} attempts)"
            raise Fail(msg)
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

    def fetch_all(
        self,
        interview_ids: Iterable[int | None],
        on_idle: Callable[[], None] | None = None,
    ) -> Iterator[FetchResult]:
        """Fetch every ID, `concurrency` at a time; yield results as they complete.

        `workers.fetch_all` says how. Once the deadline passes or a stop is asked for, no
        further ID is taken; an ID whose request could not start comes back CANCELLED.

        Raises:
            ApiKeyRejectedError: the key was rejected; nothing more is fetched.

        """
        return fetch_all(
            self.fetch,
            interview_ids,
            self.settings.concurrency,
            halted=lambda: self.deadline_reached or self.stopping,
            stop=self.stop,
            on_idle=on_idle,
        )


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


def _classify(
    request: _Request, response: requests.Response, body: bytes, origin: tuple[str, str, int | None]
) -> bool:
    """True for an answer to parse, False for a 404; or raise what to do next.

    A redirect is followed only within `origin` (base_url's): the key goes nowhere else.
    """
    status = response.status_code
    if status == 200:  # noqa: PLR2004
        return True
    if status in {401, 403}:
        code = error_code(body)
        raise request.refused(f"HTTP {status}{', ' + code if code else ''}")
    if status == 404:  # noqa: PLR2004
        return False
    if status == 429:  # noqa: PLR2004
        raise _RateLimitedError
    if 300 <= status < 400:  # noqa: PLR2004
        location = urljoin(response.url, response.headers.get("Location", ""))
        if _origin(location) != origin:
            host = urlsplit(location).hostname or "?"
            msg = (
                f"HTTP {status} redirect to another host ({host}) not followed: "
                "the API key is only ever sent to base_url's host"
            )
            raise Fail(msg)
        raise _RedirectError(location)
    code = error_code(body)
    described = f"HTTP {status}{' ' + code if code else ''}"
    if status >= 500 or status in RETRYABLE_STATUSES:  # noqa: PLR2004
        raise Retry(described)
    raise Fail(described)


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
    """The whole body (`api.read_capped`: a runaway answer is refused)."""
    declared = response.headers.get("Content-Length", "")
    return read_capped(declared, response.iter_content(chunk_size=1 << 16))


def _describe(exc: requests.RequestException, settings: Settings) -> str:
    """Name a transport failure without echoing anything the server sent."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within request_timeout ({settings.request_timeout:g} s)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped in the middle of the answer"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed or was dropped"
    return f"request failed ({type(exc).__name__})"
