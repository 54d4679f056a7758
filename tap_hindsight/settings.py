"""The tap's settings, each declared once, and the conversion of a config to `Settings`.

Each setting is one field of `Settings`, declared with `setting`: its JSON schema (every
per-setting constraint: type, range, allowed values, pattern), title, description,
default, and how its checked value converts. `SETTINGS`, the schema built from those
declarations, is the contract: `--about` prints it (and the README's table from that),
`meltano.yml` and the Hub definition derive from it (tests compare them), environment
variables are decoded by its types (environment.py), and the SDK validates against it.
Nothing here repeats those rules: a config is checked against the schema first
(`check_config`, whose messages name the setting and the value, never a secret's), and
`load_settings` then only converts values, applies the rules that involve two settings,
and reads the ID file.

Nothing here touches the network.
"""

from __future__ import annotations

import difflib
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from tap_hindsight.polling import PollPolicy
from tap_hindsight.records import parse_datetime

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime

    from jsonschema import ValidationError

TAP_NAME = "tap-hindsight"

DEFAULT_BASE_URL = "https://app.usehindsight.com/api/v1"
#: Requests per minute of each Hindsight plan.
PLAN_LIMITS = {"essentials": 60, "growth": 300, "enterprise": 1000}
DEFAULT_REQUESTS_PER_MINUTE = PLAN_LIMITS["essentials"]
MAX_REQUESTS_PER_MINUTE = 100_000

#: https anywhere; plain http only to loopback; never credentials, a query or a fragment.
BASE_URL_PATTERN = (
    r"^(https://[^\s/?#@]+|http://(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]{1,5})?)"
    r"(/[^\s?#@]*)?$"
)
#: A positive integer written in ASCII digits (spaces around it are allowed).
ID_DIGITS_PATTERN = r"^\s*0*[1-9][0-9]*\s*$"
NOT_BLANK_PATTERN = r"\S"


_SHOWN_VALUE_CHARS = 80
#: How alike an unknown setting's name must be to a known one to be suggested (0-1).
_CLOSE_ENOUGH = 0.8
_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


class SettingsError(ValueError):
    """A config that cannot run: one message per bad setting, naming it (never a secret).

    The tap hands it to the SDK as its ConfigValidationError (`tap.TapHindsight`).
    """

    def __init__(self, errors: list[str]) -> None:
        """Carry `errors`, one a bad setting."""
        super().__init__("Config validation failed")
        self.errors = errors


def typed(json_type: str, **keywords: Any) -> dict[str, Any]:  # noqa: ANN401 (any keyword's)
    """A setting's JSON type and the keywords that constrain it (`minimum`, `pattern`...)."""
    return {"type": json_type, **keywords}


def setting(  # noqa: PLR0913 (the parts of a setting's declaration, each named)
    jsonschema_type: dict[str, Any],
    *,
    title: str,
    description: str,
    default: Any = None,  # noqa: ANN401 (any setting's)
    required: bool = False,
    secret: bool = False,
    convert: Callable[[Any, Mapping[str, Any], list[str]], Any] | None = None,
) -> Any:  # noqa: ANN401 (a dataclass field, typed by its annotation)
    """Declare one setting as a field of `Settings`: its schema, default and conversion.

    Without `convert`, a value converts by its JSON type (a number to float, an integer
    to int, a boolean to bool; None stays None).
    """
    schema: dict[str, Any] = {"title": title, "description": description}
    if default is not None:
        schema["default"] = default
    if required:
        schema["required"] = True
    if secret:
        schema["secret"] = True
    return field(
        repr=not secret,
        metadata={"type": jsonschema_type, "schema": schema, "convert": convert},
    )


def _stripped(value: str, _values: Mapping[str, Any], _errors: list[str]) -> str:
    return value.strip()


def _base_url_of(value: str, _values: Mapping[str, Any], errors: list[str]) -> str:
    return _base_url(value, errors)


def _start_date_of(
    value: str | None, _values: Mapping[str, Any], errors: list[str]
) -> datetime | None:
    return _start_date(value, errors)


def _names(value: list[str], _values: Mapping[str, Any], _errors: list[str]) -> tuple[str, ...]:
    return tuple(name.strip() for name in value)


