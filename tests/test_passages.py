"""The passage rule (hindsight_simulator/passages.py), which the end-to-end tests hold
the SQL model to on PostgreSQL and DuckDB: whole turns, at most LIMIT words, long turns cut
at sentence ends, every word once and in order."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from hindsight_simulator.passages import LIMIT, cut
from tap_hindsight.transcript import Turn, parse_turns, word_count


def turn(index: int, words: int, speaker: str | None = "Buyer", every: int = 0) -> Turn:
    """A turn of `words` words, a sentence ending every `every` words (0: none)."""
    text = " ".join(
        f"w{n}." if every and (n + 1) % every == 0 and n + 1 < words else f"w{n}"
        for n in range(words)
    )
    return Turn(index, speaker, text)


def read_back(passages, turns) -> list[list[str]]:
    """Each turn's words as the passages hold them, labels taken off (the synthetic turns
    have no blank line inside, so the blank lines separate turns)."""
    words: list[list[str]] = [[] for _ in turns]
    for passage in passages:
        segments = passage.body.split("\n\n")
        indexes = range(passage.first_turn_index, passage.last_turn_index + 1)
        assert len(segments) == len(indexes)
        for index, segment in zip(indexes, segments, strict=True):
            label = f"{turns[index].speaker}: "
            assert segment.startswith(label)
            words[index].extend(segment.removeprefix(label).split())
    return words


def test_short_turns_are_packed_whole_up_to_the_limit():
    turns = [turn(i, 100, "Paige" if i % 2 else "Buyer") for i in range(7)]
    passages = cut(1, turns)
    assert [(p.first_turn_index, p.last_turn_index) for p in passages] == [
        (0, 2),
        (3, 5),
        (6, 6),
    ]
    assert [p.word_count for p in passages] == [300, 300, 100]
    assert passages[0].speakers == "Buyer, Paige"
    assert passages[0].body.split("\n\n")[1] == "Paige: " + turns[1].text


def test_a_turn_at_the_limit_is_never_split_and_one_word_more_is():
    at_limit = cut(1, [turn(0, 10), turn(1, LIMIT, every=20)])
    assert [(p.first_turn_index, p.last_turn_index, p.word_count) for p in at_limit] == [
        (0, 0, 10),
        (1, 1, LIMIT),
    ]
    over = cut(1, [turn(0, 10), turn(1, LIMIT + 1, every=20)])
    # Cut at a sentence end: the first sentences fill the passage the short turn started.
    assert [(p.first_turn_index, p.last_turn_index) for p in over] == [(0, 1), (1, 1)]
    assert over[0].word_count == 10 + 280  # 14 whole sentences of 20 words
    assert over[1].body.startswith("Buyer: w280 ")
    assert over[0].body.endswith("w279.")


def test_a_sentence_over_the_limit_is_cut_into_runs_of_the_limit():
    passages = cut(1, [turn(0, 2 * LIMIT + 50)])
    assert [p.word_count for p in passages] == [LIMIT, LIMIT, 50]
    assert all(p.body.startswith("Buyer: w") for p in passages)


def test_the_id_is_stable_and_changes_with_the_text():
    first = cut(7, [turn(0, 40), turn(1, 40)])
    again = cut(7, [turn(0, 40), turn(1, 40)])
    assert [p.passage_id for p in first] == [p.passage_id for p in again]
    edited = cut(7, [turn(0, 40), Turn(1, "Buyer", "[redacted]")])
    assert edited[0].passage_id != first[0].passage_id
    assert cut(8, [turn(0, 40), turn(1, 40)])[0].passage_id != first[0].passage_id


def test_a_turn_without_a_speaker_stands_as_its_text():
    (passage,) = cut(1, [Turn(0, None, "Preamble."), turn(1, 5)])
    assert passage.body == "Preamble.\n\nBuyer: w0 w1 w2 w3 w4"
    assert passage.speakers == "Buyer"


@given(
    st.lists(
        st.tuples(st.integers(1, 2 * LIMIT), st.integers(0, 40)),
        min_size=1,
        max_size=12,
    )
)
def test_every_word_once_in_order_within_the_limit(shapes):
    turns = [turn(i, words, f"S{i % 3}", every) for i, (words, every) in enumerate(shapes)]
    passages = cut(3, turns)
    assert [p.passage_index for p in passages] == list(range(len(passages)))
    assert all(0 < p.word_count <= LIMIT for p in passages)
    assert sum(p.word_count for p in passages) == sum(word_count(t.text) for t in turns)
    # Passages follow each other: the next starts on the last one's last turn or the next.
    for before, after in pairwise(passages):
        assert after.first_turn_index in (before.last_turn_index, before.last_turn_index + 1)
        if after.first_turn_index == before.last_turn_index:  # a turn split: only a long one
            assert word_count(turns[after.first_turn_index].text) > LIMIT
    assert (passages[0].first_turn_index, passages[-1].last_turn_index) == (0, len(turns) - 1)
    assert read_back(passages, turns) == [t.text.split() for t in turns]


def test_a_transcripts_turn_word_counts_add_up_to_its_passages():
    # One definition of a word for `interview_turns.word_count` and the passages model:
    # "don't", "20%", "—" and "**too**" are one word in both.
    content = (
        "**Paige:** Why didn't you renew? Was it — honestly — the price?\n\n"
        "**Jane Doe:** It was **too** high: 20% more than Acme's. We don't re-price mid-year."
    )
    turns = parse_turns(content)
    passages = cut(7, turns)
    assert [word_count(t.text) for t in turns] == [11, 12]
    assert sum(p.word_count for p in passages) == 23
