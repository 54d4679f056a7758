"""The SDK's standard command line, run for real: about, discover, catalog, state, test."""

from __future__ import annotations

import json

from tap_hindsight.tap import TapHindsight
from tests.helpers import run_tap, tap_config

SETTINGS = [
    "api_key",
    "base_url",
    "interview_ids",
    "interview_ids_file",
    "start_date",
    "plan",
    "requests_per_minute",
    "reserved_requests_per_minute",
    "concurrency",
    "request_timeout",
    "interviewer_names",
]


def test_about_as_json_lists_every_setting_and_marks_the_key_secret(tmp_path):
    run = run_tap(tmp_path, None, "--about", "--format", "json")
    assert run.returncode == 0, run.stderr
    about = json.loads(run.stdout)
    assert about["name"] == "tap-hindsight"
    properties = about["settings"]["properties"]
    for name in SETTINGS:
        assert properties[name]["description"]
    assert properties["api_key"]["secret"] is True
    assert about["settings"]["required"] == ["api_key"]
    assert properties["plan"]["enum"] == ["essentials", "growth", "enterprise"]
    assert "default" not in properties["requests_per_minute"]  # the plan's limit applies
    assert properties["reserved_requests_per_minute"]["default"] == 0
    assert properties["concurrency"]["default"] == 8
    assert properties["request_timeout"]["default"] == 30


def test_about_as_markdown_has_the_settings_table(tmp_path):
    run = run_tap(tmp_path, None, "--about", "--format", "markdown")
    assert run.returncode == 0, run.stderr
    for name in SETTINGS:
        assert f"\n| {name} |" in run.stdout


def test_discover_describes_the_interviews_stream_without_a_key(tmp_path):
    run = run_tap(tmp_path, {}, "--discover")
    assert run.returncode == 0, run.stderr
    catalog = json.loads(run.stdout)
    streams = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert sorted(streams) == [
        "deal_competitors",
        "deal_drivers",
        "deals",
        "interview_turns",
        "interviews",
    ]
    assert streams["interview_turns"]["key_properties"] == ["interview_request_id", "turn_index"]
    assert streams["deals"]["key_properties"] == ["id"]
    assert streams["deal_drivers"]["key_properties"] == ["deal_id", "driver_index"]
    assert streams["deal_competitors"]["key_properties"] == ["deal_id", "competitor_id"]
    entry = streams["interviews"]
    assert entry["key_properties"] == ["interview_request_id"]
    assert entry["schema"]["properties"]["created_at"]["format"] == "date-time"
    assert entry["schema"]["properties"]["transcript"]["type"] == ["object", "null"]


def test_deselected_streams_emit_no_records(simulator, tmp_path):
    discovered = run_tap(tmp_path, {}, "--discover")
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for metadata in stream["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = False
    run = run_tap(tmp_path, tap_config(simulator, [1001, 1002]), catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records() == []


def test_a_catalog_that_deselects_a_field_drops_it(simulator, tmp_path):
    catalog = json.loads(run_tap(tmp_path, {}, "--discover").stdout)
    interviews = next(s for s in catalog["streams"] if s["tap_stream_id"] == "interviews")
    for metadata in interviews["metadata"]:
        if metadata["breadcrumb"] == ["properties", "survey_url"]:
            metadata["metadata"]["selected"] = False
    run = run_tap(tmp_path, tap_config(simulator, [1001, 1002]), catalog=catalog)
    assert run.returncode == 0, run.stderr
    records = run.records()
    assert len(records) == 2
    assert all("survey_url" not in record for record in records)


def test_a_state_file_is_accepted_and_state_is_emitted(simulator, tmp_path):
    state = {"bookmarks": {"interviews": {}}}
    run = run_tap(tmp_path, tap_config(simulator, [1001]), state=state)
    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 1
    lifecycle = run.states()[-1]["bookmarks"]["interviews"]["interview_lifecycle"]
    assert "1001" in lifecycle["completed"] + lifecycle["pending"]


def test_test_mode_syncs_one_record_and_stops(simulator, tmp_path):
    run = run_tap(tmp_path, tap_config(simulator, list(range(1001, 1051))), "--test")
    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 1
    stats = simulator.stats()
    assert stats["deal_requests"] == 1  # the first page, then the deals stream stopped
    # The first answer and the 7 others in flight (concurrency 8), and at most one more:
    # the SDK asks for a second record before it stops the stream.
    assert stats["interview_requests"] <= 8 + 1, stats["interview_requests"]


def test_a_forked_run_is_a_run_of_the_console_script(start_simulator, tmp_path):
    # Most tests fork the tap from a process that imported it (tests/tap_forkserver.py):
    # the console script, started from scratch, does the same from the same input.
    simulator = start_simulator(serve_deals=True)
    config = tap_config(simulator, [1001, 1002, 1003, 999_999])  # one not found: a warning
    runs = [run_tap(tmp_path, config, fresh=fresh) for fresh in (False, True)]
    forked, fresh = runs
    assert forked.returncode == fresh.returncode == 0
    for stream in ("interviews", "interview_turns", "deals"):
        # In completion order, which concurrency makes vary: compared as sets.
        emitted = [sorted(map(json.dumps, run.records(stream))) for run in runs]
        assert emitted[0] == emitted[1]
        assert emitted[0]
    for run in runs:
        assert "Interview 999999 not found (HTTP 404)" in run.stderr
        assert run.stderr.count("Summary: ") == 1


def test_the_tap_has_the_interviews_and_deals_streams_and_their_children():
    tap = TapHindsight(config={"api_key": "k"}, validate_config=True)
    assert sorted(tap.streams) == [
        "deal_competitors",
        "deal_drivers",
        "deals",
        "interview_turns",
        "interviews",
    ]
    assert tap.streams["interview_turns"].parent_stream_type is type(tap.streams["interviews"])
    for child in ("deal_drivers", "deal_competitors"):
        assert tap.streams[child].parent_stream_type is type(tap.streams["deals"])


def test_a_stream_map_keeps_survey_url_out_of_the_warehouse(simulator, tmp_path):
    config = tap_config(simulator, [1001, 1002], stream_maps={"interviews": {"survey_url": None}})
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    records = run.records()
    assert len(records) == 2
    assert all("survey_url" not in record for record in records)
    schema = next(m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "interviews")
    assert "survey_url" not in schema["schema"]["properties"]
