"""Turn the raw config mapping into checked, typed settings.

Every check runs before the first request, and every message names the setting and the
bad value (for interview IDs: which entry, or which line of the file), so an operator can
fix a config without reading code. Nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv
from singer_sdk.exceptions import ConfigValidationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

DEFAULT_BASE_URL = "https://app.usehindsight.com/api/v1"
#: Requests per minute of each Hindsight plan.
PLAN_LIMITS = {"essentials": 60, "growth": 300, "enterprise": 1000}
DEFAULT_REQUESTS_PER_MINUTE = PLAN_LIMITS["essentials"]
DEFAULT_CONCURRENCY = 8
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_SCAN_MAX_MISSES = 25
DEFAULT_INTERVIEWER_NAMES = ("Paige",)
MAX_CONCURRENCY = 64
MAX_REQUESTS_PER_MINUTE = 100_000

_SHOWN_VALUE_CHARS = 80


@dataclass(frozen=True)
class Settings:
    """The tap's settings after checking. The API key is kept out of repr()."""

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    interview_ids: tuple[int, ...] = ()
    start_date: datetime | None = None
    plan: str | None = None
    #: The API's limit for this key: the plan's, or requests_per_minute if given.
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    #: Requests per minute left to other clients of the same key.
    reserved_requests_per_minute: int = 0
    concurrency: int = DEFAULT_CONCURRENCY
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    scan_start_id: int | None = None
    scan_max_misses: int = DEFAULT_SCAN_MAX_MISSES
    interviewer_names: tuple[str, ...] = DEFAULT_INTERVIEWER_NAMES

    @property
    def budget(self) -> int:
        """Requests per minute this tap may send."""
        return self.requests_per_minute - self.reserved_requests_per_minute

    def describe_budget(self) -> str:
        """`950 requests/min (plan enterprise: 1000, 50 reserved for other clients)`."""
        source = f"plan {self.plan}" if self.plan else "requests_per_minute"
        if self.plan and self.requests_per_minute != PLAN_LIMITS[self.plan]:
            source = "requests_per_minute"
        reserved = self.reserved_requests_per_minute
        extra = f", {reserved} reserved for other clients" if reserved else ""
        return f"{self.budget} requests/min ({source}: {self.requests_per_minute}{extra})"


def show(value: object) -> str:
    """Render a bad value for an error message, short enough for one log line."""
    text = repr(value)
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[: _SHOWN_VALUE_CHARS - 3] + "..."
    return text


def parse_interview_id(value: object) -> int | None:
    """Return the interview ID that `value` stands for, or None if it is not one.

    Integers and digit strings are IDs; booleans, floats, signs and zero are not.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            number = int(text)
            return number if number > 0 else None
    return None


def parse_interview_ids(value: object, errors: list[str]) -> list[int]:
    """Check the `interview_ids` setting: a list, or a string `1,2,3` / `[1,2,3]`."""
    if value is None:
        return []
    if isinstance(value, str):
        value = split_id_string(value)
    if not isinstance(value, list):
        errors.append(f"interview_ids: expected a list of interview IDs, got {show(value)}")
        return []
    ids: list[int] = []
    for index, entry in enumerate(value):
        number = parse_interview_id(entry)
        if number is None:
            errors.append(
                f"interview_ids[{index}]: {show(entry)} is not an interview ID "
                "(a positive integer)",
            )
        else:
            ids.append(number)
    return ids


def split_id_string(text: str) -> list[Any]:
    """Read IDs written in one string, as environment variables carry them.

    Accepts a JSON array (`[1, 2, 3]`) or a comma-separated list (`1,2,3`).
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped)
        except ValueError:
            return [stripped]
        return loaded if isinstance(loaded, list) else [loaded]
    return [part for part in (p.strip() for p in stripped.split(",")) if part]


