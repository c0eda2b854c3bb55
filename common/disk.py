"""A stage's disk as a state, not a crash: which of its files cannot be written, since when, and why.

Strategy: the owners of files that must be written (journals, the ledger)
catch OSError (ENOSPC, EIO, EDQUOT, ...) around each write and tell this
object; it logs the first failure of a path at ERROR (with the free bytes)
and its recovery at WARNING, and its ``figures`` go into the stage's status,
so the gateway's health names the disk and the path while it lasts. What
each owner does with what it could not write is its own rule (see the
poller's send queue, the buffer's journal and the ledger).

Status fields (``disk`` in a stage's status)::

    {"ok": false, "problems": [{"path": "/data/buffer.journal", "error": "[Errno 28] No space left on device",
                                "since_ms": 1763868000123, "free_bytes": 0}]}
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import JournalDisk


log = logging.getLogger("disk")


@dataclass
class Problem:
    path: Path
    error: str
    since_ms: int
    failures: int = 1


def free_bytes(path: Path) -> int | None:
    """Free bytes (for an unprivileged writer) on the filesystem holding ``path``, or None if unknown."""
    for at in (path, *path.parents):
        try:
            st = os.statvfs(at)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize
    return None


class DiskState:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.problems: dict[Path, Problem] = {}
        self.failures = 0  # every failed write, since the start

    @property
    def ok(self) -> bool:
        return not self.problems

    def failed(self, path: Path, error: OSError) -> None:
        """A write to ``path`` failed; the owner keeps what it could not write by its own rule."""
        self.failures += 1
        problem = self.problems.get(path)
        if problem is not None:
            problem.failures += 1
            problem.error = str(error)
            return
        self.problems[path] = Problem(path, str(error), int(self.clock() * 1000))
        log.error("cannot write %s (%s; %s bytes free): kept in memory until the disk takes it again",
                  path, error, free_bytes(path))

    def written(self, path: Path) -> None:
        """A write to ``path`` went through: its problem, if any, is over."""
        problem = self.problems.pop(path, None)
        if problem is not None:
            log.warning("%s written again after %.0f s and %d failed writes", path,
                        self.clock() - problem.since_ms / 1000, problem.failures)

    def figures(self) -> JournalDisk:
        return {"ok": self.ok, "failures": self.failures,
                "problems": [{"path": str(p.path), "error": p.error, "since_ms": p.since_ms,
                              "free_bytes": free_bytes(p.path)} for p in self.problems.values()]}
