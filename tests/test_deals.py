"""The pure parts of the deals streams: pages, child rows, and the marks kept in state."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft7Validator, FormatChecker

from hindsight_simulator.data import make_deal
from tap_hindsight.absence import two_strikes
from tap_hindsight.deal_store import read_deals, write_deals
from tap_hindsight.deals import DealMarks, competitor_rows, driver_rows, page_items
from tap_hindsight.records import storable
from tap_hindsight.schemas import load_schema


def a_deal(number=1):
    return make_deal(7, f"deal_{number:010x}", "Competitor X")


def test_a_page_is_a_bare_array_or_an_object_holding_one():
    deals = [a_deal(1), a_deal(2)]
    assert page_items(deals) == deals
    assert page_items({"deals": deals}) == deals
    assert page_items({"data": deals, "meta": {"page": 0}}) == deals
    assert page_items({"whatever": deals, "page": 0}) == deals  # the one array there is
    assert page_items([]) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"error": "x"}, "found an object with keys error"),
        ({"a": [], "b": []}, "found an object with keys a, b"),
        ("deals", "found str"),
        ([{"id": "d"}, 3], "item 1 of the page is int"),
    ],
)
def test_a_page_that_is_neither_says_what_came(body, reason):
    with pytest.raises(ValueError, match=reason):
        page_items(body)


def test_every_deal_and_its_rows_match_their_schemas():
    validators = {
        name: Draft7Validator(load_schema(name), format_checker=FormatChecker())
        for name in ("deals", "deal_drivers", "deal_competitors")
    }
    for number in range(1, 300):
        deal = storable(a_deal(number))
        assert list(validators["deals"].iter_errors(deal)) == []
        for row in driver_rows(deal):
            assert list(validators["deal_drivers"].iter_errors(row)) == []
        for row in competitor_rows(deal):
            assert list(validators["deal_competitors"].iter_errors(row)) == []
    assert set(load_schema("deals")["properties"]) == set(a_deal())


def test_child_rows_carry_the_deal_and_a_stable_key():
    deal = a_deal(3)
    deal["drivers"] = [
        {"reason_id": "rsn_pricing", "positive": False, "summary": "Too dear"},
        {"reason_id": "rsn_support", "positive": True, "summary": None},
    ]
    deal["deal_competitor_associations"] = [
        {"competitor_id": "cmp_x", "is_primary": True, "is_incumbent": False},
        {"competitor_id": "cmp_x", "is_primary": False, "is_incumbent": True},  # repeated
        {"competitor_id": "cmp_y", "is_primary": False, "is_incumbent": None},
    ]
    assert driver_rows(deal) == [
        {
            "deal_id": deal["id"],
            "driver_index": 0,
            "reason_id": "rsn_pricing",
            "positive": False,
            "summary": "Too dear",
            "removed": False,
        },
        {
            "deal_id": deal["id"],
            "driver_index": 1,
            "reason_id": "rsn_support",
            "positive": True,
            "summary": None,
            "removed": False,
        },
    ]
    rows = competitor_rows(deal)
    assert [(r["competitor_id"], r["is_primary"]) for r in rows] == [
        ("cmp_x", True),
        ("cmp_y", False),
    ]
    assert driver_rows({**deal, "drivers": None}) == []


def test_marks_tell_new_and_changed_deals_from_unchanged_ones_and_round_trip():
    marks = DealMarks()
    first, second = a_deal(1), a_deal(2)
    odd = {**a_deal(3), "id": "deal:with,odd chars"}
    bare = {"id": "deal_bare"}  # no drivers, no competitors
    assert marks.changed(first)
    for deal in (first, second, odd, bare):
        marks.mark_emitted(deal)
    stored = DealMarks(read_deals(json.loads(json.dumps(write_deals(marks.stored())))))
    assert not stored.changed(first)
    assert not stored.changed(odd)
    assert not stored.changed(bare)
    moved = copy.deepcopy(second)
    moved["status_id"] = "Closed Lost"
    assert stored.changed(moved)
    absent = stored.absent([first["id"], odd["id"]])
    assert absent == sorted(["deal_bare", second["id"]])
    lacking = two_strikes(absent, stored.missing)
    assert stored.settle_absent(lacking) == []  # lacking once: missing, not deleted
    stored = DealMarks(read_deals(json.loads(json.dumps(write_deals(stored.stored())))))
    assert stored.missing == set(absent)
    # The next complete list has the bare deal again and lacks the second a second time.
    absent = stored.absent([first["id"], odd["id"], "deal_bare"])
    deleted = stored.settle_absent(two_strikes(absent, stored.missing))
    assert [deal_id for deal_id, _, _ in deleted] == [second["id"]]
    _, drivers, competitors = deleted[0]
    assert len(drivers) == len(second["drivers"])
    assert all(row["removed"] and row["deal_id"] == second["id"] for row in drivers + competitors)
    assert not stored.missing
    assert len(stored) == 3
    assert stored.changed(second)  # forgotten: new again
    assert len(write_deals(marks.stored())["marks"]) / 4 < 40  # a short entry per deal


@pytest.mark.parametrize(
    "stored",
    [
        {"marks": "deal 1:ab"},
        {"marks": "deal_1:ab:1:9", "competitors": ["cmp_x"]},  # no 10th competitor
        {"marks": "deal_1:ab:zz!"},
        {"marks": "deal_1:ab:1:0:extra", "competitors": ["cmp_x"]},
        {"marks": 3},
        [],
    ],
)
def test_unreadable_marks_are_refused(stored):
    with pytest.raises(
        ValueError, match=r"deal ID:fingerprint|should be a string|not a list|not an object"
    ):
        DealMarks(read_deals(stored))


def test_a_changed_deal_takes_back_the_child_rows_it_no_longer_has():
    deal = a_deal(4)
    deal["drivers"] = [{"reason_id": f"rsn_{n}", "positive": True, "summary": "s"} for n in "abc"]
    deal["deal_competitor_associations"] = [
        {"competitor_id": "cmp_x", "is_primary": True, "is_incumbent": False},
        {"competitor_id": "cmp_y", "is_primary": False, "is_incumbent": False},
    ]
    marks = DealMarks()
    assert marks.removed_rows(deal) == ([], [])  # never emitted: nothing to take back
    marks.mark_emitted(deal)
    marks = DealMarks(read_deals(write_deals(marks.stored())))
    later = copy.deepcopy(deal)
    later["drivers"] = later["drivers"][:1]
    later["deal_competitor_associations"] = later["deal_competitor_associations"][1:]
    drivers, competitors = marks.removed_rows(later)
    assert [(row["driver_index"], row["removed"], row["positive"]) for row in drivers] == [
        (1, True, None),
        (2, True, None),
    ]
    assert [(row["competitor_id"], row["removed"]) for row in competitors] == [("cmp_x", True)]
    validators = {
        name: Draft7Validator(load_schema(name)) for name in ("deal_drivers", "deal_competitors")
    }
    for row in drivers:
        assert list(validators["deal_drivers"].iter_errors(row)) == []
    for row in competitors:
        assert list(validators["deal_competitors"].iter_errors(row)) == []
    marks.mark_emitted(later)
    assert marks.removed_rows(later) == ([], [])