def read_interview_ids_file(path_value: object, errors: list[str]) -> list[int]:
    """Read a file of IDs: one per line, blank lines and `#` comments ignored."""
    if not isinstance(path_value, str) or not path_value.strip():
        errors.append(f"interview_ids_file: expected a file path, got {show(path_value)}")
        return []
    path = Path(path_value).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        errors.append(f"interview_ids_file: no such file: {path_value}")
        return []
    except (OSError, ValueError) as exc:  # ValueError: a NUL or an unencodable character
        errors.append(f"interview_ids_file: cannot read {show(path_value)}: {show(str(exc))}")
        return []
    ids: list[int] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        number = parse_interview_id(entry)
        if number is None:
            errors.append(
                f"interview_ids_file {path_value} line {line_number}: {show(entry)} "
                "is not an interview ID (a positive integer)",
            )
        else:
            ids.append(number)
    return ids


def unique_in_order(ids: Iterable[int]) -> tuple[int, ...]:
    """Drop repeated IDs, keeping the first occurrence's position."""
    return tuple(dict.fromkeys(ids))


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: object, errors: list[str]) -> str:
    """Https is required, except to loopback addresses (the simulator, a local proxy)."""
    if not isinstance(value, str) or not value.strip():
        errors.append(f"base_url: expected a URL, got {show(value)}")
        return DEFAULT_BASE_URL
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        errors.append(f"base_url: {show(value)} is not a valid URL")
        return url
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host:
        errors.append(f"base_url: {show(value)} must be an https:// URL")
    elif parts.scheme == "http" and not is_loopback_host(host):
        errors.append(
            f"base_url: {show(value)} uses plain http; https is required except for "
            "loopback addresses (127.0.0.1, ::1, localhost)",
        )
    elif parts.query or parts.fragment or parts.username or parts.password:
        errors.append(
            f"base_url: {show(value)} must not carry a query, a fragment or credentials",
        )
    return url


def _whole_number(name: str, value: object, low: int, high: int, errors: list[str]) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not low <= number <= high:
        errors.append(f"{name}: {show(value)} must be a whole number from {low} to {high}")
        return low
    return number


def _positive_seconds(name: str, value: object, errors: list[str]) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number <= 0:
        errors.append(f"{name}: {show(value)} must be a positive number of seconds")
        return DEFAULT_REQUEST_TIMEOUT
    return number


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time; a value without an offset is taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _start_date(value: object, errors: list[str]) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            pass
    errors.append(
        f"start_date: {show(value)} is not an ISO 8601 date-time (e.g. 2026-01-01T00:00:00Z)",
    )
    return None


def _interviewer_names(value: object, errors: list[str]) -> tuple[str, ...]:
    """Names of the interviewer in transcripts (a list, or `Paige,Sam` from the env)."""
    if value is None:
        return DEFAULT_INTERVIEWER_NAMES
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        errors.append(f"interviewer_names: {show(value)} must be a list of names")
        return DEFAULT_INTERVIEWER_NAMES
    return tuple(name.strip() for name in value)


