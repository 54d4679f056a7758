"""`python -m hindsight_simulator`: run the simulated Hindsight API until interrupted.

Prints one JSON line on stdout once listening: the base URL, the API keys and their IDs.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from hindsight_simulator.server import (
    FAULT_KINDS,
    REDIRECT_FAULT,
    HindsightSimulator,
    SimulatorConfig,
    default_organisations,
)
from tap_hindsight.window import api_window_seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, one option per SimulatorConfig field."""
    parser = argparse.ArgumentParser(
        prog="python -m hindsight_simulator",
        description="A local Hindsight API for tests, benchmarks and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    parser.add_argument("--interviews", type=int, default=200, help="IDs the 'acme' org owns")
    parser.add_argument("--transcript-chars", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every answer")
    parser.add_argument("--rate-limit", type=int, default=1_000, help="requests per window")
    parser.add_argument("--window-seconds", type=float, default=api_window_seconds())
    parser.add_argument(
        "--reset-style", choices=["epoch", "seconds", "retry-after"], default="epoch"
    )
    parser.add_argument(
        "--other-clients-per-window",
        type=int,
        default=0,
        help="requests other clients of the key spend at the start of every window",
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of answers failing")
    parser.add_argument(
        "--faults",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated kinds to draw from: {', '.join((*FAULT_KINDS, REDIRECT_FAULT))}",
    )
    parser.add_argument("--hang-seconds", type=float, default=5.0)
    parser.add_argument("--redirect-to", default=None, help="target of 'redirect' faults")
    parser.add_argument(
        "--deals-envelope",
        default=None,
        help="wrap GET /deals pages in an object under this key (default: a bare array)",
    )
    parser.add_argument("--no-deals", action="store_true", help="GET /deals answers an empty list")
    parser.add_argument(
        "--advance-every",
        type=float,
        default=0.0,
        help="every N seconds, move every interview one step along its lifecycle",
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Build the simulator's configuration from parsed options."""
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        organisations=default_organisations(args.interviews),
        transcript_chars=args.transcript_chars,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        window_seconds=args.window_seconds,
        reset_style=args.reset_style,
        other_clients_per_window=args.other_clients_per_window,
        fault_rate=args.fault_rate,
        fault_kinds=tuple(kind for kind in args.faults.split(",") if kind),
        hang_seconds=args.hang_seconds,
        redirect_to=args.redirect_to,
        deals_envelope=args.deals_envelope,
        serve_deals=not args.no_deals,
    )


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM."""
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with HindsightSimulator(config_from_args(args)) as simulator:
        organisations = {
            org.name: {"api_key": org.api_key, "first_id": org.first_id, "count": org.count}
            for org in simulator.config.organisations
        }
        sys.stdout.write(json.dumps({"url": simulator.url, "organisations": organisations}) + "\n")
        sys.stdout.flush()
        while not stop.wait(args.advance_every or None):
            simulator.advance()


if __name__ == "__main__":
    main()
