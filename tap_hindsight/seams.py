"""The streams' common base on the Singer SDK, and the child streams' seams.

The tap uses the SDK's documented extension points where they exist (settings schema,
`discover_streams`, `get_records`, `generate_child_contexts`...). Where it goes further
(a method the SDK marks final, a callback, state layout), the override is listed in the
table of seams in docs/development.md, with why and the tests that fail if the SDK changes
under it; `tests/test_seams.py` reads that table and checks that every override of an SDK
method in this package is in it, that each SDK attribute it names still exists, and that
each guarding test exists. The SDK is pinned to a compatible release (`~=`) of the version
these tests ran on.

The pieces that depend on the SDK's internals live here (the child streams' SCHEMA once a
run, their run-wide meters), except the hold on the `created_at` progress marker, which
writes the stream's state and so lives with the rest of it in checkpoints.py; the tap's
own overrides are in tap.py.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import singer_sdk.singerlib as singer
from singer_sdk import metrics
from singer_sdk.exceptions import MaxRecordsLimitException
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


def state_bytes(state: Mapping[str, Any]) -> int:
    """The size of `state` as one compact JSON text (about its STATE message's size)."""
    return len(json.dumps(state, separators=(",", ":"), default=str))


class HindsightStream(Stream):
    """What every stream of this tap shares with the SDK, and the run it belongs to."""

    _run: RunContext | None = None

    def begin_run(self, run: RunContext) -> None:
        """Join a run: its settings, budget, deadline and input state (the tap's hand-off)."""
        self._run = run

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        # `--test` ends each stream at its record limit by raising, and the SDK's sync logs
        # that at ERROR ("An unhandled error occurred") before it catches it: a passing
        # connection test said ERROR once per stream. At its limit, that line is DEBUG.
        if level >= logging.ERROR and _at_record_limit(sys.exc_info()[1]):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    @property
    def dry_run(self) -> bool:
        """True in the SDK's dry run (`--test`): it cuts every stream at a record limit.

        A child stream's cut does not stop its parent, so a parent would learn of records
        whose child rows were never written (an interview's other turns, a deal's other
        drivers).
        """
        return self.ABORT_AT_RECORD_COUNT is not None

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


def _at_record_limit(exc: BaseException | None) -> bool:
    """True for `--test`'s record limit, raised as it is or as the cause of an abort."""
    return isinstance(exc, MaxRecordsLimitException) or (
        exc is not None and isinstance(exc.__cause__, MaxRecordsLimitException)
    )


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
