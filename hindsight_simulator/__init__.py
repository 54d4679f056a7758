"""The Hindsight API simulator used by the tests, the benchmarks and the demo."""

from hindsight_simulator.server import (
    FAULT_KINDS,
    HindsightSimulator,
    Organisation,
    SimulatorConfig,
    default_organisations,
)

__all__ = [
    "FAULT_KINDS",
    "HindsightSimulator",
    "Organisation",
    "SimulatorConfig",
    "default_organisations",
]
