"""Property tests of the transcript parser: no word is ever lost, and time stays linear."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_hindsight.transcript import is_interviewer, parse_turns, word_count, words

NAMES = st.sampled_from(
    ["Paige", "Jane Doe", "José Álvarez", "佐藤 花子", "محمد الأحمد", "Zoë", "Mary-Kate O'Brien"]
)
WORD = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters="'-"), min_size=1, max_size=9
)
DECORATED = st.one_of(WORD, WORD.map(lambda w: f"**{w}**"), WORD.map(lambda w: f"*{w}*"))
SENTENCE = st.lists(DECORATED, min_size=1, max_size=12).map(" ".join)
# A paragraph of a message starts with a plain word, as prose does.
PARAGRAPH = st.tuples(WORD, SENTENCE).map(" ".join)
MESSAGE = st.lists(PARAGRAPH, min_size=1, max_size=3).map("\n\n".join)


def all_words(turns):
    found = []
    for turn in turns:
        found += words(turn.speaker or "") + words(turn.text)
    return Counter(found)


@given(st.lists(st.tuples(NAMES, MESSAGE), min_size=1, max_size=12), st.one_of(st.none(), MESSAGE))
def test_well_formed_transcripts_round_trip(turns, preamble):
    content = "\n\n".join(f"**{name}:** {message}" for name, message in turns)
    if preamble:
        content = f"{preamble}\n\n{content}"
    parsed = parse_turns(content)
    expected = ([(None, preamble)] if preamble else []) + list(turns)
    assert [(t.speaker, t.text) for t in parsed] == expected
    assert [t.index for t in parsed] == list(range(len(parsed)))


@given(st.text(max_size=3000))
def test_no_word_of_any_text_is_lost(content):
    assert all_words(parse_turns(content)) == Counter(words(content))


@given(
    st.lists(
        st.one_of(
            st.tuples(NAMES, MESSAGE).map(lambda t: f"**{t[0]}:** {t[1]}"),
            MESSAGE,
            st.sampled_from(["**", "**:**", "** :**", "**Name:**", "\n", "\n\n\n", ":"]),
        ),
        max_size=20,
    ).map("\n\n".join)
)
def test_no_word_of_a_messy_transcript_is_lost(content):
    turns = parse_turns(content)
    assert all_words(turns) == Counter(words(content))
    assert all(turn.text == turn.text.strip() for turn in turns)


def test_a_transcript_without_the_format_is_kept_as_one_turn():
    (turn,) = parse_turns("The buyer said pricing was the problem.\nNo labels here.")
    assert turn.speaker is None
    assert turn.text == "The buyer said pricing was the problem.\nNo labels here."
    assert parse_turns("") == []
    assert parse_turns(None) == []


def test_interviewer_flag_and_word_count():
    assert is_interviewer("Paige", ["Paige"]) is True
    assert is_interviewer(" paige ".strip(), ["PAIGE"]) is True
    assert is_interviewer("Jane Doe", ["Paige"]) is False
    assert is_interviewer(None, ["Paige"]) is None
    assert word_count("Pricing was **too** high — 20% more") == 6


# Each family ends in a word, so that no input is all whitespace (parsed at once as empty).
ADVERSARIAL = {
    "blank lines": lambda n: "\n" * n + "x",
    "asterisks": lambda n: "*" * n + "x",
    "unclosed labels": lambda n: "\n\n**" + ("a" * 79 + "\n\n**") * (n // 82) + "x",
    "labels": lambda n: "**Paige:** hi\n\n" * (n // 15) + "x",
    "spaces between blank lines": lambda n: ("\n" + " " * 50 + "\n") * (n // 52) + "x",
    "label-like prose": lambda n: ("**Pricing:" * 8 + "\n\n") * (n // 82) + "x",
}


def parse_seconds(content: str) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        parse_turns(content)
        best = min(best, time.process_time() - started)
    return max(best, 2e-4)


@pytest.mark.parametrize("family", sorted(ADVERSARIAL))
def test_parsing_time_grows_linearly_even_on_adversarial_input(family):
    # Eight times the input may cost up to 24 times the time (noise allowance); a
    # quadratic parser would take 64 times as long.
    make = ADVERSARIAL[family]
    small, large = parse_seconds(make(10_000)), parse_seconds(make(80_000))
    assert large / small < 24, f"{family}: {large / small:.1f} x for 8 x the input"


def test_a_two_megabyte_transcript_parses_and_keeps_every_word():
    paragraph = "**Paige:** How did pricing compare?\n\n**Jane Doe:** About **20%** more. 👍\n\n"
    content = paragraph * (2_000_000 // len(paragraph))
    turns = parse_turns(content)
    assert len(turns) == 2 * (2_000_000 // len(paragraph))
    assert all_words(turns) == Counter(words(content))
