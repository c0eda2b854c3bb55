"""The writer's figures over a rolling 5 minutes, and totals since start."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import WriteFigures


WINDOW_S = 300.0


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))], 1)


@dataclass
class WriteEvent:
    at: float
    ok: bool
    values: int
    latency_ms: float
    age_ms: float = 0.0  # from the oldest cycle read in the batch to its commit


@dataclass
class WriterMetrics:
    clock: Callable[[], float] = time.monotonic
    events: deque[WriteEvent] = field(default_factory=deque)
    started: float = field(default=0.0)
    retries: int = 0
    backup_files: int = 0
    rows_backed_up: int = 0
    rows_replayed: int = 0
    rows_rejected: int = 0
    duplicates: int = 0
    values_written: int = 0
    last_error: str | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()

    def _trim(self) -> None:
        horizon = self.clock() - WINDOW_S
        while self.events and self.events[0].at < horizon:
            self.events.popleft()

    def success(self, values: int, latency_ms: float, age_ms: float = 0.0) -> None:
        self.events.append(WriteEvent(self.clock(), True, values, latency_ms, age_ms))
        self.values_written += values
        self._trim()

    def failure(self, error: str) -> None:
        self.events.append(WriteEvent(self.clock(), False, 0, 0.0))
        self.last_error = error
        self._trim()

    def figures(self, pending_backups: int) -> WriteFigures:
        self._trim()
        ok = [e for e in self.events if e.ok]
        failed = len(self.events) - len(ok)
        span = min(WINDOW_S, max(1e-9, self.clock() - self.started))
        values = sum(e.values for e in ok)
        return {
            "window_s": WINDOW_S,
            "batches": len(ok),
            "successful_writes": len(ok),
            "failed_writes": failed,
            "success_rate_pct": round(100.0 * len(ok) / len(self.events), 2) if self.events else 100.0,
            "avg_batch_size": round(values / len(ok), 1) if ok else 0.0,
            "avg_write_latency_ms": round(sum(e.latency_ms for e in ok) / len(ok), 2) if ok else 0.0,
            "commit_age_p50_ms": _percentile([e.age_ms for e in ok], 50),
            "commit_age_p99_ms": _percentile([e.age_ms for e in ok], 99),
            "throughput_items_per_sec": round(values / span, 1),
            "retries": self.retries,
            "backup_files_written": self.backup_files,
            "backup_files_pending": pending_backups,
            "rows_backed_up": self.rows_backed_up,
            "rows_replayed": self.rows_replayed,
            "rows_rejected": self.rows_rejected,
            "duplicates": self.duplicates,
            "values_written_total": self.values_written,
            "last_error": self.last_error,
        }
