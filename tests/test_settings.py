"""Settings: one schema holds every rule (unit), and what the real command does with bad ones."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hindsight.config_check import SettingsError, check_config
from tap_hindsight.environment import list_from_env, settings_from_environment
from tap_hindsight.settings import DEFAULT_BASE_URL, load_settings
from tap_hindsight.tap import TapHindsight
from tests.helpers import ACME_KEY, clean_env, run_tap, tap_config

SCHEMA = TapHindsight.settings_schema()


def settings_of(config):
    return load_settings(config, SCHEMA)


def errors_of(config):
    with pytest.raises(SettingsError) as caught:
        settings_of(config)
    return caught.value.errors


def test_defaults():
    settings = settings_of({"api_key": "k"})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.interview_ids == ()
    assert (settings.requests_per_minute, settings.concurrency) == (60, 8)
    assert settings.request_timeout == 30.0
    assert settings.start_date is None


def test_ids_accept_digit_strings_and_are_deduplicated_in_order():
    settings = settings_of({"api_key": "k", "interview_ids": [3, "1", " 2 ", 3, "1"]})
    assert settings.interview_ids == (3, 1, 2)


@pytest.mark.parametrize("bad", ["abc", "-4", "0", 0, 1.5, True, None, "", "1e3", "١٢"])
def test_each_bad_id_is_named_by_its_position(bad):
    (error,) = errors_of({"api_key": "k", "interview_ids": [10, bad]})
    assert error.startswith("interview_ids[1]: ")
    assert repr(bad) in error


def test_ids_of_every_accepted_form_become_integers():
    settings = settings_of({"api_key": "k", "interview_ids": [3.0, "0042", " 7 "]})
    assert settings.interview_ids == (3, 42, 7)


def test_ids_file_skips_blanks_and_comments_and_names_bad_lines(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# exported 2026-05-01\n\n1001\n  1002  # Globex deal\nabc\n1001\n12x\n")
    errors = errors_of({"api_key": "k", "interview_ids_file": str(path)})
    assert errors == [
        f"interview_ids_file {path} line 5: 'abc' is not an interview ID (a positive integer)",
        f"interview_ids_file {path} line 7: '12x' is not an interview ID (a positive integer)",
    ]
    path.write_text("# exported\n1001\n\n1002 # Globex\n1001\n")
    settings = settings_of({"api_key": "k", "interview_ids": [7], "interview_ids_file": str(path)})
    assert settings.interview_ids == (7, 1001, 1002)


def test_missing_ids_file_is_named(tmp_path):
    missing = tmp_path / "nope.txt"
    assert errors_of({"api_key": "k", "interview_ids_file": str(missing)}) == [
        f"interview_ids_file: no such file: {missing}"
    ]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://app.usehindsight.com/api/v1/", True),
        ("http://127.0.0.1:8080/api/v1", True),
        ("http://127.8.9.10/api", True),
        ("http://localhost:9000", True),
        ("http://[::1]:9000/api", True),
        ("http://app.usehindsight.com/api/v1", False),
        ("http://10.0.0.5/api", False),
        ("ftp://example.com", False),
        ("app.usehindsight.com/api/v1", False),
        ("https://user:pw@app.usehindsight.com", False),
        ("https://app.usehindsight.com:99999", False),
    ],
)
def test_base_url_needs_https_except_for_loopback(url, ok):
    config = {"api_key": "k", "base_url": url}
    if ok:
        assert not settings_of(config).base_url.endswith("/")
    else:
        (error,) = errors_of(config)
        assert error.startswith("base_url: ")
        assert repr(url) in error


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("requests_per_minute", 0, "must be a whole number from 1 to 100000"),
        ("requests_per_minute", "fast", "must be a whole number"),
        ("concurrency", 0, "must be a whole number from 1 to 64"),
        ("concurrency", 1000, "must be a whole number from 1 to 64"),
        ("concurrency", 2.5, "must be a whole number"),
        ("request_timeout", 0, "must be greater than 0 and at most 3600"),
        ("request_timeout", "never", "must be a number"),
        ("max_retries", -1, "must be a whole number from 0 to 20"),
        ("scan_start_id", 0, "must be a whole number from 1 to"),
        ("plan", "gold", "must be one of essentials, growth, enterprise"),
        ("interviewer_names", ["Paige", " "], "is not valid"),
        ("interviewer_names", "Paige", "must be a list"),
        ("emit_activate_version_messages", "yes", "must be true or false"),
        ("start_date", "yesterday", "is not an ISO 8601 date-time"),
        ("start_date", "2026-13-45", "is not an ISO 8601 date-time"),
        ("poll_age_ratio", -0.1, "must be a number from 0 to 10"),
        ("min_poll_interval_minutes", 20_000, "must be a number from 0 to 10080"),
        ("max_poll_interval_hours", 9_000, "must be a number from 0 to 8760"),
        ("max_run_minutes", 0, "must be greater than 0 and at most 10080"),
        ("max_run_minutes", "soon", "must be a number"),
    ],
)
def test_each_rule_of_the_schema_is_named_with_the_setting_and_value(name, value, rule):
    (error,) = errors_of({"api_key": "k", name: value})
    assert error.startswith(f"{name}")
    assert repr(value if not isinstance(value, list) else value[1]) in error
    assert rule in error


def test_polling_settings_and_their_defaults():
    settings = settings_of({"api_key": "k"})
    assert (settings.poll_age_ratio, settings.min_poll_interval_minutes) == (0.1, 5)
    assert (settings.max_poll_interval_hours, settings.max_run_minutes) == (168, None)
    assert settings.poll_policy.interval(10 * 3600) == 3600
    (error,) = errors_of(
        {"api_key": "k", "min_poll_interval_minutes": 90, "max_poll_interval_hours": 1}
    )
    assert error.startswith("min_poll_interval_minutes: 90 is longer than max_poll_interval_hours")


def test_number_settings_written_as_strings_are_read_as_numbers():
    # What Meltano passes for a number setting set from an environment variable.
    config = {"api_key": "k", "poll_age_ratio": "0.5", "max_run_minutes": " 12 "}
    settings = TapHindsight(config={**config, "request_timeout": "7.5"}).settings
    assert (settings.poll_age_ratio, settings.max_run_minutes) == (0.5, 12.0)
    assert settings.request_timeout == 7.5
    with pytest.raises(ConfigValidationError) as caught:
        TapHindsight(config={"api_key": "k", "poll_age_ratio": "lots"})
    assert caught.value.errors == ["poll_age_ratio: 'lots' must be a number"]


def test_a_number_out_of_range_is_quoted_as_written():
    # `-1` from the environment or a Meltano string, not `-1.0`: the user wrote no `.0`.
    environ = {"TAP_HINDSIGHT_API_KEY": "k", "TAP_HINDSIGHT_POLL_BUDGET_SHARE": "-1"}
    assert errors_of(settings_from_environment(SCHEMA, environ=environ)) == [
        "poll_budget_share: -1 must be a number from 0 to 1"
    ]
    with pytest.raises(ConfigValidationError) as caught:
        TapHindsight(config={"api_key": "k", "poll_budget_share": " 2 "})
    assert caught.value.errors == ["poll_budget_share: 2 must be a number from 0 to 1"]
    assert (
        TapHindsight(config={"api_key": "k", "poll_budget_share": "1"}).settings.poll_budget_share
        == 1
    )


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_a_number_that_is_not_finite_is_refused_from_a_string_or_the_environment(text):
    # NaN passes every minimum and maximum: it must be named, not taken.
    with pytest.raises(ConfigValidationError) as caught:
        TapHindsight(config={"api_key": "k", "poll_age_ratio": text})
    assert caught.value.errors == [f"poll_age_ratio: {text!r} must be a number"]
    environ = {"TAP_HINDSIGHT_API_KEY": "k", "TAP_HINDSIGHT_REQUEST_TIMEOUT": text}
    assert errors_of(settings_from_environment(SCHEMA, environ=environ)) == [
        f"request_timeout: {text!r} must be a number"
    ]


def test_every_per_setting_rule_lives_in_the_schema():
    # The SDK validates against the same schema: a value the schema refuses never
    # reaches the tap's conversion, whichever validator runs first.
    properties = SCHEMA["properties"]
    assert properties["concurrency"]["minimum"] == 1
    assert properties["concurrency"]["maximum"] == 64
    assert properties["plan"]["enum"][:3] == ["essentials", "growth", "enterprise"]
    assert properties["base_url"]["pattern"]
    assert properties["interview_ids"]["items"]["pattern"]
    assert properties["interview_ids"]["items"]["minimum"] == 1
    assert SCHEMA["additionalProperties"] is False
    assert check_config(SCHEMA, {"api_key": "k", "concurrency": 65})
    assert check_config(SCHEMA, {"api_key": "k", "concurrency": 64}) == []


def test_unknown_settings_are_refused_by_name():
    errors = errors_of({"api_key": "k", "concurency": 2, "verify": False, "batch_config": {}})
    assert errors == [
        "batch_config: not a setting of tap-hindsight (`tap-hindsight --about` lists them)",
        (
            "concurency: not a setting of tap-hindsight (`tap-hindsight --about` lists them); "
            "did you mean concurrency?"
        ),
        "verify: not a setting of tap-hindsight (`tap-hindsight --about` lists them)",
    ]


def test_the_sdks_built_in_settings_are_accepted():
    settings_of(
        {
            "api_key": "k",
            "stream_maps": {"interviews": {"survey_url": None}},
            "stream_map_config": {"x": 1},
            "flattening_enabled": True,
            "flattening_max_depth": 1,
            "flattening_max_key_length": 63,
            "flattening_separator": "__",
            "emit_activate_version_messages": True,
        }
    )


def test_a_secret_is_never_quoted_in_an_error():
    errors = errors_of({"api_key": 918273645546372819})
    assert errors == ["api_key: (value not shown) must be a string"]
    assert errors_of({"api_key": "   "}) == [
        (
            "api_key: (value not shown) is not valid "
            "(Bearer API key from the Hindsight dashboard (Settings > API).)"
        )
    ]


def test_missing_api_key_is_named():
    assert errors_of({})[0].startswith("api_key: required (Bearer API key")


def test_settings_repr_never_shows_the_key():
    settings = settings_of({"api_key": "secret-key-123"})
    assert "secret-key-123" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "ids"),
    [("1,2,3", ["1", "2", "3"]), ("[1, 2, 3]", [1, 2, 3]), (" 4 , 5 ,", ["4", "5"]), ("", [])],
)
def test_lists_from_the_environment(text, ids):
    assert list_from_env(text) == ids


def test_environment_values_are_typed_or_kept_for_the_schema_check_to_name():
    environ = {
        "TAP_HINDSIGHT_INTERVIEWER_NAMES": "Paige, Sam",
        "TAP_HINDSIGHT_INTERVIEW_IDS": "1001,1002",
        "TAP_HINDSIGHT_REQUESTS_PER_MINUTE": "300",
        "TAP_HINDSIGHT_REQUEST_TIMEOUT": "2.5",
        "TAP_HINDSIGHT_CONCURRENCY": "lots",
        "TAP_HINDSIGHT_FLATTENING_ENABLED": "true",
        "TAP_HINDSIGHT_STREAM_MAPS": '{"interviews": {"survey_url": null}}',
        "TAP_HINDSIGHT_LOGLEVEL": "DEBUG",  # the SDK's, not a setting
        "OTHER": "x",
    }
    assert settings_from_environment(SCHEMA, environ=environ) == {
        "interview_ids": ["1001", "1002"],
        "requests_per_minute": 300,
        "request_timeout": 2.5,
        "concurrency": "lots",
        "flattening_enabled": True,
        "stream_maps": {"interviews": {"survey_url": None}},
        "interviewer_names": ["Paige", "Sam"],
    }


def test_an_environment_variable_that_names_no_setting_is_refused():
    environ = {"TAP_HINDSIGHT_CONCURENCY": "2", "TAP_HINDSIGHT_API_KEY": "k"}
    with pytest.raises(SettingsError) as caught:
        settings_from_environment(SCHEMA, environ=environ)
    assert caught.value.errors == [
        (
            "TAP_HINDSIGHT_CONCURENCY: not a setting of tap-hindsight; "
            "did you mean TAP_HINDSIGHT_CONCURRENCY?"
        )
    ]


# The real command ------------------------------------------------------------------------


def test_bad_settings_stop_the_tap_before_any_request(simulator, tmp_path):
    config = tap_config(simulator, [1001, "x1", 2.5], concurrency=0, concurency=2)
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert run.messages == []
    assert simulator.stats()["requests"] == 0
    for expected in (
        "interview_ids[1]: 'x1' is not valid (an interview ID",
        "concurrency: 0 must be a whole number from 1 to 64",
        "concurency: not a setting of tap-hindsight",
        # as written in the config, though the SDK reads it as a Decimal
        "interview_ids[2]: 2.5 must be a whole number or a string",
    ):
        assert expected in run.stderr
    assert "Traceback" not in run.stderr


def test_what_the_schema_accepts_is_then_converted_and_checked_as_a_whole(simulator, tmp_path):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("1001\n\nnot-an-id\n")
    config = tap_config(
        simulator,
        [1001],
        interview_ids_file=str(ids_file),
        start_date="2026-13-45",
        requests_per_minute=100,
        reserved_requests_per_minute=100,
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert simulator.stats()["requests"] == 0
    for expected in (
        f"interview_ids_file {ids_file} line 3: 'not-an-id'",
        "start_date: '2026-13-45' is not an ISO 8601 date-time",
        "reserved_requests_per_minute: 100 leaves nothing of the 100 requests per minute",
    ):
        assert expected in run.stderr
    assert "Traceback" not in run.stderr


def test_settings_from_environment_variables(simulator, tmp_path):
    env = clean_env(
        TAP_HINDSIGHT_API_KEY=ACME_KEY,
        TAP_HINDSIGHT_BASE_URL=simulator.url,
        TAP_HINDSIGHT_INTERVIEW_IDS="1001,1002,1001",
        TAP_HINDSIGHT_REQUESTS_PER_MINUTE="300",
        TAP_HINDSIGHT_REQUEST_TIMEOUT="5",
    )
    run = run_tap(tmp_path, None, "--config", "ENV", env=env)
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == [1001, 1002]

    env["TAP_HINDSIGHT_INTERVIEW_IDS"] = "[1003, 1004]"
    run = run_tap(tmp_path, None, "--config", "ENV", env=env)
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == [1003, 1004]

    # --test reads the same settings: the seam that replaces the SDK's cb_test takes the
    # config holder's file and environment parts as the SDK hands them over.
    tested = run_tap(tmp_path, None, "--config", "ENV", "--test", env=env)
    assert tested.returncode == 0, tested.stderr
    assert len(tested.records()) == 1

    env["TAP_HINDSIGHT_REQUESTS_PER_MINUTE"] = "fast"
    run = run_tap(tmp_path, None, "--config", "ENV", env=env)
    assert run.returncode == 1
    assert "requests_per_minute: 'fast' must be a whole number" in run.stderr
    assert "Traceback" not in run.stderr

    env["TAP_HINDSIGHT_REQUESTS_PER_MINUTE"] = "300"
    env["TAP_HINDSIGHT_CONCURENCY"] = "2"
    run = run_tap(tmp_path, None, "--config", "ENV", env=env)
    assert run.returncode == 1
    assert "TAP_HINDSIGHT_CONCURENCY: not a setting of tap-hindsight" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_dotenv_file_in_the_working_directory_is_read(simulator, tmp_path):
    (tmp_path / ".env").write_text(
        f"TAP_HINDSIGHT_API_KEY={ACME_KEY}\nTAP_HINDSIGHT_BASE_URL={simulator.url}\n"
        "TAP_HINDSIGHT_INTERVIEW_IDS=1005\n"
    )
    run = run_tap(tmp_path, None, "--config", "ENV")
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == [1005]


def test_several_config_files_merge_later_ones_winning(simulator, tmp_path):
    base = tmp_path / "base.json"
    base.write_text(
        f'{{"api_key": "{ACME_KEY}", "base_url": "{simulator.url}", "interview_ids": [1]}}'
    )
    override = tmp_path / "override.json"
    override.write_text('{"interview_ids": [1006]}')
    run = run_tap(tmp_path, None, "--config", str(base), "--config", str(override))
    assert run.returncode == 0, run.stderr
    assert sorted(run.records_by_id()) == [1006]
