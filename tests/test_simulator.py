"""The simulator, as a command: it behaves like the documented API for anyone using it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from tap_hindsight.schemas import load_schema

SIMULATOR = [sys.executable, "-m", "hindsight_simulator"]


@pytest.fixture
def served():
    process = subprocess.Popen(
        [*SIMULATOR, "--interviews", "30", "--rate-limit", "5", "--window-seconds", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def get(info, interview_id, key=None):
    key = key or info["organisations"]["acme"]["api_key"]
    return requests.get(
        f"{info['url']}/interviews/{interview_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=5,
    )


def test_the_command_serves_the_documented_api(served):
    acme = served["organisations"]["acme"]
    first = acme["first_id"]
    asked = time.time()
    answer = get(served, first)
    assert answer.status_code == 200
    body = answer.json()
    assert body["interview_request_id"] == first
    assert set(body) == set(load_schema("interviews")["properties"])  # every documented field
    assert answer.headers["X-RateLimit-Limit"] == "5"
    assert answer.headers["X-RateLimit-Remaining"] == "4"
    # The end of the window that counted the request, which came after `asked` (a test
    # that compared it with the time after the answer failed when the window ended between).
    assert int(answer.headers["X-RateLimit-Reset"]) > asked

    assert get(served, first, key="wrong").status_code == 401
    assert get(served, first, key="wrong").json()["error"]["code"] == "unauthorized"
    globex = served["organisations"]["globex"]
    # Another organisation's interview does not exist for this key, and vice versa.
    assert get(served, globex["first_id"]).json()["error"]["code"] == "not_found"
    assert get(served, first, key=globex["api_key"]).status_code == 404
    # acme has spent 2 of its 5 requests (401s are not counted, globex has its own budget).
    assert [get(served, first + n).status_code for n in (1, 2, 3)] == [200, 200, 200]
    limited = get(served, first + 4)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_the_lifecycle_moves_through_the_control_endpoint(served):
    root = served["url"].removesuffix("/api/v1")
    interview_id = served["organisations"]["acme"]["first_id"] + 3
    requests.post(f"{root}/_sim/status", json={"id": interview_id, "status": "created"}, timeout=5)
    seen = [get(served, interview_id).json()]
    for _ in range(3):
        requests.post(f"{root}/_sim/advance", json={"ids": [interview_id]}, timeout=5)
        seen.append(get(served, interview_id).json())
    assert [s["status"] for s in seen] == ["created", "sent", "completed", "completed"]
    assert seen[0]["email_sent_at"] is None
    assert seen[0]["transcript"] is None
    assert seen[1]["email_sent_at"] is not None
    assert seen[1]["transcript"] is None
    transcript = seen[2]["transcript"]
    assert transcript["content"].startswith("**Paige:** ")
    assert transcript["created_at"] > seen[2]["email_sent_at"] > seen[2]["created_at"]
    stats = requests.get(f"{root}/_sim/stats", timeout=5).json()
    assert stats["requests"] == 4


def test_the_data_is_deterministic_and_varied(start_simulator):
    one, two = start_simulator(), start_simulator()
    ids = range(1001, 1101)
    assert [one.interview(i) for i in ids] == [two.interview(i) for i in ids]
    interviews = [one.interview(i) for i in ids]
    for field in ("contact_id", "deal_id", "objective"):
        values = [interview[field] for interview in interviews]
        assert None in values
        assert any(value is not None for value in values)
    assert {interview["status"] for interview in interviews} == {"created", "sent", "completed"}
