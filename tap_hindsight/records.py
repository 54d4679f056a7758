"""Records as the API sends them, made fit to emit: text, date-times, schema checks. Pure."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from jsonschema import Draft7Validator

#: The statuses Hindsight documents. Others may appear; they are kept, not completed.
KNOWN_STATUSES = frozenset({"created", "sent", "completed"})
COMPLETED = "completed"

_MAX_PROBLEMS = 5
_MAX_MESSAGE_CHARS = 160


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: Any) -> Any:  # noqa: ANN401 (any JSON value)
    r"""`value` with every string made storable as text: NULs removed, lone surrogates replaced.

    PostgreSQL cannot store NUL in text or jsonb, and one NUL fails a whole load batch.
    A lone surrogate (JSON may carry `"\\ud800"`, which is not text and cannot be
    written as UTF-8) becomes U+FFFD. Dict keys are cleaned too. Values without either
    come back as the same objects.
    """
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if _LONE_SURROGATE.search(value):
            value = _LONE_SURROGATE.sub("\ufffd", value)
        return value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def field_name(path: Any) -> str:  # noqa: ANN401 (a jsonschema deque of keys)
    """`transcript.created_at` for the path ['transcript', 'created_at']."""
    return ".".join(str(part) for part in path) or "(record)"


class RecordValidator:
    """Validates records against a stream schema, date-time formats included."""

    def __init__(self, schema: dict[str, Any]) -> None:
        """Build the validator once; it is reused for every record."""
        self._validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)

    def problems(self, record: dict[str, Any]) -> list[str]:
        """Each way `record` breaks the schema, naming the field; empty if valid."""
        found: list[str] = []
        errors = sorted(self._validator.iter_errors(record), key=lambda e: list(e.path))
        for error in errors[:_MAX_PROBLEMS]:
            message = error.message
            if len(message) > _MAX_MESSAGE_CHARS:
                message = message[: _MAX_MESSAGE_CHARS - 3] + "..."
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else "?"
                name = field_name([*error.path, missing])
                found.append(f"field '{name}' is missing")
            else:
                found.append(f"field '{field_name(error.path)}': {message}")
        if len(errors) > _MAX_PROBLEMS:
            found.append(f"and {len(errors) - _MAX_PROBLEMS} more")
        return found


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time; a value without an offset is taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
