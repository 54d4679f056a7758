"""The wheel carries the schemas, and a tap installed from it finds them there."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_installed_wheel_finds_its_packed_schemas(tmp_path, dists):
    (wheel,) = dists.glob("tap_hindsight-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = json.loads(archive.read("tap_hindsight/schemas/interviews.json"))
        names = archive.namelist()
    assert packed == json.loads((REPO / "schemas" / "interviews.json").read_text())
    # The wheel users install carries the tap only: the API simulator is the tests'.
    assert "tap_hindsight/tap.py" in names
    assert not [name for name in names if "simulator" in name]
    (entry_points,) = [name for name in names if name.endswith("entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        assert "simulator" not in archive.read(entry_points).decode()

    # Install only the wheel's files (dependencies come from the test environment) into a
    # directory that shadows the editable install, and run from outside the repository.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import json, tap_hindsight, tap_hindsight.schemas as s;"
        "print(json.dumps([tap_hindsight.__file__, str(s.schema_path('interviews'))]))"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    module_file, schema_file = json.loads(done.stdout)
    assert module_file.startswith(str(target))
    assert schema_file == str(target / "tap_hindsight" / "schemas" / "interviews.json")

    discover = subprocess.run(
        [sys.executable, "-m", "tap_hindsight", "--discover"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    streams = {s["tap_stream_id"]: s for s in json.loads(discover.stdout)["streams"]}
    assert streams["interviews"]["schema"]["properties"].keys() == packed["properties"].keys()
    assert streams["interview_turns"]["schema"]["properties"]["turn_index"]["type"] == "integer"
