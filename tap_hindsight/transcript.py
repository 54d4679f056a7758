"""Split a Hindsight transcript (markdown) into speaker turns. Pure: no I/O.

Hindsight writes a turn as `**Name:** message` and separates turns with blank lines. A
message may run over several paragraphs and contain bold or italic words, so a new turn
starts only where a paragraph starts with a bold `Name:` label. Nothing is ever dropped:
text before the first label becomes a turn without a speaker, and a transcript that does
not follow the format at all becomes one such turn.

The label pattern is bounded (a name of at most 80 characters, no `*` or line break), so
matching costs at most that much per line start: parsing time grows linearly with the
transcript, whatever its content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: `**Name:**` (or `**Name**:`) at the start of a line, then spaces.
_LABEL = re.compile(r"\*\*([^*\n]{1,80}?)(?::\*\*|\*\*:)[ \t]*")
#: A word: a run of characters between whitespace (ASCII whitespace), as `wc -w` counts
#: and as both warehouses' regular expressions read `\S+`. One definition for the turns'
#: `word_count` and the passages model's, so a transcript's turn counts add up to its
#: passages'. "don't", "20%" and "—" are one word each.
WORD = re.compile(r"\S+", re.ASCII)


@dataclass(frozen=True)
class Turn:
    """One speaker turn: who spoke (None if the text has no speaker label) and what."""

    index: int
    speaker: str | None
    text: str


def _paragraph_starts(text: str) -> Iterator[int]:
    """Offsets where a paragraph starts: the text's start, and after each blank line."""
    yield 0
    for blank in re.finditer(r"\n[ \t]*\n", text):
        yield blank.end()


def _labels(text: str) -> Iterator[tuple[int, int, str]]:
    """(label start, message start, speaker) for each paragraph that opens with a label."""
    scanned = -1
    for start in _paragraph_starts(text):
        if start <= scanned:
            continue  # inside a run of blank lines already skipped: same paragraph
        position = start
        while position < len(text) and text[position] in " \t\n":
            position += 1
        scanned = position
        match = _LABEL.match(text, position)
        if match is not None and match.group(1).strip():
            yield position, match.end(), match.group(1).strip()


def parse_turns(content: str | None) -> list[Turn]:
    """The transcript's turns, in order; [] for an empty or missing transcript."""
    if content is None or not content.strip():
        return []
    turns: list[Turn] = []
    labels = list(_labels(content))
    first_label = labels[0][0] if labels else len(content)
    preamble = content[:first_label].strip()
    if preamble:
        turns.append(Turn(0, None, preamble))
    for number, (_, message_start, speaker) in enumerate(labels):
        end = labels[number + 1][0] if number + 1 < len(labels) else len(content)
        turns.append(Turn(len(turns), speaker, content[message_start:end].strip()))
    return turns


def word_count(text: str) -> int:
    """How many words (`WORD`) a text has."""
    return sum(1 for _ in WORD.finditer(text))


def is_interviewer(speaker: str | None, interviewers: Iterable[str]) -> bool | None:
    """True for the interviewer's turns, False for the contact's, None without a speaker."""
    if speaker is None:
        return None
    name = speaker.casefold()
    return any(name == interviewer.strip().casefold() for interviewer in interviewers)
