"""Streams that keep their own state: one owner for a stream's bookmark and checkpoints.

Interviews and deals remember what they emitted (a per-ID lifecycle, per-deal marks),
and learn of a record only once the SDK has written it, so the SDK's own STATE after N
records would come too early: a `CheckpointedStream` writes its STATE messages itself.

Everything about a checkpointed stream's state happens here, and only here:
- its bookmark is written by `_write_bookmark` (from the stream's `bookmark()`), at each
  checkpoint and at the end of the run, and a STATE follows a failure; a dry run
  (`--test`) keeps the one it started from;
- every item that goes out counts toward the next checkpoint: an answer or a parent
  record (`count_item`), and each child row the moment a child takes it (`take_rows`);
- a parent hands its children the rows of the record being emitted (`hand_to_children`),
  which the SDK then syncs with the context `generate_child_contexts` gives: the turns of
  an interview and the drivers and competitors of a deal alike, without another request.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_hindsight.records import parse_datetime
from tap_hindsight.seams import ChildStream, HindsightStream, state_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_hindsight.state import Resumable


class CheckpointedStream(HindsightStream):
    """A parent stream synced in one context that writes its own checkpoints."""

    #: What the stream keeps in its bookmark, and how a stored one is read.
    resume: ClassVar[Resumable]

    #: Beyond reach: the SDK's own STATE would come before the stream's state learns of
    #: the records it covers.
    STATE_MSG_FREQUENCY = 10**12

    #: A STATE once at least this many items (answers and records) went out since the last,
    CHECKPOINT_MIN_ITEMS = 50
    #: and at least one item per this many bytes of the state: each STATE carries the whole
    #: tap state, so with a fixed count a run's STATE bytes would grow with its items times
    #: the state's size (the square of the IDs on a first run); this way they stay within
    #: this many bytes an item.
    STATE_BYTES_PER_ITEM = 100

    def __init__(self, tap: Tap, schema: dict[str, Any], name: str) -> None:
        """Attach to `tap` with `schema` (the SDK's own constructor arguments)."""
        super().__init__(tap, schema=schema, name=name)
        #: Items (answers, records, child rows) that went out since the last STATE.
        self._items = 0
        #: Size of the tap state as last written (None: not measured yet).
        self._state_bytes: int | None = None
        #: Child rows of the record being emitted, by child stream name (taken once).
        self._handed: dict[str, list[dict[str, Any]]] = {}
        self._handed_context: dict[str, Any] | None = None
        self._created_at: CreatedAtBookmark | None = None

    # What each stream says --------------------------------------------------------------

    @abstractmethod
    def bookmark(self) -> dict[str, Any]:
        """What the stream keeps under `resume.key`, as of the records already written."""

    @abstractmethod
    def failures(self) -> str:
        """Why the run must fail ('' if it need not): the tap logs it and exits 1."""

    @abstractmethod
    def child_context(self, record: dict[str, Any]) -> dict[str, Any]:
        """The context that names `record` to its children (`{"deal_id": ...}`)."""

    # The run, its bookmark and its checkpoints ------------------------------------------

    @contextlib.contextmanager
    def checkpointed(self) -> Iterator[None]:
        """Around a run's records: the bookmark written at the end, a STATE after a failure.

        With a replication key, its progress marker is held for the run (CreatedAtBookmark).
        A failure (a rejected key) leaves a STATE covering every record already written:
        the next run starts from there.
        """
        self._items = 0
        self._state_bytes = None
        self._handed, self._handed_context = {}, None
        if self.replication_key:
            self._created_at = CreatedAtBookmark(
                self.stream_state, self.replication_key, self.resume.key
            )
        if self.dry_run:
            self.logger.info(
                "Dry run (--test): the %s stream keeps the state this run started from; "
                "the next run goes on from there",
                self.name,
            )
        failed = False
        try:
            yield
        except Exception:
            failed = True
            raise
        finally:
            # Also when the run is cut short (a stop, a dry run's record limit).
            if self._created_at is not None:
                self._created_at.release()
                self._created_at = None
            self._write_bookmark()
            if failed:
                self._write_state()

    def saw_replication_value(self, value: str) -> None:
        """A record with this replication value was written (the bookmark's newest)."""
        if self._created_at is not None:
            self._created_at.saw(value)

    def count_item(self) -> None:
        """One item (an answer, a record) went out toward the next checkpoint."""
        self._items += 1

    def checkpoint_if_due(self) -> None:
        """Write the bookmark and a STATE if enough items went out since the last.

        At least `CHECKPOINT_MIN_ITEMS`, and one per `STATE_BYTES_PER_ITEM` bytes of the
        state (measured at the last checkpoint, or now if there was none this run).
        """
        if self._items < self.CHECKPOINT_MIN_ITEMS:
            return
        if self._state_bytes is None:
            self._state_bytes = state_bytes(self.tap_state)
        if self._items * self.STATE_BYTES_PER_ITEM >= self._state_bytes:
            self._write_bookmark()
            self._write_state()

    def stored_bookmark(self) -> object:
        """What the stream kept under `resume.key` (None: nothing yet); checked on load."""
        return self.stream_state.get(self.resume.key)

    def _write_bookmark(self) -> None:
        # A dry run keeps the bookmark it started from: what it learned may cover child
        # rows its record limit cut off, which the next run would then never emit.
        if not self.dry_run:
            self.stream_state[self.resume.key] = self.bookmark()

    def _write_state(self) -> None:
        state = self.tap_state
        self.run.write_state(state)
        self._state_bytes = state_bytes(state)
        self._items = 0

    # Children ---------------------------------------------------------------------------

    def selected_streams(self) -> frozenset[str]:
        """This stream and its children, those selected."""
        streams = [self, *self.child_streams]
        return frozenset(stream.name for stream in streams if stream.selected)

    def hand_to_children(
        self, record: dict[str, Any], rows: dict[str, list[dict[str, Any]]]
    ) -> None:
        """Give each selected child its rows of `record`, which is about to be written."""
        self._handed = {
            child.name: rows[child.name]
            for child in self.child_streams
            if child.selected and child.name in rows
        }
        self._handed_context = self.child_context(record) if self._handed else None

    def sync_children(self, record: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> None:
        """Emit `record`'s child rows without the record (already in the warehouse)."""
        self.hand_to_children(record, rows)
        context = self._handed_context
        if context is None:
            return
        for child in self.child_streams:
            if child.name in self._handed:
                child.sync(context=context)
        self._handed, self._handed_context = {}, None

    def take_rows(self, child: str, context: Context | None) -> list[dict[str, Any]]:
        """The rows handed to `child` for the record `context` names (once); each counts."""
        if context is None or context != self._handed_context:
            return []
        rows = self._handed.pop(child, [])
        self._items += len(rows)
        return rows

    @override
    def generate_child_contexts(
        self,
        record: dict[str, Any],
        context: Context | None,
    ) -> Iterable[Context | None]:
        # The SDK syncs the children with each context yielded, right before it writes
        # `record`; only a record whose rows were handed has any.
        if self._handed_context is not None and self._handed_context == self.child_context(record):
            yield self._handed_context

    def report_child_metrics(self) -> None:
        """Log the run's count and time of each selected child stream, once."""
        for child in self.child_streams:
            if isinstance(child, ChildStream) and child.selected:
                child.report_metrics()


class HandedRowsStream(ChildStream):
    """A child whose rows its parent hands over (`hand_to_children`): no request of its own."""

    #: One bookmark for the stream, not one partition per parent record.
    state_partitioning_keys = ()
    replication_key = None

    def __init__(self, tap: Tap, parent: CheckpointedStream, schema: dict[str, Any]) -> None:
        """Attach to `tap`; rows come from the records `parent` emits."""
        super().__init__(tap, schema=schema, name=self.name)
        self.parent = parent

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        return self.parent.take_rows(self.name, context)


class CreatedAtBookmark:
    """The `created_at` bookmark: the newest ever emitted; informative only.

    The SDK promotes the maximum replication value of this run's records, so re-polling
    old pending interviews would move it backwards; and it updates its progress marker
    with every newer record, which changes the tap's state, so that every child-stream
    sync (each interview's turns) would write a STATE message. The marker is therefore
    held at a value above any instant while the run lasts, and set to the newest
    `created_at` ever emitted when it ends. (Progress markers are reset at the start of
    every run: a run killed with the held value in its STATE loses nothing.)
    """

    HOLD = "9999-12-31T23:59:59Z"

    def __init__(
        self, stream_state: dict[str, Any], replication_key: str, resumable_key: str
    ) -> None:
        """Hold the marker of `stream_state`; the stream resumes from `resumable_key`."""
        self.stream_state = stream_state
        self.newest: str | None = stream_state.get("replication_key_value")
        stream_state["progress_markers"] = {
            "Note": f"Resumable through '{resumable_key}'; created_at is informative only.",
            "replication_key": replication_key,
            "replication_key_value": self.HOLD,
        }

    def saw(self, created_at: str) -> None:
        """A record with this `created_at` was emitted."""
        if self.newest is None or parse_datetime(created_at) > parse_datetime(self.newest):
            self.newest = created_at

    def release(self) -> None:
        """Let the SDK promote the newest `created_at` (or nothing) at the end."""
        markers = self.stream_state.get("progress_markers", {})
        if self.newest is None:
            markers.pop("replication_key", None)
            markers.pop("replication_key_value", None)
        else:
            markers["replication_key_value"] = self.newest
