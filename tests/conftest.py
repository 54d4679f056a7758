"""Shared fixtures: a fresh API simulator per test, stopped afterwards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tap_hindsight.simulator import HindsightSimulator, SimulatorConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., HindsightSimulator]]:
    """Start simulators with SimulatorConfig fields as keyword arguments."""
    started: list[HindsightSimulator] = []

    def start(**config: Any) -> HindsightSimulator:
        simulator = HindsightSimulator(SimulatorConfig(**config)).start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def simulator(start_simulator: Callable[..., HindsightSimulator]) -> HindsightSimulator:
    """A well-behaved simulator with default data."""
    return start_simulator()
