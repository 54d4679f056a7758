"""Checkpoints, and runs killed with SIGKILL then resumed from the last STATE they printed."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections import Counter
from itertools import pairwise

import pytest

from hindsight_simulator import default_organisations
from tap_hindsight.lifecycle import LifecycleState
from tap_hindsight.store import STATE_KEY, read_interviews
from tests.helpers import TAP_COMMAND, clean_env, run_tap, tap_config

IDS = list(range(1001, 1301))


def covered(state):
    bookmark = state["bookmarks"].get("interviews", {}).get(STATE_KEY)
    lifecycle = read_interviews(bookmark)  # None before the first checkpoint
    return lifecycle, set(lifecycle.completed) | set(lifecycle.pending)


def check_every_state_covers_only_emitted_records(messages):
    emitted: set[int] = set()
    states = 0
    for message in messages:
        if message["type"] == "RECORD" and message["stream"] == "interviews":
            emitted.add(message["record"]["interview_request_id"])
        elif message["type"] == "STATE" and STATE_KEY in message["value"]["bookmarks"].get(
            "interviews", {}
        ):
            states += 1
            lifecycle, ids = covered(message["value"])
            assert ids <= emitted, f"STATE covers unemitted IDs {sorted(ids - emitted)[:5]}"
            # ...and every record emitted so far as completed is in it (no re-fetch).
            done_before = {
                m["record"]["interview_request_id"]
                for m in messages[: messages.index(message)]
                if m["type"] == "RECORD"
                and m["stream"] == "interviews"
                and m["record"]["status"] == "completed"
            }
            assert done_before <= set(lifecycle.completed)
    return states


def _state_size(message):
    return len(json.dumps(message["value"], separators=(",", ":")))


def test_checkpoints_come_every_50_items_or_one_item_per_100_bytes_of_state(
    start_simulator, tmp_path
):
    # 300 interviews and their deals: the deals' marks make a state of about 9 KB, so a
    # checkpoint comes about every 90 items (answers and turn records), not every 50. A
    # STATE carries the whole state: at a fixed 50, a run's STATE bytes would grow with
    # its items times the state's size (63 GB for a first run over 100,000 IDs).
    simulator = start_simulator(organisations=_orgs(300), serve_deals=True)
    run = run_tap(tmp_path, tap_config(simulator, IDS))
    assert run.returncode == 0, run.stderr
    assert len(run.records()) == 300
    positions = [i for i, m in enumerate(run.messages) if m["type"] == "STATE"]
    spans = list(pairwise(positions))

    def records(a, b, *streams):
        return sum(1 for m in run.messages[a:b] if m["type"] == "RECORD" and m["stream"] in streams)

    interview_spans = [(a, b) for a, b in spans if records(a, b, "interviews")]
    most_turns = max(
        Counter(r["interview_request_id"] for r in run.records("interview_turns")).values()
    )
    sizes = {p: _state_size(run.messages[p]) for p in positions}
    assert min(sizes[b] for _, b in interview_spans) > 100 * 50  # the size rule decides
    for a, b in interview_spans:
        items = records(a, b, "interviews", "interview_turns")
        # At most: due once the items pay for the state, at the end of an interview.
        assert items <= max(50, sizes[a] // 100, sizes[b] // 100) + most_turns + 1
    # At least, between two checkpoints: not from the run's first measure, nor to its end,
    # nor from the STATE the SDK writes itself when the turns stream's first sync adds its
    # bookmark (it does not restart the tap's count).
    first_with_turns = next(
        p for p in positions if "interview_turns" in run.messages[p]["value"]["bookmarks"]
    )
    checked = 0
    for a, b in interview_spans[1:-1]:
        if a != first_with_turns:
            items = records(a, b, "interviews", "interview_turns")
            assert items * 100 >= sizes[a], f"a STATE of {sizes[a]} bytes after {items} items"
            checked += 1
    assert checked >= len(interview_spans) - 4
    # So a run's STATE bytes stay within 100 an item, besides the few STATEs the SDK
    # writes at each stream's start and end.
    items = sum(1 for m in run.messages if m["type"] == "RECORD")
    assert sum(sizes.values()) <= 100 * items + 6 * max(sizes.values())
    assert len(interview_spans) >= 300 // 50  # and the checkpoints are there
    assert check_every_state_covers_only_emitted_records(run.messages) >= 6


def test_each_stream_sends_its_schema_once_per_run(start_simulator, tmp_path):
    # The SDK sends a child stream's SCHEMA at each of its syncs, one per interview or
    # deal: 1,800 identical SCHEMAs for 2,000 interviews, a quarter of the run's bytes.
    simulator = start_simulator(organisations=_orgs(300), serve_deals=True)
    run = run_tap(tmp_path, tap_config(simulator, IDS))
    assert run.returncode == 0, run.stderr
    schemas = Counter(m["stream"] for m in run.messages if m["type"] == "SCHEMA")
    streams = {"interviews", "interview_turns", "deals", "deal_drivers", "deal_competitors"}
    assert schemas == dict.fromkeys(streams, 1)
    assert len({r["interview_request_id"] for r in run.records("interview_turns")}) > 100
    for stream in streams:  # and each before the stream's first record
        first = next(i for i, m in enumerate(run.messages) if m.get("stream") == stream)
        assert run.messages[first]["type"] == "SCHEMA"


def test_state_messages_per_run_are_bounded(start_simulator, tmp_path):
    # A STATE per checkpoint (at most every 50 items, at the end of an interview's turns),
    # one at the start of a resumed run and one at the end: not one per interview with turns,
    # which the SDK would write if the created_at marker moved with each record.
    simulator = start_simulator(organisations=_orgs(300))
    first = run_tap(tmp_path, tap_config(simulator, IDS))
    assert first.returncode == 0, first.stderr
    simulator.advance(IDS)  # every pending interview moves on: run 2 emits again
    second = run_tap(tmp_path, tap_config(simulator, IDS), state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    for run in (first, second):
        records = sum(1 for m in run.messages if m["type"] == "RECORD")
        with_turns = len({r["interview_request_id"] for r in run.records("interview_turns")})
        assert with_turns > 50  # without the bound there would be a STATE for each
        assert len(run.states()) <= -(-records // 50) + 2


def _orgs(count):
    return default_organisations(count)


def start_tap(workdir, config, stderr):
    """The tap, started in `workdir` with `config`, its stdout a pipe, stderr to `stderr`."""
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    return subprocess.Popen(
        [TAP_COMMAND, "--config", str(config_path)],
        cwd=workdir,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def run_and_kill(workdir, config, kill_when):
    """Run the tap, SIGKILL it once `kill_when(messages)` holds; return all it printed."""
    with (workdir / "stderr.log").open("w") as stderr:
        process = start_tap(workdir, config, stderr)
        lines, messages = [], []
        for line in process.stdout:
            lines.append(line)
            if line.endswith("\n"):
                messages.append(json.loads(line))
            if kill_when(messages):
                process.kill()
                break
        lines.extend(process.stdout.readlines())  # printed before it died
        process.stdout.close()
        process.wait()
    assert process.returncode == -9, "the tap finished before it could be killed"
    # A line cut by the kill was never printed whole: a target would not read it either.
    return [json.loads(line) for line in lines if line.endswith("\n")]


def count(kind):
    return lambda messages: sum(1 for m in messages if m["type"] == kind)


@pytest.mark.parametrize(
    "kill_when",
    [
        lambda ms: count("STATE")(ms) >= 3,
        lambda ms: count("RECORD")(ms) >= 130,
        lambda ms: count("RECORD")(ms) >= 7,
    ],
    ids=["after-the-2nd-checkpoint", "after-130-records", "after-7-records"],
)
def test_killed_and_resumed_nothing_is_lost_and_nothing_completed_is_fetched_again(
    start_simulator, tmp_path, kill_when
):
    simulator = start_simulator(organisations=_orgs(300), latency_ms=15)
    config = tap_config(simulator, IDS, concurrency=4)
    printed = run_and_kill(tmp_path, config, kill_when)
    check_every_state_covers_only_emitted_records(printed)
    emitted_first = {
        m["record"]["interview_request_id"]
        for m in printed
        if m["type"] == "RECORD" and m["stream"] == "interviews"
    }
    assert len(emitted_first) < len(IDS)
    states = [m["value"] for m in printed if m["type"] == "STATE"]
    # Killed before its first checkpoint, a run is resumed without state, as Meltano would.
    last_state = states[-1] if states else None
    lifecycle = covered(last_state)[0] if last_state else LifecycleState()

    simulator.reset_stats()
    resumed = run_tap(tmp_path, config, state=last_state)
    assert resumed.returncode == 0, resumed.stderr
    for interview_id in lifecycle.completed:
        assert simulator.requests_for(interview_id) == 0
    emitted_second = set(resumed.records_by_id())
    assert emitted_first | emitted_second == set(IDS)  # nothing lost
    final, _ = covered(resumed.states()[-1])
    completed = {i for i in IDS if simulator.status_of(i) == "completed"}
    assert set(final.completed) == completed
    assert set(final.pending) == set(IDS) - completed


def run_and_stop(workdir, config, stop_when):
    """Run the tap, send SIGTERM once `stop_when(messages)` holds; return all it printed."""
    with (workdir / "stderr.log").open("w") as stderr:
        process = start_tap(workdir, config, stderr)
        lines, messages = [], []
        signalled = False
        for line in process.stdout:
            lines.append(line)
            messages.append(json.loads(line))
            if not signalled and stop_when(messages):
                process.send_signal(signal.SIGTERM)
                signalled = True
        process.stdout.close()
        process.wait(timeout=60)
    assert signalled, "the tap finished before it could be stopped"
    return process.returncode, [json.loads(line) for line in lines]


def interviews_written(at_least):
    return lambda messages: (
        sum(1 for m in messages if m["type"] == "RECORD" and m["stream"] == "interviews")
        >= at_least
    )


def test_a_graceful_stop_writes_a_state_covering_every_record_written(start_simulator, tmp_path):
    # SIGTERM is what Meltano and Airflow send on a timeout or a shutdown. The SDK's own
    # handler writes the last checkpoint and exits where it is: the records written since
    # were fetched again. Now the run starts no new request, lets those in flight finish,
    # and its last STATE covers every record it wrote.
    simulator = start_simulator(organisations=_orgs(300), latency_ms=15)
    config = tap_config(simulator, IDS, concurrency=4)
    returncode, printed = run_and_stop(tmp_path, config, interviews_written(60))
    log = (tmp_path / "stderr.log").read_text()
    assert returncode == 0, log
    check_every_state_covers_only_emitted_records(printed)
    emitted = [
        m["record"] for m in printed if m["type"] == "RECORD" and m["stream"] == "interviews"
    ]
    assert 60 <= len(emitted) < len(IDS)  # stopped, not finished
    last = next(m for m in reversed(printed) if m["type"] == "STATE")
    assert printed.index(last) > max(i for i, m in enumerate(printed) if m["type"] == "RECORD")
    _, ids = covered(last["value"])
    assert ids == {r["interview_request_id"] for r in emitted}  # every record, no more
    assert "Stopped by SIGTERM" in log
    # The summary names the signal as what deferred the rest (not max_run_minutes, and
    # not nothing: the run had no deadline).
    deferred = re.search(r"; (\d+) due interviews deferred to the next run by SIGTERM;", log)
    assert deferred, log
    assert int(deferred[1]) == len(IDS) - len(emitted)

    simulator.reset_stats()
    resumed = run_tap(tmp_path, config, state=last["value"])
    assert resumed.returncode == 0, resumed.stderr
    done = {r["interview_request_id"] for r in emitted if r["status"] == "completed"}
    assert done
    assert all(simulator.requests_for(i) == 0 for i in done)
    assert {r["interview_request_id"] for r in emitted} | set(resumed.records_by_id()) == set(IDS)


def _keys(runs, stream, *key):
    return {tuple(row[k] for k in key) for run in runs for row in run.records(stream)}


def test_a_dry_runs_state_covers_no_row_it_cut_off(start_simulator, tmp_path):
    # `--test` (the SDK's dry run) writes at most one record per stream, and a child
    # stream's cut does not stop its parent: the first deal's other drivers and
    # competitors, and the interview's other turns, are never written. A run resumed from
    # the dry run's last STATE must still emit them: that STATE covers no row unwritten.
    simulator = start_simulator(serve_deals=True)
    completed = next(i for i in range(1001, 1031) if simulator.status_of(i) == "completed")
    config = tap_config(simulator, [completed])  # one record: the interviews run ends as usual
    dry = run_tap(tmp_path, config, "--test")
    assert dry.returncode == 0, dry.stderr
    assert len(dry.records("deal_drivers")) == len(dry.records("interview_turns")) == 1
    assert "Dry run (--test): the interviews stream keeps the state this run" in dry.stderr
    rest = run_tap(tmp_path, config, state=dry.states()[-1])
    assert rest.returncode == 0, rest.stderr
    whole = run_tap(tmp_path, config)
    assert whole.returncode == 0, whole.stderr
    for stream, key in (
        ("interview_turns", ("interview_request_id", "turn_index")),
        ("deal_drivers", ("deal_id", "driver_index")),
        ("deal_competitors", ("deal_id", "competitor_id")),
        ("deals", ("id",)),
    ):
        assert _keys([dry, rest], stream, *key) == _keys([whole], stream, *key), stream
