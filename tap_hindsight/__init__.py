"""tap-hindsight: a Singer tap for Hindsight AI win-loss interviews."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tap-hindsight")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
