"""The embedded historian: TAG_DATA in an SQLite file, WAL mode.

The unique key is led by ``ts`` because new rows then land at the end of the
B-tree: measured on a 2-core machine, ~300k rows/s against ~55k rows/s for the
same key led by plc_code, tag_address (see DESIGN.md). Duplicates are skipped
by ``INSERT OR IGNORE`` and counted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from common.historian.rows import COLUMNS, Row

DDL = """
CREATE TABLE IF NOT EXISTS TAG_DATA (
    ts          TEXT NOT NULL,
    plc_code    TEXT NOT NULL,
    tag_address TEXT NOT NULL,
    tag_value,
    quality     TEXT NOT NULL,
    group_name  TEXT NOT NULL DEFAULT '',
    seq         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (ts, plc_code, tag_address)
)
"""

INSERT = (f"INSERT OR IGNORE INTO TAG_DATA ({', '.join(COLUMNS)}) "
          f"VALUES ({', '.join('?' for _ in COLUMNS)})")


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int


class SqliteSink:
    name = "sqlite"

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(DDL)
            self._conn = conn
        return self._conn

    def write(self, rows: list[Row]) -> WriteResult:
        """Insert ``rows`` in one transaction; raises sqlite3.Error and rolls back on failure."""
        conn = self._connection()
        before = conn.total_changes
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(INSERT, rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        inserted = conn.total_changes - before
        return WriteResult(inserted, len(rows) - inserted)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
