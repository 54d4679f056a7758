"""Find the stream schemas in `schemas/`, wherever the package was installed from.

A wheel carries them inside the package (`tap_hindsight/schemas/`, packed at build time);
an editable install or a source checkout reads the repository's top-level `schemas/`.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

_PACKED = resources.files("tap_hindsight") / "schemas"
_SOURCE_TREE = Path(__file__).resolve().parent.parent / "schemas"


def schema_path(stream_name: str) -> Path:
    """The schema file of `stream_name`, packed copy first.

    Raises:
        FileNotFoundError: neither copy exists (a broken install).

    """
    file_name = f"{stream_name}.json"
    packed = _PACKED / file_name
    if packed.is_file():
        return Path(str(packed))
    source = _SOURCE_TREE / file_name
    if source.is_file():
        return source
    msg = f"schema for stream '{stream_name}' not found in the package or in {_SOURCE_TREE}"
    raise FileNotFoundError(msg)


def load_schema(stream_name: str) -> dict[str, Any]:
    """The JSON schema of `stream_name`, a fresh copy the caller may change."""
    schema: dict[str, Any] = json.loads(schema_path(stream_name).read_text(encoding="utf-8"))
    return schema
