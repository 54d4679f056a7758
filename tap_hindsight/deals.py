"""Deals: reading a GET /deals page, the rows built from each deal, and what state keeps.

Pure: no I/O. The `deals`, `deal_drivers` and `deal_competitors` streams
(`deal_streams.py`) are built on this.

`GET /deals` has no `updated_at` and no updated-since filter, so every run reads the whole
list (one request per 100 deals) and emits only the deals whose content changed since the
last run, judged by a short fingerprint per deal kept in state (`DealMarks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_hindsight.deal_store import (
    DealMark,
    StoredDeals,
    deal_mark_text,
    read_deal_mark,
    stored_deal_id,
)
from tap_hindsight.encoding import fingerprint

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_hindsight.absence import Strikes

#: The largest page the API serves.
PAGE_SIZE = 100
#: Oldest first: a deal created while a run pages lands on the last page, so no page
#: already read shifts under it.
PAGE_ORDER = {"sort": "created_at", "sort_order": "asc"}
#: Keys an object envelope has been seen to hold the array under (older reference pages).
ENVELOPE_KEYS = ("deals", "data", "items", "results")


def page_items(body: object) -> list[dict[str, Any]]:
    """The deals of one page: a bare array (documented) or an object holding one.

    Raises:
        ValueError: neither, or an item that is not an object; the message says what came.

    """
    items = body
    if isinstance(body, dict):
        arrays = [key for key in body if isinstance(body[key], list)]
        known = [key for key in ENVELOPE_KEYS if key in arrays]
        if known or len(arrays) == 1:
            items = body[(known or arrays)[0]]
        else:
            keys = ", ".join(sorted(map(str, body))) or "none"
            msg = (
                "expected an array of deals (or an object holding one), found an object "
                f"with keys {keys}"
            )
            raise ValueError(msg)
    if not isinstance(items, list):
        msg = f"expected an array of deals, found {type(items).__name__}"
        raise ValueError(msg)  # noqa: TRY004 (a bad answer, reported as such)
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            msg = f"item {position} of the page is {type(item).__name__}, not a deal object"
            raise ValueError(msg)  # noqa: TRY004
    return items


def driver_rows(deal: dict[str, Any]) -> list[dict[str, Any]]:
    """One `deal_drivers` row per driver, keyed by the deal and the driver's position."""
    return [
        {
            "deal_id": deal["id"],
            "driver_index": index,
            "reason_id": driver.get("reason_id"),
            "positive": driver.get("positive"),
            "summary": driver.get("summary"),
            "removed": False,
        }
        for index, driver in enumerate(deal.get("drivers") or [])
        if isinstance(driver, dict)
    ]


def competitor_rows(deal: dict[str, Any]) -> list[dict[str, Any]]:
    """One `deal_competitors` row per competitor (the first association of each wins)."""
    rows: dict[str, dict[str, Any]] = {}
    for association in deal.get("deal_competitor_associations") or []:
        if isinstance(association, dict) and association.get("competitor_id") is not None:
            competitor = str(association["competitor_id"])
            rows.setdefault(
                competitor,
                {
                    "deal_id": deal["id"],
                    "competitor_id": competitor,
                    "is_primary": association.get("is_primary"),
                    "is_incumbent": association.get("is_incumbent"),
                    "removed": False,
                },
            )
    return list(rows.values())


def removed_driver(deal_id: str, index: int) -> dict[str, Any]:
    """A `deal_drivers` row the deal no longer has: its key, `removed`, the rest null."""
    return {"deal_id": deal_id, "driver_index": index, "reason_id": None} | {
        "positive": None,
        "summary": None,
        "removed": True,
    }


def removed_competitor(deal_id: str, competitor: str) -> dict[str, Any]:
    """A `deal_competitors` row the deal no longer has: its key, `removed`, the rest null."""
    return {"deal_id": deal_id, "competitor_id": competitor, "is_primary": None} | {
        "is_incumbent": None,
        "removed": True,
    }


