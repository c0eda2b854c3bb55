"""The embedded historian: TAG_DATA in an SQLite file, WAL mode.

The unique key is led by ``ts`` because new rows then land at the end of the
B-tree: measured on a 2-core machine, ~300k rows/s against ~55k rows/s for the
same key led by plc_code, tag_address (see DESIGN.md). The key is the table's
primary key and the table has no rowid, so a row is one B-tree insert, not
two (a table and its unique index): ~214k -> ~301k rows/s
(``python -m bench.sqlite_layout``). Duplicates of the key
are skipped (``ON CONFLICT ... DO NOTHING``) and counted. A batch that a constraint refuses is
written again row by row in the same transaction, so only the offending rows
are rejected; a database that is locked, read-only or unreachable makes the
whole batch fail with SinkUnavailable.

An open connection keeps writing into the file it opened, even after that
file was renamed, replaced or deleted; so before a write, at most every
FILE_CHECK_S, the sink compares the path's device and inode with those it
opened and, if they differ or the path is gone, reopens (a new file is
created with the table if none is there).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from common.historian.rows import ADDRESSES, COLUMNS, CYCLE_COUNTS, Row, insert_statement
from common.historian.sink import CycleKey, SinkUnavailable, WriteResult
from common.messages import iso_ms, ms_of_iso

DDL = """
CREATE TABLE IF NOT EXISTS TAG_DATA (
    ts          TEXT NOT NULL,
    plc_code    TEXT NOT NULL,
    tag_address TEXT NOT NULL,
    tag_value,
    quality     TEXT NOT NULL,
    group_name  TEXT NOT NULL DEFAULT '',
    seq         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ts, plc_code, tag_address)
) WITHOUT ROWID
"""

# Not INSERT OR IGNORE: that would also drop rows that break NOT NULL or CHECK, silently.
INSERT = insert_statement(COLUMNS, "?") + " ON CONFLICT (ts, plc_code, tag_address) DO NOTHING"
# OverflowError: an integer SQLite cannot bind (outside signed 64 bits).
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, OverflowError)
FILE_CHECK_S = 1.0
log = logging.getLogger("historian.sqlite")


class SqliteSink:
    name = "sqlite"

    def __init__(self, path: Path, timeout: float = 2.0) -> None:
        self.path = path
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None
        self._file_checked = 0.0
        self.reopened = 0

    def _file_replaced(self) -> bool:
        """Whether the path no longer names the file the connection has open (checked every FILE_CHECK_S)."""
        now = time.monotonic()
        if self._conn is None or now - self._file_checked < FILE_CHECK_S:
            return False
        self._file_checked = now
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != self._file_id

    def _connection(self) -> sqlite3.Connection:
        if self._file_replaced():
            log.warning("historian %s was replaced or removed under the writer; opening it again", self.path)
            self.close()
            self.reopened += 1
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(DDL)
                st = os.stat(self.path)
            except (sqlite3.Error, OSError):
                conn.close()
                raise
            self._conn = conn
            self._file_id = (st.st_dev, st.st_ino)
            self._file_checked = time.monotonic()
        return self._conn

    def write(self, rows: list[Row]) -> WriteResult:
        """Insert ``rows`` in one transaction (rolled back on failure)."""
        try:
            conn = self._connection()
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            rejected: list[tuple[Row, str]] = []
            try:
                try:
                    conn.executemany(INSERT, rows)
                except _ROW_ERRORS:
                    rejected = self._row_by_row(conn, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as error:
            self.close()  # a fresh connection next time
            raise SinkUnavailable(f"SQLite {self.path}: {error}") from None
        inserted = conn.total_changes - before
        return WriteResult(inserted, len(rows) - inserted - len(rejected), rejected)

    def cycle_counts(self, since_ms: int, until_ms: int) -> dict[CycleKey, int]:
        rows = self._connection().execute(CYCLE_COUNTS.format(a="?", b="?"), (iso_ms(since_ms), iso_ms(until_ms)))
        return {(plc, group, ms_of_iso(ts)): n for plc, group, ts, n in rows}

    def addresses(self, plc_code: str, ts_ms: int) -> set[str]:
        rows = self._connection().execute(ADDRESSES.format(a="?", b="?"), (plc_code, iso_ms(ts_ms)))
        return {address for (address,) in rows}

    @staticmethod
    def _row_by_row(conn: sqlite3.Connection, rows: list[Row]) -> list[tuple[Row, str]]:
        conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        rejected = []
        for row in rows:
            try:
                conn.execute(INSERT, row)
            except _ROW_ERRORS as error:
                rejected.append((row, f"{type(error).__name__}: {error}"))
        return rejected

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
