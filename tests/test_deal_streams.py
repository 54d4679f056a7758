"""The deals streams against the simulator: paging, incremental emission, faults, access."""

from __future__ import annotations

from hindsight_simulator import Organisation
from tap_hindsight.deals import competitor_rows, driver_rows
from tap_hindsight.records import storable
from tests.helpers import ACME_KEY, catalog_selecting, run_tap, tap_config

#: The simulators of these tests serve deals (tests/conftest.py).
SERVE_DEALS = True

DEAL_STREAMS = ("deals", "deal_drivers", "deal_competitors")


def acme(count=300, *, deals_access=True):
    return (Organisation("acme", ACME_KEY, 1001, count, deals_access=deals_access),)


def deals_only(simulator, **settings):
    return tap_config(simulator, [], **settings)


def by_key(rows, *key):
    keyed = {}
    for row in rows:
        value = tuple(row[k] for k in key)
        assert value not in keyed, f"{value} emitted twice"
        keyed[value] = row
    return keyed


def expected_deals(simulator):
    return {deal["id"]: storable(deal) for deal in simulator.deals("acme")}


def summary(run):
    return next(line for line in run.stderr.splitlines() if "Deals summary:" in line)


def test_every_deal_and_its_rows_come_once_from_pages_of_100(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme())
    truth = expected_deals(simulator)
    assert len(truth) > 200  # three pages at least
    summaries = [d["summary"] or "" for deal in simulator.deals("acme") for d in deal["drivers"]]
    assert any("\x00" in summary for summary in summaries)  # stored without it
    run = run_tap(tmp_path, deals_only(simulator))
    assert run.returncode == 0, run.stderr
    deals = by_key(run.records("deals"), "id")
    assert {key[0]: row for key, row in deals.items()} == truth
    drivers = by_key(run.records("deal_drivers"), "deal_id", "driver_index")
    competitors = by_key(run.records("deal_competitors"), "deal_id", "competitor_id")
    assert drivers == by_key(
        [row for deal in truth.values() for row in driver_rows(deal)], "deal_id", "driver_index"
    )
    assert sorted(competitors) == sorted(
        (deal_id, row["competitor_id"])
        for deal_id, deal in truth.items()
        for row in competitor_rows(deal)
    )
    assert not any(row["removed"] for row in [*drivers.values(), *competitors.values()])
    # One request per page of 100, the last one short; nothing else.
    pages = len(truth) // 100 + 1
    assert simulator.stats()["requests"] == pages
    assert f"{pages} pages read (the whole list), {len(truth)} deals listed" in summary(run)


def test_only_new_and_changed_deals_are_emitted_and_lost_rows_are_taken_back(
    start_simulator, tmp_path
):
    simulator = start_simulator(organisations=acme(120))
    config = deals_only(simulator)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    state = first.states()[-1]
    again = run_tap(tmp_path, config, state=state)
    assert [again.records(stream) for stream in DEAL_STREAMS] == [[], [], []]
    assert "0 emitted (new or changed)" in summary(again)

    deals = simulator.deals("acme")
    moved = next(deal for deal in deals if len(deal["drivers"]) >= 2)
    shrunk = next(
        deal
        for deal in deals
        if len(deal["drivers"]) >= 3
        and len(deal["deal_competitor_associations"]) >= 2
        and deal["id"] != moved["id"]
    )
    new_status = "Won" if moved["status_id"] == "Closed Lost" else "Closed Lost"
    simulator.change_deal(moved["id"], status_id=new_status)
    kept = shrunk["deal_competitor_associations"][0]
    simulator.change_deal(
        shrunk["id"], drivers=shrunk["drivers"][:1], deal_competitor_associations=[kept]
    )
    changed = run_tap(tmp_path, config, state=again.states()[-1])
    assert changed.returncode == 0, changed.stderr
    truth = expected_deals(simulator)
    emitted = {deal["id"]: deal for deal in changed.records("deals")}
    assert emitted == {key: truth[key] for key in (moved["id"], shrunk["id"])}
    drivers = by_key(changed.records("deal_drivers"), "deal_id", "driver_index")
    assert {k: r["removed"] for k, r in drivers.items() if k[0] == shrunk["id"]} == {
        (shrunk["id"], index): index > 0 for index in range(len(shrunk["drivers"]))
    }
    assert all(r["positive"] is None for k, r in drivers.items() if r["removed"])
    assert {k for k in drivers if k[0] == moved["id"]} == {
        (moved["id"], index) for index in range(len(moved["drivers"]))
    }
    competitors = by_key(changed.records("deal_competitors"), "deal_id", "competitor_id")
    gone = {a["competitor_id"] for a in shrunk["deal_competitor_associations"][1:]}
    assert {k[1]: r["removed"] for k, r in competitors.items() if k[0] == shrunk["id"]} == {
        kept["competitor_id"]: False,
        **dict.fromkeys(gone, True),
    }
    removed = len(gone) + len(shrunk["drivers"]) - 1
    assert f"{removed} driver and competitor rows marked removed" in summary(changed)

    settled = run_tap(tmp_path, config, state=changed.states()[-1])
    assert [settled.records(stream) for stream in DEAL_STREAMS] == [[], [], []]
    # A full refresh (no state) emits every deal again.
    full = run_tap(tmp_path, config)
    assert len(full.records("deals")) == len(truth)


