"""Completed interviews re-read on a cycle (issue 24): edits, replaced transcripts and
deletions after completion reach the output, against the simulator through the real tap."""

from __future__ import annotations

import copy
import time

from hindsight_simulator import default_organisations
from tap_hindsight.encoding import iso_instant
from tap_hindsight.store import STATE_KEY, read_interviews
from tap_hindsight.transcript import parse_turns
from tests.helpers import catalog_selecting, run_tap, tap_config

IDS = list(range(1001, 1041))
REPLACEMENT = "**Paige:** What decided it?\n\n**Buyer:** [redacted at the buyer's request]"


def lifecycle_of(state):
    return read_interviews(state["bookmarks"]["interviews"][STATE_KEY])


def a_cycle_later(state, days=31):
    """The state as it would be `days` later: every completed interview due a re-read."""
    later = copy.deepcopy(state)
    lifecycle = later["bookmarks"]["interviews"][STATE_KEY]
    lifecycle["recheck_through"] = iso_instant(time.time() - days * 86_400)
    return later


def completed_after_first_run(start_simulator, tmp_path, **settings):
    simulator = start_simulator(organisations=default_organisations(len(IDS)))
    config = tap_config(simulator, IDS, **settings)
    catalog = catalog_selecting(tmp_path, "interviews", "interview_turns")
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr
    completed = sorted(i for i in IDS if simulator.status_of(i) == "completed")
    assert len(completed) >= 8
    state = first.states()[-1]
    assert set(lifecycle_of(state).digests) == set(completed)
    return simulator, config, catalog, completed, state


def test_edits_and_a_replaced_transcript_are_seen_within_one_cycle(start_simulator, tmp_path):
    simulator, config, catalog, completed, state = completed_after_first_run(
        start_simulator, tmp_path
    )
    edited, replaced = completed[:3], completed[3]
    for interview_id in edited:
        simulator.edit_interview(interview_id, objective=f"Edited objective {interview_id}")
    turns_before = len(parse_turns(simulator.interview(replaced)["transcript"]["content"]))
    assert turns_before > 2
    simulator.replace_transcript(replaced, REPLACEMENT)

    # A run right after the first re-reads none: their time in the cycle has not come.
    simulator.reset_stats()
    right_after = run_tap(tmp_path, config, state=state, catalog=catalog)
    assert right_after.returncode == 0, right_after.stderr
    assert [i for i in completed if simulator.requests_for(i)] == []
    assert "0 completed due a re-read" in right_after.stderr

    # A cycle later, every completed interview is re-read once, and what changed goes out.
    simulator.reset_stats()
    later = run_tap(
        tmp_path, config, state=a_cycle_later(right_after.states()[-1]), catalog=catalog
    )
    assert later.returncode == 0, later.stderr
    assert [simulator.requests_for(i) for i in completed] == [1] * len(completed)
    out = {r["interview_request_id"]: r for r in later.records() if r["status"] == "completed"}
    assert sorted(out) == sorted([*edited, replaced])
    assert all(out[i]["objective"] == f"Edited objective {i}" for i in edited)
    assert out[replaced]["transcript"]["content"] == REPLACEMENT
    # Turns go out only for the replaced transcript: its two, then the vanished as deleted.
    turns = later.records("interview_turns")
    assert {t["interview_request_id"] for t in turns} == {replaced}
    kept = [t for t in turns if not t.get("_sdc_deleted_at")]
    gone = [t for t in turns if t.get("_sdc_deleted_at")]
    assert [t["turn_index"] for t in kept] == [0, 1]
    assert kept[1]["text"] == "[redacted at the buyer's request]"
    assert sorted(t["turn_index"] for t in gone) == list(range(2, turns_before))
    assert all(t["text"] is None and t["speaker"] is None for t in gone)  # erased
    assert f"{len(completed):,} completed re-read (4 changed, {turns_before - 2} vanished" in (
        later.stderr
    )
    lifecycle = lifecycle_of(later.states()[-1])
    assert lifecycle.digests[replaced].turns == 2

    # The next cycle finds nothing changed: nothing is emitted again.
    again = run_tap(tmp_path, config, state=a_cycle_later(later.states()[-1]), catalog=catalog)
    assert again.returncode == 0, again.stderr
    assert [r for r in again.records() if r["status"] == "completed"] == []
    assert again.records("interview_turns") == []


def test_a_completed_interview_deleted_is_marked_with_its_turns_after_two_runs(
    start_simulator, tmp_path
):
    simulator, config, catalog, completed, state = completed_after_first_run(
        start_simulator, tmp_path
    )
    gone = completed[0]
    turns = len(parse_turns(simulator.interview(gone)["transcript"]["content"]))
    simulator.delete_interviews("acme", [gone])

    second = run_tap(tmp_path, config, state=a_cycle_later(state), catalog=catalog)
    assert second.returncode == 0, second.stderr
    assert [r for r in second.records() if r.get("_sdc_deleted_at")] == []  # once: a glitch?
    assert gone in lifecycle_of(second.states()[-1]).missing

    third = run_tap(tmp_path, config, state=second.states()[-1], catalog=catalog)
    assert third.returncode == 0, third.stderr
    rows = [r for r in third.records() if r.get("_sdc_deleted_at")]
    assert [r["interview_request_id"] for r in rows] == [gone]
    assert rows[0]["transcript"]["content"] is None
    tombstones = [t for t in third.records("interview_turns") if t.get("_sdc_deleted_at")]
    assert sorted(t["turn_index"] for t in tombstones) == list(range(turns))
    assert all(t["interview_request_id"] == gone and t["text"] is None for t in tombstones)
    lifecycle = lifecycle_of(third.states()[-1])
    assert gone in lifecycle.deleted
    assert gone not in lifecycle.completed
    assert gone not in lifecycle.digests


def test_with_erase_deleted_off_a_vanished_turn_keeps_its_text(start_simulator, tmp_path):
    simulator, config, catalog, completed, state = completed_after_first_run(
        start_simulator, tmp_path, erase_deleted=False
    )
    replaced = completed[0]
    simulator.replace_transcript(replaced, REPLACEMENT)
    later = run_tap(tmp_path, config, state=a_cycle_later(state), catalog=catalog)
    assert later.returncode == 0, later.stderr
    gone = [t for t in later.records("interview_turns") if t.get("_sdc_deleted_at")]
    assert gone
    assert all(set(t) == {"interview_request_id", "turn_index", "_sdc_deleted_at"} for t in gone)


def test_with_the_cycle_off_no_completed_interview_is_read_again(start_simulator, tmp_path):
    simulator, config, catalog, completed, state = completed_after_first_run(
        start_simulator, tmp_path, recheck_completed_days=0
    )
    assert "recheck_through" not in state["bookmarks"]["interviews"][STATE_KEY]
    simulator.reset_stats()
    later = run_tap(tmp_path, config, state=a_cycle_later(state), catalog=catalog)
    assert later.returncode == 0, later.stderr
    assert [i for i in completed if simulator.requests_for(i)] == []
