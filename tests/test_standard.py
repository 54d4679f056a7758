"""The Singer SDK's standard tap tests, run against the simulator."""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from hindsight_simulator import HindsightSimulator, SimulatorConfig
from tap_hindsight.tap import TapHindsight
from tests.helpers import ACME_KEY

# The SDK builds the tap (and its config) when the test class is created, before any
# fixture runs: the simulator's socket is bound now, so its address is known and taken;
# it starts answering when the module's tests start.
SIMULATOR = HindsightSimulator(SimulatorConfig()).bind()

_StandardTests = get_tap_test_class(
    TapHindsight,
    config={
        "api_key": ACME_KEY,
        "base_url": SIMULATOR.url,
        "interview_ids": list(range(1001, 1041)),
        "requests_per_minute": 1000,
    },
    suite_config=SuiteConfig(max_records_limit=25),
)


@pytest.fixture(scope="module", autouse=True)
def running_simulator():
    """The API the standard tests' tap talks to, up for the whole module."""
    with SIMULATOR:
        yield SIMULATOR


class TestTapHindsight(_StandardTests):  # type: ignore[misc,valid-type]
    """Standard tests: discovery, sync, schema and key checks for every stream."""
