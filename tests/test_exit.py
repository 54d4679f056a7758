"""How a run ends, whichever way it was started; what the tap never sends."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO, run_tap, tap_config

FAILED_ID_MESSAGE = (
    "1 interviews could not be extracted; the run fails so they are not missed silently: 1002"
)
REJECTED_KEY_MESSAGE = "The Hindsight API rejected the API key (HTTP 401, unauthorized)."
CONFIG_MESSAGE = "concurrency: 0 must be a whole number from 1 to 64"


def scenario(simulator, kind):
    """A config that ends in `kind`, and the message it must end with."""
    if kind == "failed ID":
        simulator.script_faults(1002, ["500"] * 10)
        return tap_config(simulator, [1002, 999_999], max_retries=1), FAILED_ID_MESSAGE
    if kind == "rejected key":
        return tap_config(simulator, [1001, 1002], api_key="hs_live_wrong"), REJECTED_KEY_MESSAGE
    return tap_config(simulator, [1001], concurrency=0), CONFIG_MESSAGE


def last_error(stderr):
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    return errors[-1].split("| ", 3)[-1] if errors else ""


@pytest.mark.parametrize("kind", ["failed ID", "rejected key", "bad config"])
def test_the_same_exit_code_and_message_on_every_path(simulator, tmp_path, kind):
    config, message = scenario(simulator, kind)
    # The console script itself, started from scratch: how a process ends is what this
    # test is about (the other tests fork the tap from tests/tap_forkserver.py).
    normal = run_tap(tmp_path, config, fresh=True)
    tested = run_tap(tmp_path, config, "--test", fresh=True)
    for run in (normal, tested):
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr
        assert message in run.stderr
        assert run.records() == []
    ending = last_error(normal.stderr)
    if kind == "bad config":
        assert ending == "Config validation failed"
    else:
        assert ending.startswith(message)
    assert last_error(tested.stderr) == ending
    if kind != "bad config":
        # What the run learned is kept for the next one, on both paths.
        assert normal.states()
        assert tested.states()


def test_a_clean_test_run_exits_0(simulator, tmp_path):
    run = run_tap(tmp_path, tap_config(simulator, [1001, 1002]), "--test")
    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 1
    # The record limit that ends each stream is not an error: a passing test says none.
    assert "ERROR" not in run.stderr
    assert "An unhandled error occurred" not in run.stderr


def test_activate_version_is_neither_advertised_nor_sent(simulator, tmp_path):
    about = json.loads(run_tap(tmp_path, None, "--about", "--format", "json").stdout)
    assert "activate-version" not in about["capabilities"]
    assert "batch" not in about["capabilities"]
    # Even with the setting on, and a catalog that forces interviews to FULL_TABLE.
    catalog = json.loads(run_tap(tmp_path, {}, "--discover").stdout)
    for stream in catalog["streams"]:
        stream["replication_method"] = "FULL_TABLE"
        for metadata in stream["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["forced-replication-method"] = "FULL_TABLE"
                metadata["metadata"]["selected"] = True
    ids = list(range(1001, 1031))
    config = tap_config(simulator, ids, emit_activate_version_messages=True)
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert len(run.records()) == len(ids)
    assert run.records("interview_turns")
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    assert run.stderr.count("emit_activate_version_messages is ignored") == 1


ENDINGS = {
    "returns": "pass",
    "returns a code": "return 4",
    "exit code": "raise SystemExit(3)",
    "exit message": "raise SystemExit('stopped: 1002')",
    "exception": "raise ValueError('bad 1002')",
    "interrupted": "raise KeyboardInterrupt",
    "thread left running": (
        "import threading, time\n"
        "    threading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()"
    ),
    "atexit": "import atexit; atexit.register(lambda: print('at exit'))",
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_forked_run_ends_as_the_script_would(tmp_path, ending):
    # tests/tap_forkserver.py ends its children without the interpreter's teardown: the
    # exit status, stdout and stderr must still be those of a script that ends so.
    body = f"def main():\n    {ENDINGS[ending]}\n"
    ends = {
        "script": "import sys\nsys.exit(main())\n",
        "forked": "from tests.tap_forkserver import _end_as_the_script\n_end_as_the_script(main)\n",
    }
    outcomes = {}
    for name, end in ends.items():
        path = tmp_path / f"{name}.py"
        path.write_text(body + end)
        done = subprocess.run(
            [sys.executable, str(path)], cwd=REPO, capture_output=True, text=True, check=False
        )
        said = done.stderr.replace(str(path), "<file>").splitlines()
        outcomes[name] = (done.returncode, done.stdout, said[-1:])
    assert outcomes["forked"] == outcomes["script"]
