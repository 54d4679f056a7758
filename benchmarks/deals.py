"""What the deals streams cost: requests per 1,000 deals, and what a re-run emits.

Runs the real tap (deals streams only) against the simulator four times over one
organisation's deals:
1. first run (no state): every deal emitted;
2. re-run with its state, nothing changed: nothing emitted;
3. re-run after 1% of the deals changed (a stage, or a driver dropped): those emitted;
4. first run again with 10% injected faults and 429s: every deal emitted all the same.
Prints requests per 1,000 deals against the least any client can spend (one request per
page of 100, the last page short: ceil((n + 1) / 100)), the API's default page size's
(50) cost as a ratio, what each run emitted as a ratio to what changed, the state's
bytes per deal, and the seconds of each run.

Run: `.venv/bin/python benchmarks/deals.py [--interviews 11000]`.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hindsight_simulator import HindsightSimulator, SimulatorConfig, default_organisations

STREAMS = ("deals", "deal_drivers", "deal_competitors")


def run_tap(
    workdir: Path, config: dict[str, Any], state: dict[str, Any] | None
) -> tuple[dict[str, int], dict[str, Any], float, int]:
    """Counts of records per stream, the last STATE, seconds, exit code."""
    (workdir / "config.json").write_text(json.dumps(config))
    command = [str(Path(sys.executable).with_name("tap-hindsight")), "--config", "config.json"]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        command += ["--state", "state.json"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    counts = dict.fromkeys(STREAMS, 0)
    last_state: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            counts[message["stream"]] = counts.get(message["stream"], 0) + 1
        elif message["type"] == "STATE":
            last_state = message["value"]
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
    return counts, last_state, elapsed, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interviews", type=int, default=11_000)
    args = parser.parse_args()
    organisations = default_organisations(args.interviews)
    acme = organisations[0]
    with (
        HindsightSimulator(
            SimulatorConfig(organisations=organisations, latency_ms=30, rate_limit=100_000)
        ) as simulator,
        tempfile.TemporaryDirectory() as folder,
    ):
        workdir = Path(folder)
        deals = simulator.deals(acme.name)
        total = len(deals)
        least = math.ceil((total + 1) / 100)
        config = {
            "api_key": acme.api_key,
            "base_url": simulator.url,
            "interview_ids": [],
            "requests_per_minute": 100_000,
        }
        rows: list[tuple[str, int, dict[str, int], float, int]] = []

        def measure(label: str, state: dict[str, Any] | None) -> dict[str, Any]:
            simulator.reset_stats()
            counts, last, seconds, code = run_tap(workdir, config, state)
            rows.append((label, simulator.stats()["deal_requests"], counts, seconds, code))
            return last

        first = measure("1. first run (no state)", None)
        second = measure("2. re-run, nothing changed", first)
        changed = deals[::100]  # 1%
        for number, deal in enumerate(changed):
            if number % 2 and len(deal["drivers"]) > 1:
                simulator.change_deal(deal["id"], drivers=deal["drivers"][:-1])
            else:
                simulator.change_deal(deal["id"], status_id=f"{deal['status_id']} (moved)")
        measure(f"3. re-run, {len(changed)} deals changed", second)
        simulator.config.fault_rate = 0.1
        simulator.script_deal_faults(["429", "ok", "429", "ok", "500"])
        measure("4. first run, 10% faults and 429s", None)
        state_bytes = len(json.dumps(first["bookmarks"]["deals"]))

    print(f"{total:,} deals ({args.interviews:,} interviews' deals and deals of no interview)")
    print(f"least requests any client can spend: ceil((n + 1) / 100) = {least}")
    for label, requests, counts, seconds, code in rows:
        per_thousand = requests / total * 1000
        print(
            f"{label}: {requests} requests = {per_thousand:.2f} per 1,000 deals = "
            f"{requests / least:.3f} x the least; emitted {counts['deals']:,} deals, "
            f"{counts['deal_drivers']:,} drivers, {counts['deal_competitors']:,} "
            f"competitors; {seconds:.1f} s; exit {code}"
        )
    emitted_changed = rows[2][2]["deals"]
    print(
        f"re-run after changes: {emitted_changed} deals emitted for {len(changed)} changed = "
        f"{emitted_changed / len(changed):.3f}; unchanged re-run emitted {rows[1][2]['deals']}"
    )
    print(
        f"API default page size (50): {math.ceil((total + 1) / 50)} requests = "
        f"{math.ceil((total + 1) / 50) / least:.2f} x ours"
    )
    print(f"deals state: {state_bytes:,} bytes = {state_bytes / total:.1f} bytes per deal")
    return 0 if all(row[4] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
