"""Deals: reading a GET /deals page, the rows built from each deal, and what state keeps.

Pure: no I/O. (The `deals`, `deal_drivers` and `deal_competitors` streams are built on
this; they are not offered yet.)

`GET /deals` has no `updated_at` and no updated-since filter, so every run reads the whole
list (one request per 100 deals) and emits only the deals whose content changed since the
last run, judged by a short fingerprint per deal kept in state (`DealMarks`).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from tap_hindsight.state import fingerprint

if TYPE_CHECKING:
    from collections.abc import Iterable

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
                },
            )
    return list(rows.values())


def _stored_id(deal_id: str) -> str:
    if _PLAIN_ID.match(deal_id):
        return deal_id
    digest = hashlib.sha256(deal_id.encode("utf-8")).hexdigest()[:_ID_HASH_CHARS]
    return f"#{digest}"


class DealMarks:
    """The fingerprint of each deal last emitted, stored as one short string.

    `deal_123:ab12cd34,deal_124:...` (IDs with other characters than letters, digits,
    `_`, `.` and `-` are stored as `#` and a hash of themselves).
    """

    def __init__(self, marks: dict[str, str] | None = None) -> None:
        """Start from stored marks (by stored ID)."""
        self._marks = dict(marks or {})

    def __len__(self) -> int:
        """How many deals are remembered."""
        return len(self._marks)

    def changed(self, deal: dict[str, Any]) -> bool:
        """True if the deal is new or differs from the one last emitted."""
        return self._marks.get(_stored_id(deal["id"])) != fingerprint(deal)

    def emitted(self, deal: dict[str, Any]) -> None:
        """The deal (and its child rows) went out."""
        self._marks[_stored_id(deal["id"])] = fingerprint(deal)

    def keep_only(self, deal_ids: Iterable[str]) -> None:
        """Forget deals the list no longer holds (deleted in the CRM)."""
        kept = {_stored_id(deal_id) for deal_id in deal_ids}
        self._marks = {key: mark for key, mark in self._marks.items() if key in kept}

    def to_text(self) -> str:
        """The stored form."""
        return ",".join(f"{key}:{self._marks[key]}" for key in sorted(self._marks))

    @classmethod
    def from_text(cls, text: str) -> DealMarks:
        """Read the stored form.

        Raises:
            ValueError: an entry that is not `ID:fingerprint`.

        """
        marks: dict[str, str] = {}
        for part in text.split(","):
            if not part:
                continue
            key, _, mark = part.rpartition(":")
            if not key or not mark.isalnum() or not (_PLAIN_ID.match(key) or key[0] == "#"):
                msg = f"{part!r} is not a deal ID:fingerprint entry"
                raise ValueError(msg)
            marks[key] = mark
        return cls(marks)
