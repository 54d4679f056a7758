"""tap-hindsight.yml: a Meltano Hub extractor definition that Meltano adds, installs from
this checkout and runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from tests.helpers import ACME_KEY, clean_env, plugin_files, run_meltano, run_tap
from tests.meltano_plugins import system_folder

REPO = Path(__file__).resolve().parent.parent
HUB_METADATA = plugin_files()["HUB_METADATA"]
hub_definition = plugin_files()["hub_definition"]
hub_yaml = plugin_files()["hub_yaml"]
HUB_FILE = REPO / "tap-hindsight.yml"
SCHEMAS = Path(__file__).resolve().parent / "meltano_hub_schemas"
#: What Hub shows about a plugin but a project's meltano.yml does not keep.
HUB_ONLY = {"keywords", "domain_url", "maintenance_status", "quality"}


def hub_validator() -> Draft7Validator:
    """Hub's own check: extractors.schema.json, every schema file registered by its $id."""
    resources = []
    for path in SCHEMAS.rglob("*.schema.json"):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    schema = json.loads((SCHEMAS / "plugin_definitions" / "extractors.schema.json").read_text())
    return Draft7Validator(schema, registry=Registry().with_resources(resources))


def about(tmp_path):
    return json.loads(run_tap(tmp_path, None, "--about", "--format", "json").stdout)


def test_the_hub_file_is_what_about_implies(tmp_path):
    # Regenerate with `python .ci/plugin_files.py --hub tap-hindsight.yml`.
    assert HUB_FILE.read_text(encoding="utf-8") == hub_yaml(about(tmp_path))


def test_the_hub_file_is_complete_and_valid_for_meltano_hub(tmp_path):
    definition = yaml.safe_load(HUB_FILE.read_text(encoding="utf-8"))
    assert list(hub_validator().iter_errors(definition)) == []
    info = about(tmp_path)
    assert definition["capabilities"] == sorted(info["capabilities"])
    assert [s["name"] for s in definition["settings"]] == list(info["settings"]["properties"])
    for setting in definition["settings"]:
        assert setting["kind"]
        assert isinstance(setting["sensitive"], bool), setting["name"]
        assert setting["description"].strip(), setting["name"]
    sensitive = [s["name"] for s in definition["settings"] if s.get("sensitive")]
    assert sensitive == ["api_key"]
    assert definition["settings_group_validation"] == [["api_key"]]
    assert "meltano_sdk" in definition["keywords"]
    assert definition["maintenance_status"] == "active"
    # The project's own meltano.yml declares the same extractor.
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (extractor,) = project["plugins"]["extractors"]
    assert extractor["settings"] == [
        {k: v for k, v in s.items() if (k, v) != ("sensitive", False)}
        for s in definition["settings"]
    ]
    assert extractor["namespace"] == definition["namespace"]
    assert extractor["executable"] == definition["executable"]


def test_hub_validation_catches_a_broken_definition():
    broken = hub_definition({**about_stub(), "capabilities": ["catalog", "telepathy"]})
    del broken["quality"]
    messages = [error.message for error in hub_validator().iter_errors(broken)]
    assert any("telepathy" in message for message in messages)
    assert any("'quality' is a required property" in message for message in messages)


def about_stub():
    return {
        "name": "tap-hindsight",
        "capabilities": ["catalog"],
        "supported_python_versions": ["3.11"],
        "settings": {"properties": {"api_key": {"type": "string"}}, "required": ["api_key"]},
    }


def meltano(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_meltano(env, *args, cwd=project)


def test_a_fresh_meltano_project_adds_installs_and_runs_the_hub_definition(
    simulator, tmp_path, meltano_plugins
):
    # The Hub file's pip_url is the distribution name; here it resolves to a wheel of
    # this checkout (found through find-links, as a package index would serve it). The
    # tap, installed from that definition, is what this test proves: it is the one plugin
    # a test installs; the loader is the session's.
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    links = " ".join(filter(None, [str(wheels), os.environ.get("UV_FIND_LINKS")]))
    pip_links = " ".join(filter(None, [str(wheels), os.environ.get("PIP_FIND_LINKS")]))
    env = clean_env(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        UV_FIND_LINKS=links,
        PIP_FIND_LINKS=pip_links,
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS="1001,1002,1003",
    )
    project = tmp_path / "project"
    meltano(tmp_path, env, "init", str(project), "--no-usage-stats")
    (project / "tap-hindsight.yml").write_text(HUB_FILE.read_text(encoding="utf-8"))
    # `meltano add` installs the plugin it adds: the tap, from the Hub definition.
    meltano(project, env, "add", "--from-ref", "tap-hindsight.yml", "tap-hindsight")
    # The loader from this repository's meltano.yml, added the same way (its install is
    # the session's).
    ours = yaml.safe_load((REPO / "meltano.yml").read_text())
    (jsonl,) = [p for p in ours["plugins"]["loaders"] if p["name"] == "target-jsonl"]
    (project / "target-jsonl.yml").write_text(yaml.safe_dump(jsonl))
    meltano(project, env, "add", "--no-install", "--from-ref", "target-jsonl.yml", "target-jsonl")
    system_folder(project / ".meltano", "target-jsonl")

    added = yaml.safe_load((project / "meltano.yml").read_text())
    (extractor,) = added["plugins"]["extractors"]
    definition = yaml.safe_load(HUB_FILE.read_text(encoding="utf-8"))
    assert extractor == {k: v for k, v in definition.items() if k not in HUB_ONLY}
    assert set(HUB_METADATA) - HUB_ONLY <= set(extractor)

    installed = meltano(project, env, "invoke", "tap-hindsight", "--about", "--format", "json")
    assert json.loads(installed.stdout) == about(tmp_path)  # this checkout's tap

    meltano(project, env, "run", "tap-hindsight", "target-jsonl")
    lines = (project / "output" / "interviews.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["interview_request_id"] for line in lines) == [1001, 1002, 1003]
    state = meltano(project, env, "state", "get", "dev:tap-hindsight-to-target-jsonl")
    assert "interviews" in state.stdout
    assert ACME_KEY not in state.stdout
