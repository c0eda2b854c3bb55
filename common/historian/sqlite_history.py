"""The history API's reader for the SQLite historian (layout.py), on a read-only connection.

Strategy: a tag (plc_code, address) is one or more series (the groups that
stored it). For each series and each day table the range touches, its
group's cycles in the range are an index range on (group_id, ts_ms), and each
cycle's value is one rowid lookup (cycle id << 20 | series id): the work is
proportional to the tag's own values, never to the plant's. Buckets are
computed by SQLite (GROUP BY the bucket index), first and last by SQLite's
bare-column rule for min()/max().

The connection is opened read-only, lazily, and shared under a lock (the
gateway calls from worker threads); a file that is not there yet answers no
values.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from common.historian import layout, rollup
from common.historian.history import Bucket, TagInfo, merge_buckets
from common.historian.layout import DAY_MS, MINUTE_BITS, MINUTE_MS, SERIES_BITS, day_of

NUMBER = rollup.NUMBER


class SqliteHistory:
    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.path.exists():
                return None
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self.timeout,
                                   isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA mmap_size = 17179869184")  # 16 GB of address space: pages read without a syscall
            conn.execute("PRAGMA cache_size = -65536")
            conn.execute("PRAGMA automatic_index = OFF")  # never a temporary index over a day of values
            if not layout.is_current(conn):  # the writer upgrades it when it starts
                conn.close()
                return None
            self._conn = conn
        return self._conn

    def _each(self, tag: TagInfo, from_ms: int, to_ms: int, *sqls: str) -> list[list[list[Any]]]:
        """For each series of the tag and each day table in range, the rows of each of ``sqls`` (with {c} and
        {v} for the day's tables, :series :group :from :to as parameters), in one read snapshot."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return []
            out: list[list[list[Any]]] = []
            conn.execute("BEGIN")  # one snapshot for every day table
            try:
                places = self._places(conn, tag)
                for day in [d for d in layout.days(conn) if day_of(from_ms) <= d <= day_of(to_ms - 1)]:
                    tables = {"c": layout.cycles_table(day), "v": layout.values_table(day)}
                    for group_id, series_id in places:
                        params = {"series": series_id, "group": group_id, "from": from_ms, "to": to_ms}
                        out.append([conn.execute(sql.format(**tables), params).fetchall() for sql in sqls])
            finally:
                conn.execute("COMMIT")
            return out

    def most(self, tag: TagInfo, from_ms: int, to_ms: int) -> int:
        found = self._each(tag, from_ms, to_ms, "SELECT count(*) FROM {c} c WHERE " + _RANGE)
        return sum(rows[0][0][0] for rows in found)

    def raw(self, tag: TagInfo, from_ms: int, to_ms: int) -> list[tuple[int, Any, str]]:
        found = self._each(tag, from_ms, to_ms, _JOIN.format(
            what="c.ts_ms, v.tag_value, q.quality", more="JOIN qualities q ON q.id = v.quality", where=""))
        rows: list[tuple[int, Any, str]] = [(r[0], r[1], r[2]) for place in found for r in place[0]]
        if len(found) > 1:
            rows.sort(key=lambda r: r[0])
        return rows

    def buckets(self, tag: TagInfo, from_ms: int, to_ms: int, bucket_ms: int) -> list[Bucket]:
        """From the minute summaries where the buckets are whole minutes (and the minute is not pending, nor
        cut by ``to_ms``); from the values everywhere else."""
        whole_minutes = from_ms % MINUTE_MS == 0 and bucket_ms % MINUTE_MS == 0
        with self._lock:
            conn = self._connection()
            if conn is None:
                return []
            parts: list[Bucket] = []
            conn.execute("BEGIN")  # one snapshot for every day table
            try:
                places = self._places(conn, tag)
                for day in [d for d in layout.days(conn) if day_of(from_ms) <= d <= day_of(to_ms - 1)]:
                    if not whole_minutes:
                        for group_id, series_id in places:
                            parts += _value_buckets(conn, day, group_id, series_id, from_ms, to_ms, from_ms, bucket_ms)
                        continue
                    day_ms = day * DAY_MS
                    lo, hi = max(0, (from_ms - day_ms) // MINUTE_MS), min(1439, (to_ms - 1 - day_ms) // MINUTE_MS)
                    from_values = rollup.pending(conn, day, lo, hi)
                    if to_ms < day_ms + (hi + 1) * MINUTE_MS:
                        from_values.add(hi)  # the last minute is cut by to_ms
                    for group_id, series_id in places:
                        base = series_id << MINUTE_BITS
                        for m, *summary in conn.execute(
                                f"SELECT id & {(1 << MINUTE_BITS) - 1}, count, good, min, max, sum, numbers, first_ts, "
                                f"first, last_ts, last FROM {layout.minutes_table(day)} WHERE id BETWEEN ? AND ?",
                                (base | lo, base | hi)):
                            if m not in from_values:
                                index = (day_ms + m * MINUTE_MS - from_ms) // bucket_ms
                                parts.append((index, *summary))
                        for a, b in _runs(from_values):
                            window = (max(from_ms, day_ms + a * MINUTE_MS), min(to_ms, day_ms + (b + 1) * MINUTE_MS))
                            parts += _value_buckets(conn, day, group_id, series_id, *window, from_ms, bucket_ms)
            finally:
                conn.execute("COMMIT")
        return merge_buckets(parts)

    @staticmethod
    def _places(conn: sqlite3.Connection, tag: TagInfo) -> list[tuple[int, int]]:
        """(group id, series id) of each group that stored the tag's address."""
        return conn.execute("SELECT s.group_id, s.id FROM series s JOIN groups g ON g.id = s.group_id "
                            "WHERE g.plc_code = ? AND s.tag_address = ?", (tag.plc_code, tag.address)).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_RANGE = "c.group_id = :group AND c.ts_ms >= :from AND c.ts_ms < :to"
_JOIN = ("SELECT {what} FROM {{c}} c JOIN {{v}} v ON v.id = (c.id << " + str(SERIES_BITS) + ") | :series {more} "
         "WHERE " + _RANGE + " {where}")


def _runs(minutes: set[int]) -> list[tuple[int, int]]:
    """Sorted minutes as runs of consecutive ones: {1, 2, 3, 7} -> [(1, 3), (7, 7)]."""
    out: list[tuple[int, int]] = []
    for m in sorted(minutes):
        if out and out[-1][1] == m - 1:
            out[-1] = (out[-1][0], m)
        else:
            out.append((m, m))
    return out


def _value_buckets(conn: sqlite3.Connection, day: int, group_id: int, series_id: int, from_ms: int, to_ms: int,
                   start: int, bucket_ms: int) -> list[Bucket]:
    """Buckets (index from ``start``) of one series over [from_ms, to_ms) of one day, from the values."""
    index = f"(c.ts_ms - {int(start)}) / {int(bucket_ms)}"
    params = {"series": series_id, "group": group_id, "from": from_ms, "to": to_ms}
    tables = {"c": layout.cycles_table(day), "v": layout.values_table(day)}
    good = f"AND +v.quality = 0 GROUP BY {index}"

    def run(what: str, where: str) -> list[Any]:
        return conn.execute(_JOIN.format(what=what, more="", where=where).format(**tables), params).fetchall()

    firsts = {i: (ts, value) for i, ts, value in run(f"{index}, min(c.ts_ms), v.tag_value", good)}
    lasts = {i: (ts, value) for i, ts, value in run(f"{index}, max(c.ts_ms), v.tag_value", good)}
    return [(i, count, n_good or 0, lo, hi, total, numbers, *firsts.get(i, (None, None)), *lasts.get(i, (None, None)))
            for i, count, n_good, lo, hi, total, numbers in run(
                f"{index}, count(*), sum(v.quality = 0), min({NUMBER}), max({NUMBER}), sum({NUMBER}), count({NUMBER})",
                f"GROUP BY {index}")]
