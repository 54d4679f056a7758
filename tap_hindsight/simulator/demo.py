"""The end-to-end demo: `meltano run tap-hindsight target-jsonl`, checked and summarised.

Without `TAP_HINDSIGHT_API_KEY` in the environment it starts the API simulator and points
the tap at it; with the key (and IDs) set it reads the real Hindsight API instead.
Run from the Meltano project (the repository root): `python -m tap_hindsight.simulator.demo`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tap_hindsight.records import strip_nul
from tap_hindsight.simulator.server import (
    HindsightSimulator,
    SimulatorConfig,
    default_organisations,
)

OUTPUT_FILE = "interviews.jsonl"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows target-jsonl wrote."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def run_meltano(project: Path, env: dict[str, str]) -> int:
    """`meltano run tap-hindsight target-jsonl`; its logs go to our stderr."""
    meltano = Path(sys.executable).with_name("meltano")
    command = [str(meltano), "run", "tap-hindsight", "target-jsonl"]
    return subprocess.run(command, cwd=project, env=env, check=False).returncode  # noqa: S603


def summarise(rows: list[dict[str, Any]]) -> str:
    """What an analyst would want to see first."""
    statuses = Counter(row["status"] for row in rows)
    lines = [
        f"{len(rows)} interviews loaded: "
        + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())),
    ]
    completed = [row for row in rows if row.get("transcript")]
    if completed:
        sizes = [len(row["transcript"]["content"]) for row in completed]
        lines.append(
            f"{len(completed)} transcripts, {sum(sizes):,} characters in all "
            f"(largest {max(sizes):,})",
        )
        pricing = [
            row["interview_request_id"]
            for row in completed
            if "pricing" in row["transcript"]["content"].lower()
        ]
        lines.append(f"{len(pricing)} transcripts mention pricing, e.g. IDs {pricing[:5]}")
        sample = completed[0]["transcript"]["content"].split("\n\n")[:2]
        lines.append("first turns of one transcript:")
        lines.extend(f"    {turn[:100]}" for turn in sample)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit non-zero unless every expected row arrived."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interviews", type=int, default=120, help="simulated interviews")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="Meltano project")
    args = parser.parse_args(argv)
    output_dir = args.project / "output"
    output_dir.mkdir(exist_ok=True)
    (output_dir / OUTPUT_FILE).unlink(missing_ok=True)  # target-jsonl appends: start clean
    env = dict(os.environ, TARGET_JSONL_DESTINATION_PATH=str(output_dir))

    if os.environ.get("TAP_HINDSIGHT_API_KEY"):
        sys.stderr.write("TAP_HINDSIGHT_API_KEY is set: reading the real Hindsight API\n")
        code = run_meltano(args.project, env)
        rows = read_rows(output_dir / OUTPUT_FILE)
        sys.stdout.write(summarise(rows) + "\n")
        return code

    organisations = default_organisations(args.interviews)
    acme, globex = organisations
    config = SimulatorConfig(organisations=organisations, latency_ms=20, fault_rate=0.05)
    with HindsightSimulator(config) as simulator:
        # Every acme interview, plus one of another organisation's (answered 404).
        ids = [*acme.ids, globex.first_id]
        env.update(
            TAP_HINDSIGHT_API_KEY=acme.api_key,
            TAP_HINDSIGHT_BASE_URL=simulator.url,
            TAP_HINDSIGHT_INTERVIEW_IDS=json.dumps(ids),
            TAP_HINDSIGHT_REQUESTS_PER_MINUTE="1000",
        )
        sys.stderr.write(f"API simulator at {simulator.url}: {len(ids)} IDs to extract\n")
        code = run_meltano(args.project, env)
        expected = {i: strip_nul(simulator.interview(i)) for i in acme.ids}
        stats = simulator.stats()
    rows = read_rows(output_dir / OUTPUT_FILE)
    loaded = {row["interview_request_id"]: row for row in rows}
    if code != 0 or len(rows) != len(expected) or loaded != expected:
        sys.stderr.write(
            f"demo FAILED: meltano exited {code}; {len(rows)} rows loaded, "
            f"{len(expected)} expected\n",
        )
        return 1
    sys.stdout.write(summarise(rows) + "\n")
    sys.stdout.write(
        f"every row equals the API's answer; {stats['requests']} requests sent "
        f"({stats['requests'] - len(ids)} retries of injected faults), "
        f"written to {output_dir / OUTPUT_FILE}\n",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
