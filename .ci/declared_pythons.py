"""Print the Python versions the tap declares (pyproject.toml's classifiers), one line.

With `--json`, as a JSON array (the CI workflow's matrix). .ci/run runs `make check` on
each; tests/test_pythons.py checks that requires-python and
the Hub definition declare the same versions. Read with a pattern, not a TOML parser, so
that any Python 3 runs it (tomllib is 3.11 and later).
"""

import json
import re
import sys
from pathlib import Path

CLASSIFIER = re.compile(r'^\s*"Programming Language :: Python :: (3\.\d+)",?\s*$', re.MULTILINE)


def declared(pyproject: Path) -> list[str]:
    """The `3.X` versions of the classifiers, in their order."""
    return CLASSIFIER.findall(pyproject.read_text(encoding="utf-8"))


if __name__ == "__main__":
    versions = declared(Path(__file__).resolve().parent.parent / "pyproject.toml")
    if not versions:
        sys.exit("no Python version declared in pyproject.toml's classifiers")
    if sys.argv[1:] == ["--json"]:
        print(json.dumps(versions))  # noqa: T201
    else:
        print(" ".join(versions))  # noqa: T201