def test_a_deal_stream_selected_later_gets_every_deal(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme(60))
    config = deals_only(simulator)
    first = run_tap(tmp_path, config, catalog=catalog_selecting(tmp_path, "deals"))
    assert first.returncode == 0, first.stderr
    count = len(first.records("deals"))
    assert count > 0
    assert first.records("deal_drivers") == []
    both = catalog_selecting(tmp_path, "deals", "deal_drivers")
    second = run_tap(tmp_path, config, catalog=both, state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    assert "deal_drivers was not selected in the last run" in second.stderr
    truth = expected_deals(simulator)
    assert len(second.records("deal_drivers")) == sum(len(driver_rows(d)) for d in truth.values())
    third = run_tap(tmp_path, config, catalog=both, state=second.states()[-1])
    assert third.records("deals") == third.records("deal_drivers") == []


def test_deals_come_through_faults_429s_and_an_envelope(start_simulator, tmp_path):
    # The 429s ask to wait for the end of the server's window: 2 s here.
    simulator = start_simulator(organisations=acme(250), deals_envelope="data", window_seconds=2)
    simulator.script_deal_faults(
        # Deals pages go through the same client as interviews, which test_transport.py
        # shows retrying every kind of fault: here a 429, a JSON error, a broken body and
        # a disconnect, at most two on a page (a third would wait out a backoff of up to
        # 4 s, which proves nothing more).
        ["429", "500", "ok", "truncated", "disconnect", "ok", "429"]
    )
    run = run_tap(tmp_path, deals_only(simulator, max_retries=5))
    assert run.returncode == 0, run.stderr
    truth = expected_deals(simulator)
    assert {d["id"]: d for d in run.records("deals")} == truth
    assert len(run.records("deals")) == len(truth)
    assert "2 rate-limited (429)" in summary(run)
    assert "Rate limit reached (HTTP 429) on deals page 0" in run.stderr
    assert "Deals page 0: HTTP 500" in run.stderr


def test_a_page_that_keeps_failing_fails_the_run_and_the_next_run_emits_the_rest(
    start_simulator, tmp_path
):
    simulator = start_simulator(organisations=acme(200))
    truth = expected_deals(simulator)
    assert len(truth) > 100
    simulator.script_deal_faults(["ok", "500", "500"])
    config = deals_only(simulator, max_retries=1)
    first = run_tap(tmp_path, config)
    assert first.returncode == 1
    assert "deals page 1 (page_size 100) failed: HTTP 500" in first.stderr
    assert "(gave up after 2 attempts)" in first.stderr
    assert "1 problem with deals; the run fails so they are not missed silently" in first.stderr
    emitted = [d["id"] for d in first.records("deals")]
    assert len(emitted) == 100
    second = run_tap(tmp_path, config, state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    rest = [d["id"] for d in second.records("deals")]
    assert sorted(emitted + rest) == sorted(truth)


def test_a_deal_that_breaks_the_schema_is_named_and_the_others_are_emitted(
    start_simulator, tmp_path
):
    simulator = start_simulator(organisations=acme(40))
    deals = simulator.deals("acme")
    bad, numbered = deals[0]["id"], deals[1]["id"]
    simulator.change_deal(bad, amount="a lot")
    simulator.change_deal(numbered, id=4242)  # an integer ID is emitted as a string
    config = deals_only(simulator)
    first = run_tap(tmp_path, config)
    assert first.returncode == 1
    assert f"deal {bad}: field 'amount': 'a lot' is not of type 'number', 'null'" in first.stderr
    emitted = {d["id"] for d in first.records("deals")}
    assert bad not in emitted
    assert "4242" in emitted
    assert len(emitted) == len(deals) - 1
    simulator.change_deal(bad, amount=1200.5)
    second = run_tap(tmp_path, config, state=first.states()[-1])
    assert second.returncode == 0, second.stderr
    assert [(d["id"], d["amount"]) for d in second.records("deals")] == [(bad, 1200.5)]


def test_a_key_without_access_to_deals_stops_only_the_deals_streams(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme(30, deals_access=False))
    ids = list(range(1001, 1031))
    config = tap_config(simulator, ids)
    first = run_tap(tmp_path, config)
    assert first.returncode == 1
    assert "refused GET /deals (HTTP 403, forbidden)" in first.stderr
    assert "meltano select tap-hindsight --exclude deals" in first.stderr
    assert '"selected": false' in first.stderr
    assert [first.records(stream) for stream in DEAL_STREAMS] == [[], [], []]
    assert sorted(first.records_by_id()) == ids
    assert simulator.stats()["by_status"].get("403") == 1  # refused once, not retried
    state = first.states()[-1]
    assert "interview_lifecycle" in state["bookmarks"]["interviews"]

    # Deselected, the run succeeds and polls only what is still pending.
    simulator.reset_stats()
    interviews_only = catalog_selecting(tmp_path, "interviews", "interview_turns")
    second = run_tap(tmp_path, config, catalog=interviews_only, state=state)
    assert second.returncode == 0, second.stderr
    pending = [i for i in ids if simulator.status_of(i) != "completed"]
    assert simulator.stats()["requests"] == len(pending)
    assert "GET /deals" not in second.stderr


def test_deals_and_interviews_spend_one_budget(short_window, start_simulator, tmp_path):
    # 2 deal pages and 3 interviews: 5 requests for a budget of 4 a window (the API's
    # minute, shortened for the tap and the simulator at once). With one budget the 5th
    # waits for the window to move on; with a budget each, all 5 would go out at once.
    limit = 4
    simulator = start_simulator(organisations=acme(100), rate_limit=limit)
    assert simulator.config.window_seconds == short_window
    deals = expected_deals(simulator)
    pages = len(deals) // 100 + 1
    ids = list(range(1001, 1001 + limit + 1 - pages))
    run = run_tap(tmp_path, tap_config(simulator, ids, requests_per_minute=limit), timeout=300)
    assert run.returncode == 0, run.stderr
    stats = simulator.stats()
    assert stats["requests"] == limit + 1
    assert stats["rate_limited"] == 0
    assert stats["max_in_any_window"] <= limit
    assert len(run.records("deals")) == len(deals)
    assert sorted(run.records_by_id()) == ids
    arrivals = sorted(stats["arrivals"])
    assert arrivals[limit] - arrivals[0] >= short_window  # the 5th waited for the window
    # The run spent the window alone: no pause is blamed on other clients of the key.
    assert "other clients of the key are spending" not in run.stderr
    assert "0 pauses for a budget shared with other clients" in run.stderr


def test_a_deal_absent_from_two_complete_lists_in_a_row_is_deleted(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme(120))
    config = deals_only(simulator)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    gone = next(d for d in simulator.deals("acme") if d["drivers"] and competitor_rows(d))
    simulator.delete_deals([gone["id"]])

    once = run_tap(tmp_path, config, state=first.states()[-1])
    assert once.returncode == 0, once.stderr
    assert [once.records(stream) for stream in DEAL_STREAMS] == [[], [], []]
    assert "1 missing from the list (once), 0 deleted" in summary(once)

    twice = run_tap(tmp_path, config, state=once.states()[-1])
    assert twice.returncode == 0, twice.stderr
    (row,) = twice.records("deals")
    assert set(row) == {"id", "_sdc_deleted_at"}  # the rest of the row is kept
    assert row["id"] == gone["id"]
    drivers = twice.records("deal_drivers")
    competitors = twice.records("deal_competitors")
    assert sorted(r["driver_index"] for r in drivers) == list(range(len(gone["drivers"])))
    assert {r["competitor_id"] for r in competitors} == {
        r["competitor_id"] for r in competitor_rows(storable(gone))
    }
    assert all(r["removed"] and r["deal_id"] == gone["id"] for r in drivers + competitors)
    assert "0 missing from the list (once), 1 deleted" in summary(twice)

    after = run_tap(tmp_path, config, state=twice.states()[-1])
    assert [after.records(stream) for stream in DEAL_STREAMS] == [[], [], []]


def test_another_organisations_deals_list_deletes_no_deal(start_simulator, tmp_path):
    simulator = start_simulator(organisations=acme(120))
    config = deals_only(simulator)
    first = run_tap(tmp_path, config)
    wrong = {**config, "api_key": "hs_sim_globex_key"}
    simulator.config.organisations = (
        *simulator.config.organisations,
        Organisation("globex", "hs_sim_globex_key", 500_001, 20),
    )
    state = first.states()[-1]
    for _ in range(2):
        run = run_tap(tmp_path, wrong, state=state)
        assert run.returncode == 1, run.stderr
        assert "may belong to another organisation" in run.stderr
        assert not [r for r in run.records("deals") if r.get("_sdc_deleted_at")]
        state = run.states()[-1]
    # The right key: none of ours is deleted; the other organisation's deals that the
    # wrong key's runs emitted are, after two complete lists without them.
    ours = {d["id"] for d in simulator.deals("acme")}
    theirs = {d["id"] for d in simulator.deals("globex")}
    deleted = set()
    for _ in range(2):
        right = run_tap(tmp_path, config, state=state)
        assert right.returncode == 0, right.stderr
        deleted |= {r["id"] for r in right.records("deals") if r.get("_sdc_deleted_at")}
        state = right.states()[-1]
    assert deleted == theirs
    assert not deleted & ours
