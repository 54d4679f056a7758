"""Keyword search over transcripts: the search model's GIN index against ILIKE.

Loads 20,000 transcripts of 5 KB (the simulator's, 100 MB of text) into a real PostgreSQL
table shaped like the loader's `hindsight.interviews`, and builds beside it what the
`hindsight_transcript_search` model builds (transform/models): one row per transcript with
`to_tsvector('english', body)` under a GIN index. A few word families are planted in a
known share of the transcripts, each in all its inflected forms. For each keyword it times,
side by side and alternating, the search through the index
(`search_vector @@ websearch_to_tsquery('english', word)`) and `ILIKE '%stem%'` on the raw
table, and prints the median of each and their ratio; then checks that the index finds
every transcript `ILIKE` with the stem finds (every inflected form), and how many `ILIKE`
with the searched word itself misses.

Run: `.venv/bin/python benchmarks/search.py [--transcripts 20000] [--chars 5000]`
(starts the machine's PostgreSQL if it is down, like the tests).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hindsight_simulator.data import transcript_markdown
from tests.postgres import create_database, drop_database

if TYPE_CHECKING:
    import psycopg

#: The model's vector and index (transform/models/hindsight_transcript_search.sql;
#: tests/test_dbt.py checks the model still says so).
VECTOR = "to_tsvector('english', body)"
INDEX = "USING gin (search_vector)"

#: (searched word, ILIKE stem, share of transcripts, the forms planted).
FAMILIES = (
    ("renewal", "renew", 0.01, ("renew", "renews", "renewed", "renewing", "renewal")),
    ("integration", "integr", 0.10, ("integrate", "integrates", "integrated", "integration")),
    # A word the simulator's transcripts already use, in nearly every one.
    ("pricing", "pric", 0.0, ()),
    ("procurement", "procur", 0.30, ("procure", "procured", "procuring", "procurement")),
)
SENTENCE = "Honestly, the {form} question came up in every meeting we had."


def transcripts(count: int, chars: int, seed: int) -> tuple[list[str], dict[str, set[int]]]:
    """`count` transcripts, and for each family the IDs it was planted in."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    texts, planted = [], {word: set() for word, *_ in FAMILIES}
    for index in range(count):
        text = transcript_markdown(rng, "Priya Raman", "Competitor X", chars)
        for word, _, share, forms in FAMILIES:
            if rng.random() < share:
                text += "\n\n**Priya Raman:** " + SENTENCE.format(form=rng.choice(forms))
                planted[word].add(index)
        texts.append(text)
    return texts, planted


def planted_share(share: float) -> str:
    return f"{share:.0%}" if share else "natural"


def timed(
    connection: psycopg.Connection, sql: str, params: tuple[str, ...]
) -> tuple[float, set[int]]:
    """Seconds one query took, and the IDs it answered."""
    started = time.perf_counter()
    rows = connection.execute(sql, params).fetchall()
    return time.perf_counter() - started, {row[0] for row in rows}


def build(connection: psycopg.Connection, texts: list[str]) -> None:
    """The raw table as the loader writes it, then the search model's table and index."""
    connection.execute(
        "CREATE TABLE interviews (interview_request_id bigint PRIMARY KEY,"
        " status text, transcript__content text)"
    )
    with connection.cursor().copy(
        "COPY interviews (interview_request_id, status, transcript__content) FROM STDIN"
    ) as copy:
        for index, text in enumerate(texts):
            copy.write_row((index, "completed", text))
    started = time.perf_counter()
    connection.execute(
        "CREATE TABLE search AS SELECT interview_request_id, body,"  # noqa: S608
        f" {VECTOR} AS search_vector FROM (SELECT interview_request_id,"
        " transcript__content AS body FROM interviews) AS documents"
    )
    connection.execute(f"CREATE INDEX search_vector_gin ON search {INDEX}")
    built = time.perf_counter() - started
    connection.execute("VACUUM ANALYZE interviews")
    connection.execute("VACUUM ANALYZE search")
    print(f"search table and GIN index built in {built:.1f} s (once; incremental after)")
    raw, search, gin = connection.execute(
        "SELECT pg_total_relation_size('interviews'), pg_total_relation_size('search'),"
        " pg_relation_size('search_vector_gin')"
    ).fetchone()
    print(
        f"on disk: raw table {raw / 1e6:.0f} MB; search table {search / 1e6:.0f} MB"
        f" = {search / raw:.2f} x the raw table (GIN index {gin / 1e6:.0f} MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transcripts", type=int, default=20_000)
    parser.add_argument("--chars", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    texts, planted = transcripts(args.transcripts, args.chars, args.seed)
    size = sum(len(t.encode()) for t in texts)
    print(f"{len(texts):,} transcripts, {size / len(texts) / 1000:.1f} KB each on average")
    database = create_database()
    try:
        with database.connect() as connection:
            build(connection, texts)
            index_sql = (
                "SELECT interview_request_id FROM search"
                " WHERE search_vector @@ websearch_to_tsquery('english', %s)"
            )
            ilike_sql = (
                "SELECT interview_request_id FROM interviews WHERE transcript__content ILIKE %s"
            )
            (plan,) = connection.execute("EXPLAIN " + index_sql, ("renewal",)).fetchone()
            print(f"plan of the index search: {plan}")
            print(
                "\nkeyword      planted  found  index median  ILIKE '%stem%' median  "
                "ratio  ILIKE '%word%' found"
            )
            ratios = []
            for word, stem, share, _ in FAMILIES:
                index_times, ilike_times = [], []
                timed(connection, index_sql, (word,))  # warm both
                timed(connection, ilike_sql, (f"%{stem}%",))
                for _ in range(args.repeats):  # alternate, so drift hits both alike
                    seconds, found = timed(connection, index_sql, (word,))
                    index_times.append(seconds)
                    seconds, by_stem = timed(connection, ilike_sql, (f"%{stem}%",))
                    ilike_times.append(seconds)
                _, by_word = timed(connection, ilike_sql, (f"%{word}%",))
                index_median = statistics.median(index_times)
                ilike_median = statistics.median(ilike_times)
                ratio = ilike_median / index_median
                ratios.append(ratio)
                every_form = by_stem <= found and planted[word] <= found
                print(
                    f"{word:<12} {planted_share(share):>7} {len(found):>6,}"
                    f" {index_median * 1000:>10.2f} ms"
                    f" {ilike_median * 1000:>19.1f} ms {ratio:>6.0f}x"
                    f"  {len(by_word):,} (misses {len(by_stem - by_word):,})"
                    + ("" if every_form else "  INDEX MISSED FORMS")
                )
                if not every_form:
                    return 1
            print(
                f"\nindex vs ILIKE, median of {args.repeats} each: "
                + ", ".join(f"{r:.0f}x" for r in ratios)
                + "; the index found every transcript ILIKE with the stem found, in every form"
            )
            (headline,) = connection.execute(
                "SELECT ts_headline('english', body, websearch_to_tsquery('english', %s),"
                " 'MaxFragments=1, MinWords=8, MaxWords=20') FROM search"
                " WHERE search_vector @@ websearch_to_tsquery('english', %s)"
                " ORDER BY ts_rank(search_vector, websearch_to_tsquery('english', %s)) DESC,"
                " interview_request_id LIMIT 1",
                ("renewal", "renewal", "renewal"),
            ).fetchone()
            print(f"sample headline for 'renewal': {headline!r}")
    finally:
        drop_database(database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
