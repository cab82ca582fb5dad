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


class SweepFailed(Exception):
    """Every run of a sweep (or of replications) was lost or raised: there is nothing to summarise.

    ``failed`` runs raised, ``lost`` runs never came back (a worker died); ``first_error`` is
    the first reason, and the message is one line saying all of it."""

    def __init__(self, folder: Path, total: int, failed: int, lost: int, first_error: str):
        kinds = [f"{n} {what}" for n, what in ((failed, "raised an error"), (lost, "lost with their worker")) if n]
        super().__init__(f"all {total} runs failed ({', '.join(kinds) or 'none ran'}); first error: {first_error}"
                         f" (results in {folder})")
        self.folder, self.total, self.failed, self.lost, self.first_error = folder, total, failed, lost, first_error
