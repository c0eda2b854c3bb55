"""The embedded historian: an SQLite file, WAL mode, in the compact layout of layout.py.

Strategy: a batch is one transaction. Its rows come cycle by cycle (a block
is a slice of one cycle), so each cycle costs one upsert into its day's
``cycles_`` table (which returns the cycle's id, new or already there) and
each value one row appended to that day's ``values_`` table, keyed by
(cycle id, series id): the value's identity. A value already there is
skipped (``ON CONFLICT DO NOTHING``) and counted as a duplicate. Groups,
series and qualities are small dictionaries kept in memory beside the
connection (forgotten on a rollback). Not INSERT OR IGNORE: that would also
drop rows that break NOT NULL, silently. A batch that a constraint refuses is
written again row by row in the same transaction, so only the offending rows
are rejected; a database that is locked, read-only or unreachable makes the
whole batch fail with SinkUnavailable.

A historian of an earlier layout (one TAG_DATA table) is upgraded when the
sink first opens it (sqlite_upgrade.py): every row kept.

An open connection keeps writing into the file it opened, even after that
file was renamed, replaced or deleted; so before a write, at most every
FILE_CHECK_S, the sink compares the path's device and inode with those it
opened and, if they differ or the path is gone, reopens (a new file is
created with the layout if none is there).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.historian import layout, retention, rollup, sqlite_upgrade
from common.historian.layout import DAY_MS, GOOD, SERIES_BITS, SERIES_MASK, day_of
from common.historian.rows import Row
from common.historian.sink import CycleKey, SinkUnavailable, WriteResult
from common.times import ms_of_iso, now_ms

# OverflowError: an integer SQLite cannot bind (outside signed 64 bits).
_ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, OverflowError)
FILE_CHECK_S = 1.0
log = logging.getLogger("historian.sqlite")


def open_historian(path: Path, timeout: float = 2.0) -> sqlite3.Connection:
    """A connection to the historian at ``path`` in the current layout (created or upgraded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -32000")  # 32 MB: the right edges of the day tables and their indexes
        conn.execute("PRAGMA automatic_index = OFF")  # never a temporary index over a day of values
        if not layout.is_current(conn):
            sqlite_upgrade.upgrade(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteSink:
    name = "sqlite"

    def __init__(self, path: Path, timeout: float = 2.0, keep_days: int | None = None,
                 clock: Callable[[], int] = now_ms) -> None:
        """``keep_days``: HISTORIAN_KEEP_DAYS, applied by housekeep() (None: keep everything); ``clock``: Unix ms."""
        self.path = path
        self.clock = clock
        self.timeout = timeout
        self.keep_days = keep_days
        self._conn: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None
        self._file_checked = 0.0
        self.reopened = 0
        self.rollups = True  # housekeep() summarizes minutes too; False while a Summarizer thread does
        self._forget()

    def _forget(self) -> None:
        """Drop the in-memory dictionaries (after a rollback or a reopen they may name rows that are not there)."""
        self._groups: dict[tuple[str, str], int] = {}
        self._series: dict[int, dict[str, int]] = {}  # group id -> address -> series id
        self._qualities: dict[str, int] = {"GOOD": GOOD}
        self._days: set[int] = set()
        self._ts_text = ""
        self._ts_ms = 0

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
            conn = open_historian(self.path, self.timeout)
            try:
                st = os.stat(self.path)
            except OSError:
                conn.close()
                raise
            self._forget()
            self._conn = conn
            self._file_id = (st.st_dev, st.st_ino)
            self._file_checked = time.monotonic()
        return self._conn

    # -- the dictionaries ------------------------------------------------------
    def _ms(self, ts: str) -> int:
        if ts != self._ts_text:
            self._ts_text, self._ts_ms = ts, ms_of_iso(ts)
        return self._ts_ms

    def _day(self, conn: sqlite3.Connection, day: int) -> None:
        if day in self._days:
            return
        if self.keep_days is not None and day < (self.clock() - self.keep_days * DAY_MS) // DAY_MS:
            # retention removes (or removed) that day: the value is refused with the reason, never stored
            # into a table that is being emptied
            raise sqlite3.IntegrityError(f"read on {layout.day_name(day)}, a day older than HISTORIAN_KEEP_DAYS "
                                         f"({self.keep_days}) that retention removes")
        if not conn.execute("SELECT 1 FROM days WHERE day = ?", (day,)).fetchone():
            for statement in layout.day_ddl(day):
                conn.execute(statement)
            layout.rebuild_view(conn)
        self._days.add(day)

    def _group_id(self, conn: sqlite3.Connection, plc_code: str, group_name: str) -> int:
        key = (plc_code, group_name)
        found = self._groups.get(key)
        if found is None:
            found = int(conn.execute(
                "INSERT INTO groups (plc_code, group_name) VALUES (?, ?) ON CONFLICT (plc_code, group_name) "
                "DO UPDATE SET plc_code = plc_code RETURNING id", key).fetchone()[0])
            self._groups[key] = found
        return found

    def _series_id(self, conn: sqlite3.Connection, group_id: int, address: str) -> int:
        found = int(conn.execute(
            "INSERT INTO series (group_id, tag_address) VALUES (?, ?) ON CONFLICT (group_id, tag_address) "
            "DO UPDATE SET group_id = group_id RETURNING id", (group_id, address)).fetchone()[0])
        if found > SERIES_MASK:
            raise sqlite3.IntegrityError(f"more than {SERIES_MASK} series in the historian")
        self._series.setdefault(group_id, {})[address] = found
        return found

    def _quality_id(self, conn: sqlite3.Connection, quality: str) -> int:
        found = self._qualities.get(quality)
        if found is None:
            found = int(conn.execute("INSERT INTO qualities (quality) VALUES (?) ON CONFLICT (quality) "
                                     "DO UPDATE SET quality = quality RETURNING id", (quality,)).fetchone()[0])
            self._qualities[quality] = found
        return found

    def _cycle_id(self, conn: sqlite3.Connection, day: int, group_id: int, cycle: int, ts_ms: int) -> int:
        return int(conn.execute(
            f"INSERT INTO {layout.cycles_table(day)} (group_id, cycle, ts_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (group_id, cycle) DO UPDATE SET ts_ms = ts_ms RETURNING id",
            (group_id, cycle, ts_ms)).fetchone()[0])

    # -- writing -----------------------------------------------------------------
    def _value_rows(self, conn: sqlite3.Connection, rows: list[Row]) -> dict[int, list[tuple[int, Any, int]]]:
        """The rows as (rowid, value, quality) per day table, creating cycles (and days, series) on the way,
        and marking the minutes they fall in for their summaries."""
        by_day: dict[int, list[tuple[int, Any, int]]] = {}
        minutes: set[tuple[int, int]] = set()
        last: tuple[str, str, str, int] | None = None
        base = group_id = 0
        series: dict[str, int] = {}
        append: Any = None  # the list of the current cycle's day
        for ts, plc_code, address, value, quality, group_name, cycle in rows:
            if (ts, plc_code, group_name, cycle) != last:
                ts_ms = self._ms(ts)
                day = day_of(ts_ms)
                self._day(conn, day)
                group_id = self._group_id(conn, plc_code, group_name)
                base = self._cycle_id(conn, day, group_id, cycle, ts_ms) << SERIES_BITS
                series = self._series.setdefault(group_id, {})
                append = by_day.setdefault(day, []).append
                minutes.add(rollup.minute_of(ts_ms))
                last = (ts, plc_code, group_name, cycle)
            series_id = series.get(address)
            if series_id is None:
                series_id = self._series_id(conn, group_id, address)
            append((base | series_id, value, GOOD if quality == "GOOD" else self._quality_id(conn, quality)))
        rollup.mark(conn, minutes)
        return by_day

    @staticmethod
    def _insert_values(conn: sqlite3.Connection, by_day: dict[int, list[tuple[int, Any, int]]]) -> int:
        before = conn.total_changes
        for day, values in by_day.items():
            conn.executemany(f"INSERT INTO {layout.values_table(day)} (id, tag_value, quality) VALUES (?, ?, ?) "
                             "ON CONFLICT (id) DO NOTHING", values)
        return conn.total_changes - before

    def write(self, rows: list[Row]) -> WriteResult:
        """Insert ``rows`` in one transaction (rolled back on failure)."""
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            rejected: list[tuple[Row, str]] = []
            try:
                try:
                    inserted = self._insert_values(conn, self._value_rows(conn, rows))
                except _ROW_ERRORS:
                    inserted, rejected = self._row_by_row(conn, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._forget()
                raise
        except (sqlite3.Error, OSError) as error:
            self.close()  # a fresh connection next time
            raise SinkUnavailable(f"SQLite {self.path}: {error}") from None
        return WriteResult(inserted, len(rows) - inserted - len(rejected), rejected)

    def _row_by_row(self, conn: sqlite3.Connection, rows: list[Row]) -> tuple[int, list[tuple[Row, str]]]:
        conn.execute("ROLLBACK")
        self._forget()
        conn.execute("BEGIN IMMEDIATE")
        inserted = 0
        rejected = []
        for row in rows:
            try:
                inserted += self._insert_values(conn, self._value_rows(conn, [row]))
            except _ROW_ERRORS as error:
                rejected.append((row, f"{type(error).__name__}: {error}"))
        return inserted, rejected

    # -- between batches ----------------------------------------------------------
    def housekeep(self) -> bool:
        """One bounded step of upkeep, in its own short transaction: a chunk of an expired day removed, or else
        a minute summarized (unless ``rollups`` is off: the writer's Summarizer thread does that); True if
        there was something to do. Raises SinkUnavailable like write()."""
        try:
            conn = self._connection()
            at = self.clock()
            if self.keep_days is not None and retention.step(conn, at, self.keep_days):
                self._days.clear()  # a day removed is created again if a value of it comes
                return True
            return self.rollups and rollup.roll_one(conn, at)
        except (sqlite3.Error, OSError) as error:
            self.close()
            raise SinkUnavailable(f"SQLite {self.path}: {error}") from None

    # -- what scada account asks -------------------------------------------------
    def _days_between(self, conn: sqlite3.Connection, since_ms: int, until_ms: int) -> list[int]:
        return [d for d in layout.days(conn) if day_of(since_ms) <= d <= day_of(max(since_ms, until_ms - 1))]

    def cycle_counts(self, since_ms: int, until_ms: int) -> dict[CycleKey, int]:
        conn = self._connection()
        out: dict[CycleKey, int] = {}
        for day in self._days_between(conn, since_ms, until_ms):
            sql = (f"SELECT g.plc_code, g.group_name, c.cycle, (SELECT count(*) FROM {layout.values_table(day)} v "
                   f"WHERE v.id BETWEEN c.id << {SERIES_BITS} AND (c.id << {SERIES_BITS}) | {SERIES_MASK}) "
                   f"FROM {layout.cycles_table(day)} c JOIN groups g ON g.id = c.group_id "
                   "WHERE c.ts_ms >= ? AND c.ts_ms < ?")
            for plc, group, cycle, n in conn.execute(sql, (since_ms, until_ms)):
                if n:
                    out[(plc, group, cycle)] = out.get((plc, group, cycle), 0) + n
        return out

    def addresses(self, key: CycleKey, ts_ms: int) -> set[str]:
        conn = self._connection()
        day = day_of(ts_ms)
        if day not in layout.days(conn):
            return set()
        sql = (f"SELECT s.tag_address FROM {layout.cycles_table(day)} c JOIN groups g ON g.id = c.group_id "
               f"JOIN {layout.values_table(day)} v ON v.id BETWEEN c.id << {SERIES_BITS} "
               f"AND (c.id << {SERIES_BITS}) | {SERIES_MASK} JOIN series s ON s.id = v.id & {SERIES_MASK} "
               "WHERE g.plc_code = ? AND g.group_name = ? AND c.cycle = ? AND c.ts_ms = ?")
        return {address for (address,) in conn.execute(sql, (*key, ts_ms))}

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
                self._forget()
