"""Sweep errors and the result table's fixed columns."""

from __future__ import annotations

from pathlib import Path

from ..loading import ScenarioError

KEY_COLUMNS = ["point_id", "replication", "seed"]
TAIL_COLUMNS = ["wall_seconds", "error"]


class SweepError(ScenarioError):
    """A sweep file (or sweep option) is invalid; ``lines`` holds one message per problem."""


class SweepInterrupted(Exception):
    """Ctrl-C during a sweep; everything finished so far is saved."""

    def __init__(self, folder: Path, saved: int, total: int):
        super().__init__(f"interrupted: {saved} of {total} runs saved in {folder}; run the same command again to continue")
        self.folder, self.saved, self.total = folder, saved, total
