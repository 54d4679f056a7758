"""The API key never appears in output, logs (at DEBUG), state or error messages."""

from __future__ import annotations

import logging

import pytest

from hindsight_simulator import Organisation
from tests.helpers import clean_env, run_tap, tap_config

KEY = "hs_live_7f3a9cSECRETkey0042"
WRONG_KEY = "hs_live_WRONGsecret9911"


@pytest.fixture
def keyed_simulator(start_simulator):
    elsewhere = start_simulator(host="127.0.0.2")
    return start_simulator(
        organisations=(Organisation("acme", KEY, 1001, 100),),
        redirect_to=elsewhere.url.removesuffix("/api/v1"),
        rate_limit=8,
        window_seconds=1,
        hang_seconds=2,
    )


def scenarios(simulator, tmp_path):
    ids = [*range(1001, 1031), 999_999]
    for kind, interview_id in [
        ("500", 1002),
        ("502_html", 1003),
        ("truncated", 1004),
        ("incomplete", 1005),
        ("disconnect", 1006),
        ("hang", 1007),
        ("429", 1008),
        ("redirect", 1009),
        ("echo_auth", 1012),  # an error body that quotes the key back
    ]:
        simulator.script_faults(interview_id, [kind])
    simulator.set_body(1010, {"interview_request_id": 1010, "status": 5})
    debug = clean_env(TAP_HINDSIGHT_LOGLEVEL="DEBUG")
    yield run_tap(tmp_path, tap_config(simulator, ids, api_key=KEY, request_timeout=1), env=debug)
    yield run_tap(tmp_path, tap_config(simulator, ids, api_key=WRONG_KEY), env=debug)
    yield run_tap(
        tmp_path,
        tap_config(simulator, ["bad"], api_key=KEY, base_url="http://example.com"),
        env=debug,
    )
    env_config = clean_env(
        TAP_HINDSIGHT_LOGLEVEL="DEBUG",
        TAP_HINDSIGHT_API_KEY=KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS="1011,1012",
    )
    yield run_tap(tmp_path, None, "--config", "ENV", env=env_config)
    yield run_tap(tmp_path, tap_config(simulator, ids, api_key=KEY), "--discover", env=debug)
    yield run_tap(tmp_path, tap_config(simulator, ids, api_key=KEY), "--test", env=debug)


def test_no_scenario_prints_or_stores_the_key(keyed_simulator, tmp_path):
    runs = list(scenarios(keyed_simulator, tmp_path))
    assert [run.returncode for run in runs] == [1, 1, 1, 0, 0, 0]
    assert "DEBUG" in runs[0].stderr  # the scenarios really ran at DEBUG level
    assert "Interview 1012 failed: HTTP 400 Bearer <redacted>" in runs[0].stderr
    assert runs[0].records()  # and really talked to the API
    for run in runs:
        for secret in (KEY, WRONG_KEY):
            assert secret not in run.stdout
            assert secret not in run.stderr
            # Not even a fragment long enough to be useful.
            assert secret[8:20] not in run.stdout + run.stderr


def test_a_key_of_the_wrong_type_is_not_echoed(tmp_path):
    run = run_tap(tmp_path, {"api_key": 918273645546372819, "base_url": "http://127.0.0.1:9"})
    assert run.returncode == 1
    assert "api_key: (value not shown) must be a string" in run.stderr
    assert "918273645546372819" not in run.stderr


def test_tls_verification_cannot_be_turned_off(simulator):
    from tap_hindsight.client import HindsightClient  # noqa: PLC0415
    from tap_hindsight.config_check import SettingsError  # noqa: PLC0415
    from tap_hindsight.settings import load_settings  # noqa: PLC0415
    from tap_hindsight.tap import TapHindsight  # noqa: PLC0415

    schema = TapHindsight.settings_schema()
    with pytest.raises(SettingsError) as refused:
        load_settings({"api_key": KEY, "base_url": simulator.url, "verify": False}, schema)
    assert refused.value.errors[0].startswith("verify: not a setting of tap-hindsight")
    settings = load_settings({"api_key": KEY, "base_url": simulator.url}, schema)
    client = HindsightClient(settings, logging.getLogger("test"))
    assert client.session.verify is True
