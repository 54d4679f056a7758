"""tap-hindsight: settings and streams."""

from __future__ import annotations

import copy
import io
import json
from functools import cached_property
from typing import IO, Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_hindsight import redact
from tap_hindsight.client import ApiKeyRejectedError
from tap_hindsight.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SCAN_MAX_MISSES,
    PLAN_LIMITS,
    Settings,
    load_settings,
    settings_from_environment,
)
from tap_hindsight.state import STATE_KEY, LifecycleState
from tap_hindsight.streams import InterviewsStream, InterviewTurnsStream

#: The tap's own settings (the SDK adds its built-in ones, such as stream_maps, to the
#: class's config_jsonschema at run time).
SETTINGS = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        title="API key",
        description="Bearer API key from the Hindsight dashboard (Settings > API).",
    ),
    th.Property(
        "base_url",
        th.StringType,
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description=(
            "Root of the Hindsight API. https is required, except for loopback "
            "addresses (a local simulator or proxy)."
        ),
    ),
    th.Property(
        "interview_ids",
        th.ArrayType(th.CustomType({"type": ["integer", "string"]})),
        default=[],
        title="Interview IDs",
        description=(
            "Interview request IDs to extract (the interview_request_id returned by "
            "POST /interviews). Digit strings are accepted; from an environment "
            "variable, a JSON array or a comma-separated list (1,2,3)."
        ),
    ),
    th.Property(
        "interview_ids_file",
        th.StringType,
        title="Interview IDs file",
        description=(
            "Path to a file of interview request IDs, one per line; blank lines and "
            "# comments are ignored. Combined with interview_ids."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description="Interviews created before this instant are not emitted.",
    ),
    th.Property(
        "plan",
        th.StringType(allowed_values=list(PLAN_LIMITS)),
        title="Plan",
        description=(
            "Your Hindsight plan; sets the request budget to its limit: essentials 60, "
            "growth 300, enterprise 1000 requests per minute."
        ),
    ),
    th.Property(
        "requests_per_minute",
        th.IntegerType,
        title="Requests per minute",
        description=(
            "Never send more than this many requests in any 60 s window. Overrides the "
            "plan's limit; without either, 60 (the smallest plan's)."
        ),
    ),
    th.Property(
        "reserved_requests_per_minute",
        th.IntegerType,
        default=0,
        title="Reserved requests per minute",
        description=(
            "Part of the budget left to other clients of the same API key (for example "
            "the workflow that creates interviews): the tap sends at most the limit minus this."
        ),
    ),
    th.Property(
        "concurrency",
        th.IntegerType,
        default=DEFAULT_CONCURRENCY,
        title="Concurrency",
        description="Requests in flight at once (1-64).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=DEFAULT_REQUEST_TIMEOUT,
        title="Request timeout",
        description="Seconds to wait for each answer before retrying.",
    ),
    th.Property(
        "scan_start_id",
        th.IntegerType,
        title="Scan start ID",
        description=(
            "Discover interviews by probing ascending IDs from this one (later runs "
            "continue above the highest ID found). Each probe is one request; leave unset "
            "to extract only listed IDs."
        ),
    ),
    th.Property(
        "scan_max_misses",
        th.IntegerType,
        default=DEFAULT_SCAN_MAX_MISSES,
        title="Scan max misses",
        description=(
            "Stop probing after this many consecutive IDs answer not found (IDs are shared "
            "by all Hindsight organisations, so gaps are normal)."
        ),
    ),
    th.Property(
        "interviewer_names",
        th.ArrayType(th.StringType),
        default=["Paige"],
        title="Interviewer names",
        description=(
            "Speaker names of Hindsight's interviewer in transcripts: their turns get "
            "is_interviewer = true in interview_turns, everyone else's false."
        ),
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=DEFAULT_MAX_RETRIES,
        title="Max retries",
        description=(
            "Retries of a request that failed in a way that may pass (5xx, timeouts, "
            "dropped connections, broken answers), with exponential backoff and jitter."
        ),
    ),
)


