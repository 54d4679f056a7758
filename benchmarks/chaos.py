"""Soak: the tap (default settings) against a hostile API until the emitted data equals the
API's (at most `--runs` runs, each resuming from the last one's STATE).

Prints the runs needed, requests per record, and records lost (must be 0). Run:
`.venv/bin/python benchmarks/chaos.py [--ids 2000] [--fault-rate 0.3] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hindsight_simulator import (
    FAULT_KINDS,
    HindsightSimulator,
    SimulatorConfig,
    default_organisations,
)
from tap_hindsight.records import storable

TAP = str(Path(sys.executable).with_name("tap-hindsight"))


def run_tap(workdir: Path, config: dict[str, Any], state: dict[str, Any] | None) -> dict[str, Any]:
    (workdir / "config.json").write_text(json.dumps(config))
    command = [TAP, "--config", str(workdir / "config.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        command += ["--state", str(workdir / "state.json")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    records: dict[int, dict[str, Any]] = {}
    duplicates = 0
    last_state = None
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == "interviews":
            interview_id = message["record"]["interview_request_id"]
            duplicates += interview_id in records
            records[interview_id] = message["record"]
        elif message["type"] == "STATE":
            last_state = message["value"]
    problems = [line for line in done.stderr.splitlines() if "could not be extracted" in line]
    return {
        "problems": problems,
        "code": done.returncode,
        "records": records,
        "duplicates": duplicates,
        "state": last_state,
        "traceback": "Traceback" in done.stderr,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    organisations = default_organisations(args.ids)
    config = SimulatorConfig(
        organisations=organisations,
        fault_rate=args.fault_rate,
        fault_kinds=FAULT_KINDS,
        hang_seconds=2,
        latency_ms=20,
        rate_limit=600,
        window_seconds=5,
        limit_headers_always=False,
    )
    ids = organisations[0].ids
    emitted: dict[int, dict[str, Any]] = {}
    state = None
    with HindsightSimulator(config) as simulator, tempfile.TemporaryDirectory() as workdir:
        tap_config = {
            "api_key": organisations[0].api_key,
            "base_url": simulator.url,
            "interview_ids": ids,
            "requests_per_minute": 100_000,
            "request_timeout": 1,
        }
        truth = {i: storable(simulator.interview(i)) for i in ids}
        for number in range(1, args.runs + 1):
            run = run_tap(Path(workdir), tap_config, state)
            emitted.update(run["records"])
            state = run["state"] or state
            print(
                f"run {number}: exit {run['code']}, {len(run['records'])} records, "
                f"{run['duplicates']} duplicates in the run, traceback: {run['traceback']}"
            )
            for line in run["problems"]:
                print("  " + line[-300:])
            if emitted == truth:
                break
        stats = simulator.stats()
    lost_ids = [i for i in ids if emitted.get(i) != truth[i]]
    lost = len(lost_ids)
    if lost_ids:
        print(f"lost or wrong: {lost_ids[:10]}")
    print(f"runs needed until the data equals the API's: {number} (of at most {args.runs})")
    print(f"faults served: {stats['faults']}; 429s: {stats['rate_limited']}")
    print(
        f"requests per record: {stats['requests'] / len(ids):.3f} "
        f"({stats['requests']} requests for {len(ids)} interviews)"
    )
    print(f"records lost or wrong: {lost}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
