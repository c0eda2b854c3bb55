"""Per-minute summaries of every series, so that a day of one tag is 1,440 rows, not 86,400 lookups.

Strategy: every write marks the minutes it touched in ``rollup_pending``
(in the write's own transaction, so no value is ever in a minute nobody will
summarize). Between batches the writer summarizes the oldest pending minute
that ended more than GRACE_MS ago -- one minute a call, so a call costs a
minute of the plant's values (~35,000 on the sample plant: tens of ms) --
and replaces that minute's rows in ``minutes_<day>``. A value that arrives
late (a backup replayed, a buffer catching up) marks its minute again and
the minute is summarized again. Readers use a minute's summary only while
it is not pending; a pending minute is read from the values themselves.

A summary row: count (every value), good (GOOD values), min, max, sum and
numbers (over GOOD numbers only), the first and last GOOD value with their
times. Strings are counted but only first/last carry them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from common.historian import layout
from common.historian.layout import DAY_MS, MINUTE_BITS, MINUTE_MS, SERIES_BITS, SERIES_MASK

GRACE_MS = 5000
NUMBER = "CASE WHEN v.quality = 0 AND typeof(v.tag_value) IN ('integer', 'real') THEN v.tag_value END"


def minute_of(ts_ms: int) -> tuple[int, int]:
    """(day, minute of the day) of a time."""
    return ts_ms // DAY_MS, ts_ms % DAY_MS // MINUTE_MS


def mark(conn: sqlite3.Connection, minutes: set[tuple[int, int]]) -> None:
    """Minutes (day, minute) written to: their summaries are due again (inside the caller's transaction)."""
    conn.executemany("INSERT INTO rollup_pending (day, minute, marks) VALUES (?, ?, 1) "
                     "ON CONFLICT (day, minute) DO UPDATE SET marks = marks + 1", sorted(minutes))


def summarize(conn: sqlite3.Connection, day: int, minute: int) -> list[tuple[Any, ...]]:
    """The rows of ``minutes_<day>`` for one minute, from the values themselves."""
    c, v = layout.cycles_table(day), layout.values_table(day)
    start = day * DAY_MS + minute * MINUTE_MS
    source = (f"FROM {c} c JOIN {v} v ON v.id BETWEEN c.id << {SERIES_BITS} AND (c.id << {SERIES_BITS}) | "
              f"{SERIES_MASK} WHERE c.ts_ms >= ? AND c.ts_ms < ?")
    window = (start, start + MINUTE_MS)
    series = f"v.id & {SERIES_MASK}"
    firsts = {s: (ts, value) for s, ts, value in conn.execute(
        f"SELECT {series}, min(c.ts_ms), v.tag_value {source} AND +v.quality = 0 GROUP BY 1", window)}
    lasts = {s: (ts, value) for s, ts, value in conn.execute(
        f"SELECT {series}, max(c.ts_ms), v.tag_value {source} AND +v.quality = 0 GROUP BY 1", window)}
    return [((s << MINUTE_BITS) | minute, count, good or 0, lo, hi, total, numbers,
             *firsts.get(s, (None, None)), *lasts.get(s, (None, None)))
            for s, count, good, lo, hi, total, numbers in conn.execute(
                f"SELECT {series}, count(*), sum(v.quality = 0), min({NUMBER}), max({NUMBER}), sum({NUMBER}), "
                f"count({NUMBER}) {source} GROUP BY 1", window)]


def roll_one(conn: sqlite3.Connection, now_ms: int) -> bool:
    """Summarize the oldest pending minute that ended GRACE_MS ago, in one transaction; False if none was due."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        due = conn.execute("SELECT day, minute FROM rollup_pending WHERE day * ? + (minute + 1) * ? <= ? "
                           "ORDER BY day, minute LIMIT 1", (DAY_MS, MINUTE_MS, now_ms - GRACE_MS)).fetchone()
        if due is not None:
            day, minute = due
            if conn.execute("SELECT 1 FROM days WHERE day = ? AND dropping = 0", (day,)).fetchone():
                conn.executemany(f"INSERT OR REPLACE INTO {layout.minutes_table(day)} (id, count, good, min, max, "
                                 "sum, numbers, first_ts, first, last_ts, last) VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", summarize(conn, day, minute))
            conn.execute("DELETE FROM rollup_pending WHERE day = ? AND minute = ?", due)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return due is not None


def pending(conn: sqlite3.Connection, day: int, first: int, last: int) -> set[int]:
    """The minutes of ``day`` in [first, last] whose summaries are not (or no longer) there."""
    return {m for (m,) in conn.execute("SELECT minute FROM rollup_pending WHERE day = ? AND minute BETWEEN ? AND ?",
                                       (day, first, last))}
