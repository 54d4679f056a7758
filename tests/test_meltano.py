"""meltano.yml is a working project: the real `meltano run tap-hindsight target-jsonl`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hindsight_simulator import Organisation
from hindsight_simulator.demo import flattened
from tests.helpers import ACME_KEY, plugin_files, run_meltano, run_tap
from tests.meltano_plugins import meltano_env
from tests.test_exit import scenario

meltano_kind = plugin_files()["meltano_kind"]
meltano_settings = plugin_files()["meltano_settings"]

#: The simulators of these tests serve deals (tests/conftest.py).
SERVE_DEALS = True

REPO = Path(__file__).resolve().parent.parent


def without_nulls(row):
    return {key: value for key, value in row.items() if value is not None}


def meltano_project():
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (extractor,) = project["plugins"]["extractors"]
    return project, extractor


def declared(setting):
    """What a Meltano setting says of itself that --about also says."""
    return {
        "name": setting["name"],
        "kind": setting["kind"],
        "label": setting.get("label"),
        "sensitive": setting.get("sensitive", False),
        "value": setting.get("value"),
        "options": [option["value"] for option in setting.get("options", [])],
        "description": setting["description"],
    }


def test_meltano_yml_declares_exactly_the_settings_about_lists(tmp_path):
    _, extractor = meltano_project()
    about = json.loads(run_tap(tmp_path, None, "--about", "--format", "json").stdout)
    expected = meltano_settings(about["settings"])
    # Names, order, kinds, sensitivity, labels, defaults and descriptions: all equal.
    assert [declared(s) for s in extractor["settings"]] == [declared(s) for s in expected]
    properties = about["settings"]["properties"]
    assert [s["name"] for s in extractor["settings"]] == list(properties)
    assert next(s for s in extractor["settings"] if s["name"] == "api_key")["sensitive"]
    assert set(extractor["capabilities"]) <= set(about["capabilities"])


def test_meltano_kinds_follow_the_schema():
    assert meltano_kind({"type": ["string", "null"], "enum": ["a"]}) == "options"
    assert meltano_kind({"type": ["string"], "format": "date-time"}) == "date_iso8601"
    assert meltano_kind({"type": ["number", "null"]}) == "string"  # Meltano's decimal crashes
    assert meltano_kind({"type": ["integer", "null"]}) == "integer"
    assert meltano_kind({"type": ["array", "null"]}) == "array"


def test_the_meltano_project_is_complete():
    project, extractor = meltano_project()
    assert project["default_environment"] in {env["name"] for env in project["environments"]}
    assert extractor["namespace"] == "tap_hindsight"
    assert extractor["pip_url"] == "-e ."
    assert {"state", "catalog", "discover"} <= set(extractor["capabilities"])
    for loader in project["plugins"]["loaders"]:
        assert loader["pip_url"]
        assert loader["namespace"]
        assert loader["executable"]


def meltano(env, *args, expect=0):
    return run_meltano(env, *args, expect=expect, timeout=600)


def test_meltano_run_loads_every_interview_offline(simulator, tmp_path, meltano_home):
    ids = [*range(1001, 1041), simulator.organisation("globex").first_id]
    simulator.script_faults(1005, ["502_html"])
    output = tmp_path / "output"
    env = meltano_env(
        meltano_home,
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(str(i) for i in ids),
        TAP_HINDSIGHT_REQUESTS_PER_MINUTE="1000",
        TARGET_JSONL_DESTINATION_PATH=str(output),
    )
    output.mkdir()
    listed = meltano(env, "config", "print", "tap-hindsight").stdout
    assert json.loads(listed[listed.index("{") :])["requests_per_minute"] == 1000
    assert ACME_KEY not in listed  # sensitive: Meltano redacts it
    run = meltano(env, "run", "--full-refresh", "tap-hindsight", "target-jsonl")
    rows = [json.loads(line) for line in (output / "interviews.jsonl").read_text().splitlines()]
    assert len(rows) == 40
    # meltano.yml has the tap flatten the transcript (transcript__content...); a missing
    # transcript leaves null or absent keys, both of which a table loads as NULL.
    loaded = {row["interview_request_id"]: without_nulls(row) for row in rows}
    expected = {i: without_nulls(flattened(simulator.interview(i))) for i in range(1001, 1041)}
    assert loaded == expected
    assert any("transcript__content" in row for row in loaded.values())
    assert simulator.requests_for(1005) == 2
    assert ACME_KEY not in run.stdout + run.stderr


@pytest.mark.parametrize("kind", ["failed ID", "rejected key"])
def test_meltano_run_ends_as_the_tap_does(simulator, tmp_path, meltano_home, kind):
    config, message = scenario(simulator, kind)
    env = meltano_env(
        meltano_home,
        TAP_HINDSIGHT_API_KEY=config["api_key"],
        TAP_HINDSIGHT_BASE_URL=config["base_url"],
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, config["interview_ids"])),
        TAP_HINDSIGHT_MAX_RETRIES=str(config["max_retries"]),
        TARGET_JSONL_DESTINATION_PATH=str(tmp_path),
    )
    direct = run_tap(tmp_path, config)
    run = meltano(env, "run", "--full-refresh", "tap-hindsight", "target-jsonl", expect=None)
    output = run.stdout + run.stderr
    assert direct.returncode == 1
    assert run.returncode == 1, output
    assert message in direct.stderr
    assert message in output  # the tap's own last line, passed on by Meltano
    assert "Traceback" not in output


def test_a_key_without_deals_keeps_the_interviews_and_their_state_in_meltano(
    start_simulator, tmp_path, meltano_home
):
    simulator = start_simulator(
        organisations=(Organisation("acme", ACME_KEY, 1001, 30, deals_access=False),)
    )
    ids = list(range(1001, 1031))
    env = meltano_env(
        meltano_home,
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(map(str, ids)),
        TAP_HINDSIGHT_PLAN="enterprise",
        TAP_HINDSIGHT_POLL_AGE_RATIO="0",
        TAP_HINDSIGHT_MIN_POLL_INTERVAL_MINUTES="0",
        TARGET_JSONL_DESTINATION_PATH=str(tmp_path),
    )
    run = ["run", "--state-id-suffix", "no-deals", "tap-hindsight", "target-jsonl"]
    first = meltano(env, *run, expect=1)
    assert "refused GET /deals (HTTP 403, forbidden)" in first.stdout + first.stderr
    assert "meltano select tap-hindsight --exclude deals" in first.stdout + first.stderr
    rows = (tmp_path / "interviews.jsonl").read_text().splitlines()
    assert len(rows) == len(ids)  # interviews loaded all the same
    assert not (tmp_path / "deals.jsonl").exists()
    state = meltano(env, "state", "get", "dev:tap-hindsight-to-target-jsonl:no-deals").stdout
    lifecycle = json.loads(state[state.index("{") :])["singer_state"]["bookmarks"]["interviews"]
    assert "interview_lifecycle" in lifecycle
    # The next run resumes from that state: no completed interview is fetched again.
    simulator.reset_stats()
    meltano(env, *run, expect=1)
    pending = [i for i in ids if simulator.status_of(i) != "completed"]
    assert 0 < len(pending) < len(ids)
    assert simulator.stats()["interview_requests"] == len(pending)