def _listed_ids(
    value: list[int | str], values: Mapping[str, Any], errors: list[str]
) -> tuple[int, ...]:
    # The schema admits integers (3 or 3.0) and digit strings (" 0042 ").
    ids = [int(entry.strip() if isinstance(entry, str) else entry) for entry in value]
    if values["interview_ids_file"] is not None:
        ids += read_interview_ids_file(values["interview_ids_file"], errors)
    return unique_in_order(ids)


def _limit(value: int | None, values: Mapping[str, Any], _errors: list[str]) -> int:
    if value is not None:
        return int(value)
    plan = values["plan"]
    return PLAN_LIMITS[plan] if plan else DEFAULT_REQUESTS_PER_MINUTE


@dataclass(frozen=True)
class Settings:
    """The tap's settings, each declared once here (`setting`).

    A declaration gives the JSON schema (`SETTINGS`, which `--about`, `meltano.yml`, the
    Hub definition, the README and the environment decoding derive from), the default,
    and how the checked value converts.

    The API key is kept out of repr().
    """

    api_key: str = setting(
        typed("string", pattern=NOT_BLANK_PATTERN),
        required=True,
        secret=True,
        title="API key",
        description="Bearer API key from the Hindsight dashboard (Settings > API).",
        convert=_stripped,
    )
    base_url: str = setting(
        typed("string", pattern=BASE_URL_PATTERN),
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description=(
            "Root of the Hindsight API. https is required, except for loopback "
            "addresses (a local simulator or proxy); no credentials, query or fragment."
        ),
        convert=_base_url_of,
    )
    #: The listed IDs, then those of interview_ids_file, each once, in that order.
    interview_ids: tuple[int, ...] = setting(
        typed(
            "array",
            items={
                "type": ["integer", "string"],
                "minimum": 1,
                "pattern": ID_DIGITS_PATTERN,
                "description": "an interview ID: a positive integer, or its digits",
            },
        ),
        default=[],
        title="Interview IDs",
        description=(
            "Interview request IDs to extract (the interview_request_id returned by "
            "POST /interviews). Digit strings are accepted; from an environment "
            "variable, a JSON array or a comma-separated list (1,2,3)."
        ),
        convert=_listed_ids,
    )
    interview_ids_file: str | None = setting(
        typed("string", pattern=NOT_BLANK_PATTERN),
        title="Interview IDs file",
        description=(
            "Path to a file of interview request IDs, one per line; blank lines and "
            "# comments are ignored. Combined with interview_ids."
        ),
    )
    start_date: datetime | None = setting(
        typed("string", format="date-time"),
        title="Start date",
        description=(
            "Interviews created before this instant are not emitted "
            "(ISO 8601; without an offset, UTC)."
        ),
        convert=_start_date_of,
    )
    plan: str | None = setting(
        typed("string", enum=list(PLAN_LIMITS)),
        title="Plan",
        description=(
            "Your Hindsight plan; sets the request budget to its limit: essentials 60, "
            "growth 300, enterprise 1000 requests per minute."
        ),
    )
    #: The API's limit for this key: the plan's, or requests_per_minute if given.
    requests_per_minute: int = setting(
        typed("integer", minimum=1, maximum=MAX_REQUESTS_PER_MINUTE),
        title="Requests per minute",
        description=(
            "Never send more than this many requests in any 60 s window. Overrides the "
            "plan's limit; without either, 60 (the smallest plan's)."
        ),
        convert=_limit,
    )
    #: Requests per minute left to other clients of the same key.
    reserved_requests_per_minute: int = setting(
        typed("integer", minimum=0, maximum=MAX_REQUESTS_PER_MINUTE),
        default=0,
        title="Reserved requests per minute",
        description=(
            "Part of the budget left to other clients of the same API key (for example "
            "the workflow that creates interviews): the tap sends at most the limit minus "
            "this, so it must be smaller than the limit."
        ),
    )
    concurrency: int = setting(
        typed("integer", minimum=1, maximum=64),
        default=8,
        title="Concurrency",
        description="Requests in flight at once (1-64).",
    )
    request_timeout: float = setting(
        typed("number", maximum=3600, exclusiveMinimum=0),
        default=30.0,
        title="Request timeout",
        description="Seconds to wait for each answer before retrying (at most 3600).",
    )
    scan_start_id: int | None = setting(
        typed("integer", minimum=1, maximum=2**53),
        title="Scan start ID",
        description=(
            "Discover interviews by probing ascending IDs from this one: every interview of "
            "this organisation at or above it is found, in an ID space shared by every "
            "organisation. Each probe is one request; leave unset to extract only listed IDs."
        ),
    )
    interviewer_names: tuple[str, ...] = setting(
        typed("array", items={"type": ["string"], "pattern": NOT_BLANK_PATTERN}),
        default=["Paige"],
        title="Interviewer names",
        description=(
            "Speaker names of Hindsight's interviewer in transcripts: their turns get "
            "is_interviewer = true in interview_turns, everyone else's false."
        ),
        convert=_names,
    )
    max_retries: int = setting(
        typed("integer", minimum=0, maximum=20),
        default=5,
        title="Max retries",
        description=(
            "Retries of a request that failed in a way that may pass (5xx, timeouts, "
            "dropped connections, broken answers), with exponential backoff and jitter."
        ),
    )
    poll_age_ratio: float = setting(
        typed("number", minimum=0, maximum=10),
        default=0.1,
        title="Poll age ratio",
        description=(
            "A pending interview is polled again once this share of its age has passed "
            "since its last poll (age: since the latest of its creation, its email and the "
            "last change a poll saw), within min_poll_interval_minutes and "
            "max_poll_interval_hours. 0 with a minimum of 0 polls every pending interview "
            "at every run."
        ),
    )
    min_poll_interval_minutes: float = setting(
        typed("number", minimum=0, maximum=10_080),
        default=5,
        title="Min poll interval (minutes)",
        description=(
            "Never poll one pending interview more often than this (Hindsight asks for "
            "every 5-15 minutes at most)."
        ),
    )
    max_poll_interval_hours: float = setting(
        typed("number", minimum=0, maximum=8_760),
        default=168,
        title="Max poll interval (hours)",
        description=(
            "Every pending interview is polled at least this often, however old: no "
            "completion is missed, only seen later. At least min_poll_interval_minutes."
        ),
    )
    poll_budget_share: float = setting(
        typed("number", minimum=0, maximum=1),
        default=0.1,
        title="Poll budget share",
        description=(
            "Fresh transcripts from an idle budget: a run may spend up to this share of the "
            "request budget that accrued since the previous run started (after "
            "reserved_requests_per_minute; at most an hour's worth, a first run counts "
            "max_run_minutes or 15 minutes) on polling pending interviews: those due "
            "first, then those with the largest share of their age elapsed since their last "
            "poll, none polled less than min_poll_interval_minutes ago. Due polls are never "
            "cut. 0 polls only those due."
        ),
    )
    max_run_minutes: float | None = setting(
        typed("number", maximum=10_080, exclusiveMinimum=0),
        title="Max run minutes",
        description=(
            "A run deadline: once reached, no new request starts, requests in flight "
            "finish, and the run saves its state and ends (exit 0 unless something "
            "failed). What it deferred comes first next run. Set it below the schedule's "
            "interval."
        ),
    )
    recheck_completed_days: float = setting(
        typed("number", minimum=0, maximum=3_650),
        default=30,
        title="Recheck completed (days)",
        description=(
            "Every completed interview is read again once in this many days, spread evenly "
            "over the runs, after the pending ones due: an edit (objective) or a replaced "
            "transcript reaches the warehouse, its vanished turns marked deleted, and so does "
            "a deletion. 0 turns the re-reads off."
        ),
    )
    erase_deleted: bool = setting(
        typed("boolean"),
        default=True,
        title="Erase deleted",
        description=(
            "An interview deleted from Hindsight (404 in two runs in a row) is emitted once "
            "more with _sdc_deleted_at set. True: its transcript (and its turns' text) is "
            "emitted as null, so the warehouse's upsert erases the buyer's words. False: "
            "only _sdc_deleted_at is sent, and the warehouse keeps the last text."
        ),
    )
    emit_activate_version_messages: bool = setting(
        typed("boolean"),
        default=False,
        title="Emit ACTIVATE_VERSION messages",
        description=(
            "Ignored (with a warning when true): this tap's streams send only new and "
            "changed rows, and a target that honours ACTIVATE_VERSION would retire every "
            "row a run did not send again. Accepted so that configs shared with other "
            "taps keep working."
        ),
    )

    @property
    def poll_policy(self) -> PollPolicy:
        """When a pending interview is due again."""
        return PollPolicy.from_settings(
            self.poll_age_ratio, self.min_poll_interval_minutes, self.max_poll_interval_hours
        )

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


