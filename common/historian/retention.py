"""Retention of the SQLite historian: HISTORIAN_KEEP_DAYS, whole UTC days removed in small steps.

Strategy: a day goes once all of it is older than the setting (its end more
than KEEP_DAYS x 24 h ago), so at least that much is always there. Dropping
a day's tables at once would hold the write lock for as long as SQLite takes
to walk a gigabyte of pages (seconds), and a single DELETE would be worse;
so the writer calls :func:`step` between batches and each call is one short
transaction that removes at most CHUNK_ROWS rows of the oldest expired day
(values first, then its minute summaries and cycles) and, once a table is
empty, drops it. The first step of a day takes it out of TAG_DATA, so no
reader ever sees a day half removed. The pages freed go to SQLite's free
list and are reused by new days: the file stops growing at about
KEEP_DAYS + 1 days; it does not shrink (VACUUM, offline, gives the space
back to the filesystem).
"""

from __future__ import annotations

import logging
import sqlite3

from common.historian import layout
from common.historian.layout import DAY_MS

CHUNK_ROWS = 20_000
log = logging.getLogger("historian.retention")


def expired(conn: sqlite3.Connection, now_ms: int, keep_days: int) -> list[int]:
    """The days whose end is more than ``keep_days`` x 24 h before ``now_ms``, oldest first."""
    limit = (now_ms - keep_days * DAY_MS) // DAY_MS  # a day before this one has ended long enough ago
    return [d for (d,) in conn.execute("SELECT day FROM days WHERE day < ? ORDER BY day", (limit,))]


def step(conn: sqlite3.Connection, now_ms: int, keep_days: int) -> int:
    """Remove at most CHUNK_ROWS rows of the oldest expired day, in one transaction; returns the rows removed
    (0 and nothing done when no day has expired; a table dropped counts as 1)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        days = expired(conn, now_ms, keep_days)
        removed = _remove_some(conn, days[0]) if days else 0
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return removed


def _remove_some(conn: sqlite3.Connection, day: int) -> int:
    if conn.execute("SELECT dropping FROM days WHERE day = ?", (day,)).fetchone()[0] == 0:
        conn.execute("UPDATE days SET dropping = 1 WHERE day = ?", (day,))
        layout.rebuild_view(conn)
        log.info("removing the historian's day %s (older than HISTORIAN_KEEP_DAYS)", layout.day_name(day))
    for table in layout.day_tables(day):
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
            continue
        removed = conn.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT ?)",
                               (CHUNK_ROWS,)).rowcount
        if removed:
            return int(removed)
        conn.execute(f"DROP TABLE {table}")  # empty: instant
        return 1
    conn.execute("DELETE FROM days WHERE day = ?", (day,))
    conn.execute("DELETE FROM rollup_pending WHERE day = ?", (day,))
    log.info("the historian's day %s is removed", layout.day_name(day))
    return 1
