"""What an incremental re-sync costs: requests, state size, and memory, against the simulator.

Prints, as ratios:
- requests sent by a re-sync of N IDs with p% pending, divided by p*N, when every pending
  interview is due (`poll_age_ratio: 0`, `min_poll_interval_minutes: 0`; goal: 1.0, plus
  discovery probes when discovery is on), and with the default polling rule right after
  the first run (goal: 0, none is due yet);
- the size of the state for 100,000 completed IDs and for 10,000 pending ones;
- the tap's peak memory over runs of growing N, as a ratio to the smallest run (goal: flat,
  and under 200 MB), and the bytes of STATE those runs write (goal: growing with N, a small
  share of the records' bytes).

Run: `.venv/bin/python benchmarks/incremental.py [--ids 10000] [--memory-ids 10000,100000]`.
The tap runs as a real subprocess; the simulator runs in this process.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hindsight_simulator import HindsightSimulator, SimulatorConfig, default_organisations
from tap_hindsight.encoding import RangeSet
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.store import STATE_KEY, read_interviews, write_interviews

TAP = str(Path(sys.executable).with_name("tap-hindsight"))
#: Runs the tap and reports its peak resident memory (the wrapper's only child).
WRAPPER = (
    "import resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[1:]).returncode;"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
    "sys.stderr.write(f'PEAK_RSS_KB {peak}\\n'); sys.exit(code)"
)


def run_tap(workdir: Path, config: dict[str, Any], state: dict[str, Any] | None) -> dict[str, Any]:
    """Run the tap once; its records, last state, bytes by message type, peak memory, code.

    Its output is read as it comes and tallied, never kept: a first run over 100,000 IDs
    writes gigabytes.
    """
    (workdir / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-c", WRAPPER, TAP, "--config", str(workdir / "config.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        command += ["--state", str(workdir / "state.json")]
    records = states = 0
    last_state_line = ""
    message_bytes: Counter[str] = Counter()
    with (workdir / "stderr.log").open("w+") as stderr:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True) as tap:
            assert tap.stdout is not None
            for line in tap.stdout:
                kind = line[9:15] if line.startswith('{"type":"') else json.loads(line)["type"]
                if kind.startswith("RECORD"):
                    records += 1
                    message_bytes["RECORD"] += len(line)
                elif kind.startswith("STATE"):
                    states += 1
                    message_bytes["STATE"] += len(line)
                    last_state_line = line
                else:
                    message_bytes["other"] += len(line)
        stderr.seek(0)
        log = stderr.read()
    peak_kb = int(log.rsplit("PEAK_RSS_KB ", 1)[1].split()[0])
    return {
        "code": tap.returncode,
        "records": records,
        "states": states,
        "state": json.loads(last_state_line)["value"] if last_state_line else None,
        "state_bytes": len(last_state_line),
        "message_bytes": message_bytes,
        "peak_mb": peak_kb / 1024,
        "stderr": log,
    }


def simulator_with(ids: int, pending_share: float, seed: int = 11) -> HindsightSimulator:
    """A simulator whose first `ids` acme interviews are pending in the given share."""
    simulator = HindsightSimulator(
        SimulatorConfig(organisations=default_organisations(ids), rate_limit=10**9)
    ).start()
    rng = random.Random(seed)  # noqa: S311 (benchmark data)
    for interview_id in simulator.organisation("acme").ids:
        simulator.set_status(interview_id, "sent" if rng.random() < pending_share else "completed")
    return simulator


#: Every pending interview due at every run.
EVERY_RUN = {"poll_age_ratio": 0, "min_poll_interval_minutes": 0}


def config_for(simulator: HindsightSimulator, **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    """Tap settings for this simulator, unthrottled, polling every pending ID every run."""
    acme = simulator.organisation("acme")
    return {
        "api_key": acme.api_key,
        "base_url": simulator.url,
        "interview_ids": acme.ids,
        "requests_per_minute": 100_000,
        "concurrency": 8,
        **EVERY_RUN,
        **extra,
    }


def resync_requests(
    ids: int, pending_share: float, *, discovery: bool, defaults: bool = False
) -> None:
    """Requests of a second run over unchanged data, as a ratio to the pending count."""
    simulator = simulator_with(ids, pending_share)
    extra: dict[str, Any] = {}
    if discovery:
        extra["scan_start_id"] = simulator.organisation("acme").first_id
    if defaults:
        extra.update(poll_age_ratio=0.1, min_poll_interval_minutes=5)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            first = run_tap(Path(workdir), config_for(simulator, **extra), None)
            assert first["code"] == 0, first["stderr"][-2000:]
            pending = len(
                read_interviews(first["state"]["bookmarks"]["interviews"][STATE_KEY]).pending
            )
            simulator.reset_stats()
            second = run_tap(Path(workdir), config_for(simulator, **extra), first["state"])
            assert second["code"] == 0, second["stderr"][-2000:]
            sent = simulator.stats()["interview_requests"]
    finally:
        simulator.stop()
    label = "with discovery" if discovery else "listed IDs"
    if defaults:
        label += ", default polling rule, right after the first run"
    # The re-read cycle (`recheck_completed_days`, on by default) reads again the completed
    # IDs whose turn fell between the two runs: a few a minute at most, more when the first
    # run took longer. They are counted apart from the polls.
    found = re.search(r"([\d,]+) completed re-read \(", second["stderr"])
    assert found, second["stderr"][-2000:]
    rereads = int(found[1].replace(",", ""))
    polls = sent - rereads
    print(
        f"re-sync, {ids} IDs, {pending_share:.0%} pending ({label}): {polls} requests for "
        f"{pending} pending = {polls / pending:.4f} x pN"
        + (f" (+{polls - pending} discovery probes)" if discovery else "")
        + f"; {second['records']} records re-emitted; besides, {rereads} completed "
        "re-read by the cycle"
    )


def state_sizes() -> None:
    """Stored size of the lifecycle for the two sizes the issue names."""
    completed = LifecycleState()
    for interview_id in range(1, 100_001):
        completed.mark_completed(interview_id)
    holes = LifecycleState()
    rng = random.Random(5)  # noqa: S311
    for interview_id in range(1, 100_001):
        if rng.random() < 0.99:  # noqa: PLR2004 (1% of IDs not ours: 1,000 gaps)
            holes.mark_completed(interview_id)
    pending = LifecycleState()
    for interview_id in range(1, 10_001):
        pending.mark_pending(interview_id, "01234567", 1_795_000_000, 1_795_000_000 - 86_400)
    naive = len(json.dumps(list(range(1, 100_001))))
    for label, state in [
        ("100,000 completed IDs, consecutive", completed),
        ("100,000 IDs, 99% completed (1,000 gaps)", holes),
        ("10,000 pending IDs", pending),
    ]:
        size = len(json.dumps(write_interviews(state)))
        print(
            f"state size, {label}: {size:,} bytes ({size / naive:.4f} of a JSON list of 100k IDs)"
        )
    assert RangeSet.from_text(completed.completed.to_text()) == completed.completed


def peak_memory(sizes: list[int]) -> None:
    """Peak RSS and STATE bytes of a full first run (10% pending) at each size.

    Both as ratios to the smallest run: memory should stay flat, STATE bytes grow with the
    IDs (not with their square) and stay a small share of the records' bytes.
    """
    first: dict[str, Any] = {}
    for ids in sizes:
        simulator = simulator_with(ids, 0.1)
        try:
            with tempfile.TemporaryDirectory() as workdir:
                result = run_tap(Path(workdir), config_for(simulator), None)
        finally:
            simulator.stop()
        assert result["code"] == 0, result["stderr"][-2000:]
        assert result["records"] >= ids  # every interview, and the turns of completed ones
        first = first or {"ids": ids, **result}
        written = result["message_bytes"]
        print(
            f"first run over {ids:,} IDs: peak memory {result['peak_mb']:.1f} MB = "
            f"{result['peak_mb'] / first['peak_mb']:.3f} x the {first['ids']:,}-ID run; "
            f"{result['states']:,} STATE messages, {written['STATE'] / 1e6:,.1f} MB = "
            f"{written['STATE'] / written['RECORD']:.3f} x the records' "
            f"{written['RECORD'] / 1e6:,.0f} MB = "
            f"{written['STATE'] / first['message_bytes']['STATE']:.2f} x the "
            f"{first['ids']:,}-ID run's for {ids / first['ids']:.0f} x the IDs; "
            f"final STATE {result['state_bytes']:,} bytes"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", type=int, default=10_000)
    parser.add_argument("--memory-ids", default="10000,100000")
    args = parser.parse_args()
    state_sizes()
    for share in (0.1, 0.5):
        resync_requests(args.ids, share, discovery=False)
    resync_requests(args.ids, 0.1, discovery=True)
    resync_requests(args.ids, 0.1, discovery=False, defaults=True)
    peak_memory([int(n) for n in args.memory_ids.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
