"""Settings: pure checks (unit) and what the real command does with bad ones."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hindsight.settings import (
    DEFAULT_BASE_URL,
    load_settings,
    settings_from_environment,
    split_id_string,
)
from tests.helpers import ACME_KEY, clean_env, run_tap, tap_config


def errors_of(config):
    with pytest.raises(ConfigValidationError) as caught:
        load_settings(config)
    return caught.value.errors


def test_defaults():
    settings = load_settings({"api_key": "k"})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.interview_ids == ()
    assert (settings.requests_per_minute, settings.concurrency) == (60, 8)
    assert settings.request_timeout == 30.0
    assert settings.start_date is None


def test_ids_accept_digit_strings_and_are_deduplicated_in_order():
    settings = load_settings({"api_key": "k", "interview_ids": [3, "1", " 2 ", 3, "1"]})
    assert settings.interview_ids == (3, 1, 2)


@pytest.mark.parametrize("bad", ["abc", "-4", "0", 1.5, True, None, "", "1e3", "١٢"])
def test_each_bad_id_is_named_by_its_position(bad):
    (error,) = errors_of({"api_key": "k", "interview_ids": [10, bad]})
    assert error.startswith("interview_ids[1]: ")
    assert repr(bad) in error


def test_ids_file_skips_blanks_and_comments_and_names_bad_lines(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# exported 2026-05-01\n\n1001\n  1002  # Globex deal\nabc\n1001\n12x\n")
    errors = errors_of({"api_key": "k", "interview_ids_file": str(path)})
    assert errors == [
        f"interview_ids_file {path} line 5: 'abc' is not an interview ID (a positive integer)",
        f"interview_ids_file {path} line 7: '12x' is not an interview ID (a positive integer)",
    ]
    path.write_text("# exported\n1001\n\n1002 # Globex\n1001\n")
    settings = load_settings(
        {"api_key": "k", "interview_ids": [7], "interview_ids_file": str(path)}
    )
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
        assert not load_settings(config).base_url.endswith("/")
    else:
        (error,) = errors_of(config)
        assert error.startswith("base_url: ")
        assert repr(url) in error


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("requests_per_minute", 0),
        ("requests_per_minute", "fast"),
        ("concurrency", 0),
        ("concurrency", 1000),
        ("request_timeout", 0),
        ("request_timeout", "never"),
        ("start_date", "yesterday"),
    ],
)
def test_bad_numbers_and_dates_are_named_with_their_value(name, value):
    (error,) = errors_of({"api_key": "k", name: value})
    assert error.startswith(f"{name}: {value!r}")


def test_missing_api_key_is_named():
    assert errors_of({})[0].startswith("api_key: required")


def test_settings_repr_never_shows_the_key():
    settings = load_settings({"api_key": "secret-key-123"})
    assert "secret-key-123" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "ids"),
    [("1,2,3", ["1", "2", "3"]), ("[1, 2, 3]", [1, 2, 3]), (" 4 , 5 ,", ["4", "5"]), ("", [])],
)
def test_id_strings_from_the_environment(text, ids):
    assert split_id_string(text) == ids


def test_environment_values_are_typed_or_kept_for_validation_to_name():
    types = {
        "interview_ids": "array",
        "requests_per_minute": "integer",
        "request_timeout": "number",
        "concurrency": "integer",
        "flattening_enabled": "boolean",
        "stream_maps": "object",
        "interviewer_names": "array",
    }
    environ = {
        "TAP_HINDSIGHT_INTERVIEWER_NAMES": "Paige, Sam",
        "TAP_HINDSIGHT_INTERVIEW_IDS": "1001,1002",
        "TAP_HINDSIGHT_REQUESTS_PER_MINUTE": "300",
        "TAP_HINDSIGHT_REQUEST_TIMEOUT": "2.5",
        "TAP_HINDSIGHT_CONCURRENCY": "lots",
        "TAP_HINDSIGHT_FLATTENING_ENABLED": "true",
        "TAP_HINDSIGHT_STREAM_MAPS": '{"interviews": {"survey_url": null}}',
        "OTHER": "x",
    }
    assert settings_from_environment(types, "TAP_HINDSIGHT_", environ) == {
        "interview_ids": ["1001", "1002"],
        "requests_per_minute": 300,
        "request_timeout": 2.5,
        "concurrency": "lots",
        "flattening_enabled": True,
        "stream_maps": {"interviews": {"survey_url": None}},
        "interviewer_names": ["Paige", "Sam"],
    }


# The real command ------------------------------------------------------------------------


def test_bad_settings_stop_the_tap_before_any_request(simulator, tmp_path):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("1001\n\nnot-an-id\n")
    config = tap_config(
        simulator,
        [1001, "x1"],
        interview_ids_file=str(ids_file),
        concurrency=0,
        start_date="2026-13-45",
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert run.messages == []
    assert simulator.stats()["requests"] == 0
    for expected in (
        "interview_ids[1]: 'x1' is not an interview ID",
        f"interview_ids_file {ids_file} line 3: 'not-an-id'",
        "concurrency: 0 must be a whole number from 1 to 64",
    ):
        assert expected in run.stderr
    assert "start_date" in run.stderr
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

    env["TAP_HINDSIGHT_REQUESTS_PER_MINUTE"] = "fast"
    run = run_tap(tmp_path, None, "--config", "ENV", env=env)
    assert run.returncode == 1
    assert "'fast'" in run.stderr
    assert "requests_per_minute" in run.stderr
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
