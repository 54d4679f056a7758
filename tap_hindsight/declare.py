"""How a setting is declared, how its checked value converts, and the schema it makes.

`setting` and `typed` declare one; `schema_of` turns the declarations into the settings'
JSON schema. Pure: no network.

`settings.py` declares each setting with these; `load_settings` converts a config with
`converted_value` once `config_check` found nothing wrong with it.
"""

from __future__ import annotations

from dataclasses import Field, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tap_hindsight.config_check import show
from tap_hindsight.records import parse_datetime

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime


def typed(json_type: str, **keywords: Any) -> dict[str, Any]:  # noqa: ANN401 (any keyword's)
    """A setting's JSON type and the keywords that constrain it (`minimum`, `pattern`...)."""
    return {"type": json_type, **keywords}


def setting(  # noqa: PLR0913 (the parts of a setting's declaration, each named)
    jsonschema_type: dict[str, Any],
    *,
    title: str,
    description: str,
    default: Any = None,  # noqa: ANN401 (any setting's)
    required: bool = False,
    secret: bool = False,
    convert: Callable[[Any, Mapping[str, Any], list[str]], Any] | None = None,
) -> Any:  # noqa: ANN401 (a dataclass field, typed by its annotation)
    """Declare one setting as a field of `Settings`: its schema, default and conversion.

    Without `convert`, a value converts by its JSON type (a number to float, an integer
    to int, a boolean to bool; None stays None).
    """
    schema: dict[str, Any] = {"title": title, "description": description}
    if default is not None:
        schema["default"] = default
    if required:
        schema["required"] = True
    if secret:
        schema["secret"] = True
    return field(
        repr=not secret,
        metadata={"type": jsonschema_type, "schema": schema, "convert": convert},
    )


def stripped(value: str, _values: Mapping[str, Any], _errors: list[str]) -> str:
    """Without spaces around it."""
    return value.strip()


def base_url_of(value: str, _values: Mapping[str, Any], errors: list[str]) -> str:
    """`base_url` without a trailing slash (`base_url`)."""
    return base_url(value, errors)


def start_date_of(
    value: str | None, _values: Mapping[str, Any], errors: list[str]
) -> datetime | None:
    """`start_date` as an instant (None: not set)."""
    return start_date(value, errors)


def names_of(value: list[str], _values: Mapping[str, Any], _errors: list[str]) -> tuple[str, ...]:
    """Each name without spaces around it."""
    return tuple(name.strip() for name in value)


def listed_ids(
    value: list[int | str], values: Mapping[str, Any], errors: list[str]
) -> tuple[int, ...]:
    """`interview_ids` and those of `interview_ids_file`, each once, in order.

    The schema admits integers (3 or 3.0) and digit strings (" 0042 ").
    """
    ids = [int(entry.strip() if isinstance(entry, str) else entry) for entry in value]
    if values["interview_ids_file"] is not None:
        ids += read_interview_ids_file(values["interview_ids_file"], errors)
    return unique_in_order(ids)


def _required(declared: Field[Any]) -> bool:
    return bool(declared.metadata["schema"].get("required"))


def _property(declared: Field[Any]) -> dict[str, Any]:
    """One setting's JSON schema, as the SDK's typing helpers wrote it.

    Its type (null admitted unless required), constraints, title, default and
    description; a secret is marked `secret` and `writeOnly`.
    """
    typed, schema = declared.metadata["type"], declared.metadata["schema"]
    types = typed["type"] if isinstance(typed["type"], list) else [typed["type"]]
    spec: dict[str, Any] = {"type": types if _required(declared) else [*types, "null"]}
    spec.update((key, value) for key, value in typed.items() if key != "type")
    spec["title"] = schema["title"]
    if "default" in schema:
        spec["default"] = schema["default"]
    spec["description"] = schema["description"]
    if schema.get("secret"):
        spec.update(secret=True, writeOnly=True)
    return spec


def converted_value(
    convert: Callable[[Any, Mapping[str, Any], list[str]], Any] | None,
    kind: str,
    value: Any,  # noqa: ANN401 (any setting's)
    values: Mapping[str, Any],
    errors: list[str],
) -> Any:  # noqa: ANN401 (any setting's)
    """One checked value as `Settings` holds it: by `convert`, or by its JSON type."""
    if convert is not None:
        return convert(value, values, errors)
    if value is None:
        return None
    to_type: Callable[[Any], Any] = {"integer": int, "number": float, "boolean": bool}.get(
        kind, str
    )
    return to_type(value)


def parse_interview_id(text: str) -> int | None:
    """The interview ID written in `text` (ASCII digits, spaces around), else None."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and int(stripped) > 0:
        return int(stripped)
    return None


def read_interview_ids_file(path_value: str, errors: list[str]) -> list[int]:
    """Read a file of IDs: one per line, blank lines and `#` comments ignored."""
    path = Path(path_value).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        errors.append(f"interview_ids_file: no such file: {path_value}")
        return []
    except (OSError, ValueError) as exc:  # ValueError: a NUL or an unencodable character
        errors.append(f"interview_ids_file: cannot read {show(path_value)}: {show(str(exc))}")
        return []
    ids: list[int] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        number = parse_interview_id(entry)
        if number is None:
            errors.append(
                f"interview_ids_file {path_value} line {line_number}: {show(entry)} "
                "is not an interview ID (a positive integer)",
            )
        else:
            ids.append(number)
    return ids


def unique_in_order(ids: Iterable[int]) -> tuple[int, ...]:
    """Drop repeated IDs, keeping the first occurrence's position."""
    return tuple(dict.fromkeys(ids))


def base_url(value: str, errors: list[str]) -> str:
    """Without a trailing slash; a port out of range is named (the pattern allows digits)."""
    url = value.rstrip("/")
    try:
        _ = urlsplit(url).port
    except ValueError:
        errors.append(f"base_url: {show(value)} is not a valid URL (its port is out of range)")
    return url


def start_date(value: str | None, errors: list[str]) -> datetime | None:
    """An ISO 8601 instant (None: not set, or not one, and then named in `errors`)."""
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        errors.append(
            f"start_date: {show(value)} is not an ISO 8601 date-time (e.g. 2026-01-01T00:00:00Z)",
        )
        return None


def schema_of(declared_in: type) -> dict[str, Any]:
    """The JSON schema of the settings declared as the fields of `declared_in`, in order."""
    declared = fields(declared_in)
    return {
        "type": "object",
        "properties": {field.name: _property(field) for field in declared},
        "required": [field.name for field in declared if _required(field)],
        "additionalProperties": False,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
    }
