"""The interviews stream: which IDs are fetched, and what is emitted for each answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from singer_sdk.streams import Stream
from typing_extensions import override

from tap_hindsight.client import FetchResult, HindsightClient, Outcome
from tap_hindsight.records import KNOWN_STATUSES, RecordValidator, strip_nul
from tap_hindsight.schemas import load_schema
from tap_hindsight.settings import parse_datetime

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context

    from tap_hindsight.tap import TapHindsight


@dataclass
class SyncReport:
    """What one run did, counted on the main thread. Failures fail the run at the end."""

    ids: int = 0
    emitted: int = 0
    before_start_date: int = 0
    not_found: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    requests_sent: int = 0
    rate_limited: int = 0

    def summary(self) -> str:
        """One line for the log at the end of a run."""
        return (
            f"{self.ids} IDs: {self.emitted} records emitted, "
            f"{self.before_start_date} before start_date, {len(self.not_found)} not found, "
            f"{len(self.failed)} failed; {self.requests_sent} requests sent, "
            f"{self.rate_limited} rate-limited (429)"
        )


class InterviewsStream(Stream):
    """One record per interview request, transcript included once completed."""

    name = "interviews"
    primary_keys = ("interview_request_id",)
    replication_key = None

    def __init__(self, tap: TapHindsight) -> None:
        """Attach the stream to `tap`, whose checked settings it reads at sync time."""
        super().__init__(tap, schema=load_schema("interviews"), name=self.name)
        self.hindsight_tap = tap
        self.report = SyncReport()
        self._validator = RecordValidator(self.schema)
        self._unknown_statuses: set[str] = set()

    def interview_ids(self) -> Iterable[int]:
        """The IDs to fetch this run: configured IDs, each once."""
        return self.hindsight_tap.settings.interview_ids

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        settings = self.hindsight_tap.settings
        ids = list(self.interview_ids())
        self.report = SyncReport(ids=len(ids))
        self.logger.info(
            "Fetching %d interviews from %s (%d requests/min, %d at a time)",
            len(ids),
            settings.base_url,
            settings.requests_per_minute,
            settings.concurrency,
        )
        client = HindsightClient(settings, self.logger)
        try:
            for result in client.fetch_all(ids):
                record = self._accept(result)
                if record is not None:
                    yield record
                    self.report.emitted += 1
        finally:
            client.close()
            self.logger.info("Interviews sync: %s", self.report.summary())

    def _accept(self, result: FetchResult) -> dict[str, Any] | None:
        """Count one fetch result; the record to emit, or None. Main thread only."""
        report = self.report
        report.requests_sent += result.requests_sent
        report.rate_limited += result.rate_limited
        interview_id = result.interview_id
        if result.outcome is Outcome.NOT_FOUND:
            report.not_found.append(interview_id)
            self.logger.warning(
                "Interview %d not found (HTTP 404): it does not exist or belongs to "
                "another organisation; skipped",
                interview_id,
            )
            return None
        if result.outcome is not Outcome.OK or result.record is None:
            if result.outcome is not Outcome.CANCELLED:
                report.failed[interview_id] = result.error
                self.logger.error("Interview %d failed: %s", interview_id, result.error)
            return None
        record: dict[str, Any] = strip_nul(result.record)
        problems = self._validator.problems(record)
        if not problems and record["interview_request_id"] != interview_id:
            carried = record["interview_request_id"]
            problems = [
                f"field 'interview_request_id': answer carries {carried!r}, not the ID asked for"
            ]
        if problems:
            report.failed[interview_id] = "; ".join(problems)
            self.logger.error(
                "Interview %d not emitted: it does not match the schema: %s",
                interview_id,
                "; ".join(problems),
            )
            return None
        status = record["status"]
        if status not in KNOWN_STATUSES and status not in self._unknown_statuses:
            self._unknown_statuses.add(status)
            self.logger.warning(
                "Interview %d has status %r, which Hindsight does not document: emitted "
                "as it is and treated as not completed (this is logged once per status)",
                interview_id,
                status,
            )
        start_date = self.hindsight_tap.settings.start_date
        if start_date is not None and parse_datetime(record["created_at"]) < start_date:
            report.before_start_date += 1
            return None
        return record
