r"""What `hindsight_transcript_passages` (transform/models) should hold, computed in Python.

The model cuts transcripts in SQL, once for PostgreSQL and once for DuckDB; the demo and
the tests compare what it built with this second, independent reading of the same rule:

- the turns of a transcript are packed in order, greedily: a passage takes the next
  turn while its words stay within `LIMIT`, else a new passage starts;
- a turn longer than `LIMIT` is cut at sentence ends (after `.`, `!` or `?` where
  whitespace follows); a sentence longer than `LIMIT`, into runs of `LIMIT` words; these
  pieces are packed the same way;
- a word is a run of characters between whitespace (`tap_hindsight.transcript.WORD`, as
  both warehouses' regular expressions read `\S+`, and as the turns' `word_count` counts);
- each turn's part of a passage is written `Speaker: text`, a blank line between turns.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tap_hindsight.transcript import WORD, word_count

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_hindsight.transcript import Turn

#: Words a passage holds at most.
LIMIT = 300
#: The model's first columns, as `Passage.row` gives them.
COLUMNS = (
    "passage_id",
    "interview_request_id",
    "passage_index",
    "first_turn_index",
    "last_turn_index",
    "body",
    "word_count",
    "speakers",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)", re.ASCII)
_SPACE = " \t\n\r\f\v"


@dataclass(frozen=True)
class Passage:
    """One row of the passages model."""

    interview_request_id: int
    passage_index: int
    first_turn_index: int
    last_turn_index: int
    body: str
    word_count: int
    speakers: str | None

    def row(self) -> tuple[str, int, int, int, int, str, int, str | None]:
        """The model's first columns (`COLUMNS`): its ID, then the fields in their order."""
        return (
            self.passage_id,
            self.interview_request_id,
            self.passage_index,
            self.first_turn_index,
            self.last_turn_index,
            self.body,
            self.word_count,
            self.speakers,
        )

    @property
    def passage_id(self) -> str:
        """The model's ID: an MD5 of the interview, the position and the body."""
        key = f"{self.interview_request_id}:{self.passage_index}:{self.body}"
        return hashlib.md5(key.encode("utf-8")).hexdigest()  # noqa: S324 (an ID, not security)


def _units(turn: Turn) -> list[tuple[str, int]]:
    """What is packed of `turn`: itself within the limit, else its sentences, else runs."""
    count = word_count(turn.text)
    if count <= LIMIT:
        return [(turn.text, count)]
    units = []
    for sentence in _SENTENCE_END.split(turn.text):
        words = WORD.findall(sentence)
        if len(words) <= LIMIT:
            units.append((sentence, len(words)))
            continue
        for start in range(0, len(words), LIMIT):
            run = words[start : start + LIMIT]
            units.append((" " + " ".join(run), len(run)))
    return units


def cut(interview_request_id: int, turns: Iterable[Turn]) -> list[Passage]:
    """The passages of one transcript's turns (those not deleted), in order."""
    passages: list[list[tuple[Turn, str, int]]] = []
    filled = 0
    for turn in turns:
        for text, words in _units(turn):
            if not passages or filled + words > LIMIT:
                passages.append([])
                filled = 0
            passages[-1].append((turn, text, words))
            filled += words
    rows = []
    for index, units in enumerate(passages):
        # Each turn's part of the passage, in turn order (the units come in that order).
        parts: dict[int, tuple[str | None, str]] = {}
        for turn, text, _ in units:
            parts[turn.index] = (turn.speaker, parts.get(turn.index, (None, ""))[1] + text)
        segments = [(speaker, text.strip(_SPACE)) for speaker, text in parts.values()]
        speakers = list(dict.fromkeys(s for s, _ in segments if s is not None))
        rows.append(
            Passage(
                interview_request_id=interview_request_id,
                passage_index=index,
                first_turn_index=min(parts),
                last_turn_index=max(parts),
                body="\n\n".join(text if s is None else f"{s}: {text}" for s, text in segments),
                word_count=sum(words for _, _, words in units),
                speakers=", ".join(speakers) if speakers else None,
            )
        )
    return rows