def _budget(config: Mapping[str, Any], errors: list[str]) -> tuple[str | None, int, int]:
    """The plan, the API's per-minute limit for this key, and the part left to others.

    `requests_per_minute` overrides the plan's limit; without either, the smallest plan's.
    """
    plan = config.get("plan")
    if plan is not None:
        if isinstance(plan, str) and plan.strip().lower() in PLAN_LIMITS:
            plan = plan.strip().lower()
        else:
            choices = ", ".join(PLAN_LIMITS)
            errors.append(f"plan: {show(plan)} must be one of {choices}")
            plan = None
    if config.get("requests_per_minute") is not None:
        limit = _whole_number(
            "requests_per_minute", config["requests_per_minute"], 1, MAX_REQUESTS_PER_MINUTE, errors
        )
    else:
        limit = PLAN_LIMITS[plan] if plan else DEFAULT_REQUESTS_PER_MINUTE
    reserved = 0
    if config.get("reserved_requests_per_minute") is not None:
        reserved = _whole_number(
            "reserved_requests_per_minute",
            config["reserved_requests_per_minute"],
            0,
            MAX_REQUESTS_PER_MINUTE,
            errors,
        )
        if reserved >= limit:
            errors.append(
                f"reserved_requests_per_minute: {reserved} leaves nothing of the {limit} "
                "requests per minute for this tap (it must be smaller)",
            )
            reserved = 0
    return plan, limit, reserved


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Check every setting at once and report all problems together.

    Raises:
        ConfigValidationError: one message per bad setting.

    """
    errors: list[str] = []
    api_key = config.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip():
        errors.append("api_key: required; set it to the API key from the Hindsight dashboard")
        api_key = ""
    base_url = check_base_url(config.get("base_url", DEFAULT_BASE_URL), errors)
    ids = parse_interview_ids(config.get("interview_ids"), errors)
    if config.get("interview_ids_file") is not None:
        ids += read_interview_ids_file(config.get("interview_ids_file"), errors)
    plan, limit, reserved = _budget(config, errors)

    def whole(name: str, default: int, low: int, high: int) -> int:
        value = config.get(name)
        return default if value is None else _whole_number(name, value, low, high, errors)

    settings = Settings(
        api_key=api_key.strip(),
        base_url=base_url,
        interview_ids=unique_in_order(ids),
        start_date=_start_date(config.get("start_date"), errors),
        plan=plan,
        requests_per_minute=limit,
        reserved_requests_per_minute=reserved,
        concurrency=whole("concurrency", DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY),
        request_timeout=_positive_seconds(
            "request_timeout",
            config.get("request_timeout", DEFAULT_REQUEST_TIMEOUT),
            errors,
        ),
        max_retries=whole("max_retries", DEFAULT_MAX_RETRIES, 0, 20),
        scan_start_id=whole("scan_start_id", 0, 1, 2**53) or None,
        scan_max_misses=whole("scan_max_misses", DEFAULT_SCAN_MAX_MISSES, 1, 10_000),
        interviewer_names=_interviewer_names(config.get("interviewer_names"), errors),
    )
    if errors:
        raise ConfigValidationError("Config validation failed", errors=errors)
    return settings


def _decode(name: str, json_type: str, raw: str) -> Any:  # noqa: ANN401 (any setting)
    """One environment value, decoded for its setting's type.

    Raises:
        ValueError: an array or object that is not valid JSON.

    """
    if name in {"interview_ids", "interviewer_names"}:
        return split_id_string(raw)  # a JSON array, or `a,b,c`
    if json_type == "boolean":
        return raw.strip().lower() in {"1", "true", "yes", "on", "t", "y"}
    if json_type in {"array", "object"}:
        return json.loads(raw)
    if json_type == "integer":
        return _number_or_raw(raw, int)
    if json_type == "number":
        return _number_or_raw(raw, float)
    return raw


def _number_or_raw(raw: str, kind: type[int | float]) -> int | float | str:
    """Convert a number from the environment; keep a bad value so its check names it."""
    try:
        return kind(raw.strip())
    except ValueError:
        return raw


def settings_from_environment(
    setting_types: Mapping[str, str],
    prefix: str,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read settings from `PREFIX_NAME` environment variables and a `.env` file.

    `setting_types` maps each setting name to its JSON type. Values are left as the
    strings they are unless they decode cleanly to the setting's type (numbers, booleans,
    JSON arrays and objects); a value that does not is kept as it is, so that config
    validation names the setting and the value, where a bare `int()` would crash with a
    traceback. `interview_ids` also accepts `1,2,3`.

    Raises:
        ConfigValidationError: an array or object variable that is not valid JSON.

    """
    if environ is None:
        # Like the SDK: a `.env` file (nearest the working directory) fills in what the
        # real environment does not set.
        dotenv = {k: v for k, v in dotenv_values(find_dotenv(usecwd=True)).items() if v is not None}
        environ = {**dotenv, **os.environ}
    result: dict[str, Any] = {}
    errors: list[str] = []
    for name, json_type in setting_types.items():
        variable = prefix + name.upper().replace("-", "_")
        if variable in environ:
            try:
                result[name] = _decode(name, json_type, environ[variable])
            except ValueError:
                raw = environ[variable]
                errors.append(f"{variable}: {show(raw)} is not valid JSON ({json_type} expected)")
    if errors:
        raise ConfigValidationError("Config validation failed", errors=errors)
    return result
