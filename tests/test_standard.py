"""The Singer SDK's standard tap tests, run against the simulator."""

from __future__ import annotations

import socket

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_hindsight.simulator import HindsightSimulator, SimulatorConfig
from tap_hindsight.tap import TapHindsight
from tests.helpers import ACME_KEY


def _free_port() -> int:
    # The SDK builds the tap (and its config) when the test class is created, before any
    # fixture runs: the simulator's address has to be known at import time.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = _free_port()

_StandardTests = get_tap_test_class(
    TapHindsight,
    config={
        "api_key": ACME_KEY,
        "base_url": f"http://127.0.0.1:{PORT}/api/v1",
        "interview_ids": list(range(1001, 1041)),
        "requests_per_minute": 1000,
    },
    suite_config=SuiteConfig(max_records_limit=25),
)


@pytest.fixture(scope="module", autouse=True)
def running_simulator():
    """The API the standard tests' tap talks to, up for the whole module."""
    with HindsightSimulator(SimulatorConfig(port=PORT)) as simulator:
        yield simulator


class TestTapHindsight(_StandardTests):  # type: ignore[misc,valid-type]
    """Standard tests: discovery, sync, schema and key checks for every stream."""
