"""Names a user writes into the dbt seeds, and a copy of the dbt project that holds them.

The shipped seeds (transform/seeds) hold their header line only; a test that needs names
builds the models from a copy of the project (the utility's `project_dir` setting, as a
user could point it anywhere) instead of writing into the repository's files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hindsight_simulator.demo import write_names
from tests.helpers import REPO

if TYPE_CHECKING:
    from pathlib import Path

TRANSFORM = REPO / "transform"


@dataclass
class Names:
    """What a user wrote into the seeds: competitor and driver-reason names by ID."""

    competitors: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)

    def write(self, project: Path) -> None:
        """Write the seeds of the dbt project at `project` (header first, as shipped)."""
        write_names(project, self.competitors, self.reasons)

    def competitor(self, competitor_id: str | None) -> str | None:
        """The name the models give a competitor: the seed's, else the ID."""
        return self.competitors.get(competitor_id, competitor_id) if competitor_id else None

    def reason(self, reason_id: str) -> tuple[str, str | None]:
        """A reason's name and category in the models: the seed's (an empty category is
        null), else the ID and null."""
        name, category = self.reasons.get(reason_id, (reason_id, ""))
        return name, category or None


def transform_copy(path: Path, names: Names) -> Path:
    """A copy of the dbt project (transform/) at `path` with `names` in its seeds: what a
    user's project looks like once they have written names. The shipped seeds hold their
    header line only."""
    for seed in (TRANSFORM / "seeds").glob("*.csv"):
        assert len(seed.read_text().splitlines()) == 1, seed  # shipped empty
    shutil.copytree(TRANSFORM, path, ignore=shutil.ignore_patterns("target", "logs"))
    names.write(path)
    return path
