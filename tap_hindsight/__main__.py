"""`python -m tap_hindsight` runs the tap's command line."""

from tap_hindsight.tap import TapHindsight

TapHindsight.cli()
