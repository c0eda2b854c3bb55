"""The SQLite historian's compact layout: a table pair per UTC day, small dictionaries, TAG_DATA as a view.

Strategy. The writer appends and the readers ask for one tag over a time
range; one B-tree cannot serve both cheaply (a key led by time appends, a key
led by tag lands every row somewhere random: ~1.0 M against 80-140k rows/s,
issue 16). So a value is stored once, in insertion order, and found through
its cycle:

    groups(id, plc_code, group_name)              one row per polling group ever stored
    series(id, group_id, tag_address)             one row per (group, address): id < 2**20
    qualities(id, quality)                        0 = GOOD, then BAD_<reason> as they come
    days(day, name, dropping)                     the day tables that exist, by Unix day (dropping:
                                                  retention is emptying them, TAG_DATA no longer shows them)
    cycles_<YYYYMMDD>(id, group_id, cycle, ts_ms) one row per cycle (PollingData) read that UTC day;
                                                  unique (group_id, cycle), indexed (group_id, ts_ms)
                                                  and (ts_ms)
    values_<YYYYMMDD>(id, tag_value, quality)     one row per value; id = cycle id << 20 | series id
    minutes_<YYYYMMDD>(id, count, good, min, max, sum, numbers, first_ts, first, last_ts, last)
                                                  one row per series and minute of the day it has
                                                  values in: id = series id << 11 | minute of the day
    rollup_pending(day, minute, marks)            minutes written since their minutes_ rows were made

A value row is its rowid (a varint), the value and a quality number: ~14-21
bytes on disk. The rowid grows with each new cycle, so inserts append at the
B-tree's right edge (SQLite's quick balance fills pages whole). The identity
(plc_code, group_name, cycle, tag_address) is (cycle row, series row), so
the rowid is unique on it: a batch written twice is stored once.

One tag over a range: the cycles of its group in the range (an index range
on (group_id, ts_ms)) and, for each, one rowid lookup into values_: no scan
of other tags. That is fast for an hour (3,600 lookups) and too slow for a
day of a 1 s tag (86,400 lookups spread over the whole day's table), so the
writer also keeps a per-minute summary of every series (rollup.py), keyed so
that one series' day is one contiguous rowid range: 1,440 rows for 24 h.
A day is dropped whole (see retention.py). Everything stays in one file,
because an SQLite view cannot reach into an attached file, and TAG_DATA --
the seeds' columns, ``ts`` as ISO-8601 text -- is a view over every day's
tables, re-created when a day is added or dropped.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

DAY_MS = 86_400_000
SERIES_BITS = 20
SERIES_MASK = (1 << SERIES_BITS) - 1
MINUTE_BITS = 11  # 1,440 minutes a day
MINUTE_MS = 60_000
GOOD = 0

DICTIONARIES = """
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY, plc_code TEXT NOT NULL, group_name TEXT NOT NULL, UNIQUE (plc_code, group_name));
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, tag_address TEXT NOT NULL, UNIQUE (group_id, tag_address));
CREATE TABLE IF NOT EXISTS qualities (id INTEGER PRIMARY KEY, quality TEXT NOT NULL UNIQUE);
INSERT OR IGNORE INTO qualities (id, quality) VALUES (0, 'GOOD');
CREATE TABLE IF NOT EXISTS days (day INTEGER PRIMARY KEY, name TEXT NOT NULL, dropping INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS layout (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rollup_pending (
    day INTEGER NOT NULL, minute INTEGER NOT NULL, marks INTEGER NOT NULL, PRIMARY KEY (day, minute)) WITHOUT ROWID;
"""
VERSION = 3  # 1: text key (ts, plc_code, tag_address); 2: text TAG_DATA with cycle; 3: this


def day_of(ts_ms: int) -> int:
    """The Unix day (UTC) a read time falls on."""
    return ts_ms // DAY_MS


def day_name(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y%m%d")


def cycles_table(day: int) -> str:
    return f"cycles_{day_name(day)}"


def values_table(day: int) -> str:
    return f"values_{day_name(day)}"


def minutes_table(day: int) -> str:
    return f"minutes_{day_name(day)}"


def day_tables(day: int) -> list[str]:
    return [values_table(day), minutes_table(day), cycles_table(day)]


def day_ddl(day: int) -> list[str]:
    c, v, m = cycles_table(day), values_table(day), minutes_table(day)
    return [
        f"CREATE TABLE IF NOT EXISTS {c} (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, "
        f"cycle INTEGER NOT NULL, ts_ms INTEGER NOT NULL, UNIQUE (group_id, cycle))",
        f"CREATE INDEX IF NOT EXISTS {c}_group_ts ON {c} (group_id, ts_ms)",
        f"CREATE INDEX IF NOT EXISTS {c}_ts ON {c} (ts_ms)",
        # tag_value has no declared type: integers stay integers, floats floats, strings text.
        f"CREATE TABLE IF NOT EXISTS {v} (id INTEGER PRIMARY KEY, tag_value, quality INTEGER NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {m} (id INTEGER PRIMARY KEY, count INTEGER NOT NULL, good INTEGER NOT NULL, "
        "min, max, sum, numbers INTEGER NOT NULL, first_ts INTEGER, first, last_ts INTEGER, last)",
        f"INSERT OR IGNORE INTO days (day, name) VALUES ({int(day)}, '{day_name(day)}')",
    ]


ISO_TS = ("strftime('%Y-%m-%dT%H:%M:%S', c.ts_ms / 1000, 'unixepoch') || printf('.%03dZ', c.ts_ms % 1000)")
VIEW_COLUMNS = "ts, plc_code, tag_address, tag_value, quality, group_name, cycle"


def _view_part(day: int) -> str:
    return (f"SELECT {ISO_TS}, g.plc_code, s.tag_address, v.tag_value, q.quality, g.group_name, c.cycle "
            f"FROM {values_table(day)} v JOIN {cycles_table(day)} c ON c.id = v.id >> {SERIES_BITS} "
            f"JOIN series s ON s.id = v.id & {SERIES_MASK} JOIN groups g ON g.id = c.group_id "
            f"JOIN qualities q ON q.id = v.quality")


def view_sql(days: list[int]) -> str:
    parts = [_view_part(d) for d in sorted(days)] or [
        "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0"]
    return f"CREATE VIEW TAG_DATA ({VIEW_COLUMNS}) AS " + " UNION ALL ".join(parts)


def days(conn: sqlite3.Connection) -> list[int]:
    return [d for (d,) in conn.execute("SELECT day FROM days ORDER BY day")]


def rebuild_view(conn: sqlite3.Connection) -> None:
    """TAG_DATA over every day table there is, but those being dropped (inside the caller's transaction)."""
    conn.execute("DROP VIEW IF EXISTS TAG_DATA")
    conn.execute(view_sql([d for (d,) in conn.execute("SELECT day FROM days WHERE dropping = 0")]))


def is_current(conn: sqlite3.Connection) -> bool:
    return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'layout'").fetchone())


def create(conn: sqlite3.Connection) -> None:
    """The dictionaries and an empty TAG_DATA view, in a fresh file (inside the caller's transaction)."""
    for statement in DICTIONARIES.strip().split(";\n"):
        conn.execute(statement)
    if conn.execute("SELECT count(*) FROM layout").fetchone()[0] == 0:
        conn.execute("INSERT INTO layout (version) VALUES (?)", (VERSION,))
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'TAG_DATA'").fetchone():
        rebuild_view(conn)
