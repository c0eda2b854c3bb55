"""The state of the disk the writer's backup files go to, as its status reports it.

A disk that refuses a file (ENOSPC, EIO, read-only) is a state, not a crash:
the first error opens it (``since_ms``), later ones update the error text,
and the first file written after clears it. The status object has the same
fields for every stage that reports a disk, so the gateway's health reads
them alike::

    {"path": "/data/backup", "mount": "/data", "free_bytes": 1048576,
     "error": "OSError: [Errno 28] No space left on device", "since_ms": 1763868000123}
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from common.times import now_ms

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import BackupDisk


def mount_of(path: os.PathLike[str] | str) -> str:
    """The mount point a path lives on (the disk an operator has to free)."""
    at = os.path.abspath(path)
    while not os.path.ismount(at):
        at = os.path.dirname(at)
    return at


class DiskState:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.error: str | None = None
        self.since_ms: int | None = None

    def refused(self, error: OSError) -> None:
        if self.error is None:
            self.since_ms = now_ms()
        self.error = f"{type(error).__name__}: {error}"

    def cleared(self) -> str | None:
        """Forget the error (a file was written); returns the error there was, if any."""
        was, self.error, self.since_ms = self.error, None, None
        return was

    def status(self) -> BackupDisk:
        try:
            free: int | None = shutil.disk_usage(self.folder).free
        except OSError:
            free = None
        return {"path": str(self.folder), "mount": mount_of(self.folder), "free_bytes": free, "error": self.error,
                "since_ms": self.since_ms}
