"""Interviews deleted from Hindsight (issue 24): a 404 twice in a row, the wrong-key guard,
and erasure, against the simulator through the real tap."""

from __future__ import annotations

from hindsight_simulator import default_organisations
from tap_hindsight.store import STATE_KEY, read_interviews
from tests.helpers import catalog_selecting, run_tap, tap_config

IDS = list(range(1001, 1061))


def lifecycle_of(run):
    return read_interviews(run.states()[-1]["bookmarks"]["interviews"][STATE_KEY])


def deletions(run, stream="interviews"):
    return [r for r in run.records(stream) if r.get("_sdc_deleted_at")]


def first_run(start_simulator, tmp_path, **settings):
    simulator = start_simulator(organisations=default_organisations(60))
    config = tap_config(simulator, IDS, **settings)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    pending = sorted(i for i in IDS if simulator.status_of(i) != "completed")
    assert len(pending) >= 6
    return simulator, config, first, pending


def test_a_pending_interview_is_deleted_after_two_404s_in_a_row_not_after_one(
    start_simulator, tmp_path
):
    simulator, config, first, pending = first_run(start_simulator, tmp_path)
    gone = pending[:3]
    simulator.delete_interviews("acme", gone)

    second = run_tap(tmp_path, config, state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    assert deletions(second) == []  # one 404 can be a glitch
    lifecycle = lifecycle_of(second)
    assert set(lifecycle.missing) == set(gone)
    assert set(gone) <= set(lifecycle.pending)  # still pending: asked again next run
    assert "not found (HTTP 404)" not in second.stderr  # not a configured ID that never was

    simulator.reset_stats()
    third = run_tap(tmp_path, config, state=second.states()[-1])
    assert third.returncode == 0, third.stderr
    assert all(simulator.requests_for(i) == 1 for i in gone)  # asked again, not due or not
    rows = deletions(third)
    assert sorted(r["interview_request_id"] for r in rows) == gone
    for row in rows:  # the key, when, and the transcript erased: nothing else is sent
        assert set(row) == {"interview_request_id", "_sdc_deleted_at", "transcript"}
        assert row["transcript"] == {"document_id": None, "content": None, "created_at": None}
        assert row["_sdc_deleted_at"].endswith("Z")
    # ...under a SCHEMA of those columns only (a target upserts every column of the
    # schema: the row's other columns keep their values), then the stream's own again.
    schemas = [m for m in third.messages if m["type"] == "SCHEMA" and m["stream"] == "interviews"]
    assert [sorted(m["schema"]["properties"]) for m in schemas[-2:-1]] == [
        ["_sdc_deleted_at", "interview_request_id", "transcript"]
    ]
    assert "objective" in schemas[-1]["schema"]["properties"]
    lifecycle = lifecycle_of(third)
    assert set(lifecycle.deleted) == set(gone)
    assert not set(gone) & (set(lifecycle.pending) | set(lifecycle.missing))

    simulator.reset_stats()
    fourth = run_tap(tmp_path, config, state=third.states()[-1])
    assert fourth.returncode == 0, fourth.stderr
    assert all(simulator.requests_for(i) == 0 for i in gone)  # never requested again
    assert deletions(fourth) == []


def test_an_interview_that_answers_again_is_no_longer_missing(start_simulator, tmp_path):
    simulator, config, first, pending = first_run(start_simulator, tmp_path)
    simulator.delete_interviews("acme", pending[:1])
    second = run_tap(tmp_path, config, state=first.states()[-1])
    assert set(lifecycle_of(second).missing) == {pending[0]}
    simulator.config.organisations = default_organisations(60)  # a glitch: it is back
    third = run_tap(tmp_path, config, state=second.states()[-1])
    assert third.returncode == 0, third.stderr
    assert deletions(third) == []
    lifecycle = lifecycle_of(third)
    assert pending[0] in lifecycle.pending or pending[0] in lifecycle.completed
    assert not len(lifecycle.missing)
    assert not len(lifecycle.deleted)


def test_erase_deleted_false_sends_only_the_deletion(start_simulator, tmp_path):
    simulator, config, first, pending = first_run(start_simulator, tmp_path, erase_deleted=False)
    simulator.delete_interviews("acme", pending[:2])
    state = first.states()[-1]
    for _ in range(2):
        run = run_tap(tmp_path, config, state=state)
        assert run.returncode == 0, run.stderr
        state = run.states()[-1]
    rows = deletions(run)
    assert sorted(r["interview_request_id"] for r in rows) == pending[:2]
    for row in rows:  # the warehouse keeps the last text
        assert set(row) == {"interview_request_id", "_sdc_deleted_at"}


def test_a_wrong_key_deletes_nothing_and_fails_the_run(start_simulator, tmp_path):
    _, config, first, pending = first_run(start_simulator, tmp_path)
    wrong = {**config, "api_key": "hs_sim_globex_key"}  # another organisation's key
    state = first.states()[-1]
    for _ in range(2):  # two runs: two 404s in a row for every pending interview
        run = run_tap(tmp_path, wrong, state=state)
        assert run.returncode == 1, run.stderr
        assert f"{len(pending)} of the {len(pending)} interviews" in run.stderr
        assert "may belong to another organisation" in run.stderr
        assert deletions(run) == []
        lifecycle = lifecycle_of(run)
        assert not len(lifecycle.missing)
        assert not len(lifecycle.deleted)
        state = run.states()[-1]
    right = run_tap(tmp_path, config, state=state)  # the right key: as they were
    assert right.returncode == 0, right.stderr
    assert deletions(right) == []
    assert set(lifecycle_of(right).pending) | set(lifecycle_of(right).completed) == set(IDS)


def test_a_small_run_in_which_no_known_interview_answered_marks_none(start_simulator, tmp_path):
    simulator = start_simulator(organisations=default_organisations(60))
    few = [i for i in IDS if simulator.status_of(i) != "completed"][:3]
    config = tap_config(simulator, few)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    wrong = {**config, "api_key": "hs_sim_globex_key"}
    interviews = catalog_selecting(tmp_path, "interviews", "interview_turns")  # not deals
    run = run_tap(tmp_path, wrong, state=first.states()[-1], catalog=interviews)
    assert run.returncode == 0, run.stderr  # 3 are too few to call the key wrong...
    assert "none is marked missing or deleted" in run.stderr  # ...but none is marked
    assert not len(lifecycle_of(run).missing)
