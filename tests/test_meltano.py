"""meltano.yml is a working project: the real `meltano run tap-hindsight target-jsonl`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tap_hindsight.simulator.demo import flattened
from tap_hindsight.tap import SETTINGS
from tests.helpers import ACME_KEY, clean_env

REPO = Path(__file__).resolve().parent.parent
MELTANO = str(Path(sys.executable).with_name("meltano"))


def without_nulls(row):
    return {key: value for key, value in row.items() if value is not None}


def meltano_settings():
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (extractor,) = project["plugins"]["extractors"]
    return project, extractor


def test_meltano_yml_declares_every_tap_setting_with_kind_and_description():
    project, extractor = meltano_settings()
    assert project["default_environment"] in {env["name"] for env in project["environments"]}
    assert extractor["namespace"] == "tap_hindsight"
    assert extractor["pip_url"] == "-e ."
    declared = {setting["name"]: setting for setting in extractor["settings"]}
    own = SETTINGS.to_dict()["properties"]
    for name in own:
        assert name in declared, f"{name} missing from meltano.yml"
        assert declared[name]["kind"]
        assert declared[name]["description"]
    assert declared["api_key"]["sensitive"] is True
    for name in ("stream_maps", "flattening_enabled", "flattening_max_depth"):
        assert name in declared  # undeclared settings never reach the tap from TAP_* vars
    assert {"state", "catalog", "discover"} <= set(extractor["capabilities"])
    for loader in project["plugins"]["loaders"]:
        assert loader["pip_url"]
        assert loader["namespace"]
        assert loader["executable"]


@pytest.mark.meltano
def test_meltano_run_loads_every_interview_offline(simulator, tmp_path):
    ids = [*range(1001, 1041), simulator.organisation("globex").first_id]
    simulator.script_faults(1005, ["502_html"])
    output = tmp_path / "output"
    env = clean_env(
        MELTANO_SYS_DIR_ROOT=str(tmp_path / ".meltano"),
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS=",".join(str(i) for i in ids),
        TAP_HINDSIGHT_REQUESTS_PER_MINUTE="1000",
        TARGET_JSONL_DESTINATION_PATH=str(output),
    )
    output.mkdir()

    def meltano(*args, timeout=600):
        done = subprocess.run(
            [MELTANO, *args],
            check=False,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    meltano("install")
    listed = meltano("config", "print", "tap-hindsight").stdout
    assert json.loads(listed[listed.index("{") :])["requests_per_minute"] == 1000
    assert ACME_KEY not in listed  # sensitive: Meltano redacts it
    run = meltano("run", "tap-hindsight", "target-jsonl")
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
