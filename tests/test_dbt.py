"""The dbt project (transform/) is wired to the loaders and pinned; its behaviour is tested
end to end in test_warehouse.py (PostgreSQL) and test_demo.py (DuckDB)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

#: The simulators of these tests serve deals (tests/conftest.py).
SERVE_DEALS = True

REPO = Path(__file__).resolve().parent.parent
TRANSFORM = REPO / "transform"


def plugins(kind):
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    return {plugin["name"]: plugin for plugin in project["plugins"][kind]}


def defaults(text):
    """env_var('NAME', 'default') calls of a Jinja-templated file, as {NAME: default}."""
    return dict(re.findall(r"env_var\('(\w+)', '([^']*)'\)", text))


def setting(plugin, name):
    return next(s.get("value") for s in plugin["settings"] if s["name"] == name)


def test_dbt_connects_where_the_loader_loads_by_default():
    loader = plugins("loaders")["target-postgres"]
    profile = defaults((TRANSFORM / "profiles" / "postgres" / "profiles.yml").read_text())
    sources = defaults((TRANSFORM / "models" / "sources.yml").read_text())
    assert profile["TARGET_POSTGRES_HOST"] == setting(loader, "host")
    assert int(profile["TARGET_POSTGRES_PORT"]) == setting(loader, "port")
    assert profile["TARGET_POSTGRES_DATABASE"] == setting(loader, "database")
    assert (
        "TARGET_POSTGRES_USER" in (TRANSFORM / "profiles" / "postgres" / "profiles.yml").read_text()
    )
    assert "TARGET_POSTGRES_PASSWORD" in profile
    assert sources["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] == setting(
        loader, "default_target_schema"
    )
    duckdb = plugins("loaders")["target-duckdb"]
    assert sources["TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA"] == setting(
        duckdb, "default_target_schema"
    )


def test_the_models_are_built_where_the_utility_setting_says():
    utilities = plugins("utilities")
    for name, adapter in (("dbt-postgres", "postgres"), ("dbt-duckdb", "duckdb")):
        profile = defaults((TRANSFORM / "profiles" / adapter / "profiles.yml").read_text())
        assert profile[f"DBT_{adapter.upper()}_SCHEMA"] == setting(utilities[name], "schema")
        assert setting(utilities[name], "profiles_dir").endswith(f"transform/profiles/{adapter}")


def test_dbt_utilities_are_pinned_and_offline():
    utilities = plugins("utilities")
    for name in ("dbt-postgres", "dbt-duckdb"):
        requirements = utilities[name]["pip_url"].split()
        assert all("==" in r for r in requirements), requirements
        assert utilities[name]["env"]["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
        assert {"run", "test", "build"} <= set(utilities[name]["commands"])
    # dbt-duckdb writes the file target-duckdb loads: the same DuckDB.
    target = plugins("loaders")["target-duckdb"]["pip_url"].split()
    dbt = utilities["dbt-duckdb"]["pip_url"].split()
    assert {r for r in dbt if r.startswith("duckdb==")} == {
        r for r in target if r.startswith("duckdb==")
    }
    project = yaml.safe_load((TRANSFORM / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False


def test_every_model_is_documented():
    schema = yaml.safe_load((TRANSFORM / "models" / "schema.yml").read_text())
    documented = {model["name"] for model in schema["models"]}
    assert documented == {path.stem for path in (TRANSFORM / "models").glob("*.sql")}
    for model in schema["models"]:
        assert model["description"].strip()
        assert all(column["description"].strip() for column in model["columns"])


def test_the_search_benchmark_measures_the_models_vector():
    """benchmarks/search.py builds what the search model builds; keep them the same."""
    benchmark = (REPO / "benchmarks" / "search.py").read_text()
    (vector,) = re.findall(r'^VECTOR = "(.*)"$', benchmark, re.MULTILINE)
    model = (TRANSFORM / "models" / "hindsight_transcript_search.sql").read_text()
    assert f"{vector} as search_vector" in model
    assert "{'columns': ['search_vector'], 'type': 'gin'}" in model
