"""Meltano's setting declarations and the Hub definition, derived from the tap's schema.

A maintainer's tool, outside the package users install (the wheel carries only the tap).

`meltano.yml` must declare every setting `--about` lists (Meltano passes `TAP_HINDSIGHT_*`
variables only to declared settings), with the same kind, sensitivity, label and
description. `meltano_settings()` derives those declarations; a test compares them with
`meltano.yml`, and `python .ci/plugin_files.py` prints them as YAML to paste there.

`hub_definition()` is the whole extractor definition in Meltano Hub's format, written to
`tap-hindsight.yml` by `python .ci/plugin_files.py --hub tap-hindsight.yml` (a test
checks the file equals what `--about` implies and that Meltano adds and runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import yaml

from tap_hindsight.config_check import json_type
from tap_hindsight.tap import TapHindsight

_KINDS = {
    "string": "string",
    "integer": "integer",
    # Not `decimal`: Meltano (4.4) reads a decimal setting from an environment variable
    # as a Decimal, which its own JSON writer cannot write, and `meltano run` crashes
    # before the tap starts. As a string the value reaches the tap, which reads numbers
    # written as strings (`environment.numbers_from_strings`).
    "number": "string",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def meltano_kind(spec: dict[str, Any]) -> str:
    """Meltano's `kind` for a setting's JSON schema."""
    if "enum" in spec:
        return "options"
    if spec.get("format") == "date-time":
        return "date_iso8601"
    return _KINDS.get(json_type(spec), "string")


def meltano_settings(schema: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One Meltano setting per top-level setting of `schema` (the tap's, by default)."""
    schema = schema or TapHindsight.settings_schema()
    declared: list[dict[str, Any]] = []
    for name, spec in schema["properties"].items():
        setting: dict[str, Any] = {"name": name, "kind": meltano_kind(spec)}
        if spec.get("title"):
            setting["label"] = spec["title"]
        if spec.get("secret"):
            setting["sensitive"] = True
        if spec.get("default") is not None:
            setting["value"] = spec["default"]
        if "enum" in spec:
            setting["options"] = [
                {"label": str(value).title(), "value": value}
                for value in spec["enum"]
                if value is not None
            ]
        setting["description"] = spec.get("description", "")
        declared.append(setting)
    return declared


#: Where the project lives (pyproject.toml's [project.urls] say the same; a test checks).
REPOSITORY = "https://github.com/tap-hindsight/tap-hindsight"

#: What Meltano Hub lists beside the settings (its extractor schema requires `quality`;
#: Hub's maintainers rate it, so a new definition says "unknown"). `pip_url` is the
#: published package; `logo_url` a path in Hub's own assets, where Hub keeps logos.
HUB_METADATA: dict[str, Any] = {
    "namespace": "tap_hindsight",
    "variant": "tap-hindsight",
    "label": "Hindsight",
    "description": "AI win-loss interviews, their transcripts and deals",
    "pip_url": "tap-hindsight",
    "executable": "tap-hindsight",
    "repo": REPOSITORY,
    "docs": f"{REPOSITORY}#readme",
    "logo_url": "/assets/logos/extractors/hindsight.png",
    "domain_url": "https://app.usehindsight.com",
    "keywords": ["meltano_sdk", "api", "win-loss", "interviews", "sales"],
    "maintenance_status": "active",
    "quality": "unknown",
}


def hub_definition(about: dict[str, Any]) -> dict[str, Any]:
    """The Meltano Hub extractor definition for the tap whose `--about` (JSON) is `about`."""
    schema = about["settings"]
    return {
        "name": about["name"],
        **HUB_METADATA,
        "capabilities": sorted(about["capabilities"]),
        "supported_python_versions": about["supported_python_versions"],
        "settings_group_validation": [sorted(schema.get("required", []))],
        # Hub lists whether each setting is sensitive, false included.
        "settings": [
            {"name": setting["name"], "kind": setting["kind"], "sensitive": False, **setting}
            for setting in meltano_settings(schema)
        ],
    }


def hub_yaml(about: dict[str, Any]) -> str:
    """`tap-hindsight.yml`: the Hub definition as YAML, headed by where it comes from."""
    header = (
        "# Meltano Hub extractor definition, generated from `tap-hindsight --about` by\n"
        "# `python .ci/plugin_files.py --hub tap-hindsight.yml`; do not edit by hand.\n"
        "# Add it to a Meltano project with\n"
        "#   meltano add --from-ref tap-hindsight.yml tap-hindsight\n"
    )
    body = yaml.safe_dump(hub_definition(about), sort_keys=False, width=100, allow_unicode=True)
    return header + str(body)


def about_json() -> dict[str, Any]:
    """What `tap-hindsight --about --format json` prints, as a dict."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        TapHindsight.print_about("json")
    about: dict[str, Any] = json.loads(printed.getvalue())
    return about


def main(argv: list[str] | None = None) -> None:
    """Print the settings block of the extractor in `meltano.yml`, or write the Hub file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hub", type=Path, help="write the Meltano Hub definition to this file")
    args = parser.parse_args(argv)
    if args.hub is None:
        text = yaml.safe_dump({"settings": meltano_settings()}, sort_keys=False, width=100)
        print(text, end="")  # noqa: T201
        return
    about = about_json()
    args.hub.write_text(hub_yaml(about), encoding="utf-8")


if __name__ == "__main__":
    main()
