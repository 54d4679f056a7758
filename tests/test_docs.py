"""The README's settings table is what the tap itself prints."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import run_tap

README = Path(__file__).resolve().parent.parent / "README.md"


def table(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ") and "|:--" not in line]


def test_readme_settings_table_matches_about_markdown(tmp_path):
    about = run_tap(tmp_path, None, "--about", "--format", "markdown").stdout
    settings_section = about[about.index("## Settings") : about.index("A full list")]
    readme = README.read_text()
    generated = table(settings_section)
    assert len(generated) > 8
    readme_section = readme[readme.index("## Settings") : readme.index("## Streams")]
    assert table(readme_section) == generated


def test_readme_starts_with_the_two_commands():
    readme = README.read_text()
    first_block = readme[readme.index("```bash") : readme.index("```", readme.index("```bash") + 3)]
    assert "make demo" in first_block
    assert "make test" in first_block


def test_every_test_the_readme_names_exists():
    # The README backs its promises with test names: a renamed or removed test must not
    # leave a promise standing on nothing.
    readme = README.read_text()
    named = set(re.findall(r"\b(test_[a-z0-9_]+)\b", readme))
    tests = README.parent / "tests"
    modules = {path.stem for path in tests.glob("test_*.py")}
    defined = set(re.findall(r"^def (test_[a-z0-9_]+)", _all_tests(tests), flags=re.MULTILINE))
    assert {"test_two_workers_share_one_state", "test_workers"} <= named
    assert named <= defined | modules, sorted(named - defined - modules)


def _all_tests(tests: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(tests.glob("test_*.py")))
