"""The simulator's GET /deals: paged as documented, consistent with the interviews."""

from __future__ import annotations

import math

import requests

from hindsight_simulator import Organisation
from hindsight_simulator.data import DEAL_STATUSES, competitor_id, interview_deal
from tests.helpers import ACME_KEY

#: The simulators of these tests serve deals (tests/conftest.py).
SERVE_DEALS = True

DEAL_FIELDS = {
    "id",
    "name",
    "amount",
    "status_id",
    "previous_status_id",
    "proposal_due",
    "created_at",
    "owner_id",
    "salesforce_id",
    "hubspot_id",
    "deal_analyzed",
    "analysis_verified",
    "type",
    "region",
    "deal_competitor_associations",
    "drivers",
    "wl_product_fit_score",
    "wl_sales_execution_score",
    "wl_relationship_score",
}


def deals_page(simulator, key=ACME_KEY, **params):
    return requests.get(
        f"{simulator.url}/deals",
        params=params,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_pages_are_bare_arrays_and_the_last_one_is_short(simulator):
    truth = simulator.deals("acme")
    assert len(truth) > 100  # more than one page of 100
    pages = []
    while not pages or len(pages[-1]) == 100:  # the page size asked for
        answer = deals_page(
            simulator, page_size=100, page_index=len(pages), sort="id", sort_order="asc"
        )
        assert answer.status_code == 200
        assert isinstance(answer.json(), list)
        pages.append(answer.json())
    assert len(pages) == math.ceil((len(truth) + 1) / 100)  # stops at the first short page
    assert [deal for page in pages for deal in page] == truth  # sorted by id, each once
    assert all(set(deal) == DEAL_FIELDS for deal in truth)
    count = deals_page(simulator, count="true").json()
    assert count == {"count": len(truth)}


def test_every_deal_an_interview_points_to_is_served_with_its_competitor(simulator):
    truth = {deal["id"]: deal for deal in simulator.deals("acme")}
    referenced = 0
    for interview_id in simulator.organisation("acme").ids:
        deal_id, competitor = interview_deal(simulator.config.seed, interview_id)
        assert simulator.interview(interview_id)["deal_id"] == deal_id
        if deal_id is None:
            continue
        referenced += 1
        primary = [a for a in truth[deal_id]["deal_competitor_associations"] if a["is_primary"]]
        assert [a["competitor_id"] for a in primary] == [competitor_id(competitor)]
    assert referenced > 100
    assert {deal["status_id"] for deal in truth.values()} == set(DEAL_STATUSES)
    assert any("\x00" in d["summary"] for deal in truth.values() for d in deal["drivers"])


def test_the_documented_limits_and_sorting(simulator):
    assert deals_page(simulator, page_size=101).status_code == 400
    assert deals_page(simulator, sort="colour").status_code == 400
    default = deals_page(simulator).json()
    assert len(default) == 50  # page_size defaults to 50
    created = [deal["created_at"] for deal in default]
    assert created == sorted(created, reverse=True)  # sort_order defaults to desc


def test_changes_an_envelope_and_a_key_without_deals(start_simulator):
    orgs = (
        Organisation("acme", ACME_KEY, 1001, 30),
        Organisation("initrode", "hs_sim_initrode_key", 9001, 5, deals_access=False),
    )
    simulator = start_simulator(organisations=orgs, deals_envelope="deals")
    first = simulator.deals("acme")[0]
    simulator.change_deal(first["id"], status_id="Closed Lost")
    answer = deals_page(simulator, page_size=100, sort="id", sort_order="asc").json()
    assert set(answer) == {"deals"}
    assert answer["deals"][0] == {**first, "status_id": "Closed Lost"}
    forbidden = deals_page(simulator, key="hs_sim_initrode_key")
    assert forbidden.status_code == 403
    assert requests.get(
        f"{simulator.url}/interviews/9001",
        headers={"Authorization": "Bearer hs_sim_initrode_key"},
        timeout=10,
    ).ok  # the same key still reads its interviews


def test_deals_spend_the_same_budget_and_take_scripted_faults(start_simulator):
    simulator = start_simulator(rate_limit=3)
    simulator.script_deal_faults(["500"])
    assert deals_page(simulator).status_code == 500
    assert deals_page(simulator).status_code == 200
    interview = requests.get(
        f"{simulator.url}/interviews/1001",
        headers={"Authorization": f"Bearer {ACME_KEY}"},
        timeout=10,
    )
    assert interview.status_code == 200
    assert deals_page(simulator).status_code == 429  # the fourth request of the window
    assert simulator.stats()["rate_limited"] == 1


def test_a_simulator_without_deals_lists_none(start_simulator):
    from hindsight_simulator.__main__ import config_from_args, parse_args  # noqa: PLC0415

    assert config_from_args(parse_args(["--no-deals"])).serve_deals is False
    assert config_from_args(parse_args([])).serve_deals is True
    simulator = start_simulator(serve_deals=False)
    answer = deals_page(simulator, page_size=100, page_index=0)
    assert answer.status_code == 200
    assert answer.json() == []
    assert simulator.deals("acme") == []
    assert simulator.interview(1001)["deal_id"]  # its interviews still name their deals
