"""The tap's settings as Meltano declares them, derived from the tap's own schema.

`meltano.yml` must declare every setting `--about` lists (Meltano passes `TAP_HINDSIGHT_*`
variables only to declared settings), with the same kind, sensitivity, label and
description. `meltano_settings()` derives those declarations; a test compares them with
`meltano.yml`, and `python -m tap_hindsight.plugin` prints them as YAML to paste there.
"""

from __future__ import annotations

from typing import Any

import yaml

from tap_hindsight.settings import json_type
from tap_hindsight.tap import TapHindsight

_KINDS = {
    "string": "string",
    "integer": "integer",
    # Not `decimal`: Meltano (4.4) reads a decimal setting from an environment variable
    # as a Decimal, which its own JSON writer cannot write, and `meltano run` crashes
    # before the tap starts. As a string the value reaches the tap, which reads numbers
    # written as strings (`settings.numbers_from_strings`).
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


def main() -> None:
    """Print the settings block of the extractor in `meltano.yml`."""
    text = yaml.safe_dump({"settings": meltano_settings()}, sort_keys=False, width=100)
    print(text, end="")  # noqa: T201


if __name__ == "__main__":
    main()
