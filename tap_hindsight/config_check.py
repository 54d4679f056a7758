"""A config checked against the settings' JSON schema: one message per problem.

Each message names the setting (and the place in it), quotes the value shortened unless
the setting is secret, and names the closest known setting for an unknown one. The tap
hands the messages to the SDK as its ConfigValidationError (`tap.TapHindsight`).
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from jsonschema import ValidationError

TAP_NAME = "tap-hindsight"
_SHOWN_VALUE_CHARS = 80
#: How alike an unknown setting's name must be to a known one to be suggested (0-1).
_CLOSE_ENOUGH = 0.8
_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


class SettingsError(ValueError):
    """A config that cannot run: one message per bad setting, naming it (never a secret).

    The tap hands it to the SDK as its ConfigValidationError (`tap.TapHindsight`).
    """

    def __init__(self, errors: list[str]) -> None:
        """Carry `errors`, one a bad setting."""
        super().__init__("Config validation failed")
        self.errors = errors


def show(value: object) -> str:
    """Render a bad value for an error message, short enough for one log line.

    A number is written as in the config: the SDK reads JSON's decimals as `Decimal`.
    """
    text = str(value) if isinstance(value, Decimal) else repr(value)
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[: _SHOWN_VALUE_CHARS - 3] + "..."
    return text


def check_config(schema: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Every way `config` breaks `schema`, one message per problem, naming the setting.

    The value is quoted (shortened) unless the setting is secret; an unknown setting is
    named with the closest known one. Empty when the config is valid.
    """
    properties: Mapping[str, Any] = schema.get("properties", {})
    validator = Draft202012Validator(schema)
    messages: list[str] = []
    for error in sorted(validator.iter_errors(dict(config)), key=_error_order):
        if error.validator == "additionalProperties" and not error.absolute_path:
            unknown = sorted(name for name in config if name not in properties)
            messages += [_unknown(name, properties) for name in unknown]
        else:
            messages.append(_describe(error, properties))
    return messages


def _error_order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(part) for part in error.absolute_path)


def closest(name: str, known: Iterable[str]) -> str:
    """`; did you mean concurrency?` when a known name is close enough to `name`."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=_CLOSE_ENOUGH)
    return f"; did you mean {close[0]}?" if close else ""


#: Settings that were removed, and what replaced them.
REMOVED = {
    "scan_max_misses": (
        "removed: ID discovery no longer stops after a fixed number of not-found IDs; it "
        "follows the platform's ID counter, measured from this organisation's interviews "
        "(docs/state-and-polling.md, ID discovery). Remove it from the config"
    ),
}


def _unknown(name: str, properties: Mapping[str, Any]) -> str:
    if name in REMOVED:
        return f"{name}: {REMOVED[name]}"
    hint = closest(name, properties)
    return f"{name}: not a setting of {TAP_NAME} (`{TAP_NAME} --about` lists them){hint}"


def _where(error: ValidationError) -> str:
    """`interview_ids[1]`, `stream_maps.interviews`: the setting and the place in it."""
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "config"


def _describe(error: ValidationError, properties: Mapping[str, Any]) -> str:
    where = _where(error)
    root = error.absolute_path[0] if error.absolute_path else None
    secret = isinstance(root, str) and properties.get(root, {}).get("secret", False)
    value = "(value not shown)" if secret else show(error.instance)
    rule: Mapping[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else "?"
        description = properties.get(missing, {}).get("description", "")
        return f"{missing}: required ({description})" if description else f"{missing}: required"
    if kind == "type":
        expected = rule.get("type")
        names = [_TYPE_NAMES.get(t, t) for t in _as_list(expected) if t != "null"]
        return f"{where}: {value} must be {' or '.join(names)}"
    if kind == "enum":
        return f"{where}: {value} must be one of {', '.join(map(str, rule['enum']))}"
    if kind in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return f"{where}: {value} must be {_range(rule)}"
    if kind in {"pattern", "format", "minLength", "maxLength", "const"}:
        description = rule.get("description") or properties.get(str(root), {}).get(
            "description", ""
        )
        return f"{where}: {value} is not valid ({description})".replace(" ()", "")
    message = str(error.message)
    if secret:
        message = f"invalid ({kind})"
    return f"{where}: {message[:160]}"


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _range(rule: Mapping[str, Any]) -> str:
    low, high = rule.get("minimum"), rule.get("maximum")
    if "exclusiveMinimum" in rule:
        text = f"greater than {rule['exclusiveMinimum']}"
        return f"{text} and at most {high}" if high is not None else text
    if low is not None and high is not None:
        kind = "a whole number" if "integer" in _as_list(rule.get("type")) else "a number"
        return f"{kind} from {low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def json_type(spec: Mapping[str, Any]) -> str:
    """The main JSON type of a setting's schema (the first that is not null)."""
    declared = spec.get("type", "string")
    if isinstance(declared, list):
        declared = next((kind for kind in declared if kind != "null"), "string")
    return str(declared)
