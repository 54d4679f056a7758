"""The deals streams: every deal of `GET /deals`, and each deal's drivers and competitors.

The list has no `updated_at` and no updated-since filter, so every run pages through all
of it (one request per 100 deals, sorted oldest first so that a deal created meanwhile
lands on the last page) and emits only the deals whose content changed since they were
last emitted (`DealMarks`, kept in the deals stream's bookmark). Without that bookmark
(a first run, or a full refresh) every deal is emitted. The child streams are built
from each deal emitted, without another request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_hindsight.absence import Absence, judge_absence, two_strikes
from tap_hindsight.answers import Outcome, PageResult, RequestTally
from tap_hindsight.api import DealsRefusedError
from tap_hindsight.checkpoints import CheckpointedStream, HandedRowsStream
from tap_hindsight.deal_store import DEALS_RESUME, read_deals, write_deals
from tap_hindsight.deals import (
    PAGE_ORDER,
    PAGE_SIZE,
    DealMarks,
    competitor_rows,
    driver_rows,
    page_items,
)
from tap_hindsight.encoding import duration
from tap_hindsight.records import RecordValidator, storable
from tap_hindsight.schemas import load_schema

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_hindsight.client import HindsightClient


@dataclass
class DealsReport(RequestTally):
    """What one run of the deals stream did; `problems` fail the run at the end."""

    pages: int = 0
    listed: int = 0
    emitted: int = 0
    unchanged: int = 0
    #: Driver and competitor rows sent once more, marked removed.
    taken_back: int = 0
    #: Deals emitted before that the whole list lacked: once (missing), twice (deleted).
    missing: int = 0
    deleted: int = 0
    #: True once the last (short) page was read: the list is whole.
    complete: bool = False
    #: Paging stopped by max_run_minutes or a signal (not a failure: the next run reads
    #: it all): what stopped it.
    deferred: str = ""
    #: Why deals were not emitted: a deal that breaks the schema, a page that failed.
    problems: list[str] = field(default_factory=list)

    def summary(self, elapsed: float) -> str:
        """The end-of-run line."""
        if self.complete:
            read = "the whole list"
        elif self.deferred:
            read = f"stopped by {self.deferred}; the next run reads the whole list again"
        else:
            read = "stopped early"
        return (
            f"Deals summary: {self.pages:,} pages read ({read}), {self.listed:,} deals "
            f"listed: {self.emitted:,} emitted (new or changed), {self.unchanged:,} "
            f"unchanged, {self.missing:,} missing from the list (once), {self.deleted:,} "
            f"deleted (twice in a row); {self.taken_back:,} driver and competitor rows "
            "marked removed; "
            f"{len(self.problems):,} problems; {self.requests_sent:,} requests sent, "
            f"{self.rate_limited:,} rate-limited (429), {self.budget_pauses:,} pauses for "
            f"a budget shared with other clients, in {duration(elapsed)}"
        )


class DealsStream(CheckpointedStream):
    """One record per deal, as `GET /deals` lists it."""

    name = "deals"
    primary_keys = ("id",)
    replication_key = None
    resume = DEALS_RESUME

    def __init__(self, tap: Tap) -> None:
        """Attach the stream to `tap`; it syncs in the run the tap hands it (`begin_run`)."""
        super().__init__(tap, schema=load_schema("deals"), name=self.name)
        self.report = DealsReport()
        self._validator = RecordValidator(self.schema)
        self._marks = DealMarks()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        settings = self.run.settings
        client = self.run.client(self.logger)
        selected = self.selected_streams()
        self._marks = self._stored_marks(selected)
        # Each deal marked is emitted with every selected child's rows.
        self._marks.streams = selected
        self.report = DealsReport(since=client.limiter.sent)
        started = client.limiter.now()
        self.logger.info(
            "Reading the deals list from %s, %d deals a page (%s); %d deals known from "
            "earlier runs",
            settings.base_url,
            PAGE_SIZE,
            "emitting only new and changed ones" if len(self._marks) else "emitting every deal",
            len(self._marks),
        )
        try:
            with self.checkpointed():
                yield from self._pages(client, self._marks)
        except DealsRefusedError as exc:
            self.logger.error("%s", exc)  # noqa: TRY400 (the message says it all)
            self.report.problems.append(str(exc))
        finally:
            client.close()
            self.report_child_metrics()
            self.report.sent_until(client.limiter.sent)
            self.logger.info("%s", self.report.summary(client.limiter.now() - started))

    @override
    def bookmark(self) -> dict[str, Any]:
        return write_deals(self._marks.stored())

    @override
    def child_context(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"deal_id": record["id"]}

    @override
    def failures(self) -> str:
        problems = self.report.problems
        if not problems:
            return ""
        shown = " | ".join(problems[:10]) + (" | ..." if len(problems) > 10 else "")  # noqa: PLR2004
        return (
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} with deals; the run "
            f"fails so they are not missed silently: {shown}"
        )

    def _pages(self, client: HindsightClient, marks: DealMarks) -> Iterator[dict[str, Any]]:
        """Every deal new or changed since `marks`, page after page; marks what went out."""
        report = self.report
        seen: set[str] = set()
        page_index = 0
        while True:
            query: dict[str, str | int] = {"page_size": PAGE_SIZE, **PAGE_ORDER}
            result = client.fetch_page(page_index, query, page_items)
            report.add(result)
            if not self._page_ok(result):
                return
            report.pages += 1
            deals = result.deals or []
            for position, item in enumerate(deals):
                deal = self._identified(item, page_index, position)
                if deal is None or deal["id"] in seen:
                    continue  # no ID, or a deal a shifted page showed twice
                seen.add(deal["id"])
                report.listed += 1
                if not marks.changed(deal):
                    report.unchanged += 1  # valid: it was checked when it was emitted
                    continue
                if not self._valid(deal):
                    continue
                gone_drivers, gone_competitors = marks.removed_rows(deal)
                self.hand_to_children(
                    deal,
                    {
                        DealDriversStream.name: driver_rows(deal) + gone_drivers,
                        DealCompetitorsStream.name: competitor_rows(deal) + gone_competitors,
                    },
                )
                report.taken_back += len(gone_drivers) + len(gone_competitors)
                yield deal
                # Only now are the deal and its rows written: state may cover them.
                marks.mark_emitted(deal)
                report.emitted += 1
                self.count_item()
            self.checkpoint_if_due()  # at the end of a page, once its deals are marked
            if len(deals) < PAGE_SIZE:
                report.complete = True
                self._settle_absent(marks, seen)
                return
            page_index += 1

    def _settle_absent(self, marks: DealMarks, listed: set[str]) -> None:
        """Deals emitted before that the whole list lacks: missing once, then deleted.

        A deal absent from two complete lists in a row is emitted once more with
        `_sdc_deleted_at` (its other columns kept: `write_deletions`), and its driver and
        competitor rows are marked removed. Many absent at once may be another
        organisation's key, and all absent but too few to say so is no proof either:
        `absence.judge_absence` and `absence.two_strikes`, the rules interviews' 404s follow.
        """
        absent = marks.absent(listed)
        absence = judge_absence(len(absent), len(marks))
        if absence is Absence.WRONG_KEY:
            problem = (
                f"{len(absent):,} of the {len(marks):,} deals emitted before are not in the "
                "deals list: the API key may belong to another organisation. None is marked "
                "deleted; check api_key, and the next run with the right key finds them"
            )
            self.report.problems.append(problem)
            self.logger.error("Deals: %s", problem)
            return
        if absence is Absence.NONE_LEFT:
            self.logger.warning(
                "Deals: none of the %d deals emitted before is in the deals list: none is "
                "marked missing or deleted (a key of another organisation would list so)",
                len(absent),
            )
            return
        deleted = marks.settle_absent(two_strikes(absent, marks.missing))
        self.report.missing = len(marks.missing)
        self.report.deleted = len(deleted)
        self.write_deletions([{"id": deal_id} for deal_id, _, _ in deleted])
        for deal_id, drivers, competitors in deleted:
            rows = {DealDriversStream.name: drivers, DealCompetitorsStream.name: competitors}
            self.sync_children({"id": deal_id}, rows)
            self.report.taken_back += len(drivers) + len(competitors)
            self.count_item()

    def _page_ok(self, result: PageResult) -> bool:
        """True if the page came; else say why paging stops."""
        if result.outcome is Outcome.OK:
            return True
        page = f"deals page {result.page_index} (page_size {PAGE_SIZE})"
        if result.outcome is Outcome.CANCELLED:
            stop = self.run.stop
            self.report.deferred = stop.signal or "max_run_minutes"
            self.logger.warning(
                "Deals: stopped by %s before %s; the deals read so far are emitted, the "
                "next run reads the whole list again",
                self.report.deferred,
                page,
            )
            return False
        if result.outcome is Outcome.NOT_FOUND:
            problem = f"{page}: HTTP 404, base_url serves no /deals"
        else:
            problem = f"{page} failed: {result.error}"
        self.report.problems.append(problem)
        self.logger.error(
            "Deals: %s; the deals of earlier pages are emitted, the rest wait for the next run",
            problem,
        )
        return False

    def _identified(
        self, item: dict[str, Any], page_index: int, position: int
    ) -> dict[str, Any] | None:
        """The deal made storable, its ID a string; None (a problem named) without an ID."""
        deal: dict[str, Any] = storable(item)
        deal_id = deal.get("id")
        if isinstance(deal_id, int) and not isinstance(deal_id, bool):
            deal["id"] = deal_id = str(deal_id)  # interviews.deal_id is a string
        if isinstance(deal_id, str) and deal_id:
            return deal
        where = f"item {position} of deals page {page_index}"
        self._problem(f"{where}: field 'id' is missing or not a string ({deal_id!r})")
        return None

    def _valid(self, deal: dict[str, Any]) -> bool:
        """True if the deal matches the schema; else the problem is named."""
        problems = self._validator.problems(deal)
        if problems:
            self._problem(f"deal {deal['id']}: {'; '.join(problems)}")
        return not problems

    def _problem(self, problem: str) -> None:
        self.report.problems.append(problem)
        self.logger.error("Deal not emitted: %s", problem)

    def _stored_marks(self, selected: frozenset[str]) -> DealMarks:
        """The marks to emit against: none if a selected stream missed earlier runs."""
        stored = self.stored_bookmark()
        if stored is None:
            return DealMarks()
        marks = DealMarks(read_deals(stored))  # checked when the state was loaded
        missed = selected - marks.streams
        if missed:
            self.logger.info(
                "Emitting every deal again: %s %s not selected in the last run",
                ", ".join(sorted(missed)),
                "was" if len(missed) == 1 else "were",
            )
            return DealMarks()
        return marks


class _DealChildStream(HandedRowsStream):
    """Rows built from the deal being emitted, without another request."""

    parent_stream_type = DealsStream

    def __init__(self, tap: Tap, deals: DealsStream) -> None:
        """Attach to `tap`; rows come from the deals `deals` emits."""
        super().__init__(tap, deals, load_schema(self.name))


class DealDriversStream(_DealChildStream):
    """One record per win-loss driver of a deal."""

    name = "deal_drivers"
    primary_keys = ("deal_id", "driver_index")


class DealCompetitorsStream(_DealChildStream):
    """One record per competitor of a deal."""

    name = "deal_competitors"
    primary_keys = ("deal_id", "competitor_id")
