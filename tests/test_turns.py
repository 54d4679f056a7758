"""The interview_turns stream against the simulator: when turns are emitted, and selection."""

from __future__ import annotations

from tap_hindsight.transcript import parse_turns
from tests.helpers import catalog_selecting, run_tap, tap_config

IDS = list(range(1001, 1031))


def turns_of(run):
    by_interview = {}
    for record in run.records("interview_turns"):
        by_interview.setdefault(record["interview_request_id"], []).append(record)
    return by_interview


def test_completed_interviews_emit_their_turns_with_the_interview(simulator, tmp_path):
    run = run_tap(tmp_path, tap_config(simulator, IDS, interviewer_names=["Paige"]))
    assert run.returncode == 0, run.stderr
    completed = [i for i in IDS if simulator.status_of(i) == "completed"]
    turns = turns_of(run)
    assert sorted(turns) == completed
    for interview_id in completed:
        transcript = simulator.interview(interview_id)["transcript"]
        expected = parse_turns(transcript["content"].replace("\x00", ""))
        rows = turns[interview_id]
        assert [(r["turn_index"], r["speaker"], r["text"]) for r in rows] == [
            (t.index, t.speaker, t.text) for t in expected
        ]
        assert all(r["document_id"] == transcript["document_id"] for r in rows)
        assert all(r["transcript_created_at"] == transcript["created_at"] for r in rows)
        assert all(r["is_interviewer"] == (r["speaker"] == "Paige") for r in rows)
        assert all(r["word_count"] > 0 for r in rows)
    schema = next(
        m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "interview_turns"
    )
    assert schema["key_properties"] == ["interview_request_id", "turn_index"]


def test_turns_follow_the_incremental_state(simulator, tmp_path):
    first = run_tap(tmp_path, tap_config(simulator, IDS))
    pending = [i for i in IDS if simulator.status_of(i) != "completed"]
    sent = [i for i in pending if simulator.status_of(i) == "sent"][:3]
    simulator.advance(sent)  # sent -> completed: a transcript appears
    second = run_tap(tmp_path, tap_config(simulator, IDS), state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    # Only the interviews that completed since: no turn is emitted twice across runs.
    assert sorted(turns_of(second)) == sorted(sent)
    third = run_tap(tmp_path, tap_config(simulator, IDS), state=second.states()[-1])
    assert third.records("interview_turns") == []


def test_interviewer_names_is_a_setting(simulator, tmp_path):
    completed = [i for i in IDS if simulator.status_of(i) == "completed"][:2]
    run = run_tap(tmp_path, tap_config(simulator, completed, interviewer_names=["Nobody"]))
    rows = run.records("interview_turns")
    assert rows
    assert all(row["is_interviewer"] is False for row in rows)


def test_only_turns_selected(simulator, tmp_path):
    catalog = catalog_selecting(tmp_path, "interview_turns")
    run = run_tap(tmp_path, tap_config(simulator, IDS), catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records("interviews") == []
    assert run.records("interview_turns")
    assert not any(m["type"] == "SCHEMA" and m["stream"] == "interviews" for m in run.messages)


def test_only_interviews_selected(simulator, tmp_path):
    catalog = catalog_selecting(tmp_path, "interviews")
    run = run_tap(tmp_path, tap_config(simulator, IDS), catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert len(run.records("interviews")) == len(IDS)
    assert run.records("interview_turns") == []
