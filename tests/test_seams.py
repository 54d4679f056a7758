"""The tap's hold on the SDK is narrow, named, pinned and guarded by tests."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import singer_sdk
from packaging.requirements import Requirement
from singer_sdk import metrics

from tap_hindsight import seams, streams, tap
from tap_hindsight.seams import SEAMS

REPO = Path(__file__).resolve().parent.parent
SDK_CLASSES = {"Tap": singer_sdk.Tap, "Stream": singer_sdk.Stream, "metrics": metrics}
#: The SDK's documented extension points: what a tap is meant to set or override.
EXTENSION_POINTS = {
    "__init__",  # streams and meters: built with the SDK's own constructor arguments
    "name",
    "config_jsonschema",
    "discover_streams",
    "primary_keys",
    "replication_key",
    "parent_stream_type",
    "state_partitioning_keys",
    "get_records",
    "generate_child_contexts",
}


def our_classes():
    """Every class of the tap's own modules that derives from an SDK class."""
    found = []
    for path in sorted((REPO / "tap_hindsight").glob("[!_]*.py")):
        module = importlib.import_module(f"tap_hindsight.{path.stem}")
        found.extend(
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and value.__module__ == module.__name__
            and any(base.__module__.startswith("singer_sdk") for base in value.__mro__)
        )
    return found


OUR_CLASSES = our_classes()


def test_the_classes_checked_include_every_stream():
    names = {cls.__name__ for cls in OUR_CLASSES}
    assert {tap.TapHindsight.__name__, seams.ChildStream.__name__, "DealsStream"} <= names
    assert {streams.InterviewsStream.__name__, "DealDriversStream", "RunTimer"} <= names


def sdk_attribute(dotted):
    owner, *path = dotted.split(".")
    value = SDK_CLASSES[owner]
    for part in path:
        value = getattr(value, part)
    return value


def our_attribute(dotted):
    module, *path = dotted.split(".")
    value = importlib.import_module(f"tap_hindsight.{module}")
    for part in path:
        value = getattr(value, part)
    return value


def test_the_sdk_is_pinned_to_a_compatible_release_of_the_version_under_test():
    (pin,) = [
        Requirement(line.strip().strip('",'))
        for line in (REPO / "pyproject.toml").read_text().splitlines()
        if line.strip().startswith('"singer-sdk')
    ]
    (spec,) = pin.specifier
    assert spec.operator == "~="
    assert version("singer-sdk") in pin.specifier
    assert version("singer-sdk").startswith(spec.version.rsplit(".", 1)[0] + ".")


def overrides(cls):
    """Names `cls` defines that an SDK class in its ancestry defines too."""
    sdk_bases = [base for base in cls.__mro__ if base.__module__.startswith("singer_sdk")]
    for attribute in vars(cls):
        dunder = attribute.startswith("__") and attribute not in {
            "__init__",
            "__enter__",
            "__exit__",
        }
        if dunder or attribute.startswith("_abc"):
            continue
        if any(attribute in vars(base) for base in sdk_bases):
            yield attribute


def test_every_override_of_the_sdk_is_named_with_why():
    named = {seam.ours for seam in SEAMS}
    found = 0
    for cls in OUR_CLASSES:
        module = cls.__module__.removeprefix("tap_hindsight.")
        for attribute in overrides(cls):
            found += 1
            if attribute in EXTENSION_POINTS:
                continue
            ours = f"{module}.{cls.__name__}.{attribute}"
            assert ours in named, f"{ours} overrides the SDK without a Seam in seams.py"
    assert found > len(SEAMS) / 2


@pytest.mark.parametrize("seam", SEAMS, ids=lambda seam: seam.ours)
def test_each_seam_still_exists_on_both_sides_and_is_guarded(seam):
    assert sdk_attribute(seam.sdk) is not None  # AttributeError if the SDK dropped it
    assert our_attribute(seam.ours) is not None
    assert len(seam.why) > 20
    assert seam.tests
    for test in seam.tests:
        path, name = test.split("::")
        tree = ast.parse((REPO / path).read_text())
        defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert name in defined, f"{test} (guarding {seam.ours}) does not exist"


def test_the_callbacks_and_hooks_we_replace_keep_their_signatures():
    # cb_test is re-implemented: the SDK must still call it with (ctx, param, value) and
    # hand it the config holder with these two attributes.
    assert list(inspect.signature(singer_sdk.Tap.cb_test).parameters) == ["ctx", "param", "value"]
    source = inspect.getsource(singer_sdk.Tap.cb_test)
    assert "config.config" in source
    assert "config.parse_env" in source
    assert "run_connection_test" in source
    # The child-stream meters: the SDK's counter logs in exit(), its timer in __exit__.
    assert "_pop" in inspect.getsource(metrics.Counter.exit)
    assert "log(" in inspect.getsource(metrics.Timer.__exit__)
    # The created_at hold relies on the marker layout of the SDK's state helpers.
    from singer_sdk.helpers import _state  # noqa: PLC0415

    assert _state.PROGRESS_MARKERS == "progress_markers"
    assert re.search(r"new_rk_value >= old_rk_value", inspect.getsource(_state.increment_state))
