#!/usr/bin/env bash
# `make release-check`: a release as a user gets it. The sdist is built from a clean clone
# of what is committed (HEAD, nothing else of the work tree), the wheel from the sdist;
# both are checked with `twine check --strict`; the wheel is installed into a fresh
# environment and the installed tap runs `--version`, `--about` and `--discover`: what
# `pip install tap-hindsight` gives. Usage: release_check.sh PYTHON DIST (DIST keeps the
# built files, for the release workflow to publish).
set -euo pipefail
python=${1:?usage: release_check.sh PYTHON DIST}
dist=${2:?usage: release_check.sh PYTHON DIST}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { echo "release-check: $*" >&2; }

git clone --quiet --no-local "$repo" "$work/clone"
say "building from a clean clone of $(git -C "$work/clone" rev-parse --short HEAD)"
"$python" -m venv "$work/build"
"$work/build/bin/python" -m pip install --quiet --upgrade pip build "twine>=6.1"
rm -rf "$dist"
"$work/build/bin/python" -m build --quiet --outdir "$dist" "$work/clone" >&2
"$work/build/bin/python" -m twine check --strict "$dist"/* >&2

wheel=$(ls "$dist"/*.whl)
sdist=$(ls "$dist"/*.tar.gz)
say "$(basename "$wheel") holds: $("$work/build/bin/python" -m zipfile -l "$wheel" | awk 'NR > 1 {print $1}' | grep -v '/schemas/' | tr '\n' ' ')"
say "$(basename "$sdist") holds: $(tar tzf "$sdist" | grep -v '/$' | grep -v '/schemas/' | sed 's|^[^/]*/||' | tr '\n' ' ')"

"$python" -m venv "$work/user"
"$work/user/bin/python" -m pip install --quiet --upgrade pip
"$work/user/bin/python" -m pip install --quiet "$wheel"
tap="$work/user/bin/tap-hindsight"
say "installed: $("$tap" --version)"
"$tap" --about --format json > "$work/about.json"
printf '{"api_key": "release-check-key"}\n' > "$work/config.json"
"$tap" --config "$work/config.json" --discover > "$work/catalog.json"
"$work/user/bin/python" - "$work/about.json" "$work/catalog.json" "$repo/pyproject.toml" <<'PY'
import json
import re
import sys
from pathlib import Path

about = json.loads(Path(sys.argv[1]).read_text())
catalog = json.loads(Path(sys.argv[2]).read_text())
text = Path(sys.argv[3]).read_text()
version = re.search(r'^version\s*=\s*"([^"]+)"', text[text.index("[project]"):], re.M).group(1)
streams = sorted(stream["tap_stream_id"] for stream in catalog["streams"])
if about["version"] != version:
    sys.exit(f"release-check: --about says version {about['version']}, pyproject.toml {version}")
if "interviews" not in streams:
    sys.exit(f"release-check: --discover lists no interviews stream: {streams}")
print(
    f"release-check: --about: {about['name']} {about['version']}, "
    f"{len(about['settings']['properties'])} settings; --discover: {', '.join(streams)}",
    file=sys.stderr,
)
PY
say "ok: $(basename "$sdist") and $(basename "$wheel") in $dist"
