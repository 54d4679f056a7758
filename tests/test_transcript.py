"""Property tests of the transcript parser: no word is ever lost, and its work stays linear."""

from __future__ import annotations

import re
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_hindsight import transcript
from tap_hindsight.transcript import is_interviewer, parse_turns, word_count

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


def words(text):
    """Runs of letters and digits: what a speaker label's markup (`**`, `:`) leaves whole."""
    return re.findall(r"\w+", text)


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
    # A word is what lies between whitespace: "**too**", "—" and "20%" are one each.
    assert word_count("Pricing was **too** high — 20% more") == 7
    assert word_count("Don't\tre-price\n\nit.") == 3


# Each family ends in a word, so that no input is all whitespace (parsed at once as empty).
ADVERSARIAL = {
    "blank lines": lambda n: "\n" * n + "x",
    "asterisks": lambda n: "*" * n + "x",
    "unclosed labels": lambda n: "\n\n**" + ("a" * 79 + "\n\n**") * (n // 82) + "x",
    "labels": lambda n: "**Paige:** hi\n\n" * (n // 15) + "x",
    "spaces between blank lines": lambda n: ("\n" + " " * 50 + "\n") * (n // 52) + "x",
    "label-like prose": lambda n: ("**Pricing:" * 8 + "\n\n") * (n // 82) + "x",
}


class TooManySteps(Exception):  # noqa: N818
    pass


def python_steps(content: str, budget: float = float("inf")) -> int:
    """Lines of the parser's Python code executed to parse `content`: a count, not a time.

    Stops (raising TooManySteps) once `budget` is spent, so a quadratic parser fails
    at once instead of running for hours under the tracer. (The regular expressions run
    in C, outside the count: each is bounded per position, see transcript.py;
    `benchmarks/transcript.py` measures the speed.)
    """
    steps = 0

    def local(_frame, event, _arg):
        nonlocal steps
        if event == "line":
            steps += 1
            if steps > budget:
                raise TooManySteps
        return local

    def tracer(frame, _event, _arg):
        return local if frame.f_code.co_filename == transcript.__file__ else None

    sys.settrace(tracer)
    try:
        parse_turns(content)
    finally:
        sys.settrace(None)
    return steps


@pytest.mark.parametrize("family", sorted(ADVERSARIAL))
def test_parsing_work_grows_linearly_even_on_adversarial_input(family):
    # Eight times the input may cost at most about eight times the steps; a quadratic
    # parser (say, one that scanned each run of blank lines again from every line in
    # it) would take 64 times as many.
    make = ADVERSARIAL[family]
    small = python_steps(make(10_000))
    budget = 9 * small + 100
    try:
        large = python_steps(make(80_000), budget)
    except TooManySteps:
        pytest.fail(f"{family}: more than {budget:,} steps for 8 x the input ({small:,})")
    assert large <= budget


def test_a_two_megabyte_transcript_parses_and_keeps_every_word():
    paragraph = "**Paige:** How did pricing compare?\n\n**Jane Doe:** About **20%** more. 👍\n\n"
    content = paragraph * (2_000_000 // len(paragraph))
    turns = parse_turns(content)
    assert len(turns) == 2 * (2_000_000 // len(paragraph))
    assert all_words(turns) == Counter(words(content))
