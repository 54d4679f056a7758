"""Settings from the environment: `TAP_HINDSIGHT_*` variables and a `.env` file.

Environment variables are text; each is decoded for its setting's type here, and what does
not decode is kept as it is, so that the settings check (settings.py) names the setting and
the value. Meltano passes number settings as strings too (`numbers_from_strings`).
"""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any

from dotenv import dotenv_values, find_dotenv

from tap_hindsight.config_check import TAP_NAME, SettingsError, closest, json_type, show

if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_PREFIX = "TAP_HINDSIGHT_"
#: Variables with the prefix that are not settings (the SDK reads them).
NOT_SETTINGS = frozenset({"LOGLEVEL"})


def list_from_env(text: str) -> list[Any]:
    """A list setting written in one environment variable: `[1, 2]` (JSON) or `1,2`."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped)
        except ValueError:
            return [stripped]
        return loaded if isinstance(loaded, list) else [loaded]
    return [part for part in (p.strip() for p in stripped.split(",")) if part]


def _decode(json_type: str, raw: str) -> Any:  # noqa: ANN401 (any setting)
    """One environment value, decoded for its setting's type.

    Raises:
        ValueError: an object that is not valid JSON.

    """
    if json_type == "array":
        return list_from_env(raw)
    if json_type == "boolean":
        return raw.strip().lower() in {"1", "true", "yes", "on", "t", "y"}
    if json_type == "object":
        return json.loads(raw)
    if json_type in {"integer", "number"}:
        try:
            number = _number(raw.strip(), whole=json_type == "integer")
        except ValueError:
            return raw  # kept as it is: the schema check names the setting and the value
        # NaN passes every minimum and maximum: `nan` and `inf` stay text for the check.
        return number if math.isfinite(number) else raw
    return raw


def _number(text: str, *, whole: bool) -> int | float:
    """`text` as an int if it is written as one (an error then quotes `-1`, not `-1.0`).

    Raises:
        ValueError: not a number (or, if `whole`, not an integer).

    """
    try:
        return int(text)
    except ValueError:
        if whole:
            raise
        return float(text)


def numbers_from_strings(schema: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with number settings written as strings (`"0.5"`) read as numbers.

    Meltano passes number settings as strings (see `_KINDS` in .ci/plugin_files.py). A
    string that is not a finite number is left as it is, for the schema check to name.
    """
    properties: Mapping[str, Any] = schema.get("properties", {})
    return {
        name: _decode("number", value)
        if isinstance(value, str) and json_type(properties.get(name, {})) == "number"
        else value
        for name, value in config.items()
    }


def settings_from_environment(
    schema: Mapping[str, Any],
    prefix: str = ENV_PREFIX,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read settings from `PREFIX_NAME` environment variables and a `.env` file.

    Values are decoded for their setting's type (numbers, booleans, JSON objects; lists as
    JSON arrays or `a,b,c`); a value that does not decode is kept as it is, so that the
    schema check names the setting and the value where a bare `int()` would crash.

    Raises:
        SettingsError: a variable with the prefix that names no setting, or an
            object setting that is not valid JSON.

    """
    if environ is None:
        # Like the SDK: a `.env` file (nearest the working directory) fills in what the
        # real environment does not set.
        dotenv = {k: v for k, v in dotenv_values(find_dotenv(usecwd=True)).items() if v is not None}
        environ = {**dotenv, **os.environ}
    properties: Mapping[str, Any] = schema.get("properties", {})
    by_variable = {prefix + name.upper().replace("-", "_"): name for name in properties}
    result: dict[str, Any] = {}
    errors: list[str] = []
    for variable, raw in environ.items():
        if not variable.startswith(prefix) or variable[len(prefix) :] in NOT_SETTINGS:
            continue
        name = by_variable.get(variable)
        if name is None:
            errors.append(
                f"{variable}: not a setting of {TAP_NAME}{closest(variable, by_variable)}"
            )
            continue
        kind = json_type(properties[name])
        try:
            result[name] = _decode(kind, raw)
        except ValueError:
            errors.append(f"{variable}: {show(raw)} is not valid JSON ({kind} expected)")
    if errors:
        raise SettingsError(sorted(errors))
    return result
