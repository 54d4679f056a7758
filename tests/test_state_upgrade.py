"""A STATE written by tap-hindsight 0.1.0 (the first release) is read and continued.

`tests/data/state-0.1.0.json` is a real STATE: the last one tap-hindsight 0.1.0 wrote
in this scenario against the simulator's default data (seed 7, acme's IDs 1001-1200):

1. a first run with ID discovery from 1001 (`scan_start_id`), every stream selected,
   `recheck_completed_days: 30`, `max_run_minutes: 0.3`;
2. then the simulator moved 1001-1060 one step along their lifecycle, deleted 1002,
   1003 and 1004, and made 1006 answer 500 ten times; a second run selected every stream
   but `interview_turns`, and wrote this STATE.

So it holds completed IDs with their digests, pending IDs with their poll marks, a failed
ID (1006), two missing ones (1002 and 1004: 404 once), discovery's memory, the completed
IDs `interview_turns` has not emitted, the re-read cycle's instant, the deals' marks and
the SDK's own bookmark keys. The file is kept as 0.1.0 wrote it: a later version must read
it, never rewrite it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tap_hindsight.deal_store import DEALS_KEY, read_deals, write_deals
from tap_hindsight.store import STATE_KEY, read_interviews, write_interviews
from tests.helpers import run_tap, tap_config

RELEASED = json.loads((Path(__file__).parent / "data" / "state-0.1.0.json").read_text())
STORED = RELEASED["bookmarks"]["interviews"][STATE_KEY]


def test_the_released_state_is_written_back_byte_for_byte():
    """Read and written again, nothing of it changes: the same form, the same size."""
    assert write_interviews(read_interviews(STORED)) == STORED
    deals = RELEASED["bookmarks"]["deals"][DEALS_KEY]
    assert write_deals(read_deals(deals)) == deals


def served_as_then(start_simulator):
    """The simulator serving what it served when 0.1.0 wrote the STATE (1006 healed)."""
    simulator = start_simulator(serve_deals=True)
    acme = simulator.organisation("acme").ids
    simulator.advance(acme[:60])
    simulator.delete_interviews("acme", [1002, 1003, 1004])
    return simulator


def test_the_released_state_is_read_whole():
    known = read_interviews(STORED)
    assert len(known.completed) == 114
    assert len(known.digests) == len(known.completed)  # every digest lines up
    assert 1001 in known.pending
    assert known.pending[1001].polled_at is not None
    assert list(known.failed) == [1006]
    assert list(known.missing) == [1002, 1004]
    assert known.scan is not None
    assert known.unsent["interview_turns"]
    assert known.recheck_through
    assert known.run_started


@pytest.mark.slow
def test_nothing_completed_is_fetched_again_and_nothing_is_emitted_twice(start_simulator, tmp_path):
    """Real time: discovery from 1001 in the simulator's default data probes on until
    `max_run_minutes` (the tap process's own clock, which a test cannot move) ends the
    run. No margin decides the outcome: its 100 planned IDs, taking turns with the
    probes, are all answered long before the deadline (about 900 probes follow them)."""
    simulator = served_as_then(start_simulator)
    known = read_interviews(STORED)
    unsent_turns = set(known.unsent["interview_turns"])
    config = tap_config(simulator, [], scan_start_id=1001, max_run_minutes=0.1)
    config.pop("interview_ids")
    run = run_tap(tmp_path, {**config, "recheck_completed_days": 0}, state=RELEASED)
    assert run.returncode == 0, run.stderr

    # Completed: fetched again only for the turns `interview_turns` never emitted.
    for interview_id in known.completed:
        expected = 1 if interview_id in unsent_turns else 0
        assert simulator.requests_for(interview_id) == expected, interview_id
    # Emitted: the failed ID now answering, the two missing ones deleted on their second
    # 404; no pending interview, unchanged since, and no completed one again.
    interviews = {r["interview_request_id"]: r for r in run.records()}
    assert set(interviews) == {1006, 1002, 1004}
    assert interviews[1002]["_sdc_deleted_at"]
    assert interviews[1004]["_sdc_deleted_at"]
    assert all(simulator.requests_for(i) == 1 for i in known.pending)
    turned = {row["interview_request_id"] for row in run.records("interview_turns")}
    assert unsent_turns <= turned
    assert not (turned - unsent_turns - {1006, 1002, 1004})

    after = read_interviews(run.states()[-1]["bookmarks"]["interviews"][STATE_KEY])
    assert set(known.completed) - {1003} <= set(after.completed)
    assert {1002, 1004} <= set(after.deleted)
    # Nothing of it was dropped, and discovery went on from its memory, not from 1001.
    assert "Ignoring" not in run.stderr
    assert known.scan is not None
    assert after.scan is not None
    assert after.scan.next_id >= known.scan.next_id == 2894
    assert after.scan.ours >= known.scan.ours == 200


def test_every_completed_record_re_read_from_the_released_state_is_unchanged(
    start_simulator, tmp_path
):
    """The released digests are read as written: a re-read of each completed interview
    (every one due, the cycle being a few seconds long) emits nothing but the one deleted."""
    simulator = served_as_then(start_simulator)
    known = read_interviews(STORED)
    config = tap_config(simulator, list(known.completed), recheck_completed_days=0.0001)
    run = run_tap(tmp_path, config, state=RELEASED)
    assert run.returncode == 0, run.stderr
    assert all(simulator.requests_for(i) == 1 for i in known.completed)
    emitted = {r["interview_request_id"] for r in run.records()} & set(known.completed)
    assert emitted == set()  # 1003 answers 404 once: missing, not yet deleted
    assert "1 missing (404 once)" in run.stderr
