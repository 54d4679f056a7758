"""What the tap makes of the API's answers, this side of HTTP: refusals, errors, waits.

Also JSON bodies, and the API's clock as its `Date` headers show it.

`client.py` (the only module that speaks HTTP) is built on these.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import backoff

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

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


class Retry(Exception):  # noqa: N818 (a signal inside the client, never raised out of it)
    """This attempt failed in a way another attempt may fix."""


class Fail(Exception):  # noqa: N818
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


def error_code(body: bytes) -> str:
    """The API's error code (`{"error": {"code": ...}}`), never the raw body."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return code if isinstance(code, str) and len(code) < 64 else ""  # noqa: PLR2004


def interviews_refused(said: str) -> ApiKeyRejectedError:
    """The error a 401/403 for an interview raises: the run stops."""
    return ApiKeyRejectedError(
        f"The Hindsight API rejected the API key ({said}). "
        "Check the api_key setting: it must be a key from the Hindsight dashboard "
        "of the organisation that owns these interviews."
    )


def deals_refused(said: str) -> ApiKeyRejectedError:
    """The error a 401/403 for `GET /deals` raises: the deals streams stop."""
    return DealsRefusedError(
        f"The Hindsight API refused GET /deals ({said}): this API key has no access to "
        "deals (or is not valid). The streams deals, deal_drivers and deal_competitors "
        "stop here; interviews are not affected. To stop extracting deals, deselect "
        "those three streams: with Meltano, `meltano select tap-hindsight --exclude deals "
        "'*'` (and the same for deal_drivers and deal_competitors); in a Singer catalog, "
        'set "selected": false in their metadata.'
    )


def json_body(content_type: str | None, body: bytes) -> Any:  # noqa: ANN401 (any JSON)
    """The JSON of a 200 answer; `Retry` if it is not complete JSON.

    Decoding the bytes ourselves avoids requests' charset guessing, which is slow on
    megabyte transcripts.
    """
    try:
        return json.loads(body)
    except ValueError:
        kind = (content_type or "no content type").split(";")[0]
        msg = f"answer was not complete JSON ({kind}, {len(body)} bytes)"
        raise Retry(msg) from None


def read_capped(declared: str, chunks: Iterable[bytes]) -> bytes:
    """A whole body from its `Content-Length` and its chunks, within MAX_RESPONSE_BYTES.

    A larger one is a runaway answer (a proxy streaming garbage): refused.

    Raises:
        Fail: the body is too large (not retried: it would be again).

    """
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        msg = f"answer of {int(declared):,} bytes refused (limit {MAX_RESPONSE_BYTES:,})"
        raise Fail(msg)
    read: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            msg = f"answer larger than {MAX_RESPONSE_BYTES:,} bytes refused"
            raise Fail(msg)
        read.append(chunk)
    return b"".join(read)


def json_object(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The body of a 200 answer; `Retry` if it is not a complete JSON object."""
    parsed = json_body(content_type, body)
    if not isinstance(parsed, dict):
        msg = f"answer was JSON but not an object ({type(parsed).__name__})"
        raise Retry(msg)
    return parsed


def items_parser(
    items: Callable[[object], list[dict[str, Any]]],
) -> Callable[[str | None, bytes], list[dict[str, Any]]]:
    """A page parser: `Retry` if the answer is not complete JSON, `Fail` if `items` refuses it."""

    def parse(content_type: str | None, body: bytes) -> list[dict[str, Any]]:
        parsed = json_body(content_type, body)
        try:
            return items(parsed)
        except ValueError as exc:
            raise Fail(str(exc)) from None

    return parse


class ServerClock:
    """The API's clock, as its `Date` headers show it: this machine's, plus their gap."""

    def __init__(self, local: Callable[[], float] = time.time) -> None:
        """Until an answer says otherwise, the two clocks agree; `local` is this machine's."""
        self._local = local
        self.offset = 0.0
        #: Whether an answer's `Date` has been seen.
        self.sampled = False

    def saw(self, server_time: float | None) -> None:
        """An answer's `Date` (epoch seconds; None: the answer had none)."""
        if server_time is not None:
            self.offset = server_time - self._local()
            self.sampled = True

    def __call__(self) -> float:
        """Now, on the API's clock."""
        return self._local() + self.offset
