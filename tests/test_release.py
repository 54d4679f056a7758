"""What a release carries and how it is cut: the licence, the changelog, the version in one
place, the CI and release workflows (checked by actionlint), the Hub definition's links."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from tests.actionlint import actionlint
from tests.helpers import plugin_files, run_tap

REPO = Path(__file__).resolve().parent.parent
HUB_METADATA = plugin_files()["HUB_METADATA"]
REPOSITORY = plugin_files()["REPOSITORY"]
WORKFLOWS = REPO / ".github" / "workflows"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]


def workflow(name):
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    loaded = yaml.safe_load((WORKFLOWS / name).read_text())
    loaded["on"] = loaded.pop(True)
    return loaded


def test_both_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["ci.yml", "release.yml"]
    linted = actionlint(*files)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "2 files, 0 problems" in linted.stderr


def test_actionlint_here_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_thing }}\n"
        "  b:\n    needs: [missing]\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n"
    )
    linted = actionlint(broken)
    assert linted.returncode == 1
    assert "no_such_thing" in linted.stdout
    assert "missing" in linted.stdout


def test_ci_runs_ci_run_on_every_declared_python_from_the_same_list():
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    jobs = ci["jobs"]
    declared = jobs["pythons"]["steps"][-1]["run"]
    assert "python3 .ci/declared_pythons.py --json" in declared
    listed = subprocess.run(
        [sys.executable, ".ci/declared_pythons.py", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    classifiers = [
        c.rsplit(" ", 1)[1]
        for c in PYPROJECT["project"]["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert json.loads(listed.stdout) == classifiers
    run = jobs["ci"]
    assert run["strategy"]["matrix"]["python"] == "${{ fromJSON(needs.pythons.outputs.versions) }}"
    assert run["env"]["CI_PYTHONS"] == "${{ matrix.python }}"
    assert run["services"]["postgres"]["image"].startswith("postgres:")
    assert run["steps"][-1]["run"] == "bash .ci/run"
    # No version list of its own anywhere in the workflow.
    assert not re.search(r"3\.1[0-3]", (WORKFLOWS / "ci.yml").read_text())


def test_release_builds_checks_refuses_a_wrong_tag_and_publishes_without_a_token():
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    build = [step.get("run", "") for step in release["jobs"]["build"]["steps"]]
    assert any(".ci/release_tag.py" in step for step in build)
    assert any("make release-check" in step for step in build)
    assert build.index(next(s for s in build if "release_tag" in s)) < build.index(
        next(s for s in build if "release-check" in s)
    )
    publish = release["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"}  # trusted publishing
    (uses,) = [step["uses"] for step in publish["steps"] if "publish" in step.get("uses", "")]
    assert uses.startswith("pypa/gh-action-pypi-publish@")
    text = (WORKFLOWS / "release.yml").read_text()
    assert "secrets." not in text
    assert "password" not in text


@pytest.mark.parametrize(("tag", "accepted"), [(f"v{VERSION}", True), ("v9.9.9", False)])
def test_a_tag_other_than_the_version_is_refused(tag, accepted):
    checked = subprocess.run(
        [sys.executable, ".ci/release_tag.py", tag],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (checked.returncode == 0) is accepted, checked.stderr
    if not accepted:
        assert f"'{tag}' does not match the version in pyproject.toml ('{VERSION}')" in (
            checked.stderr
        )


def test_the_wheel_and_the_sdist_carry_the_licence(dists):
    licence = (REPO / "LICENSE").read_text()
    assert "Apache License" in licence
    assert "Version 2.0, January 2004" in licence
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in licence
    assert re.search(r"Copyright 20\d\d The tap-hindsight authors", licence)
    (wheel,) = dists.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(f"tap_hindsight-{VERSION}.dist-info/licenses/LICENSE").decode() == (
            licence
        )
        metadata = archive.read(f"tap_hindsight-{VERSION}.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata
    (sdist,) = dists.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        packed = archive.extractfile(f"tap_hindsight-{VERSION}/LICENSE")
        assert packed is not None
        assert packed.read().decode() == licence
    top = {name.split("/", 2)[1] for name in names if name.count("/") >= 1}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "tap_hindsight", "schemas"} <= top
    assert "tests" not in top
    assert "hindsight_simulator" not in top


def test_the_changelog_keeps_a_changelog_with_the_version_released():
    text = (REPO / "CHANGELOG.md").read_text()
    assert "[Keep a Changelog](https://keepachangelog.com/" in text
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == VERSION
    assert headings[1][1]  # dated
    released = text.split(f"## [{VERSION}]", 1)[1]
    for promised in ("interviews", "interview_turns", "deals", "discovery", "poll", "deleted"):
        assert promised in released, promised
    assert f"[{VERSION}]: {REPOSITORY}/releases/tag/v{VERSION}" in text
    assert f"[Unreleased]: {REPOSITORY}/compare/v{VERSION}...HEAD" in text


def test_the_version_is_in_one_place_and_the_cli_prints_it(tmp_path):
    written = [
        path.name
        for path in (REPO / "tap_hindsight").rglob("*.py")
        if re.search(rf"['\"]{re.escape(VERSION)}['\"]", path.read_text())
    ]
    assert written == []  # read from the installed metadata, written only in pyproject.toml
    printed = subprocess.run(
        [str(Path(sys.executable).with_name("tap-hindsight")), "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert printed.stdout.startswith(f"tap-hindsight v{VERSION}, Meltano SDK v")
    about = json.loads(run_tap(tmp_path, None, "--about", "--format", "json").stdout)
    assert about["version"] == VERSION


def test_the_project_links_and_the_hub_definition_agree():
    urls = PYPROJECT["project"]["urls"]
    assert urls["Repository"] == REPOSITORY
    assert HUB_METADATA["repo"] == REPOSITORY
    assert HUB_METADATA["docs"].startswith(REPOSITORY)
    assert HUB_METADATA["pip_url"] == PYPROJECT["project"]["name"]
    hub = yaml.safe_load((REPO / "tap-hindsight.yml").read_text())
    for field in ("pip_url", "repo", "docs", "maintenance_status", "keywords", "domain_url"):
        assert hub[field], field
    assert hub["logo_url"].startswith("/assets/logos/extractors/")
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


@pytest.mark.parametrize(
    ("name", "needed"),
    [
        ("SECURITY.md", ("vulnerabilit", "api_key", "never")),
        ("CONTRIBUTING.md", ("make check", "make test", "benchmarks/", "release")),
    ],
)
def test_security_and_contributing_say_what_they_must(name, needed):
    text = (REPO / name).read_text()
    for phrase in needed:
        assert phrase in text, phrase
    assert len(text.splitlines()) <= 80  # each short
