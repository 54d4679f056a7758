"""Transcript parsing speed, in MB/s and as a ratio to a bare paragraph split.

Run: `.venv/bin/python benchmarks/transcript.py`. Each input is parsed 5 times; the best
time counts. The baseline, `content.split("\\n\\n")`, runs on the same input in the same
process: the ratio says what finding speaker labels costs on top of reading the text.
"""

from __future__ import annotations

import random
import time

from hindsight_simulator.data import transcript_markdown
from tap_hindsight.transcript import parse_turns


def best_seconds(function, content: str) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        function(content)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    size = 2_000_000
    inputs = {
        "realistic 2 MB transcript": transcript_markdown(
            random.Random(1),  # noqa: S311 (benchmark data)
            "Jane Doe",
            "Acme",
            size,
        ),
        "2 MB of blank lines": "\n" * size + "x",
        "2 MB of asterisks": "*" * size + "x",
        "2 MB of unclosed labels": ("\n\n**" + "a" * 79) * (size // 83) + "x",
        "2 MB without any label": "pricing was too high " * (size // 21),
    }
    for label, content in inputs.items():
        megabytes = len(content.encode("utf-8")) / 1e6
        seconds = best_seconds(parse_turns, content)
        baseline = best_seconds(lambda text: text.split("\n\n"), content)
        turns = len(parse_turns(content))
        print(
            f"{label}: {megabytes / seconds:,.1f} MB/s ({turns:,} turns); "
            f"{seconds / baseline:,.1f} x a bare paragraph split"
        )


if __name__ == "__main__":
    main()
