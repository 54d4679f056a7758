"""The simulator's shared ID space: one ascending counter, organisations interleaved at
their shares, IDs created on a clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hindsight_simulator.ids import SharedIdSpace
from tap_hindsight.records import parse_datetime
from tests.helpers import run_tap, tap_config

START = 1_795_000_000.0  # a fixed instant (2026-11-18)


def test_ids_ascend_from_the_first_and_interleave_at_the_shares():
    space = SharedIdSpace(5_000, {"acme": 0.02, "globex": 0.20})
    ids = space.create(20_000, START, spread_seconds=20_000.0)
    assert ids == list(range(5_000, 25_000))
    assert space.next_id == 25_000
    acme, globex = space.ids_of("acme"), space.ids_of("globex")
    assert not set(acme) & set(globex)
    assert 0.015 < len(acme) / 20_000 < 0.025
    assert 0.18 < len(globex) / 20_000 < 0.22
    others = [i for i in ids if space.owner(i) is None]
    assert len(others) == 20_000 - len(acme) - len(globex)


def test_an_id_exists_only_once_created_and_answers_only_its_owner():
    space = SharedIdSpace(100, {"acme": 0.5})
    first = space.create(10, START, spread_seconds=10.0)
    later = space.create(10, START + 100.0)
    assert space.created_at(first[3]) == START + 3.0
    assert space.created_at(later[0]) == START + 100.0
    assert space.created_at(later[-1] + 1) is None  # not handed out yet
    ours = space.ids_of("acme")[0]
    created = space.created_at(ours)
    assert created is not None
    assert not space.answers("acme", ours, created - 1.0)  # 404: not created yet
    assert space.answers("acme", ours, created)
    assert not space.answers("globex", ours, created + 1.0)  # 404: someone else's
    assert not space.exists_at(later[0], START + 99.0)
    assert space.exists_at(later[0], START + 100.0)


def test_creation_instants_never_go_backwards():
    space = SharedIdSpace(1, {"acme": 1.0})
    space.create(5, START + 50.0)
    space.create(5, START)  # asked for an earlier instant: handed out after the last
    instants = [space.created_at(i) for i in range(1, 11)]
    assert instants == sorted(instants)
    assert space.ids_of("acme") == list(range(1, 11))  # a share of 100%: every ID


def test_the_same_seed_draws_the_same_owners():
    one, two = SharedIdSpace(1, {"acme": 0.1}, seed=3), SharedIdSpace(1, {"acme": 0.1}, seed=3)
    one.create(1_000, START)
    two.create(1_000, START)
    assert one.ids_of("acme") == two.ids_of("acme")


@pytest.mark.parametrize(
    ("first_id", "shares"),
    [(0, {"acme": 0.1}), (1, {"acme": 0.0}), (1, {"acme": 0.6, "globex": 0.6})],
)
def test_an_impossible_space_is_refused_by_name(first_id, shares):
    with pytest.raises(ValueError, match=r"first_id|shares"):
        SharedIdSpace(first_id, shares)


def test_the_simulator_serves_a_shared_id_space_to_the_tap(start_simulator, tmp_path):
    space = SharedIdSpace(70_000, {"acme": 0.2})
    now = [START]
    space.create(200, START - 3_600.0, spread_seconds=3_000.0)  # an hour ago, over 50 min
    later = space.create(50, START + 600.0)  # ten minutes from now
    simulator = start_simulator(shared_ids=space, clock=lambda: now[0])
    ours = space.ids_of("acme")
    created_now = [i for i in ours if i < later[0]]
    created_later = [i for i in ours if i >= later[0]]
    foreign = next(i for i in range(70_000, later[0]) if space.owner(i) is None)
    assert created_now
    assert created_later

    run = run_tap(tmp_path, tap_config(simulator, [*ours, foreign]))
    assert run.returncode == 0, run.stderr
    records = run.records_by_id()
    assert sorted(records) == created_now  # later ones, and another's, answer 404
    for interview_id in created_now:
        created = datetime.fromtimestamp(space.created_at(interview_id), tz=timezone.utc)
        assert parse_datetime(records[interview_id]["created_at"]) == created
    assert f"Interview {foreign} not found" in run.stderr

    now[0] = START + 601.0  # the later ones are created now
    again = run_tap(tmp_path, tap_config(simulator, created_later))
    assert again.returncode == 0, again.stderr
    assert sorted(again.records_by_id()) == created_later


def test_a_burst_of_other_organisations_ids_names_none_of_ours():
    space = SharedIdSpace(1, {"acme": 1.0})
    burst = space.create(50, START, spread_seconds=10.0, others=True)
    ours = space.create(5, START + 20.0)
    assert all(space.owner(i) is None for i in burst)
    assert space.ids_of("acme") == ours
