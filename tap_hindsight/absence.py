"""Records that vanish: interviews that answer 404, deals a complete list lacks. Pure.

One rule for both: how a run takes the known records that vanished (`judge_absence`),
and the two strikes that make one deleted (`two_strikes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable


#: A run takes no absence for a deletion when at least this many records emitted before,
WRONG_KEY_AT_LEAST = 5
#: and more than this share of those it looked for, are gone (and more than still answer).
WRONG_KEY_SHARE = 0.10


class Absence(Enum):
    """What a run makes of the known records that vanished."""

    #: Take them as deleted: missing the first time, deleted the second (`two_strikes`).
    SETTLE = "settle"
    #: Too many, and fewer still there: the API key may be another organisation's. None
    #: is marked, and the run fails.
    WRONG_KEY = "wrong key"
    #: None of those looked for is still there, too few to call the key wrong: none is
    #: marked (a key of another organisation would look so), and the run goes on.
    NONE_LEFT = "none left"


def judge_absence(gone: int, looked_for: int) -> Absence:
    """How to take `gone` of the `looked_for` known records vanishing in one run.

    A key of another organisation answers 404 for every interview and lists other deals:
    taken for deletions, one run with it would delete the warehouse's rows. A wrong key
    makes (nearly) all of them vanish; a right key after a wrong one makes only the other
    organisation's records that the wrong one emitted vanish, fewer than are still there,
    and those are deleted in turn.
    """
    still = looked_for - gone
    if gone >= WRONG_KEY_AT_LEAST and gone > WRONG_KEY_SHARE * looked_for and gone > still:
        return Absence.WRONG_KEY
    if gone and still <= 0:
        return Absence.NONE_LEFT
    return Absence.SETTLE


@dataclass
class Strikes:
    """Known records vanished in this run: for the first time, and the second in a row."""

    first: list[Any] = field(default_factory=list)
    second: list[Any] = field(default_factory=list)


def two_strikes(gone: Iterable[Any], missing: Collection[Any]) -> Strikes:
    """Split `gone` by whether it was `missing` (vanished) the last time too.

    One absence can be a glitch: a record is deleted only when it vanishes twice in a row.
    """
    strikes = Strikes()
    for key in gone:
        (strikes.second if key in missing else strikes.first).append(key)
    return strikes
