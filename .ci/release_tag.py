"""Refuse a release tag that is not `v` + pyproject.toml's version: `release_tag.py v0.1.0`.

The version lives in one place, pyproject.toml; the release workflow runs this before it
builds anything. Read with a pattern, not a TOML parser, so that any Python 3 runs it.
"""

import re
import sys
from pathlib import Path

VERSION = re.compile(r'^version\s*=\s*"([^"]+)"\s*$', re.MULTILINE)


def project_version(pyproject: Path) -> str:
    """The `version` of pyproject.toml's [project] table."""
    text = pyproject.read_text(encoding="utf-8")
    project = text[text.index("[project]") :]
    found = VERSION.search(project)
    if found is None:
        sys.exit("pyproject.toml's [project] table has no version")
    return found.group(1)


if __name__ == "__main__":
    if len(sys.argv) != 2:  # noqa: PLR2004
        sys.exit("usage: release_tag.py TAG")
    tag = sys.argv[1]
    version = project_version(Path(__file__).resolve().parent.parent / "pyproject.toml")
    if tag != f"v{version}":
        sys.exit(
            f"tag {tag!r} does not match the version in pyproject.toml ({version!r}): "
            f"tag the release v{version}, or change the version first"
        )
    print(f"tag {tag} is version {version}")  # noqa: T201
