"""The writer process: lease a batch, insert it, commit, acknowledge.

Strategy: ask the buffer for up to BUFFER_BATCH_SIZE values; a full batch is
followed at once by the next request, a short one by a pause of
BUFFER_WRITE_INTERVAL, so the writer stores 500 values at a time under load
and whatever is there every 0.5 s otherwise. A batch is acknowledged only
after its commit or its backup file; a writer killed before that loses
nothing, because the buffer hands the lease out again and the insert is
idempotent. A batch the database will not take is retried after 1, 2 and 4 s
(ORACLE_RETRY_MAX), then written to a backup file; backup files are replayed,
oldest first, as soon as the database answers again (replay.py). Rows the
database refuses for what they are go to a rejected file with the reason.

A batch is never retried forever for what it is: anything the sink raises
other than SinkUnavailable (SQLite's OverflowError for an integer it cannot
bind, a bug) splits the batch in halves until the rows that fail are alone;
those go to ``rejected/`` with the error, the rest is stored. A disk that
refuses the backup file (ENOSPC) is not a crash either: the writer keeps the
batch unacknowledged (the buffer still has it), says so in its status
(``disk``: path, mount, free bytes, error, since when; the gateway's health
answers 503 with it) and tries again every HELD_RETRY_S, publishing its
status all the while. Below HISTORIAN_MIN_FREE_MB of free disk the writer
holds its batch the same way without writing at all (disk_guard.py).

Between batches the writer gives the historian a bounded step of upkeep
(SqliteSink.housekeep: retention of old days), one short transaction a step;
the SQLite historian's per-minute summaries are made by a thread of their
own (common/historian/summarizer.py), so a minute of a large plant never
stops the batches.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from common import bus, curve
from common.historian.rows import Row
from common.historian.sink import Sink, SinkUnavailable
from common.settings import Settings
from common.times import now_ms
from common.wire.block import Block
from services.writer.backup import BackupStore
from services.writer.disk import DiskState
from services.writer.disk_guard import DiskGuard
from services.writer.historian import open_sink, rows_of, start_summaries
from services.writer.lease_client import LeaseClient
from services.writer.metrics import WriterMetrics
from services.writer.replay import BackupReplay

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.historian.summarizer import Summarizer
    from common.wire.figures import WriterFigures

log = logging.getLogger("writer")


HELD_RETRY_S = 5.0  # a batch neither stored nor backed up (disk full) is tried again this often
IDLE_UPKEEP_STEPS = 5  # historian upkeep steps after a short batch (one after a full one)


class WriterService:
    def __init__(self, settings: Settings, sink: Sink | None = None, ctx: zmq.Context[Any] | None = None,
                 security: curve.SocketSecurity | None = None) -> None:
        self.settings = settings
        self.security = security or curve.for_stage(settings, "writer")
        self.sink: Sink = sink or open_sink(settings)
        self.ctx = ctx or zmq.Context.instance()
        self.backups = BackupStore(settings.backup_dir)
        self.metrics = WriterMetrics()
        self.replays = BackupReplay(self.backups, self.metrics)
        # 1, 2, 4 ... s: ORACLE_RETRY_MAX of them (at most 10, checked by the settings)
        self.retry_delays = tuple(float(2**n) for n in range(settings.oracle_retry_max))
        self.database_ok: bool | None = None
        self._unacked: int | None = None  # the last committed batch, acknowledged with the next lease request
        self.buffer: LeaseClient | None = None
        self.telemetry: bus.Telemetry | None = None
        self._next_status = 0.0
        self.summaries: Summarizer | None = None  # the SQLite historian's per-minute summaries, while running
        self.disk = DiskState(self.backups.folder)
        # the historian's folder (SQLite), the backups, and the journals and ledger of the data folder
        guarded = [self.backups.folder, settings.scada_data_dir]
        historian = getattr(self.sink, "path", None)
        if isinstance(historian, Path):
            guarded.insert(0, historian.parent)
        self.guard = DiskGuard(guarded, settings.historian_min_free_mb)

    # -- storing -------------------------------------------------------------
    def _write_once(self, rows: list[Row], oldest_ms: int | None = None) -> None:
        started = time.monotonic()
        result = self.sink.write(rows)
        age = float(now_ms() - oldest_ms) if oldest_ms is not None else 0.0
        self.metrics.success(result.inserted, 1000 * (time.monotonic() - started), age)
        self.metrics.duplicates += result.duplicates
        if result.rejected:
            self._reject(result.rejected)
        self.database_ok = True

    def _write_apart(self, rows: list[Row], oldest_ms: int | None = None, depth: int = 0) -> None:
        """Write rows; what the sink refuses for what it is (not SinkUnavailable) is bisected down to the
        rows that fail, which go to rejected/ with the error. SinkUnavailable goes to the caller."""
        try:
            self._write_once(rows, oldest_ms)
            return
        except SinkUnavailable:
            raise
        except Exception as error:
            if len(rows) == 1:
                self._reject([(rows[0], f"{type(error).__name__}: {error}")])
                return
            if depth == 0:  # the traceback once a batch, not once a bisection
                log.warning("the database refused a batch of %d values (%s: %s); looking for the rows it refuses",
                            len(rows), type(error).__name__, error, exc_info=True)
        half = len(rows) // 2
        self._write_apart(rows[:half], oldest_ms, depth + 1)
        self._write_apart(rows[half:], oldest_ms, depth + 1)

    def _reject(self, rejected: list[tuple[Row, str]]) -> None:
        path = self.backups.reject(rejected)
        self.metrics.rows_rejected += len(rejected)
        log.error("%d rows refused by the database, kept in %s (first: %s)", len(rejected), path, rejected[0][1])

    def store(self, rows: list[Row], stop: threading.Event, oldest_ms: int | None = None) -> str:
        """Store a batch: committed, backed up after the last retry, or kept (no disk would take it:
        not acknowledged, the buffer still holds it). Returns which."""
        try:
            outcome = self._store(rows, stop, oldest_ms)
        except OSError as error:  # the backup or rejected file could not be written
            self._disk_trouble(error)
            return "kept"
        was = self.disk.cleared()
        if was is not None:
            log.info("disk at %s takes files again (after: %s)", self.backups.folder, was)
        return outcome

    def _disk_trouble(self, error: OSError, what: str = "") -> None:
        self.disk.refused(error)
        log.error("%s (%s)", what or f"batch neither stored nor backed up: kept unacknowledged, the buffer holds "
                  f"it; trying again every {HELD_RETRY_S:.0f} s", self.disk.error)

    def _pause(self, seconds: float, stop: threading.Event) -> bool:
        """Wait (True if stopping), publishing status on its own schedule meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._publish_status()
            if stop.wait(min(left, max(0.05, self._next_status - time.monotonic()))):
                return True
        return stop.is_set()

    def _publish_status(self) -> None:
        now = time.monotonic()
        if self.telemetry is not None and now >= self._next_status:
            self._next_status = now + 1.0
            self.telemetry.publish(**self.figures())

    def _store(self, rows: list[Row], stop: threading.Event, oldest_ms: int | None) -> str:
        for attempt in range(len(self.retry_delays) + 1):
            try:
                self._write_apart(rows, oldest_ms)
                return "committed"
            except SinkUnavailable as error:
                self.database_ok = False
                self.metrics.failure(str(error))
                if attempt == len(self.retry_delays) or stop.is_set():
                    break
                delay = self.retry_delays[attempt]
                log.warning("batch of %d values not stored (%s); retry %d in %.0f s", len(rows), error,
                            attempt + 1, delay)
                self.metrics.retries += 1
                if self._pause(delay, stop):
                    break  # stopping: back it up now rather than wait
        path = self.backups.write(rows)
        self.metrics.backup_files += 1
        self.metrics.rows_backed_up += len(rows)
        log.error("batch of %d values backed up to %s", len(rows), path)
        return "backed_up"

    def replay(self, stop: threading.Event) -> int:
        """Replay backup files, oldest first, while the database takes them; returns rows replayed."""
        replayed, error = self.replays.run(self._write_apart, self.settings.buffer_batch_size, stop)
        if error is not None:
            self.database_ok = False
            self.metrics.failure(str(error))
        return replayed

    def _maybe_replay(self, stop: threading.Event) -> None:
        if not self.backups.pending() or self.guard.low():
            return
        now = time.monotonic()
        if not self.replays.due(self.database_ok, now):
            return
        try:
            self.replay(stop)
        except OSError as error:  # a rejected file or a move the disk refused: the file stays, tried later
            self._disk_trouble(error, "replay of backup files stopped")
            self.replays.pause(now)

    def write_batch(self, blocks: list[Block], stop: threading.Event | None = None) -> str:
        if self.guard.low():  # below HISTORIAN_MIN_FREE_MB: nothing written, the batch is held
            return "kept"
        oldest = min((b.ts_ms for b in blocks), default=None)
        rows, refused = rows_of(blocks)
        if refused:
            try:
                self._reject(refused)
            except OSError as error:
                self._disk_trouble(error)
                return "kept"
        return self.store(rows, stop or threading.Event(), oldest) if rows else "committed"

    def _housekeep(self, steps: int) -> None:
        """Bounded upkeep of the historian between batches (common/historian/retention.py, rollup.py): one
        short transaction a step, so a batch never waits for more than one."""
        step = getattr(self.sink, "housekeep", None)
        if step is None or self.guard.low():
            return
        try:
            for _ in range(steps):
                if not step():
                    return
        except SinkUnavailable as error:
            log.warning("historian upkeep put off: %s", error)

    def figures(self) -> WriterFigures:
        return {"is_running": True, "sink": self.sink.name, "database_ok": self.database_ok,
                "bad_frames": self.buffer.bad_frames if self.buffer else 0, "disk": self.disk.status(),
                "disk_guard": self.guard.status(),
                "historian_reopened": getattr(self.sink, "reopened", 0),
                "summaries": self.summaries.figures() if self.summaries is not None else None,
                **self.metrics.figures(len(self.backups.pending()))}

    def run(self, stop: threading.Event) -> None:
        s = self.settings
        buffer = self.buffer = LeaseClient(self.ctx, s.lease_endpoint, self.security)
        telemetry = self.telemetry = bus.Telemetry(self.ctx, s.telemetry_endpoint, "writer", security=self.security)
        log.info("leasing from %s into %s (retries %s s, backups in %s)", s.lease_endpoint, self.sink.name,
                 "/".join(f"{d:.0f}" for d in self.retry_delays), self.backups.folder)
        wanted = s.buffer_batch_size
        summaries = self.summaries = start_summaries(self.sink, self.guard.low)
        try:
            while not stop.is_set():
                self._publish_status()
                self._maybe_replay(stop)
                reply = buffer.lease(wanted, self._unacked, stop)
                if reply is None:
                    stop.wait(s.buffer_write_interval)
                    continue
                self._unacked = None
                blocks = reply.blocks
                count = sum(b.count for b in blocks)
                # Behind (the buffer holds more than a batch): take up to BUFFER_CATCHUP_SIZE at once,
                # so the cost of a batch (lease, commit) is shared by more values; back to normal after.
                wanted = max(s.buffer_batch_size, min(reply.backlog, s.buffer_catchup_size))
                if blocks:
                    # Even when stopping, the batch we hold is committed or backed up, then acknowledged;
                    # kept (no disk takes it) it is tried again, never acknowledged: the buffer holds it.
                    outcome = self.write_batch(blocks, stop)
                    while outcome == "kept" and not self._pause(HELD_RETRY_S, stop):
                        outcome = self.write_batch(blocks, stop)
                    if outcome != "kept":
                        self._unacked = reply.lease
                self._housekeep(1 if count >= s.buffer_batch_size else IDLE_UPKEEP_STEPS)
                if count < s.buffer_batch_size:
                    stop.wait(s.buffer_write_interval)
            if self._unacked is not None and not buffer.acknowledge(self._unacked):
                log.warning("ack of lease %d not confirmed; the batch may be written again (idempotent)",
                            self._unacked)
        finally:
            if summaries is not None:
                summaries.close()
            telemetry.publish(**{**self.figures(), "is_running": False})
            telemetry.close()
            buffer.close()
            self.sink.close()