def _required(declared: Field[Any]) -> bool:
    return bool(declared.metadata["schema"].get("required"))


def _property(declared: Field[Any]) -> dict[str, Any]:
    """One setting's JSON schema, as the SDK's typing helpers wrote it.

    Its type (null admitted unless required), constraints, title, default and
    description; a secret is marked `secret` and `writeOnly`.
    """
    typed, schema = declared.metadata["type"], declared.metadata["schema"]
    types = typed["type"] if isinstance(typed["type"], list) else [typed["type"]]
    spec: dict[str, Any] = {"type": types if _required(declared) else [*types, "null"]}
    spec.update((key, value) for key, value in typed.items() if key != "type")
    spec["title"] = schema["title"]
    if "default" in schema:
        spec["default"] = schema["default"]
    spec["description"] = schema["description"]
    if schema.get("secret"):
        spec.update(secret=True, writeOnly=True)
    return spec


#: The settings' JSON schema, in their declared order; no other setting is accepted.
SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {declared.name: _property(declared) for declared in fields(Settings)},
    "required": [declared.name for declared in fields(Settings) if _required(declared)],
    "additionalProperties": False,
    "$schema": "https://json-schema.org/draft/2020-12/schema",
}


def show(value: object) -> str:
    """Render a bad value for an error message, short enough for one log line."""
    text = repr(value)
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[: _SHOWN_VALUE_CHARS - 3] + "..."
    return text


