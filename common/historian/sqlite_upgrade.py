"""Upgrade an SQLite historian of an earlier layout (one TAG_DATA table) to the day tables of layout.py.

Two earlier layouts exist: release 1 (key ts, plc_code, tag_address; a
``seq`` that restarts at 1, no cycle: its cycles are named ``-ts`` in Unix
ms, ``messages.legacy_cycle``, so a cycle of that release still waiting in a
journal and sent again is stored once) and release 2 (text TAG_DATA with the
``cycle`` column). The upgrade is one transaction (a crash leaves the old
table as it was) done in SQL, day by day in time order, every row kept; it
needs about the old table's size in free disk for a moment, and for a large
file it takes minutes (the writer logs how long).
"""

from __future__ import annotations

import logging
import sqlite3
import time

from common.historian import layout
from common.historian.layout import DAY_MS, MINUTE_MS, SERIES_BITS
from common.times import iso_ms

log = logging.getLogger("historian.sqlite")

_TS_MS = "(CAST(strftime('%s', ts) AS INTEGER) * 1000 + CAST(substr(ts, 21, 3) AS INTEGER))"


def upgrade(conn: sqlite3.Connection) -> int | None:
    """Create the layout in a fresh file, or move an earlier TAG_DATA table into it; returns the rows moved
    (None when there was no earlier table)."""
    kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'TAG_DATA'").fetchone()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if layout.is_current(conn):  # another process did it meanwhile
            conn.execute("COMMIT")
            return None
        moved = None
        if kind and kind[0] == "table":
            moved = _move(conn)
        else:
            layout.create(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return moved


def _move(conn: sqlite3.Connection) -> int:
    started = time.monotonic()
    columns = {row[1] for row in conn.execute("PRAGMA table_info(TAG_DATA)")}
    cycle = "cycle" if "cycle" in columns else f"-{_TS_MS}"
    conn.execute("ALTER TABLE TAG_DATA RENAME TO TAG_DATA_PREVIOUS")
    layout.create(conn)
    conn.execute(f"CREATE TEMP VIEW previous AS SELECT ts, {_TS_MS} AS ts_ms, plc_code, tag_address, tag_value, "
                 f"quality, group_name, {cycle} AS cycle FROM TAG_DATA_PREVIOUS")
    conn.execute("INSERT OR IGNORE INTO groups (plc_code, group_name) SELECT DISTINCT plc_code, group_name "
                 "FROM TAG_DATA_PREVIOUS")
    conn.execute("INSERT OR IGNORE INTO series (group_id, tag_address) SELECT DISTINCT g.id, p.tag_address "
                 "FROM TAG_DATA_PREVIOUS p JOIN groups g USING (plc_code, group_name)")
    conn.execute("INSERT OR IGNORE INTO qualities (quality) SELECT DISTINCT quality FROM TAG_DATA_PREVIOUS")
    first, last = conn.execute("SELECT min(ts), max(ts) FROM TAG_DATA_PREVIOUS").fetchone()
    moved = 0
    if first is not None:
        from common.times import ms_of_iso

        for day in range(layout.day_of(ms_of_iso(first)), layout.day_of(ms_of_iso(last)) + 1):
            window = (iso_ms(day * DAY_MS), iso_ms((day + 1) * DAY_MS))
            if not conn.execute("SELECT 1 FROM TAG_DATA_PREVIOUS WHERE ts >= ? AND ts < ? LIMIT 1", window).fetchone():
                continue
            for statement in layout.day_ddl(day):
                conn.execute(statement)
            c, v = layout.cycles_table(day), layout.values_table(day)
            conn.execute(f"INSERT OR IGNORE INTO {c} (group_id, cycle, ts_ms) SELECT g.id, p.cycle, min(p.ts_ms) "
                         "FROM previous p JOIN groups g USING (plc_code, group_name) WHERE p.ts >= ? AND p.ts < ? "
                         "GROUP BY g.id, p.cycle ORDER BY min(p.ts_ms)", window)
            moved += conn.execute(
                f"INSERT OR IGNORE INTO {v} (id, tag_value, quality) SELECT (c.id << {SERIES_BITS}) | s.id, "
                "p.tag_value, q.id FROM previous p JOIN groups g USING (plc_code, group_name) "
                f"JOIN {c} c ON c.group_id = g.id AND c.cycle = p.cycle "
                "JOIN series s ON s.group_id = g.id AND s.tag_address = p.tag_address "
                "JOIN qualities q ON q.quality = p.quality WHERE p.ts >= ? AND p.ts < ? ORDER BY 1", window).rowcount
            conn.execute(f"INSERT OR IGNORE INTO rollup_pending (day, minute, marks) SELECT {day}, "
                         f"(ts_ms - {day * DAY_MS}) / {MINUTE_MS}, 1 FROM {c} GROUP BY 2")
    conn.execute("DROP VIEW temp.previous")
    conn.execute("DROP TABLE TAG_DATA_PREVIOUS")
    layout.rebuild_view(conn)
    log.warning("historian upgraded to the compact layout (a table pair per day): %d rows kept, in %.1f s",
                moved, time.monotonic() - started)
    return moved
