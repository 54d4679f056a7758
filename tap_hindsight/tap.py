"""tap-hindsight: its settings, its streams, and how a run ends."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import signal
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_hindsight import redact
from tap_hindsight.api import ApiKeyRejectedError
from tap_hindsight.checkpoints import CheckpointedStream
from tap_hindsight.config_check import TAP_NAME, SettingsError
from tap_hindsight.context import RunContext
from tap_hindsight.deal_streams import (
    DealCompetitorsStream,
    DealDriversStream,
    DealsStream,
)
from tap_hindsight.environment import numbers_from_strings, settings_from_environment
from tap_hindsight.seams import HindsightStream
from tap_hindsight.settings import SETTINGS, Settings, load_settings
from tap_hindsight.state import readable_state
from tap_hindsight.streams import InterviewsStream, InterviewTurnsStream
from tap_hindsight.window import MINUTE, api_window_seconds
from tap_hindsight.window import VARIABLE as WINDOW_VARIABLE

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

    import click
    from singer_sdk.helpers.capabilities import CapabilitiesEnum


@contextlib.contextmanager
def sdk_config_errors() -> Iterator[None]:
    """A bad setting, as the SDK reports one: its ConfigValidationError, with each message."""
    try:
        yield
    except SettingsError as exc:
        raise ConfigValidationError(str(exc), errors=exc.errors) from None


class TapHindsight(Tap):
    """Singer tap for Hindsight AI win-loss interviews."""

    name = TAP_NAME
    # A copy: the SDK adds its built-in settings to the class's schema.
    config_jsonschema = copy.deepcopy(SETTINGS)
    # Not offered: ACTIVATE_VERSION (no run re-sends every row, so a target would retire
    # the rest) and BATCH (a checkpoint's STATE could then precede the batch file holding
    # its records: a run killed in between would lose them).
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        c
        for c in Tap.capabilities
        if c not in {TapCapabilities.ACTIVATE_VERSION, PluginCapabilities.BATCH}
    ]

    @override
    def __init__(
        self,
        *,
        config: Any = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        **kwargs: Any,
    ) -> None:
        if config is not None and not isinstance(config, Mapping):
            msg = "tap-hindsight takes its config as a mapping"
            raise TypeError(msg)
        given = dict(config or {})
        schema = self.settings_schema()
        with sdk_config_errors():
            if parse_env_config:
                # The SDK's own parsing crashes on `1,2,3` lists and on numbers that are
                # not numbers; ours leaves bad values for the schema check to name.
                given.update(settings_from_environment(schema))
            given = numbers_from_strings(schema, given)
        self._settings: Settings | None = None
        #: The run under way (None: none yet), which a signal asks to stop.
        self._run: RunContext | None = None
        if validate_config:
            # Our check comes first: its messages name each setting and never quote a
            # secret (the SDK's would quote a key of the wrong type).
            with sdk_config_errors():
                self._settings = load_settings(given, schema)
            redact.install([self._settings.api_key])  # before anything can log it
        super().__init__(
            config=given, parse_env_config=False, validate_config=validate_config, **kwargs
        )
        if self._settings and self._settings.emit_activate_version_messages:
            self.logger.warning(
                "emit_activate_version_messages is ignored: every run sends only new and "
                "changed rows, and a target would retire all the others",
            )

    @classmethod
    def settings_schema(cls) -> dict[str, Any]:
        """Every setting the tap accepts: its own and the SDK's built-in ones."""
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        return schema

    @property
    def settings(self) -> Settings:
        """The checked settings (raises ConfigValidationError naming each bad one)."""
        if self._settings is None:
            with sdk_config_errors():
                self._settings = load_settings(self.config, self.settings_schema())
        return self._settings

    @override
    def discover_streams(self) -> list[Stream]:
        interviews = InterviewsStream(self)
        deals = DealsStream(self)
        return [
            interviews,
            InterviewTurnsStream(self, interviews),
            deals,
            DealDriversStream(self, deals),
            DealCompetitorsStream(self, deals),
        ]

    def begin_run(self) -> None:
        """Build what every stream shares in this run, and hand it to each stream.

        One request budget for interviews and deals, and max_run_minutes counted from now.
        """
        try:
            window = api_window_seconds()
        except ValueError as exc:
            self.logger.error("%s", exc)  # noqa: TRY400 (the message says it all)
            raise SystemExit(1) from None
        if window != MINUTE:
            self.logger.warning(
                "%s=%s: the request budget is counted over %s s windows instead of "
                "Hindsight's minute (a test against the simulator only)",
                WINDOW_VARIABLE,
                os.environ[WINDOW_VARIABLE],
                f"{window:g}",
            )
        run = RunContext.start(self.settings, self.state_writer.write_state)
        self._run = run
        for stream in self.streams.values():
            if isinstance(stream, HindsightStream):
                stream.begin_run(run)

    # How a run ends: the same on every path --------------------------------------------

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK writes the state it has and exits at once, wherever the run was: its
        # last STATE is then the previous checkpoint, and the records written since are
        # fetched again. During a run, the run stops instead: no new request starts, those
        # in flight finish and their records go out, and the STATE at the end covers
        # every record written (a second signal stops at once, as the SDK does).
        run = self._run
        if run is None or run.stop.requested:
            super()._handle_termination(signum, frame)
            return
        run.stop.request(signal.Signals(signum).name)

    @contextlib.contextmanager
    def exit_policy(self) -> Iterator[None]:
        """Turn a sync's outcome into the exit code: 1 for a rejected key or failed IDs.

        Used by a normal run (and so by Meltano's) and by `--test`, so that both end with
        the same code and message; never with a traceback.
        """
        try:
            yield
        except ApiKeyRejectedError as exc:
            # The stream wrote a STATE covering what went out before: the next run resumes.
            self.logger.error("%s", exc)  # noqa: TRY400 (the message says it all)
            raise SystemExit(1) from None
        failures = [
            failure
            for stream in self.streams.values()
            if isinstance(stream, CheckpointedStream) and (failure := stream.failures())
        ]
        for failure in failures:
            self.logger.error("%s", failure)
        if failures:
            raise SystemExit(1)

    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        # Marked final in the SDK, but nothing else runs after the final STATE and before
        # exit: the sync itself is untouched, only its outcome becomes the exit code.
        with self.exit_policy():
            self.begin_run()  # a new run: a fresh budget and deadline
            super().sync_all()

    @override  # type: ignore[misc]
    def run_sync_dry_run(self, *args: Any, **kwargs: Any) -> bool:
        # Final in the SDK, like sync_all: `--test` and the SDK's standard tests sync the
        # streams without sync_all, a run all the same (its own budget and deadline).
        self.begin_run()
        return super().run_sync_dry_run(*args, **kwargs)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        # The SDK runs `--test` from this option callback, around sync_all and before the
        # command's own error handling: the same policy is applied here.
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        given = ctx.params.get("config")
        try:
            tap = cls(
                config=getattr(given, "config", None),
                parse_env_config=getattr(given, "parse_env", False),
            )
        except ConfigValidationError as exc:
            for error in exc.errors:
                cls.logger.error("%s", error)  # noqa: TRY400
            cls.logger.error("Config validation failed")  # noqa: TRY400
            raise SystemExit(1) from None
        with tap.exit_policy():
            tap.run_connection_test()
        ctx.exit()

    # State --------------------------------------------------------------------------------

    @classmethod
    @override
    def invoke(cls, *, state: IO[str] | None = None, **kwargs: Any) -> None:
        # A state file that is not JSON would end in a traceback inside the SDK; say which
        # file is broken instead. Every other argument goes to the SDK as it came.
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
        super().invoke(state=state, **kwargs)

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        # Foreign or damaged state must not crash the run: what cannot be read is
        # dropped with a warning, and the affected IDs are simply fetched again.
        streams = self.streams.values()
        readable = readable_state(
            state,
            {s.name: s.resume for s in streams if isinstance(s, CheckpointedStream)},
            {s.name for s in streams if not isinstance(s, CheckpointedStream)},
            self.logger.warning,
        )
        super().load_state(readable)


if __name__ == "__main__":
    TapHindsight.cli()
