"""The deals' bookmark, in the grammar of `tap_hindsight.store`: read and written here. Pure.

`{"marks": "deal_1:ab12cd34:3:0.2,...", "competitors": [...], "streams": [...]}`: per
deal its fingerprint, how many drivers it had (base 36; left out when 0) and its
competitors as positions in the `competitors` list (left out when none). IDs with other
characters than letters, digits, `_`, `.` and `-` are stored as `#` and a hash of
themselves.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from tap_hindsight.encoding import base36
from tap_hindsight.state import Resumable
from tap_hindsight.store import entries, text_of

#: The deals stream's own key in its bookmark.
DEALS_KEY = "deal_marks"
DEALS_STATE_VERSION = 1
#: Deal IDs stored as they are; any other is stored as `#` and a hash of itself.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_ID_HASH_CHARS = 16


@dataclass(frozen=True)
class DealMark:
    """What was last emitted for one deal: its fingerprint and the keys of its child rows."""

    fingerprint: str
    drivers: int
    competitors: tuple[str, ...]


@dataclass
class StoredDeals:
    """The deals' bookmark, read: each deal's mark text by stored ID, and beside them."""

    texts: dict[str, str] = field(default_factory=dict)
    #: The streams (deals and its children) the marks were emitted to.
    streams: list[str] = field(default_factory=list)
    #: The competitors a mark's positions point into.
    competitors: list[str] = field(default_factory=list)
    #: Deals (stored IDs) the last complete list lacked.
    missing: set[str] = field(default_factory=set)


def stored_deal_id(deal_id: str) -> str:
    """The deal's ID as stored: itself, or `#` and a hash of itself."""
    if _PLAIN_ID.match(deal_id):
        return deal_id
    return "#" + hashlib.sha256(deal_id.encode("utf-8")).hexdigest()[:_ID_HASH_CHARS]


def deal_mark_text(fingerprint: str, drivers: int, positions: list[int]) -> str:
    """`fingerprint[:drivers[:positions]]` (drivers in base 36, positions `.`-joined)."""
    parts = [fingerprint]
    if drivers or positions:
        parts.append(base36(drivers))
    if positions:
        parts.append(".".join(base36(position) for position in positions))
    return ":".join(parts)


def read_deal_mark(text: str, table: list[str], entry: str = "") -> DealMark:
    """Read `fingerprint[:drivers[:positions]]`; ValueError naming `entry` if it cannot."""
    mark, *children = text.split(":")
    try:
        if not mark.isalnum() or len(children) > 2:  # noqa: PLR2004
            raise ValueError  # noqa: TRY301 (one message for every way it breaks)
        drivers = int(children[0], 36) if children else 0
        positions = children[1].split(".") if len(children) > 1 else []
        competitors = tuple(table[int(position, 36)] for position in positions)
    except (ValueError, IndexError):
        shown = entry or text
        msg = f"{shown!r} is not a deal ID:fingerprint[:drivers[:competitors]] entry"
        raise ValueError(msg) from None
    return DealMark(mark, drivers, competitors)


def write_deals(deals: StoredDeals) -> dict[str, Any]:
    """The deals' bookmark: `{"marks": "deal_1:ab12cd34:3:0.2,...", "competitors": [...]}`."""
    texts = deals.texts
    return {
        "version": DEALS_STATE_VERSION,
        "streams": sorted(deals.streams),
        "marks": ",".join(f"{key}:{texts[key]}" for key in sorted(texts)),
        "competitors": list(deals.competitors),
        **({"missing": ",".join(sorted(deals.missing))} if deals.missing else {}),
    }


def read_deals(stored: object) -> StoredDeals:
    """The deals' bookmark.

    Raises:
        ValueError: it is not one; the message names the first bad entry.

    """
    if not isinstance(stored, dict):
        msg = "not an object"
        raise ValueError(msg)  # noqa: TRY004 (bad state, reported as such)
    if stored.get("version", DEALS_STATE_VERSION) != DEALS_STATE_VERSION:
        msg = f"version {stored.get('version')!r}, this tap reads {DEALS_STATE_VERSION}"
        raise ValueError(msg)
    text, missing = text_of(stored, "marks"), text_of(stored, "missing")
    table, streams = stored.get("competitors", []), stored.get("streams", [])
    if not isinstance(table, list) or not all(isinstance(c, str) for c in table):
        msg = "'competitors' is not a list of competitor IDs"
        raise ValueError(msg)
    if not isinstance(streams, list) or not all(isinstance(n, str) for n in streams):
        msg = "'streams' is not a list of stream names"
        raise ValueError(msg)
    texts: dict[str, str] = {}
    for key, *mark in entries(text):
        entry, rest = ":".join([key, *mark]), ":".join(mark)
        if not (_PLAIN_ID.match(key) or key[:1] == "#"):
            msg = f"{entry!r} is not a deal ID:fingerprint[:drivers[:competitors]] entry"
            raise ValueError(msg)
        read_deal_mark(rest, table, entry)  # raises if it cannot be read
        texts[key] = rest
    return StoredDeals(texts, streams, table, {key for key in missing.split(",") if key in texts})


DEALS_RESUME = Resumable(DEALS_KEY, read_deals, "deal state", "every deal will be emitted again")
