"""The tap's hold on the SDK is narrow, named, pinned and guarded by tests."""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import io
import json
import logging
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
import singer_sdk
from packaging.requirements import Requirement
from singer_sdk import metrics
from singer_sdk.tap_base import CliTestOptionValue

from tap_hindsight import checkpoints, seams, streams, tap

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Seam:
    """One row of the table of seams in docs/development.md."""

    sdk: str  #: `Class.attribute` in singer_sdk
    ours: str  #: `module.Class.attribute` in tap_hindsight
    why: str
    tests: tuple[str, ...]  #: `tests/file.py::test_name`


def read_seams(text: str) -> tuple[Seam, ...]:
    """The rows of the table whose header is `| SDK | ours | why | guarded by |`."""
    lines = text.splitlines()
    start = lines.index("| SDK | ours | why | guarded by |") + 2
    seams = []
    for line in lines[start:]:
        if not line.startswith("| `"):
            break
        sdk, ours, why, tests = (cell.strip() for cell in line.strip("|").split(" | "))
        guarded = tuple(test.strip().strip("`") for test in tests.split(", "))
        seams.append(Seam(sdk.strip("`"), ours.strip("`"), why, guarded))
    return tuple(seams)


SEAMS = read_seams((REPO / "docs" / "development.md").read_text())
SDK_CLASSES = {
    "Tap": singer_sdk.Tap,
    "Stream": singer_sdk.Stream,
    "metrics": metrics,
    "tap_base": singer_sdk.tap_base,
}
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
            assert ours in named, f"{ours} overrides the SDK without a row in the table of seams"
    assert found > len(SEAMS) / 2


@pytest.mark.parametrize("seam", SEAMS, ids=lambda seam: seam.ours)
def test_each_seam_still_exists_on_both_sides_and_is_guarded(seam):
    owner, _, name = seam.sdk.rpartition(".")
    assert hasattr(sdk_attribute(owner), name), f"the SDK no longer has {seam.sdk}"
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
    # (What it hands over is tested by behaviour: --test with a config file, and with
    # --config ENV, in tests/test_exit.py and tests/test_settings.py.)
    assert list(inspect.signature(singer_sdk.Tap.cb_test).parameters) == ["ctx", "param", "value"]


# Each seam's behaviour, in small: these fail when the SDK changes what a seam relies on.

TAP_CONFIG = {"api_key": "seam-test-key", "interview_ids": [5]}


def test_the_created_at_hold_keeps_the_marker_still_and_the_sdk_promotes_the_newest():
    from singer_sdk.helpers import _state  # noqa: PLC0415

    stream_state = {
        "replication_key": "created_at",
        "replication_key_value": "2026-01-01T00:00:00Z",
    }
    interviews = tap.TapHindsight(config=TAP_CONFIG).streams["interviews"]
    hold = checkpoints.CreatedAtBookmark(stream_state, "created_at", "interview_lifecycle")
    before = copy.deepcopy(stream_state)
    for created_at in ("2026-05-01T00:00:00Z", "2025-01-01T00:00:00Z"):
        # What the SDK does with each record written: the tap state must not change.
        _state.increment_state(
            stream_state,
            latest_record={"created_at": created_at},
            replication_key="created_at",
            is_sorted=interviews.is_sorted,
            check_sorted=interviews.check_sorted,
        )
        hold.saw(created_at)
    assert stream_state == before
    hold.release()
    _state.finalize_state_progress_markers(stream_state)
    assert stream_state["replication_key_value"] == "2026-05-01T00:00:00Z"
    assert "progress_markers" not in stream_state


def test_a_child_stream_sends_its_schema_once_however_often_it_syncs(capsys):
    child = tap.TapHindsight(config=TAP_CONFIG).streams["interview_turns"]
    capsys.readouterr()
    for _ in range(3):
        child._write_schema_message()  # noqa: SLF001 (the seam itself)
    written = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [message["type"] for message in written] == ["SCHEMA"]
    assert written[0]["stream"] == "interview_turns"


def test_a_child_streams_meters_span_the_run_and_are_logged_once(caplog):
    child = tap.TapHindsight(config=TAP_CONFIG).streams["interview_turns"]
    caplog.set_level(logging.INFO, logger="singer_sdk.metrics")
    for interview_id in (1, 2, 3):
        # As the SDK's sync does for each parent record.
        counter, timer = child.get_record_counter(), child.get_sync_timer()
        with counter, timer:
            counter.with_context({"interview_request_id": interview_id})
            timer.with_context({"interview_request_id": interview_id})
            counter.increment()
            counter.increment()
    assert [r for r in caplog.records if r.name == "singer_sdk.metrics"] == []
    child.report_metrics()
    points = [r.getMessage() for r in caplog.records if r.name == "singer_sdk.metrics"]
    assert len(points) == 2
    counted = json.loads(next(p for p in points if "record_count" in p).split("METRIC: ", 1)[1])
    assert counted["value"] == 6
    assert "context" not in counted["tags"]


def test_a_child_streams_beginning_line_goes_to_debug(caplog):
    child = tap.TapHindsight(config=TAP_CONFIG).streams["interview_turns"]
    caplog.set_level(logging.DEBUG, logger=child.logger.name)
    child.log("Beginning full_table sync of '%s'...", child.name)
    child.log("something went wrong", level=logging.WARNING)
    levels = {r.getMessage(): r.levelno for r in caplog.records}
    assert levels["Beginning full_table sync of 'interview_turns'..."] == logging.DEBUG
    assert levels["something went wrong"] == logging.WARNING


def test_invoke_passes_on_every_argument_it_does_not_read(monkeypatch):
    received = {}
    monkeypatch.setattr(
        singer_sdk.Tap, "invoke", classmethod(lambda _cls, **kwargs: received.update(kwargs))
    )
    state = io.StringIO('{"bookmarks": {}}')
    state.name = "state.json"
    tap.TapHindsight.invoke(about=False, catalog=None, a_future_sdk_argument=7, state=state)
    assert received["a_future_sdk_argument"] == 7
    assert received["about"] is False
    assert json.loads(received["state"].read()) == {"bookmarks": {}}
    kinds = {p.kind for p in inspect.signature(tap.TapHindsight.invoke).parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD in kinds


def test_the_test_option_and_the_builtin_settings_the_tap_relies_on():
    # `--test` with no value means "all": the tap's cb_test applies its exit policy then.
    assert CliTestOptionValue.All.value == "all"
    schema = tap.TapHindsight.settings_schema()
    # The SDK's built-in settings are appended to the tap's own: both are accepted.
    assert {"stream_maps", "flattening_enabled", "api_key", "interview_ids"} <= set(
        schema["properties"]
    )