class TapHindsight(Tap):
    """Singer tap for Hindsight AI win-loss interviews."""

    name = "tap-hindsight"
    config_jsonschema = SETTINGS.to_dict()

    @override
    def __init__(
        self, *, config: Any = None, parse_env_config: bool = False, **kwargs: Any
    ) -> None:
        # The SDK's own environment parsing crashes on `1,2,3` arrays and on numbers that
        # are not numbers; ours leaves bad values for validation to name.
        if parse_env_config:
            schema = copy.deepcopy(self.config_jsonschema)
            self.append_builtin_config(schema)
            types = {name: _json_type(spec) for name, spec in schema.get("properties", {}).items()}
            config = {**(config or {}), **settings_from_environment(types, "TAP_HINDSIGHT_")}
        if isinstance(config, dict) and not isinstance(config.get("api_key", ""), str):
            # The SDK's schema check would quote the value in its error: not for a key.
            msg = "Config validation failed"
            raise ConfigValidationError(msg, errors=["api_key: must be a string (not shown)"])
        super().__init__(config=config, parse_env_config=False, **kwargs)
        if kwargs.get("validate_config", True):
            redact.install([self.settings.api_key])  # before anything can log it

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
    ) -> None:
        # A state file that is not JSON would end in a traceback inside the SDK; say which
        # file is broken instead.
        if state is not None:
            text = state.read()
            try:
                if not isinstance(json.loads(text), dict):
                    cls.logger.warning("Ignoring state that is not a Singer state object")
                    text = "{}"
            except ValueError as exc:
                cls.logger.error("The --state file %s is not valid JSON: %s", state.name, exc)  # noqa: TRY400
                raise SystemExit(1) from None
            state = io.StringIO(text)
        super().invoke(
            about=about, about_format=about_format, config=config, state=state, catalog=catalog
        )

    @cached_property
    def settings(self) -> Settings:
        """The checked settings (raises ConfigValidationError naming each bad one)."""
        return load_settings(self.config)

    @override
    def discover_streams(self) -> list[Stream]:
        interviews = InterviewsStream(self)
        return [interviews, InterviewTurnsStream(self, interviews)]

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        # Foreign or damaged state must not crash the run: what cannot be read is
        # dropped with a warning, and the affected IDs are simply fetched again.
        super().load_state(self._readable_state(state))

    def _readable_state(self, state: object) -> dict[str, Any]:
        """The parts of `state` this tap can use; a warning for each part dropped."""
        if not isinstance(state, dict) or not isinstance(state.get("bookmarks", {}), dict):
            self.logger.warning("Ignoring state that is not a Singer state object")
            return {}
        bookmarks: dict[str, Any] = {}
        for stream_name, bookmark in state.get("bookmarks", {}).items():
            if stream_name == InterviewTurnsStream.name:
                continue  # nothing of its own to resume: it follows the interviews
            if stream_name != InterviewsStream.name:
                self.logger.warning("Ignoring state of unknown stream %r", stream_name)
            elif not isinstance(bookmark, dict):
                self.logger.warning("Ignoring state of 'interviews': not an object")
            else:
                bookmarks[stream_name] = self._readable_bookmark(bookmark)
        return {**state, "bookmarks": bookmarks}

    def _readable_bookmark(self, bookmark: dict[str, Any]) -> dict[str, Any]:
        readable = {key: value for key, value in bookmark.items() if key != "partitions"}
        if "partitions" in bookmark:
            self.logger.warning("Ignoring 'partitions' in state: this tap does not use them")
        if STATE_KEY in readable:
            try:
                LifecycleState.from_bookmark(readable[STATE_KEY])
            except ValueError as exc:
                self.logger.warning(
                    "Ignoring unreadable interview state (%s): every configured ID will "
                    "be fetched again",
                    exc,
                )
                del readable[STATE_KEY]
        return readable

    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        # The SDK marks sync_all final, but it offers no other hook that runs after the
        # final STATE is written and before the process exits: this wrapper leaves the
        # sync itself untouched and only turns its outcome into the exit code.
        try:
            super().sync_all()
        except ApiKeyRejectedError as exc:
            self.logger.error("%s", exc)  # noqa: TRY400 (the message says it all)
            # What was emitted before the key was rejected is kept for the next run.
            self.state_writer.write_state(self.state)
            raise SystemExit(1) from None
        failed = {
            interview_id: error
            for stream in self.streams.values()
            if isinstance(stream, InterviewsStream)
            for interview_id, error in stream.report.failed.items()
        }
        if failed:
            self.logger.error(
                "%d interviews could not be extracted; the run fails so they are not "
                "missed silently: %s",
                len(failed),
                ", ".join(str(interview_id) for interview_id in sorted(failed)),
            )
            raise SystemExit(1)


def _json_type(spec: dict[str, Any]) -> str:
    """The main JSON type of a setting's schema (the first that is not null)."""
    declared = spec.get("type", "string")
    if isinstance(declared, list):
        declared = next((kind for kind in declared if kind != "null"), "string")
    return str(declared)


if __name__ == "__main__":
    TapHindsight.cli()
