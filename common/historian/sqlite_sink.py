"""The embedded historian: TAG_DATA in an SQLite file, WAL mode.

The key is the value's identity (plc_code, group_name, cycle, tag_address),
led by ``ts``: the read time is a function of the identity (a cycle sent
twice carries the same ``ts``), so leading with it changes nothing about
what is unique, and new rows then land at the end of the B-tree: measured on
a 2-core machine, ~300k rows/s against ~55k rows/s for a key led by
plc_code, tag_address (see DESIGN.md). The key is the table's primary key
and the table has no rowid, so a row is one B-tree insert, not two (a table
and its unique index): ~214k -> ~301k rows/s (``python -m
bench.sqlite_layout``). Duplicates of the key are skipped (``ON CONFLICT ...
DO NOTHING``) and counted.

A historian of the previous release (key (ts, plc_code, tag_address), a
``seq`` column that restarts at 1) is upgraded when the sink first opens it,
in one transaction: every row is kept, with the cycle ``-ts`` its release
named it by (``legacy_cycle``), so a cycle of that release still
waiting in a journal and sent again after the upgrade is stored once. The
copy needs as much free disk as the table, for a moment. A batch that a constraint refuses is
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
from common.times import iso_ms

DDL = """
CREATE TABLE IF NOT EXISTS TAG_DATA (
    ts          TEXT NOT NULL,
    plc_code    TEXT NOT NULL,
    tag_address TEXT NOT NULL,
    tag_value,
    quality     TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    cycle       INTEGER NOT NULL,
    PRIMARY KEY (ts, plc_code, group_name, cycle, tag_address)
) WITHOUT ROWID
"""

# Not INSERT OR IGNORE: that would also drop rows that break NOT NULL or CHECK, silently.
INSERT = insert_statement(COLUMNS, "?") + " ON CONFLICT (ts, plc_code, group_name, cycle, tag_address) DO NOTHING"
# OverflowError: an integer SQLite cannot bind (outside signed 64 bits).
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, OverflowError)
FILE_CHECK_S = 1.0
log = logging.getLogger("historian.sqlite")

# The previous release's rows: its cycles were named by ts, their number is -ts in Unix ms.
_UPGRADE = ("INSERT INTO TAG_DATA (ts, plc_code, tag_address, tag_value, quality, group_name, cycle) "
            "SELECT ts, plc_code, tag_address, tag_value, quality, group_name, "
            "-(CAST(strftime('%s', ts) AS INTEGER) * 1000 + CAST(substr(ts, 21, 3) AS INTEGER)) "
            "FROM TAG_DATA_PREVIOUS ORDER BY ts, plc_code, group_name, tag_address")


def upgrade(conn: sqlite3.Connection) -> int | None:
    """Bring a previous release's TAG_DATA to this layout, every row kept; returns the rows moved
    (None when there was nothing to upgrade). One transaction: a crash leaves the old table as it was."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(TAG_DATA)")}
    if not columns or "cycle" in columns:
        return None
    started = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("ALTER TABLE TAG_DATA RENAME TO TAG_DATA_PREVIOUS")
        conn.execute(DDL)
        moved = conn.execute(_UPGRADE).rowcount
        conn.execute("DROP TABLE TAG_DATA_PREVIOUS")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    log.warning("historian upgraded to the (plc_code, group_name, cycle, tag_address) key: %d rows kept, "
                "in %.1f s", moved, time.monotonic() - started)
    return int(moved)


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
                upgrade(conn)
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
        return {(plc, group, cycle): n for plc, group, cycle, n in rows}

    def addresses(self, key: CycleKey, ts_ms: int) -> set[str]:
        rows = self._connection().execute(ADDRESSES.format(a="?", b="?", c="?", d="?"), (iso_ms(ts_ms), *key))
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
