"""Backup files back into the historian once the database answers again.

Strategy: a batch the database would not take after its last retry is written
to a backup file (backup.py) and acknowledged; this module puts those files
back, oldest first, through the writer's own write (so a row the database
refuses for what it is goes to ``rejected/`` as in a live batch), in batches of
BUFFER_BATCH_SIZE. A file is done only once every row of it is stored; the
first SinkUnavailable stops the replay, and the file is tried again later,
at once while the database answers, every REPLAY_EVERY_S while it does not.
A file that cannot be read is set aside; a disk that refuses a move pauses
the replay for REPLAY_EVERY_S (the caller says so with :meth:`pause`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from common.historian.rows import Row
from common.historian.sink import SinkUnavailable
from services.writer.backup import BackupError, BackupStore
from services.writer.metrics import WriterMetrics

log = logging.getLogger("writer")

REPLAY_EVERY_S = 5.0  # how often to try the database again while only backups are waiting


class BackupReplay:
    """When to replay the backup files, and the replay itself; the writer owns the database's state."""

    def __init__(self, backups: BackupStore, metrics: WriterMetrics) -> None:
        self.backups = backups
        self.metrics = metrics
        self._last_try = 0.0
        self._paused_until = 0.0

    def due(self, database_ok: bool | None, now: float) -> bool:
        """Whether to replay at ``now`` (monotonic s): never while paused; at once while the database answers,
        otherwise every REPLAY_EVERY_S. A True counts as a try."""
        if now < self._paused_until:
            return False
        if database_ok or now - self._last_try >= REPLAY_EVERY_S:
            self._last_try = now
            return True
        return False

    def pause(self, now: float) -> None:
        """No replay for REPLAY_EVERY_S from ``now`` (a disk refused a file or a move)."""
        self._paused_until = now + REPLAY_EVERY_S

    def run(self, write: Callable[[list[Row]], None], batch_size: int,
            stop: threading.Event) -> tuple[int, SinkUnavailable | None]:
        """Replay backup files, oldest first, while ``write`` takes them: the rows replayed, and the
        SinkUnavailable that stopped the replay (None if none did). An OSError of the disk goes to the caller."""
        replayed = 0
        for path in self.backups.pending():
            if stop.is_set():
                break
            try:
                rows = self.backups.read(path)
            except (BackupError, OSError) as error:
                aside = self.backups.set_aside(path)
                log.error("backup file unreadable (%s); moved to %s", error, aside)
                continue
            try:
                for start in range(0, len(rows), max(1, batch_size)):
                    write(rows[start : start + batch_size])
            except SinkUnavailable as error:
                log.warning("replay of %s stopped: %s", path.name, error)
                return replayed, error
            self.backups.done(path)
            self.metrics.rows_replayed += len(rows)
            replayed += len(rows)
            log.info("replayed %d rows from %s", len(rows), path.name)
        return replayed, None