class DealMarks:
    """What was last emitted for each deal, stored compactly.

    Stored as `{"marks": "deal_1:ab12cd34:3:0.2,deal_2:...", "competitors": [...]}`: per
    deal its fingerprint, how many drivers it had (base 36; left out when 0) and its
    competitors as positions in the `competitors` list (left out when none). IDs with
    other characters than letters, digits, `_`, `.` and `-` are stored as `#` and a hash
    of themselves. Knowing the child rows emitted lets a changed deal take back the rows
    it no longer has (`removed_rows`): a target keeps a row until it is sent again.

    In memory each deal is only its stored text after the ID (about 200 bytes a deal
    with the dict's own), read again when the deal is looked at; a competitor keeps its
    position for good, so texts stay valid and a checkpoint only joins them.
    """

    def __init__(self, stored: StoredDeals | None = None) -> None:
        """Start from what the bookmark held (`store.read_deals`), or from nothing."""
        stored = stored or StoredDeals()
        self._texts = dict(stored.texts)
        #: The streams (deals and its children) the marks were emitted to: a stream
        #: selected since has missed every deal, so the next run emits them all again.
        self.streams = frozenset(stored.streams)
        self._table = list(stored.competitors)
        self._position = {competitor: index for index, competitor in enumerate(self._table)}
        #: Deals (stored IDs) the last complete list lacked: deleted if the next lacks them.
        self.missing = set(stored.missing)

    def __len__(self) -> int:
        """How many deals are remembered."""
        return len(self._texts)

    def _mark(self, deal: dict[str, Any]) -> DealMark | None:
        text = self._texts.get(stored_deal_id(deal["id"]))
        return None if text is None else read_deal_mark(text, self._table)

    def changed(self, deal: dict[str, Any]) -> bool:
        """True if the deal is new or differs from the one last emitted."""
        text = self._texts.get(stored_deal_id(deal["id"]))
        return text is None or text.split(":", 1)[0] != fingerprint(deal)

    def removed_rows(
        self, deal: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Rows emitted for the deal before that it no longer has: (drivers, competitors).

        Each is the row's key with every other field null and `removed` true.
        """
        mark = self._mark(deal)
        if mark is None:
            return [], []
        drivers = [
            removed_driver(deal["id"], index)
            for index in range(len(driver_rows(deal)), mark.drivers)
        ]
        current = {row["competitor_id"] for row in competitor_rows(deal)}
        competitors = [
            removed_competitor(deal["id"], competitor)
            for competitor in mark.competitors
            if competitor not in current
        ]
        return drivers, competitors

    def mark_emitted(self, deal: dict[str, Any]) -> None:
        """The deal (and its child rows) went out."""
        competitors = [row["competitor_id"] for row in competitor_rows(deal)]
        drivers = len(driver_rows(deal))
        for competitor in competitors:
            if competitor not in self._position:
                self._position[competitor] = len(self._table)
                self._table.append(competitor)
        positions = [self._position[competitor] for competitor in competitors]
        self._texts[stored_deal_id(deal["id"])] = deal_mark_text(
            fingerprint(deal), drivers, positions
        )

    def absent(self, deal_ids: Iterable[str]) -> list[str]:
        """The deals remembered (stored IDs) that a complete list without them lacks."""
        listed = {stored_deal_id(deal_id) for deal_id in deal_ids}
        return sorted(key for key in self._texts if key not in listed)

    def settle_absent(
        self, strikes: Strikes
    ) -> list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
        """A complete list lacked the deals of `strikes` (stored IDs, `absence.two_strikes`).

        Those absent for the first time are now missing; returns each deal absent the
        second time in a row (deleted) with its driver and competitor rows marked removed;
        those are forgotten. A deal whose ID is stored as a hash cannot be named again: it
        is forgotten without a row.
        """
        deleted = []
        for key in strikes.second:
            mark = read_deal_mark(self._texts.pop(key), self._table)
            if key[:1] != "#":
                drivers = [removed_driver(key, index) for index in range(mark.drivers)]
                competitors = [removed_competitor(key, c) for c in mark.competitors]
                deleted.append((key, drivers, competitors))
        self.missing = set(strikes.first)
        return deleted

    def stored(self) -> StoredDeals:
        """What the bookmark keeps (`store.write_deals` writes it)."""
        return StoredDeals(self._texts, sorted(self.streams), self._table, self.missing)
