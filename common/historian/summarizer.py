"""The per-minute summaries (rollup.py), made by a thread of the writer beside its batches.

Strategy: a minute of the whole plant is summarized in one read transaction
on a connection of this thread's own, then stored in a short write
transaction. The read is SQLite's work (GROUP BY over the minute's values),
during which Python's sqlite3 releases the GIL: on a plant of 100,000
values/s a minute is 6 million values, several seconds of one core, and the
writer's batches go on committing on the other meanwhile (WAL: a reader
never blocks the writer). Made in the writer's own loop, that minute stopped
the writer for those seconds and the buffer's ring overflowed.

The thread runs at a lower CPU priority (NICE): on a machine the plant
keeps busy, the batches, the pollers and the buffer go first and the
summaries fall behind (readers take a pending minute from its values) rather
than the other way round. It looks for a due minute every IDLE_S when there
is none, goes on at once while minutes are due, and waits while
``paused()`` says so (the writer's disk guard). An error (the historian locked past the busy timeout,
a day dropped under the read) is logged once, counted, and tried again
after RETRY_S; nothing is lost by it: the minute stays pending, and readers
read a pending minute from the values themselves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from common.historian import rollup
from common.historian.sqlite_sink import open_historian
from common.times import now_ms

if TYPE_CHECKING:
    from common.wire.figures import SummaryFigures

log = logging.getLogger("historian.summaries")

IDLE_S = 1.0
RETRY_S = 5.0
NICE = 10  # summaries are upkeep: on a busy machine the stages' own work goes first


class Summarizer:
    def __init__(self, path: Path, paused: Callable[[], bool] = lambda: False,
                 clock: Callable[[], int] = now_ms, timeout: float = 2.0) -> None:
        self.path = path
        self.paused = paused
        self.clock = clock
        self.timeout = timeout
        self.minutes = 0  # minutes summarized and stored
        self.again = 0  # minutes written to while being summarized: summarized again later
        self.errors = 0
        self.pending = 0  # minutes waiting for their summary, at the last turn
        self.last_error: str | None = None
        self.native_id: int | None = None  # the thread's id for the kernel (its nice value is NICE)
        self._conn: sqlite3.Connection | None = None  # the thread's connection, for close() to interrupt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="summaries")

    def start(self) -> Summarizer:
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop now: a minute's read under way is interrupted (sqlite3's interrupt; the minute stays
        pending, summarized at the next start), so the writer's stop never waits for a summary."""
        self._stop.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.interrupt()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def figures(self) -> SummaryFigures:
        return {"minutes": self.minutes, "again": self.again, "pending": self.pending, "errors": self.errors,
                "last_error": self.last_error}

    def turn(self, conn: sqlite3.Connection) -> bool:
        """Summarize and store one due minute; False if none was due."""
        self.pending = int(conn.execute("SELECT count(*) FROM rollup_pending").fetchone()[0])
        read = rollup.read_one(conn, self.clock())
        if read is None:
            return False
        if self._stop.is_set():
            return False
        if rollup.store(conn, *read):
            self.minutes += 1
        else:
            self.again += 1
        return True

    def _run(self) -> None:
        self.native_id = threading.get_native_id()
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread's own nice value (its TID)
            os.setpriority(os.PRIO_PROCESS, self.native_id, NICE)
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                if self.paused():
                    self._stop.wait(IDLE_S)
                    continue
                try:
                    conn = self._conn = conn or open_historian(self.path, self.timeout)
                    busy = self.turn(conn)
                except (sqlite3.Error, OSError) as error:
                    if self._stop.is_set():  # interrupted by close()
                        break
                    self.errors += 1
                    if str(error) != self.last_error:
                        log.warning("per-minute summaries put off %.0f s: %s", RETRY_S, error)
                    self.last_error = str(error)
                    if conn is not None:
                        self._conn = None
                        conn.close()
                        conn = None
                    self._stop.wait(RETRY_S)
                    continue
                except Exception:  # a bug must not end the summaries for the life of the writer
                    self.errors += 1
                    log.exception("per-minute summaries: turn failed; tried again in %.0f s", RETRY_S)
                    self._stop.wait(RETRY_S)
                    continue
                self.last_error = None
                if not busy:
                    self._stop.wait(IDLE_S)
        finally:
            self._conn = None
            if conn is not None:
                conn.close()
