"""Per-minute summaries of every series, so that a day of one tag is 1,440 rows, not 86,400 lookups.

Strategy: every write marks the minutes it touched in ``rollup_pending``
(in the write's own transaction, so no value is ever in a minute nobody will
summarize). A thread of the writer (summarizer.py) summarizes the oldest
pending minute that ended more than GRACE_MS ago -- one minute a turn, read
in a read transaction without the write lock (the writer goes on writing
meanwhile: a minute of a 100,000 values/s plant is 6 million values, seconds
of SQLite's time) -- and replaces that minute's rows in ``minutes_<day>`` in
a short write transaction, unless a write marked the minute again meanwhile
(then it is summarized again at a later turn). A value that arrives
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
    """The rows of ``minutes_<day>`` for one minute, from the values themselves.

    One pass over the minute's values (GROUP BY series) makes the counts, min, max and sum; the first and
    last GOOD value of each series come from walking its group's cycles from either end of the minute
    (usually one cycle each way), not from two more passes over every value."""
    c, v = layout.cycles_table(day), layout.values_table(day)
    start = day * DAY_MS + minute * MINUTE_MS
    window = (start, start + MINUTE_MS)
    series = f"v.id & {SERIES_MASK}"
    totals = conn.execute(
        f"SELECT {series}, count(*), sum(v.quality = 0), min({NUMBER}), max({NUMBER}), sum({NUMBER}), "
        f"count({NUMBER}) FROM {c} c JOIN {v} v ON v.id BETWEEN c.id << {SERIES_BITS} AND (c.id << {SERIES_BITS}) "
        f"| {SERIES_MASK} WHERE c.ts_ms >= ? AND c.ts_ms < ? GROUP BY 1", window).fetchall()
    with_good = [row[0] for row in totals if row[2]]
    firsts = _ends(conn, day, window, with_good, last=False)
    lasts = _ends(conn, day, window, with_good, last=True)
    return [((s << MINUTE_BITS) | minute, count, good or 0, lo, hi, total, numbers,
             *firsts.get(s, (None, None)), *lasts.get(s, (None, None)))
            for s, count, good, lo, hi, total, numbers in totals]


def _ends(conn: sqlite3.Connection, day: int, window: tuple[int, int], wanted: list[int],
          last: bool) -> dict[int, tuple[int, Any]]:
    """Series -> (ts, value) of its first (or last) GOOD value in the window, walking each group's cycles
    from that end of the window until every wanted series of the group has one."""
    c, v = layout.cycles_table(day), layout.values_table(day)
    by_group: dict[int, set[int]] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for s, group_id in conn.execute(f"SELECT id, group_id FROM series WHERE id IN ({marks})", chunk):
            by_group.setdefault(group_id, set()).add(s)
    order = "DESC" if last else "ASC"
    found: dict[int, tuple[int, Any]] = {}
    for group_id, missing in by_group.items():
        cycles = conn.execute(f"SELECT id, ts_ms FROM {c} WHERE group_id = ? AND ts_ms >= ? AND ts_ms < ? "
                              f"ORDER BY ts_ms {order}, id {order}", (group_id, *window)).fetchall()
        for cycle_id, ts in cycles:
            for s, value in conn.execute(f"SELECT id & {SERIES_MASK}, tag_value FROM {v} WHERE id BETWEEN ? AND ? "
                                         "AND quality = 0", (cycle_id << SERIES_BITS,
                                                             (cycle_id << SERIES_BITS) | SERIES_MASK)):
                if s in missing:
                    missing.discard(s)
                    found[s] = (ts, value)
            if not missing:
                break
    return found


def due(conn: sqlite3.Connection, now_ms: int) -> tuple[int, int, int] | None:
    """(day, minute, marks) of the oldest pending minute that ended GRACE_MS before ``now_ms``, or None."""
    row = conn.execute("SELECT day, minute, marks FROM rollup_pending WHERE day * ? + (minute + 1) * ? <= ? "
                       "ORDER BY day, minute LIMIT 1", (DAY_MS, MINUTE_MS, now_ms - GRACE_MS)).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def store(conn: sqlite3.Connection, day: int, minute: int, marks: int, rows: list[tuple[Any, ...]]) -> bool:
    """Replace the minute's summary rows with ``rows`` (made while it had ``marks``) in one short write
    transaction, and clear its mark; False (nothing changed) if a write marked the minute again since."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        now = conn.execute("SELECT marks FROM rollup_pending WHERE day = ? AND minute = ?", (day, minute)).fetchone()
        stored = now is not None and now[0] == marks
        if stored:
            if conn.execute("SELECT 1 FROM days WHERE day = ? AND dropping = 0", (day,)).fetchone():
                conn.executemany(f"INSERT OR REPLACE INTO {layout.minutes_table(day)} (id, count, good, min, max, "
                                 "sum, numbers, first_ts, first, last_ts, last) VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("DELETE FROM rollup_pending WHERE day = ? AND minute = ?", (day, minute))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return stored


def read_one(conn: sqlite3.Connection, now_ms: int) -> tuple[int, int, int, list[tuple[Any, ...]]] | None:
    """The oldest due minute and its summary rows, read in one read transaction (one snapshot: the
    marks and the values agree); no write lock is taken, so writes go on meanwhile (WAL)."""
    conn.execute("BEGIN")
    try:
        minute = due(conn, now_ms)
        if minute is None:
            return None
        day, m, marks = minute
        live = conn.execute("SELECT 1 FROM days WHERE day = ? AND dropping = 0", (day,)).fetchone()
        return day, m, marks, summarize(conn, day, m) if live else []
    finally:
        conn.execute("COMMIT")


def roll_one(conn: sqlite3.Connection, now_ms: int) -> bool:
    """Summarize the oldest pending minute that ended GRACE_MS ago; False if none was due. The summary is
    read without the write lock, then stored in a short write transaction (summarizer.py runs this in
    a thread of its own beside the writer)."""
    read = read_one(conn, now_ms)
    if read is None:
        return False
    store(conn, *read)
    return True


def pending(conn: sqlite3.Connection, day: int, first: int, last: int) -> set[int]:
    """The minutes of ``day`` in [first, last] whose summaries are not (or no longer) there."""
    return {m for (m,) in conn.execute("SELECT minute FROM rollup_pending WHERE day = ? AND minute BETWEEN ? AND ?",
                                       (day, first, last))}
