"""The writer's disk guard: free space where the historian, the backups and the journals live.

Strategy: before it writes, the writer asks :meth:`DiskGuard.low` (which
looks at the disks at most every CHECK_S). Below HISTORIAN_MIN_FREE_MB on
any of them it writes nothing -- not to the historian, not a backup file,
no replay, no upkeep -- and holds the batch it leased unacknowledged, trying
again every HELD_RETRY_S, exactly as when a disk refuses a backup file
(services/writer/disk.py). So the disk never fills to the last byte under
the historian (SQLite, the journals and the ledger keep the room they need to
finish what they do), and nothing is lost silently: the buffer keeps every
value it holds, and once its ring is full it drops the oldest by its own
rule, each drop counted in the ledger and shown by ``scada account``
(``dropped by the buffer's overflow``). The writer's status carries
``disk_guard`` and health answers 503 with its reason. Retention does not
help here: SQLite reuses the pages of removed days, it does not give them
back to the filesystem; the operator frees space (or lowers
HISTORIAN_KEEP_DAYS ahead of time). Writing resumes by itself once every disk
is above the threshold again.

Status (``disk_guard`` in the writer's status)::

    {"ok": false, "min_free_bytes": 1073741824, "since_ms": 1764748800000,
     "low": [{"path": "/data", "free_bytes": 524288000}],
     "reason": "writer: free disk below HISTORIAN_MIN_FREE_MB (1,024 MB) at /data: 500 MB free; ..."}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from common.disk import free_bytes
from common.times import now_ms

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import DiskGuardFigures, LowDisk

CHECK_S = 1.0
MB = 1 << 20
log = logging.getLogger("writer.disk_guard")


class DiskGuard:
    def __init__(self, paths: list[Path], min_free_mb: int, free: Callable[[Path], int | None] = free_bytes,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.paths = list(dict.fromkeys(paths))
        self.min_free_bytes = min_free_mb * MB
        self.free, self.clock = free, clock
        self._checked = -CHECK_S
        self._low: list[LowDisk] = []
        self.since_ms: int | None = None
        self.held_checks = 0  # checks that found a disk low, since the start

    def low(self) -> bool:
        """Whether a disk is below the threshold (looked at again when the last look is CHECK_S old)."""
        if self.min_free_bytes <= 0:
            return False
        now = self.clock()
        if now - self._checked >= CHECK_S:
            self._checked = now
            self._look()
        return bool(self._low)

    def _look(self) -> None:
        low: list[LowDisk] = []
        for path in self.paths:
            free = self.free(path)
            if free is not None and free < self.min_free_bytes:
                low.append({"path": str(path), "free_bytes": free})
        if low and not self._low:
            self.since_ms = now_ms()
            log.error("%s", self._reason(low))
        elif self._low and not low:
            log.warning("free disk above HISTORIAN_MIN_FREE_MB again: writing resumes")
            self.since_ms = None
        if low:
            self.held_checks += 1
        self._low = low

    def _reason(self, low: list[LowDisk]) -> str:
        where = ", ".join(f"{d['path']}: {d['free_bytes'] / MB:,.0f} MB free" for d in low)
        return (f"writer: free disk below HISTORIAN_MIN_FREE_MB ({self.min_free_bytes / MB:,.0f} MB) at {where}; "
                "writing stopped, the batch is held (the buffer keeps it; once its ring is full it drops the "
                "oldest, counted in the ledger) until space is freed")

    def status(self) -> DiskGuardFigures:
        return {"ok": not self._low, "min_free_bytes": self.min_free_bytes, "since_ms": self.since_ms,
                "low": list(self._low), "reason": self._reason(self._low) if self._low else None}
