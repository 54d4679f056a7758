"""Reading the state a run starts from: foreign or damaged parts are dropped, named.

Each stream that resumes from its bookmark names the key it keeps there and how to read
it (`Resumable`); the rest of a Singer state is passed on as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping


@dataclass(frozen=True)
class Resumable:
    """What a stream resumes from: one key of its bookmark, and how to read it."""

    #: The key in the stream's bookmark (`interview_lifecycle`).
    key: str
    #: Reads the stored value; raises ValueError if it cannot.
    read: Callable[[object], object]
    #: `interview state`
    what: str
    #: What happens without it: `every configured ID will be fetched again`.
    otherwise: str


def readable_state(
    state: object,
    streams: Mapping[str, Resumable],
    followers: Iterable[str],
    warn: Callable[[str], None],
) -> dict[str, Any]:
    """The parts of a Singer state that `streams` can resume from; `warn` names each part dropped.

    Foreign or damaged state must not crash a run: what cannot be read is dropped, and the
    affected records are simply fetched (or emitted) again. `followers` (child streams)
    keep nothing of their own to resume, so their bookmarks are dropped silently.
    """
    if not isinstance(state, dict) or not isinstance(state.get("bookmarks", {}), dict):
        warn("Ignoring state that is not a Singer state object")
        return {}
    bookmarks: dict[str, Any] = {}
    for name, bookmark in state.get("bookmarks", {}).items():
        if name in followers:
            continue
        if name not in streams:
            warn(f"Ignoring state of unknown stream {name!r}")
        elif not isinstance(bookmark, dict):
            warn(f"Ignoring state of {name!r}: not an object")
        else:
            bookmarks[name] = _readable_bookmark(bookmark, streams[name], warn)
    return {**state, "bookmarks": bookmarks}


def _readable_bookmark(
    bookmark: dict[str, Any], resumable: Resumable, warn: Callable[[str], None]
) -> dict[str, Any]:
    readable = {key: value for key, value in bookmark.items() if key != "partitions"}
    if "partitions" in bookmark:
        warn("Ignoring 'partitions' in state: this tap does not use them")
    if resumable.key in readable:
        try:
            resumable.read(readable[resumable.key])
        except ValueError as exc:
            warn(f"Ignoring unreadable {resumable.what} ({exc}): {resumable.otherwise}")
            del readable[resumable.key]
    return readable
