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

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from tap_hindsight.config_check import SettingsError, check_config, json_type
from tap_hindsight.declare import (
    base_url_of,
    converted_value,
    listed_ids,
    names_of,
    schema_of,
    setting,
    start_date_of,
    stripped,
    typed,
)
from tap_hindsight.polling import PollPolicy

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

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
        convert=stripped,
    )
    base_url: str = setting(
        typed("string", pattern=BASE_URL_PATTERN),
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description=(
            "Root of the Hindsight API. https is required, except for loopback "
            "addresses (a local simulator or proxy); no credentials, query or fragment."
        ),
        convert=base_url_of,
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
        convert=listed_ids,
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
        convert=start_date_of,
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
        convert=names_of,
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
        """`950 requests/min (plan enterprise: 1,000, 50 reserved for other clients)`."""
        source = f"plan {self.plan}" if self.plan else "requests_per_minute"
        if self.plan and self.requests_per_minute != PLAN_LIMITS[self.plan]:
            source = "requests_per_minute"
        reserved = self.reserved_requests_per_minute
        extra = f", {reserved:,} reserved for other clients" if reserved else ""
        if not self.plan and self.requests_per_minute == DEFAULT_REQUESTS_PER_MINUTE:
            # Most often neither is set: a larger plan's budget would go unused unseen.
            extra += ", the smallest plan's; set plan if yours is larger"
        return f"{self.budget:,} requests/min ({source}: {self.requests_per_minute:,}{extra})"


#: The settings' JSON schema, in their declared order; no other setting is accepted.
SETTINGS: dict[str, Any] = schema_of(Settings)


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
        declared.name: converted_value(
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
