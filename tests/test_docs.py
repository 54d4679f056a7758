"""The docs say what the code does: the settings table is what the tap prints, every test
and link they name exists, and the README stays a five-minute read."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import run_tap

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
#: What a Meltano user reads in five minutes.
README_MAX_LINES = 300


def table(markdown: str) -> list[str]:
    """A markdown table's lines, its separator rows included (a stray one shows)."""
    return [line for line in markdown.splitlines() if line.startswith("|")]


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


def test_the_readme_is_a_five_minute_read_that_links_into_the_docs():
    readme = README.read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)", readme))
    assert linked == {f"docs/{doc.name}" for doc in DOCS}
    assert len(DOCS) >= 4  # operations, state and polling, warehouse, development


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a document's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    checked = 0
    for document in [README, *DOCS]:
        text = document.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # an outside address
            path, _, anchor = target.partition("#")
            linked = (document.parent / path).resolve() if path else document
            assert linked.exists(), f"{document.name} links to {target}: no such file"
            if anchor:
                assert anchor in anchors(linked.read_text()), f"{document.name}: {target}"
            checked += 1
    assert checked > 10


def test_every_test_the_docs_name_exists():
    # The docs back their promises with test names: a renamed or removed test must not
    # leave a promise standing on nothing.
    text = "\n".join(path.read_text() for path in [README, *DOCS])
    named = set(re.findall(r"\b(test_[a-z0-9_]+)\b", text))
    tests = REPO / "tests"
    modules = {path.stem for path in tests.glob("test_*.py")}
    defined = set(re.findall(r"^def (test_[a-z0-9_]+)", _all_tests(tests), flags=re.MULTILINE))
    assert {"test_two_workers_share_one_state", "test_workers"} <= named
    assert named <= defined | modules, sorted(named - defined - modules)


def test_every_module_of_the_package_is_in_the_documented_layout():
    development = (REPO / "docs" / "development.md").read_text()
    layout = development[development.index("## Layout") :]
    modules = {p.name for p in (REPO / "tap_hindsight").glob("*.py") if p.stem[0] != "_"}
    assert modules == set(re.findall(r"`(\w+\.py)`", layout)) & modules
    assert modules <= set(re.findall(r"`(\w+\.py)`", layout))


def _all_tests(tests: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(tests.glob("test_*.py")))