# Checking a config against the schema --------------------------------------------------


def check_config(schema: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Every way `config` breaks `schema`, one message per problem, naming the setting.

    The value is quoted (shortened) unless the setting is secret; an unknown setting is
    named with the closest known one. Empty when the config is valid.
    """
    properties: Mapping[str, Any] = schema.get("properties", {})
    validator = Draft202012Validator(schema)
    messages: list[str] = []
    for error in sorted(validator.iter_errors(dict(config)), key=_error_order):
        if error.validator == "additionalProperties" and not error.absolute_path:
            unknown = sorted(name for name in config if name not in properties)
            messages += [_unknown(name, properties) for name in unknown]
        else:
            messages.append(_describe(error, properties))
    return messages


def _error_order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(part) for part in error.absolute_path)


def closest(name: str, known: Iterable[str]) -> str:
    """`; did you mean concurrency?` when a known name is close enough to `name`."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=_CLOSE_ENOUGH)
    return f"; did you mean {close[0]}?" if close else ""


#: Settings that were removed, and what replaced them.
REMOVED = {
    "scan_max_misses": (
        "removed: ID discovery no longer stops after a fixed number of not-found IDs; it "
        "follows the platform's ID counter, measured from this organisation's interviews "
        "(docs/state-and-polling.md, ID discovery). Remove it from the config"
    ),
}


def _unknown(name: str, properties: Mapping[str, Any]) -> str:
    if name in REMOVED:
        return f"{name}: {REMOVED[name]}"
    hint = closest(name, properties)
    return f"{name}: not a setting of {TAP_NAME} (`{TAP_NAME} --about` lists them){hint}"


def _where(error: ValidationError) -> str:
    """`interview_ids[1]`, `stream_maps.interviews`: the setting and the place in it."""
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "config"


def _describe(error: ValidationError, properties: Mapping[str, Any]) -> str:
    where = _where(error)
    root = error.absolute_path[0] if error.absolute_path else None
    secret = isinstance(root, str) and properties.get(root, {}).get("secret", False)
    value = "(value not shown)" if secret else show(error.instance)
    rule: Mapping[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else "?"
        description = properties.get(missing, {}).get("description", "")
        return f"{missing}: required ({description})" if description else f"{missing}: required"
    if kind == "type":
        expected = rule.get("type")
        names = [_TYPE_NAMES.get(t, t) for t in _as_list(expected) if t != "null"]
        return f"{where}: {value} must be {' or '.join(names)}"
    if kind == "enum":
        return f"{where}: {value} must be one of {', '.join(map(str, rule['enum']))}"
    if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return f"{where}: {value} must be {_range(rule)}"
    if kind in {"pattern", "format", "minLength", "maxLength", "const"}:
        description = rule.get("description") or properties.get(str(root), {}).get(
            "description", ""
        )
        return f"{where}: {value} is not valid ({description})".replace(" ()", "")
    message = str(error.message)
    if secret:
        message = f"invalid ({kind})"
    return f"{where}: {message[:160]}"


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _range(rule: Mapping[str, Any]) -> str:
    low, high = rule.get("minimum"), rule.get("maximum")
    if "exclusiveMinimum" in rule:
        text = f"greater than {rule['exclusiveMinimum']}"
        return f"{text} and at most {high}" if high is not None else text
    if low is not None and high is not None:
        kind = "a whole number" if "integer" in _as_list(rule.get("type")) else "a number"
        return f"{kind} from {low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


# Converting a checked config -----------------------------------------------------------


def load_settings(config: Mapping[str, Any], schema: Mapping[str, Any]) -> Settings:
    """Check `config` against `schema`, then convert it; report every problem at once.

    Raises:
        SettingsError: one message per bad setting.

    """
    errors = check_config(schema, config)
    if errors:
        raise SettingsError(errors)
    defaults = {
        name: spec["default"] for name, spec in schema["properties"].items() if "default" in spec
    }
    values = {
        name: defaults.get(name) if config.get(name) is None else config[name]
        for name in schema["properties"]
    }
    converted = {
        declared.name: _converted(
            declared.metadata["convert"],
            json_type(schema["properties"][declared.name]),
            values[declared.name],
            values,
            errors,
        )
        for declared in fields(Settings)
    }
    settings = Settings(**converted)
    if settings.reserved_requests_per_minute >= settings.requests_per_minute:
        errors.append(
            f"reserved_requests_per_minute: {settings.reserved_requests_per_minute} leaves "
            f"nothing of the {settings.requests_per_minute} requests per minute for this tap "
            "(it must be smaller)",
        )
    if settings.min_poll_interval_minutes > settings.max_poll_interval_hours * 60:
        errors.append(
            f"min_poll_interval_minutes: {settings.min_poll_interval_minutes:g} is longer than "
            f"max_poll_interval_hours ({settings.max_poll_interval_hours:g} h); the minimum "
            "must not exceed the maximum",
        )
    if errors:
        raise SettingsError(errors)
    return settings


def _converted(
    convert: Callable[[Any, Mapping[str, Any], list[str]], Any] | None,
    kind: str,
    value: Any,  # noqa: ANN401 (any setting's)
    values: Mapping[str, Any],
    errors: list[str],
) -> Any:  # noqa: ANN401 (any setting's)
    """One checked value as `Settings` holds it: by `convert`, or by its JSON type."""
    if convert is not None:
        return convert(value, values, errors)
    if value is None:
        return None
    to_type: Callable[[Any], Any] = {"integer": int, "number": float, "boolean": bool}.get(
        kind, str
    )
    return to_type(value)


def parse_interview_id(text: str) -> int | None:
    """The interview ID written in `text` (ASCII digits, spaces around), else None."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and int(stripped) > 0:
        return int(stripped)
    return None


def read_interview_ids_file(path_value: str, errors: list[str]) -> list[int]:
    """Read a file of IDs: one per line, blank lines and `#` comments ignored."""
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


def _base_url(value: str, errors: list[str]) -> str:
    """Without a trailing slash; a port out of range is named (the pattern allows digits)."""
    url = value.rstrip("/")
    try:
        _ = urlsplit(url).port
    except ValueError:
        errors.append(f"base_url: {show(value)} is not a valid URL (its port is out of range)")
    return url


def _start_date(value: str | None, errors: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        errors.append(
            f"start_date: {show(value)} is not an ISO 8601 date-time (e.g. 2026-01-01T00:00:00Z)",
        )
        return None


def json_type(spec: Mapping[str, Any]) -> str:
    """The main JSON type of a setting's schema (the first that is not null)."""
    declared = spec.get("type", "string")
    if isinstance(declared, list):
        declared = next((kind for kind in declared if kind != "null"), "string")
    return str(declared)
