"""How close the tap gets to the plan's ceiling, what it costs in CPU, and its memory.

Prints, in one run, side by side:
- achieved requests per minute / limit, for concurrency 1 (the sequential baseline) and
  for the default settings, at 1,000/min with 300 ms latency, and at 60/min and 300/min,
  with the 429s received and the most requests seen in any 60 s window / limit;
- CPU seconds per 1,000 records of the tap against a bare loop (requests + json.loads +
  json.dumps to stdout) over the same simulator at zero latency;
- peak memory with 20,000 IDs and 20 KB transcripts.

Run: `.venv/bin/python benchmarks/budget.py [--minutes 5] [--cpu-records 5000]`. The rate runs
happen in parallel (each against its own simulator) and last `--minutes` minutes each; the
rate is the mean count of requests in each whole minute after the first (`steady_rate`).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hindsight_simulator import HindsightSimulator, SimulatorConfig, default_organisations
from hindsight_simulator.server import max_in_window

TAP = str(Path(sys.executable).with_name("tap-hindsight"))
#: Runs a command, forwards SIGTERM to it, and reports its CPU seconds and peak memory.
WRAPPER = """
import resource, signal, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
code = child.wait()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(f"USAGE {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}\\n")
sys.exit(code)
"""
BARE_LOOP = """
import json, sys, requests
base, key, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
session = requests.Session()
headers = {"Authorization": "Bearer " + key}
for interview_id in range(first, first + count):
    answer = session.get(f"{base}/interviews/{interview_id}", headers=headers)
    record = json.loads(answer.content)
    message = {"type": "RECORD", "stream": "interviews", "record": record}
    sys.stdout.write(json.dumps(message) + "\\n")
