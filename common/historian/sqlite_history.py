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

from common.historian import layout
from common.historian.history import Bucket, TagInfo, merge_buckets
from common.historian.layout import SERIES_BITS, day_of

NUMBER = "CASE WHEN v.quality = 0 AND typeof(v.tag_value) IN ('integer', 'real') THEN v.tag_value END"


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
                places = conn.execute("SELECT s.group_id, s.id FROM series s JOIN groups g ON g.id = s.group_id "
                                      "WHERE g.plc_code = ? AND s.tag_address = ?", (tag.plc_code, tag.address)
                                      ).fetchall()
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
        index = f"(c.ts_ms - {int(from_ms)}) / {int(bucket_ms)}"
        good = f"AND v.quality = 0 GROUP BY {index}"
        found = self._each(
            tag, from_ms, to_ms,
            _JOIN.format(what=f"{index}, count(*), sum(v.quality = 0), min({NUMBER}), max({NUMBER}), sum({NUMBER}), "
                         f"count({NUMBER})", more="", where=f"GROUP BY {index}"),
            _JOIN.format(what=f"{index}, min(c.ts_ms), v.tag_value", more="", where=good),
            _JOIN.format(what=f"{index}, max(c.ts_ms), v.tag_value", more="", where=good))
        parts: list[Bucket] = []
        for counts, first_rows, last_rows in found:
            firsts = {i: (ts, value) for i, ts, value in first_rows}
            lasts = {i: (ts, value) for i, ts, value in last_rows}
            for i, count, n_good, lo, hi, total, numbers in counts:
                first, last = firsts.get(i, (None, None)), lasts.get(i, (None, None))
                parts.append((i, count, n_good or 0, lo, hi, total, numbers, *first, *last))
        return merge_buckets(parts) if len(found) > 1 else parts

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_RANGE = "c.group_id = :group AND c.ts_ms >= :from AND c.ts_ms < :to"
_JOIN = ("SELECT {what} FROM {{c}} c JOIN {{v}} v ON v.id = (c.id << " + str(SERIES_BITS) + ") | :series {more} "
         "WHERE " + _RANGE + " {where}")
