"""The README's settings table is what the tap itself prints."""

from __future__ import annotations

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