"""


def simulator(ids: int, **config: Any) -> HindsightSimulator:  # noqa: ANN401
    """A started simulator whose 'acme' organisation owns `ids` interviews."""
    return HindsightSimulator(
        SimulatorConfig(organisations=default_organisations(ids), **config)
    ).start()


def tap_config(sim: HindsightSimulator, **settings: Any) -> dict[str, Any]:  # noqa: ANN401
    """Settings for the tap against `sim`."""
    acme = sim.organisation("acme")
    return {"api_key": acme.api_key, "base_url": sim.url, "interview_ids": acme.ids, **settings}


def measured(command: list[str], workdir: Path, timeout: float | None = None) -> dict[str, Any]:
    """Run `command` under the usage wrapper; CPU seconds, peak MB, records written."""
    out_path = workdir / "out.jsonl"
    with out_path.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, *command],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Stop the tap the way a scheduler would: SIGTERM (the wrapper forwards it).
            process.terminate()
            _, stderr = process.communicate()
    cpu, peak_kb = stderr.rsplit("USAGE ", 1)[1].split()[:2]
    with out_path.open() as lines:
        records = sum(1 for line in lines if '"RECORD"' in line[:40])
    return {"cpu": float(cpu), "peak_mb": int(peak_kb) / 1024, "records": records}


def rate_run(limit: int, concurrency: int, minutes: float) -> str:
    """Achieved rate over `minutes` of a long run at `limit`/min and 300 ms latency."""
    ids = int(limit * (minutes + 1) * 1.2)
    sim = simulator(ids, latency_ms=300, rate_limit=limit)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            config = tap_config(sim, requests_per_minute=limit, concurrency=concurrency)
            config_path = Path(workdir) / "config.json"
            config_path.write_text(json.dumps(config))
            measured([TAP, "--config", str(config_path)], Path(workdir), timeout=minutes * 60 + 5)
        arrivals = sorted(a.at for a in sim.arrivals)
        rejected = sum(1 for a in sim.arrivals if a.status == 429)  # noqa: PLR2004
    finally:
        sim.stop()
    achieved = steady_rate(arrivals, minutes)
    peak = max_in_window(arrivals, 60.0)
    return (
        f"{limit:>5}/min, concurrency {concurrency:>2}: {achieved:7.1f} requests/min = "
        f"{achieved / limit:.3f} of the limit (minutes 2-{int(minutes)}); "
        f"{rejected} x 429; most in any 60 s window = {peak / limit:.3f} of the limit"
    )


def steady_rate(arrivals: list[float], minutes: float) -> float:
    """Mean requests in each whole minute of the run after the first.

    The first minute is left out: a sliding-window limiter lets a whole minute's budget
    go at once at the start, which says nothing about the sustained rate.
    """
    start = arrivals[0]
    whole = int(minutes)
    counts = [
        sum(1 for at in arrivals if start + 60 * m <= at < start + 60 * (m + 1))
        for m in range(1, whole)
    ]
    return sum(counts) / len(counts)


def catalog_selecting(path: Path, *streams: str) -> None:
    """A catalog with only `streams` selected."""
    done = subprocess.run([TAP, "--discover"], capture_output=True, text=True, check=True)
    catalog = json.loads(done.stdout)
    for stream in catalog["streams"]:
        for metadata in stream["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = stream["tap_stream_id"] in streams
    path.write_text(json.dumps(catalog))


def interviews_only_catalog(path: Path) -> None:
    """A catalog with interview_turns deselected: the bare loop emits no turns either."""
    catalog_selecting(path, "interviews")


def cpu_comparison(records: int, *, turns: bool) -> list[str]:
    """CPU seconds per 1,000 records: the tap against a bare loop, zero latency."""
    sim = simulator(records, rate_limit=10**9)
    acme = sim.organisation("acme")
    lines = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            work = Path(workdir)
            config_path = work / "config.json"
            catalog_path = work / "catalog.json"
            interviews_only_catalog(catalog_path)
            extra = [] if turns else ["--catalog", str(catalog_path)]
            costs = {}
            for label, count in (("startup", 1), ("run", records)):
                config = tap_config(sim, requests_per_minute=100_000)
                config["interview_ids"] = acme.ids[:count]
                config_path.write_text(json.dumps(config))
                tap = measured([TAP, "--config", str(config_path), *extra], work)
                bare = measured(
                    [
                        sys.executable,
                        "-c",
                        BARE_LOOP,
                        sim.url,
                        acme.api_key,
                        str(acme.first_id),
                        str(count),
                    ],
                    work,
                )
                assert bare["records"] == count
                assert tap["records"] >= count if turns else tap["records"] == count
                costs[label] = (tap["cpu"], bare["cpu"])
    finally:
        sim.stop()
    (tap_total, bare_total), (tap_start, bare_start) = costs["run"], costs["startup"]
    per_k = 1000 / records
    label = "interviews and their turns" if turns else "interviews only (turns deselected)"
    lines.append(f"{label}:")
    lines.append(
        f"CPU per 1,000 interviews, whole process: tap {tap_total * per_k:.3f} s, bare loop "
        f"{bare_total * per_k:.3f} s = {tap_total / bare_total:.2f} x"
    )
    tap_work, bare_work = tap_total - tap_start, bare_total - bare_start
    lines.append(
        f"CPU per 1,000 interviews, start-up excluded: tap {tap_work * per_k:.3f} s, bare loop "
        f"{bare_work * per_k:.3f} s = {tap_work / bare_work:.2f} x (start-up: tap "
        f"{tap_start:.2f} s, bare {bare_start:.2f} s)"
    )
    return lines


def memory_run(ids: int, transcript_chars: int, *, deals: bool = True) -> str:
    """Peak memory of the tap over `ids` interviews with large transcripts (and their deals)."""
    sim = simulator(ids, rate_limit=10**9, transcript_chars=transcript_chars)
    for interview_id in sim.organisation("acme").ids:
        sim.set_status(interview_id, "completed")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            config_path = Path(workdir) / "config.json"
            config_path.write_text(json.dumps(tap_config(sim, requests_per_minute=100_000)))
            command = [TAP, "--config", str(config_path)]
            if not deals:
                catalog_selecting(Path(workdir) / "catalog.json", "interviews", "interview_turns")
                command += ["--catalog", str(Path(workdir) / "catalog.json")]
            result = measured(command, Path(workdir))
            deal_count = len(sim.deals("acme"))
    finally:
        sim.stop()
    assert result["records"] > ids  # every interview, and its turns
    what = f"and {deal_count:,} deals with their rows" if deals else "deals deselected"
    return (
        f"peak memory, {ids:,} IDs with {transcript_chars // 1000} KB transcripts, {what} "
        f"({result['records']:,} records): {result['peak_mb']:.1f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--cpu-records", type=int, default=5000)
    parser.add_argument("--memory-ids", type=int, default=20_000)
    parser.add_argument("--skip-rates", action="store_true", help="only CPU and memory")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    runs = [(1000, 1), (1000, 8), (300, 1), (300, 8), (60, 1), (60, 8)]
    started = time.monotonic()
    if not args.skip_rates:
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            results = list(pool.map(lambda run: rate_run(run[0], run[1], args.minutes), runs))
        print(f"achieved rate, 300 ms latency ({time.monotonic() - started:.0f} s in parallel):")
        for line in results:
            print("  " + line)
    print("CPU against a bare loop (requests + json.loads + json.dumps), zero latency:")
    for turns in (False, True):
        for line in cpu_comparison(args.cpu_records, turns=turns):
            print("  " + line)
    print(memory_run(args.memory_ids, 20_000, deals=False))
    print(memory_run(args.memory_ids, 20_000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
