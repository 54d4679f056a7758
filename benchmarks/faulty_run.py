"""One run of the real tap over 500 IDs with 10% injected faults and 404s mixed in.

Prints records emitted, IDs reported (not found / failed), the exit code and the requests
sent, as counts and as ratios to the number of IDs; and the deals emitted (the deals
list is read through the same faults) as a ratio to the API's. Run: `.venv/bin/python
benchmarks/faulty_run.py [--ids 500] [--fault-rate 0.1]`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from hindsight_simulator import HindsightSimulator, SimulatorConfig, default_organisations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=500)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--not-found-share", type=float, default=0.05)
    args = parser.parse_args()
    missing = int(args.ids * args.not_found_share)
    owned = args.ids - missing
    acme, globex = default_organisations(owned)
    config = SimulatorConfig(
        organisations=(acme, globex),
        fault_rate=args.fault_rate,
        hang_seconds=3,
        latency_ms=30,
    )
    # Every fifth missing ID belongs to another organisation, the rest do not exist.
    foreign = [globex.first_id + i for i in range(missing // 5)]
    absent = [9_000_000 + i for i in range(missing - len(foreign))]
    ids = list(acme.ids)
    for position, interview_id in enumerate(foreign + absent):
        ids.insert((position * 37) % len(ids), interview_id)
    with HindsightSimulator(config) as simulator, tempfile.TemporaryDirectory() as workdir:
        config_path = Path(workdir) / "config.json"
        config_path.write_text(
            json.dumps(
                {
                    "api_key": acme.api_key,
                    "base_url": simulator.url,
                    "interview_ids": ids,
                    "requests_per_minute": 1000,
                    "request_timeout": 2,
                }
            )
        )
        tap = Path(sys.executable).with_name("tap-hindsight")
        done = subprocess.run(
            [str(tap), "--config", str(config_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        stats = simulator.stats()
        truth = {deal["id"] for deal in simulator.deals(acme.name)}
    records = [json.loads(line) for line in done.stdout.splitlines()]
    emitted = {
        m["record"]["interview_request_id"]
        for m in records
        if m["type"] == "RECORD" and m["stream"] == "interviews"
    }
    deals = {m["record"]["id"] for m in records if m["type"] == "RECORD" and m["stream"] == "deals"}
    not_found = set(map(int, re.findall(r"Interview (\d+) not found", done.stderr)))
    failed = set(map(int, re.findall(r"Interview (\d+) (?:failed|not emitted)", done.stderr)))
    summary = next(line for line in done.stderr.splitlines() if "Summary:" in line)
    print(f"IDs: {len(ids)} ({owned} of the key's organisation, {missing} not found)")
    print(f"injected fault rate: {args.fault_rate:.0%}; faults served: {stats['faults']}")
    print(f"records emitted: {len(emitted)} = {len(emitted) / owned:.3f} of the key's IDs")
    print(f"IDs reported not found: {len(not_found)} = {len(not_found) / missing:.3f} of missing")
    print(f"IDs reported failed: {len(failed)} {sorted(failed)}")
    print(f"exit code: {done.returncode}")
    sent = stats["interview_requests"]
    counted = re.search(r"[\d,]+ requests sent.*", summary)
    print(
        f"interview requests sent: {sent} = {sent / len(ids):.3f} per ID "
        f"(tap counted: {counted[0] if counted else summary})"
    )
    print(
        f"deals emitted: {len(deals)} of {len(truth)} = {len(deals & truth) / len(truth):.3f}, "
        f"in {stats['deal_requests']} requests (pages and retries)"
    )
    lost = set(acme.ids) - emitted - failed
    print(f"IDs lost silently (neither emitted nor reported): {len(lost)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
