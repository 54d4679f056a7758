"""Every place where the tap leans on the Singer SDK, named once, with why.

The tap uses the SDK's documented extension points where they exist (settings schema,
`discover_streams`, `get_records`, `generate_child_contexts`...). Where it goes further
(a method the SDK marks final, a callback, state layout), the override is listed in
`SEAMS` with the reason and the tests that fail if the SDK changes under it;
`tests/test_seams.py` checks that every override of an SDK method in this package is
listed, that each listed SDK attribute still exists, and that each guarding test exists.
The SDK is pinned to a compatible release (`~=`) of the version these tests ran on.

The pieces that depend on the SDK's internals live here too (the child streams' run-wide
meters), except the hold on the `created_at` progress marker, which writes the stream's
state and so lives with the rest of it in checkpoints.py.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import singer_sdk.singerlib as singer
from singer_sdk import metrics
from singer_sdk.mapper import RemoveRecordTransform
from singer_sdk.streams import Stream
from typing_extensions import Self, override

from tap_hindsight.encoding import iso_instant

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from singer_sdk import Tap

    from tap_hindsight.context import RunContext


#: The column Singer targets built on the SDK keep for a row deleted at the source.
DELETED_AT = "_sdc_deleted_at"


@dataclass(frozen=True)
class Seam:
    """One override of the SDK: what, why, and which tests would notice a change."""

    sdk: str  #: `Class.attribute` in singer_sdk
    ours: str  #: `module.Class.attribute` in tap_hindsight
    why: str
    tests: tuple[str, ...]  #: `tests/file.py::test_name`


SEAMS: tuple[Seam, ...] = (
    Seam(
        "Tap.__init__",
        "tap.TapHindsight.__init__",
        "reads TAP_HINDSIGHT_* itself (the SDK crashes on `1,2,3` and on non-numbers) and "
        "checks the config before the SDK does, with messages that never quote a secret",
        (
            "tests/test_settings.py::test_settings_from_environment_variables",
            "tests/test_secrets.py::test_a_key_of_the_wrong_type_is_not_echoed",
        ),
    ),
    Seam(
        "Tap.invoke",
        "tap.TapHindsight.invoke",
        "a --state file that is not JSON is named instead of ending in a traceback; every "
        "other argument, today's and any the SDK adds, is passed on as it came",
        (
            "tests/test_incremental.py::test_a_state_file_that_is_not_json_is_named",
            "tests/test_seams.py::test_invoke_passes_on_every_argument_it_does_not_read",
        ),
    ),
    Seam(
        "Tap.load_state",
        "tap.TapHindsight.load_state",
        "foreign or damaged state is dropped with a warning (documented override point)",
        (
            "tests/test_incremental.py::test_unreadable_state_is_ignored_with_a_warning_and_nothing_is_lost",
        ),
    ),
    Seam(
        "Tap.sync_all",
        "tap.TapHindsight.sync_all",
        "final in the SDK, but the only place after the final STATE and before exit: "
        "wrapped (not changed) so failed IDs and a rejected key end the run with code 1",
        (
            "tests/test_exit.py::test_the_same_exit_code_and_message_on_every_path",
            "tests/test_transport.py::test_an_id_that_keeps_failing_is_named_at_the_end_and_fails_the_run",
        ),
    ),
    Seam(
        "Tap._handle_termination",
        "tap.TapHindsight._handle_termination",
        "the SDK's handler writes the state it has and exits where the run is, so its last "
        "STATE is the previous checkpoint; during a run the handler only asks the run to "
        "stop (in flight requests finish, then a STATE covering every record written)",
        (
            "tests/test_resume.py::test_a_graceful_stop_writes_a_state_covering_every_record_written",
        ),
    ),
    Seam(
        "Tap.cb_test",
        "tap.TapHindsight.cb_test",
        "`--test` syncs from this option callback, outside sync_all and outside the "
        "command's error handling: re-implemented to apply the same exit policy; it reads "
        "the config holder the SDK hands over (a file's config, or --config ENV)",
        (
            "tests/test_exit.py::test_the_same_exit_code_and_message_on_every_path",
            "tests/test_settings.py::test_settings_from_environment_variables",
        ),
    ),
    Seam(
        "Tap.run_sync_dry_run",
        "tap.TapHindsight.run_sync_dry_run",
        "`--test` and the SDK's standard tests sync the streams outside sync_all: the "
        "run context (budget, deadline, settings) is handed to the streams here too",
        (
            "tests/test_exit.py::test_the_same_exit_code_and_message_on_every_path",
            "tests/test_exit.py::test_a_clean_test_run_exits_0",
        ),
    ),
    Seam(
        "tap_base.CliTestOptionValue",
        "tap.TapHindsight.cb_test",
        "cb_test tells `--test` (all streams, synced under the exit policy) from "
        "`--test=schema` (left to the SDK) by the SDK's option values",
        (
            "tests/test_seams.py::test_the_test_option_and_the_builtin_settings_the_tap_relies_on",
            "tests/test_exit.py::test_a_clean_test_run_exits_0",
        ),
    ),
    Seam(
        "Tap.append_builtin_config",
        "tap.TapHindsight.settings_schema",
        "the settings the tap checks, documents and decodes from the environment are its "
        "own and the SDK's built-in ones (stream_maps, flattening...), which the SDK adds",
        (
            "tests/test_seams.py::test_the_test_option_and_the_builtin_settings_the_tap_relies_on",
            "tests/test_settings.py::test_the_sdks_built_in_settings_are_accepted",
        ),
    ),
    Seam(
        "Tap.capabilities",
        "tap.TapHindsight.capabilities",
        "activate-version is not offered (no stream re-sends all its rows), nor batch (a "
        "checkpoint's STATE could precede the batch file holding its records)",
        (
            "tests/test_exit.py::test_activate_version_is_neither_advertised_nor_sent",
            "tests/test_settings.py::test_unknown_settings_are_refused_by_name",
        ),
    ),
    Seam(
        "Stream.emit_activate_version_messages",
        "seams.HindsightStream.emit_activate_version_messages",
        "with the SDK's setting on, a FULL_TABLE stream (interview_turns, or any stream a "
        "catalog forces to FULL_TABLE) would send ACTIVATE_VERSION at every sync, which a "
        "target reads as 'retire every row not re-sent'",
        (
            "tests/test_exit.py::test_activate_version_is_neither_advertised_nor_sent",
            "tests/test_warehouse.py::test_emit_activate_version_messages_loses_no_row",
        ),
    ),
    Seam(
        "Stream.STATE_MSG_FREQUENCY",
        "checkpoints.CheckpointedStream.STATE_MSG_FREQUENCY",
        "the SDK's checkpoint would come before the stream's own state learns of the record; "
        "the stream writes its own (Tap.state_writer, Stream.tap_state)",
        (
            "tests/test_resume.py::test_checkpoints_come_every_50_items_or_one_item_per_100_bytes_of_state",
            "tests/test_resume.py::test_killed_and_resumed_nothing_is_lost_and_nothing_completed_is_fetched_again",
            "tests/test_deal_streams.py::test_a_page_that_keeps_failing_fails_the_run_and_the_next_run_emits_the_rest",
        ),
    ),
    Seam(
        "Stream.tap_state",
        "checkpoints.CheckpointedStream.checkpoint_if_due",
        "checkpoints write the whole tap state through Tap.state_writer",
        (
            "tests/test_resume.py::test_checkpoints_come_every_50_items_or_one_item_per_100_bytes_of_state",
            "tests/test_deal_streams.py::test_a_page_that_keeps_failing_fails_the_run_and_the_next_run_emits_the_rest",
        ),
    ),
    Seam(
        "Stream.sync",
        "checkpoints.CheckpointedStream.sync_children",
        "a turns backfill (interview_turns selected after its interviews completed) syncs "
        "the child for one interview the way the SDK does for each child context, without "
        "handing the interview row to the SDK a second time",
        ("tests/test_polling.py::test_a_stream_selected_later_gets_its_history_once",),
    ),
    Seam(
        "Stream.stream_state",
        "checkpoints.CreatedAtBookmark",
        "holds the SDK's created_at progress marker above any instant while a run lasts "
        "(relies on the marker layout, increment_state skipping older values and "
        "finalize promoting the marker): otherwise the tap state changes with each newer "
        "record and every child sync writes a STATE, and re-polls move the bookmark back",
        (
            "tests/test_seams.py::test_the_created_at_hold_keeps_the_marker_still_and_the_sdk_promotes_the_newest",
            "tests/test_resume.py::test_state_messages_per_run_are_bounded",
            "tests/test_incremental.py::test_the_created_at_bookmark_never_moves_backwards",
        ),
    ),
    Seam(
        "Stream._write_schema_message",
        "seams.ChildStream._write_schema_message",
        "the SDK sends a SCHEMA at every sync, and a child syncs once per parent record: "
        "the same schema once per interview or deal; sent once a run instead",
        (
            "tests/test_seams.py::test_a_child_stream_sends_its_schema_once_however_often_it_syncs",
            "tests/test_resume.py::test_each_stream_sends_its_schema_once_per_run",
        ),
    ),
    Seam(
        "Stream.log",
        "seams.ChildStream.log",
        "a child stream syncs once per parent record: its 'Beginning sync' line goes to DEBUG",
        (
            "tests/test_seams.py::test_a_child_streams_beginning_line_goes_to_debug",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
    Seam(
        "Stream.get_record_counter",
        "seams.ChildStream.get_record_counter",
        "one record counter for the whole run, logged once (see RunCounter)",
        (
            "tests/test_seams.py::test_a_child_streams_meters_span_the_run_and_are_logged_once",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
    Seam(
        "Stream.get_sync_timer",
        "seams.ChildStream.get_sync_timer",
        "one sync timer for the whole run, logged once (see RunTimer)",
        (
            "tests/test_seams.py::test_a_child_streams_meters_span_the_run_and_are_logged_once",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
    Seam(
        "metrics.Counter.exit",
        "seams.RunCounter.exit",
        "the SDK leaves a stream's counter after each sync; a child's lasts the run",
        (
            "tests/test_seams.py::test_a_child_streams_meters_span_the_run_and_are_logged_once",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
    Seam(
        "metrics.Meter.with_context",
        "seams.RunCounter.with_context",
        "the SDK tags a sync's meters with its context (one interview): a run's total has none",
        (
            "tests/test_seams.py::test_a_child_streams_meters_span_the_run_and_are_logged_once",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
    Seam(
        "metrics.Meter.with_context",
        "seams.RunTimer.with_context",
        "the SDK tags a sync's meters with its context (one interview): a run's total has none",
        (
            "tests/test_seams.py::test_a_child_streams_meters_span_the_run_and_are_logged_once",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
    Seam(
        "metrics.Timer.__enter__",
        "seams.RunTimer.__enter__",
        "each child sync starts a new lap of the run's timer",
        (
            "tests/test_seams.py::test_a_child_streams_meters_span_the_run_and_are_logged_once",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
    Seam(
        "metrics.Timer.__exit__",
        "seams.RunTimer.__exit__",
        "adds each child sync's time to the run's total instead of logging it",
        (
            "tests/test_seams.py::test_a_child_streams_meters_span_the_run_and_are_logged_once",
            "tests/test_logs.py::test_a_backfill_logs_nothing_per_interview",
        ),
    ),
)


def state_bytes(state: Mapping[str, Any]) -> int:
    """The size of `state` as one compact JSON text (about its STATE message's size)."""
    return len(json.dumps(state, separators=(",", ":"), default=str))


class HindsightStream(Stream):
    """What every stream of this tap shares with the SDK, and the run it belongs to."""

    _run: RunContext | None = None

    def begin_run(self, run: RunContext) -> None:
        """Join a run: its settings, budget, deadline and input state (the tap's hand-off)."""
        self._run = run

    @property
    def run(self) -> RunContext:
        """The run this stream syncs in (handed by the tap before any sync)."""
        if self._run is None:
            msg = (
                f"stream {self.name!r} synced outside a run: the tap hands each stream "
                "its RunContext first"
            )
            raise RuntimeError(msg)
        return self._run

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # Never: no run re-sends every row of a stream (completed interviews are not
        # fetched again, turns go out once), so a version switch would retire the rest.
        return False

    def write_deletions(self, rows: list[dict[str, Any]]) -> None:
        """Send `rows` (each its key and any column to erase) as deleted now.

        Each goes out with `_sdc_deleted_at`, this instant (UTC).

        A target upserts every column of the stream's schema, so a row sent with the key
        alone would null every other column. The rows go out (through the stream maps,
        flattening included) under a SCHEMA of their own columns only: the target sets
        those and keeps the rest (SDK targets start a new sink for a changed schema and
        load the older sinks first; a column the table lacks is added). The stream's own
        SCHEMA follows, for whatever the run sends next. Nothing is sent if the stream is
        not selected.
        """
        if not rows or not self.selected:
            return
        extracted = datetime.now(timezone.utc)
        deleted_at = iso_instant(extracted.timestamp())
        for stream_map in self.stream_maps:
            if isinstance(stream_map, RemoveRecordTransform):
                continue
            mapped = []
            for row in rows:
                out = stream_map.transform(copy.deepcopy(row))
                if out is not None:
                    mapped.append({**out, DELETED_AT: deleted_at})
            if not mapped:
                continue
            full = stream_map.transformed_schema["properties"]
            columns = sorted(set().union(*mapped))
            keys = list(stream_map.transformed_key_properties or ())
            properties = {
                name: full[name] if name in keys else nullable(full[name])
                for name in columns
                if name in full
            }
            properties[DELETED_AT] = {"type": ["null", "string"], "format": "date-time"}
            schema = {"type": "object", "properties": properties}
            self._tap.write_message(singer.SchemaMessage(stream_map.stream_alias, schema, keys))
            for record in mapped:
                self._tap.write_message(
                    singer.RecordMessage(stream_map.stream_alias, record, time_extracted=extracted)
                )
        for message in self._generate_schema_messages():
            self._tap.write_message(message)


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` admitting null, and so every property of an object (none required)."""
    kind = schema.get("type", [])
    kinds = [kind] if isinstance(kind, str) else list(kind)
    result = {**schema, "type": kinds if "null" in kinds else [*kinds, "null"]}
    if "properties" in schema:
        result["properties"] = {k: nullable(v) for k, v in schema["properties"].items()}
        result.pop("required", None)
    return result


class ChildStream(HindsightStream):
    """A child stream, which the SDK syncs once per parent record (interview or deal).

    One record counter and one timer span the whole run and are logged once, by
    `report_metrics`; the SDK's per-sync "Beginning sync" line goes to DEBUG, and its
    SCHEMA is sent once.
    """

    def __init__(self, tap: Tap, schema: dict[str, Any], name: str) -> None:
        """Attach to `tap` with `schema` (the SDK's own constructor arguments)."""
        super().__init__(tap, schema=schema, name=name)
        self.run_counter = RunCounter(name)
        self.run_timer = RunTimer(name)
        self._schema_written = False

    @override
    def _write_schema_message(self) -> None:
        # The SDK writes a SCHEMA at each sync, so once per parent record: the same schema
        # thousands of times, a quarter of a first run's bytes. Once a run is enough.
        if not self._schema_written:
            self._schema_written = True
            super()._write_schema_message()

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        # "Beginning sync of ..." would be logged once per parent record.
        super().log(
            message, *args, level=logging.DEBUG if level == logging.INFO else level, **kwargs
        )

    @override
    def get_record_counter(
        self,
        *,
        endpoint: str | None = None,
        log_interval: float = metrics.DEFAULT_LOG_INTERVAL,
    ) -> RunCounter:
        return self.run_counter

    @override
    def get_sync_timer(self) -> RunTimer:
        return self.run_timer

    def report_metrics(self) -> None:
        """Log the run's record count and sync time, once."""
        self.run_counter.report()
        self.run_timer.report()


class RunCounter(metrics.Counter):
    """A child stream's record counter that spans the whole run.

    The SDK enters and leaves a stream's record counter at each of its syncs, and a child
    stream syncs once per parent record, so its METRIC line would be logged once per
    interview. This counter keeps counting across syncs and is logged once, by `report`.
    """

    def __init__(self, stream: str) -> None:
        """Count the records of `stream`; never log on a timer."""
        super().__init__(metrics.Metric.RECORD_COUNT, {metrics.Tag.STREAM: stream}, math.inf)

    @override
    def with_context(self, value: Any) -> None:
        # Each sync's context (one interview) does not describe a run-wide total.
        return

    @override
    def exit(self) -> None:
        # Called at the end of every child sync: keep counting.
        return

    def report(self) -> None:
        """Log the run's total (as the SDK's own counter would at its end)."""
        super().exit()


class RunTimer(metrics.Timer):
    """A child stream's sync timer that adds up every sync of the run; logged by `report`."""

    def __init__(self, stream: str) -> None:
        """Time the syncs of `stream`."""
        super().__init__(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: stream})
        self.total = 0.0
        self.failed = False

    @override
    def with_context(self, value: Any) -> None:
        return

    @override
    def __enter__(self) -> Self:
        self.start_time = time.time()
        return self

    @override
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.total += self.elapsed()
        self.failed = self.failed or exc_type is not None

    def report(self) -> None:
        """Log the run's total sync time."""
        status = metrics.Status.FAILED if self.failed else metrics.Status.SUCCEEDED
        tags = {**self.tags, metrics.Tag.STATUS: status}
        metrics.log(self.logger, metrics.Point("timer", self.metric, self.total, tags))
