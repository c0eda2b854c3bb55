"""Has anyone committed to the config store since the last look? One kept connection, no table read.

``PRAGMA data_version`` changes on a connection when another connection has
committed to the file since that connection last asked (SQLite's documented
way to notice other writers); asking costs microseconds, so a process can
look once a second and read the plant again only when it changed. Blocking:
call it from a worker thread; one look at a time.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from common.config_store.schema import migrate

BUSY_TIMEOUT_MS = 1000


class StoreWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The kept connection (opened, and the store migrated, at the first use)."""
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False)  # used from worker threads, one at a time
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            try:
                migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def changed(self) -> bool:
        """True at the first look and whenever another connection committed since the last one.

        sqlite3.Error (busy, unreadable) closes the connection: the next look starts afresh and
        says True.
        """
        try:
            version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            self.close()
            raise
        if version == self._version:
            return False
        self._version = version
        return True

    def forget(self) -> None:
        """The read that followed ``changed`` failed: say changed again at the next look."""
        self._version = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn, self._version = None, None
