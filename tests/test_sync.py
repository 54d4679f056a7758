"""The interviews stream against the simulator: what is emitted, skipped and reported."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hindsight_simulator.data import NUL_EVERY
from tap_hindsight.store import STATE_KEY, read_interviews
from tests.helpers import expected_record, run_tap, tap_config

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "interviews.json"


def test_every_interview_is_emitted_exactly_as_the_api_serves_it(simulator, tmp_path):
    ids = list(range(1001, 1061))
    run = run_tap(tmp_path, tap_config(simulator, ids))
    assert run.returncode == 0, run.stderr
    records = run.records_by_id()
    assert sorted(records) == ids
    for interview_id in ids:
        assert records[interview_id] == expected_record(simulator, interview_id)
    statuses = {record["status"] for record in records.values()}
    assert statuses == {"created", "sent", "completed"}
    schema_messages = [
        m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "interviews"
    ]
    assert schema_messages[0]["key_properties"] == ["interview_request_id"]
    assert (
        schema_messages[0]["schema"]["properties"].keys()
        == json.loads(SCHEMA_FILE.read_text())["properties"].keys()
    )


def test_nul_characters_are_removed_at_every_depth_and_nothing_else_changes(simulator, tmp_path):
    nul_id = 1000 + NUL_EVERY  # an ID the simulator serves with NULs
    simulator.set_status(nul_id, "completed")
    served = simulator.interview(nul_id)
    assert "\x00" in served["objective"]
    assert "\x00" in served["transcript"]["content"]
    run = run_tap(tmp_path, tap_config(simulator, [nul_id]))
    assert run.returncode == 0, run.stderr
    (record,) = run.records()
    assert "\\u0000" not in run.stdout
    assert record["objective"] == served["objective"].replace("\x00", "")
    assert record["transcript"]["content"] == served["transcript"]["content"].replace("\x00", "")


def test_unicode_and_two_megabyte_transcripts_are_kept_exactly(start_simulator, tmp_path):
    simulator = start_simulator(transcript_chars=2_000_000)
    # Two: each answer is 2 MB and its turns some 25,000 rows, so a third would add a
    # second to the fast tier and nothing the two do not show.
    completed = [i for i in range(1001, 1041) if simulator.status_of(i) == "completed"][:2]
    run = run_tap(tmp_path, tap_config(simulator, completed))
    assert run.returncode == 0, run.stderr
    records = run.records_by_id()
    for interview_id in completed:
        content = records[interview_id]["transcript"]["content"]
        assert len(content) >= 2_000_000
        assert content == simulator.interview(interview_id)["transcript"]["content"]
    everything = "".join(r["transcript"]["content"] for r in records.values())
    for sample in ("👍", "価格", "السعر", "**Paige:**"):
        assert sample in everything


def test_not_found_ids_are_warned_about_and_the_others_go_on(simulator, tmp_path):
    other_org = simulator.organisation("globex").first_id
    missing = 999_999
    ids = [1001, other_org, 1002, missing, 1003]
    run = run_tap(tmp_path, tap_config(simulator, ids))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == [1001, 1002, 1003]
    for interview_id in (other_org, missing):
        assert f"Interview {interview_id} not found" in run.stderr
    assert "2 not found" in run.stderr


def test_a_rejected_api_key_stops_the_run_at_once(simulator, tmp_path):
    config = tap_config(simulator, list(range(1001, 1101)), api_key="not-a-real-key", concurrency=4)
    run = run_tap(tmp_path, config)
    assert run.returncode != 0
    assert "rejected the API key" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.records() == []
    # Requests already in flight may finish; nothing new is sent after the first 401.
    assert simulator.stats()["interview_requests"] <= 4
    assert simulator.stats()["deal_requests"] == 1  # the deals streams stop at their 401
    # Each summary counts the requests its stream sent (both said 0: the 401's answer
    # never reached the tally).
    sent = simulator.stats()["interview_requests"]
    assert re.search(rf"Summary: .*; {sent} requests sent", run.stderr), run.stderr
    assert re.search(r"Deals summary: .*; 1 requests sent", run.stderr), run.stderr


def test_a_key_revoked_mid_run_leaves_a_state_covering_every_record_written(simulator, tmp_path):
    # One request at a time: the 81st answer is a 401, as if the key were revoked then.
    simulator.script_faults(1081, ["revoked"])
    config = tap_config(simulator, list(range(1001, 1121)), concurrency=1)
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert "rejected the API key" in run.stderr
    emitted = set(run.records_by_id())
    assert len(emitted) == 80
    assert 1081 not in emitted
    # The last STATE follows the last record and covers each one: the next run with a
    # good key fetches none of the completed ones again.
    assert run.messages[-1]["type"] == "STATE"
    lifecycle = read_interviews(run.states()[-1]["bookmarks"]["interviews"][STATE_KEY])
    assert emitted <= set(lifecycle.completed) | set(lifecycle.pending)
    again = run_tap(tmp_path, config, state=run.states()[-1])
    assert again.returncode == 0, again.stderr
    assert not set(again.records_by_id()) & set(lifecycle.completed)


def test_an_id_given_twice_is_fetched_once(simulator, tmp_path):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("# from the CRM export\n1002\n\n1003  # duplicate of config\n")
    config = tap_config(simulator, [1001, "1001", " 1002 ", 1003], interview_ids_file=str(ids_file))
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == [1001, 1002, 1003]
    for interview_id in (1001, 1002, 1003):
        assert simulator.requests_for(interview_id) == 1


def test_an_unknown_status_is_emitted_and_warned_about_once(simulator, tmp_path):
    for interview_id in (1004, 1005, 1006):
        simulator.set_status(interview_id, "archived")
    run = run_tap(tmp_path, tap_config(simulator, [1004, 1005, 1006, 1007]))
    assert run.returncode == 0, run.stderr
    records = run.records_by_id()
    assert [records[i]["status"] for i in (1004, 1005, 1006)] == ["archived"] * 3
    assert run.stderr.count("'archived', which Hindsight does not document") == 1


def test_a_record_that_breaks_the_schema_is_not_emitted_and_fails_the_run(simulator, tmp_path):
    bad_date = dict(simulator.interview(1010), created_at="last Tuesday")
    simulator.set_body(1010, bad_date)
    no_status = simulator.interview(1011)
    del no_status["status"]
    simulator.set_body(1011, no_status)
    bad_transcript = dict(simulator.interview(1012), transcript={"content": 42})
    simulator.set_body(1012, bad_transcript)
    run = run_tap(tmp_path, tap_config(simulator, [1009, 1010, 1011, 1012, 1013]))
    assert run.returncode == 1
    assert sorted(run.records_by_id()) == [1009, 1013]
    assert "Interview 1010 not emitted" in run.stderr
    assert "field 'created_at'" in run.stderr
    assert "Interview 1011 not emitted" in run.stderr
    assert "field 'status' is missing" in run.stderr
    assert "field 'transcript.content'" in run.stderr
    assert "field 'transcript.document_id' is missing" in run.stderr
    assert "could not be extracted" in run.stderr
    assert "1010, 1011, 1012" in run.stderr


def test_an_answer_for_another_id_is_not_emitted(simulator, tmp_path):
    simulator.set_body(1020, simulator.interview(1021))
    run = run_tap(tmp_path, tap_config(simulator, [1020, 1022]))
    assert run.returncode == 1
    assert sorted(run.records_by_id()) == [1022]
    assert "Interview 1020 not emitted" in run.stderr


def test_interviews_created_before_start_date_are_not_emitted(simulator, tmp_path):
    ids = list(range(1001, 1031))
    created = {i: simulator.interview(i)["created_at"] for i in ids}
    start_date = sorted(created.values())[15]
    run = run_tap(tmp_path, tap_config(simulator, ids, start_date=start_date))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == sorted(i for i in ids if created[i] >= start_date)
    assert "15 before start_date" in run.stderr
