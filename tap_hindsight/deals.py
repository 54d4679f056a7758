"""Deals: reading a GET /deals page, the rows built from each deal, and what state keeps.

Pure: no I/O. The `deals`, `deal_drivers` and `deal_competitors` streams
(`deal_streams.py`) are built on this.

`GET /deals` has no `updated_at` and no updated-since filter, so every run reads the whole
list (one request per 100 deals) and emits only the deals whose content changed since the
last run, judged by a short fingerprint per deal kept in state (`DealMarks`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_hindsight.state import base36, fingerprint

if TYPE_CHECKING:
    from collections.abc import Iterable

#: The deals stream's own key in its bookmark.
DEALS_KEY = "deal_marks"
DEALS_STATE_VERSION = 1
#: The largest page the API serves.
PAGE_SIZE = 100
#: Oldest first: a deal created while a run pages lands on the last page, so no page
#: already read shifts under it.
PAGE_ORDER = {"sort": "created_at", "sort_order": "asc"}
#: Keys an object envelope has been seen to hold the array under (older reference pages).
ENVELOPE_KEYS = ("deals", "data", "items", "results")
#: Deal IDs stored as they are in state; any other is stored as a hash of itself.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_ID_HASH_CHARS = 16


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


def _stored_id(deal_id: str) -> str:
    if _PLAIN_ID.match(deal_id):
        return deal_id
    digest = hashlib.sha256(deal_id.encode("utf-8")).hexdigest()[:_ID_HASH_CHARS]
    return f"#{digest}"


@dataclass(frozen=True)
class _Mark:
    """What was last emitted for one deal: its fingerprint and the keys of its child rows."""

    fingerprint: str
    drivers: int
    competitors: tuple[str, ...]


class DealMarks:
    """What was last emitted for each deal, stored compactly.

    Stored as `{"marks": "deal_1:ab12cd34:3:0.2,deal_2:...", "competitors": [...]}`: per
    deal its fingerprint, how many drivers it had (base 36; left out when 0) and its
    competitors as positions in the `competitors` list (left out when none). IDs with
    other characters than letters, digits, `_`, `.` and `-` are stored as `#` and a hash
    of themselves. Knowing the child rows emitted lets a changed deal take back the rows
    it no longer has (`removed_rows`): a target keeps a row until it is sent again.
    """

    def __init__(self, marks: dict[str, _Mark] | None = None, streams: Iterable[str] = ()) -> None:
        """Start from stored marks (by stored ID), emitted to `streams`."""
        self._marks = dict(marks or {})
        #: The streams (deals and its children) the marks were emitted to: a stream
        #: selected since has missed every deal, so the next run emits them all again.
        self.streams = frozenset(streams)
        # Competitors get a position once (new ones at the end), so each entry's stored
        # text stays valid and a checkpoint only joins the cached texts.
        self._table = sorted({c for mark in self._marks.values() for c in mark.competitors})
        self._position = {competitor: index for index, competitor in enumerate(self._table)}
        self._texts = {key: self._text(key, mark) for key, mark in self._marks.items()}

    def _text(self, key: str, mark: _Mark) -> str:
        parts = [key, mark.fingerprint]
        if mark.drivers or mark.competitors:
            parts.append(base36(mark.drivers))
        if mark.competitors:
            for competitor in mark.competitors:
                if competitor not in self._position:
                    self._position[competitor] = len(self._table)
                    self._table.append(competitor)
            parts.append(".".join(base36(self._position[c]) for c in mark.competitors))
        return ":".join(parts)

    def __len__(self) -> int:
        """How many deals are remembered."""
        return len(self._marks)

    def changed(self, deal: dict[str, Any]) -> bool:
        """True if the deal is new or differs from the one last emitted."""
        mark = self._marks.get(_stored_id(deal["id"]))
        return mark is None or mark.fingerprint != fingerprint(deal)

    def removed_rows(
        self, deal: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Rows emitted for the deal before that it no longer has: (drivers, competitors).

        Each is the row's key with every other field null and `removed` true.
        """
        mark = self._marks.get(_stored_id(deal["id"]))
        if mark is None:
            return [], []
        drivers = [
            {"deal_id": deal["id"], "driver_index": index, "reason_id": None}
            | {"positive": None, "summary": None, "removed": True}
            for index in range(len(driver_rows(deal)), mark.drivers)
        ]
        current = {row["competitor_id"] for row in competitor_rows(deal)}
        competitors = [
            {"deal_id": deal["id"], "competitor_id": competitor, "is_primary": None}
            | {"is_incumbent": None, "removed": True}
            for competitor in mark.competitors
            if competitor not in current
        ]
        return drivers, competitors

    def emitted(self, deal: dict[str, Any]) -> None:
        """The deal (and its child rows) went out."""
        competitors = tuple(row["competitor_id"] for row in competitor_rows(deal))
        mark = _Mark(fingerprint(deal), len(driver_rows(deal)), competitors)
        key = _stored_id(deal["id"])
        self._marks[key] = mark
        self._texts[key] = self._text(key, mark)

    def keep_only(self, deal_ids: Iterable[str]) -> None:
        """Forget deals the list no longer holds (deleted in the CRM)."""
        kept = {_stored_id(deal_id) for deal_id in deal_ids}
        self._marks = {key: mark for key, mark in self._marks.items() if key in kept}
        self._texts = {key: text for key, text in self._texts.items() if key in kept}

    def to_bookmark(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "version": DEALS_STATE_VERSION,
            "streams": sorted(self.streams),
            "marks": ",".join(self._texts[key] for key in sorted(self._texts)),
            "competitors": list(self._table),
        }

    @classmethod
    def from_bookmark(cls, stored: object) -> DealMarks:
        """Read the stored form.

        Raises:
            ValueError: it is not one; the message names the first bad entry.

        """
        if not isinstance(stored, dict):
            msg = "not an object"
            raise ValueError(msg)  # noqa: TRY004 (bad state, reported as such)
        if stored.get("version", DEALS_STATE_VERSION) != DEALS_STATE_VERSION:
            msg = f"version {stored.get('version')!r}, this tap reads {DEALS_STATE_VERSION}"
            raise ValueError(msg)
        text, table = stored.get("marks", ""), stored.get("competitors", [])
        streams = stored.get("streams", [])
        if not isinstance(text, str) or not isinstance(table, list):
            msg = "'marks' is not a string or 'competitors' not a list"
            raise ValueError(msg)  # noqa: TRY004
        if not isinstance(streams, list) or not all(isinstance(n, str) for n in streams):
            msg = "'streams' is not a list of stream names"
            raise ValueError(msg)
        marks: dict[str, _Mark] = {}
        for entry in text.split(","):
            if entry:
                key, mark = _read_entry(entry, table)
                marks[key] = mark
        return cls(marks, streams)


def _read_entry(entry: str, table: list[Any]) -> tuple[str, _Mark]:
    key, mark, *children = entry.split(":")
    try:
        if not mark.isalnum() or not (_PLAIN_ID.match(key) or key[:1] == "#"):
            raise ValueError  # noqa: TRY301 (one message for every way it breaks)
        if len(children) > 2:  # noqa: PLR2004
            raise ValueError  # noqa: TRY301
        drivers = int(children[0], 36) if children else 0
        positions = children[1].split(".") if len(children) > 1 else []
        competitors = tuple(str(table[int(position, 36)]) for position in positions)
    except (ValueError, IndexError):
        msg = f"{entry!r} is not a deal ID:fingerprint[:drivers[:competitors]] entry"
        raise ValueError(msg) from None
    return key, _Mark(mark, drivers, competitors)
