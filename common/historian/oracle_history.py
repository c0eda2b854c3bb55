"""The history API's reader for the Oracle historian: TAG_DATA as sql/oracle/tag_data.sql makes it.

Strategy: the LOCAL unique index leads with (plc_code, tag_address, ts), so
one tag over a range is an index range scan in the day partitions the range
touches (partition pruning on ts). Buckets are computed by the server: the
bucket index from the interval ``ts - :from_ts`` in milliseconds, MIN/MAX/
SUM/COUNT over GOOD numbers, and the first and last GOOD value by
``KEEP (DENSE_RANK FIRST|LAST ORDER BY ...)``, which ranks the GOOD rows
ahead of the BAD ones and then by time. Strings (``tag_text``) are never
aggregated: only first and last. Times are bound and fetched as naive UTC
``TIMESTAMP``s, as the sink writes them.
"""

from __future__ import annotations

from typing import Any

from common.historian.history import Bucket, TagInfo
from common.historian.oracle_sink import CALL_TIMEOUT_MS, ms_of_naive_utc, naive_utc

WHERE = "plc_code = :plc AND tag_address = :address AND ts >= :from_ts AND ts < :to_ts"
MOST = f"SELECT COUNT(*) FROM TAG_DATA WHERE {WHERE}"
RAW = f"SELECT ts, tag_value, tag_text, quality FROM TAG_DATA WHERE {WHERE} ORDER BY ts"
_MS = ("(EXTRACT(DAY FROM (ts - :from_ts)) * 86400000 + EXTRACT(HOUR FROM (ts - :from_ts)) * 3600000 "
       "+ EXTRACT(MINUTE FROM (ts - :from_ts)) * 60000 + EXTRACT(SECOND FROM (ts - :from_ts)) * 1000)")
_GOOD_FIRST = "CASE WHEN quality = 'GOOD' THEN 0 ELSE 1 END, ts"
_GOOD_LAST = "CASE WHEN quality = 'GOOD' THEN 1 ELSE 0 END, ts"
_NUMBER = "CASE WHEN quality = 'GOOD' THEN tag_value END"
BUCKETS = (
    "SELECT b, COUNT(*), SUM(CASE WHEN quality = 'GOOD' THEN 1 ELSE 0 END), "
    f"MIN({_NUMBER}), MAX({_NUMBER}), SUM({_NUMBER}), COUNT({_NUMBER}), "
    "MIN(CASE WHEN quality = 'GOOD' THEN ts END), "
    f"MIN(tag_value) KEEP (DENSE_RANK FIRST ORDER BY {_GOOD_FIRST}), "
    f"MIN(tag_text) KEEP (DENSE_RANK FIRST ORDER BY {_GOOD_FIRST}), "
    "MAX(CASE WHEN quality = 'GOOD' THEN ts END), "
    f"MAX(tag_value) KEEP (DENSE_RANK LAST ORDER BY {_GOOD_LAST}), "
    f"MAX(tag_text) KEEP (DENSE_RANK LAST ORDER BY {_GOOD_LAST}) "
    f"FROM (SELECT FLOOR({_MS} / :bucket_ms) AS b, ts, tag_value, tag_text, quality FROM TAG_DATA WHERE {WHERE}) "
    "GROUP BY b ORDER BY b")


class OracleHistory:
    def __init__(self, pool_factory: Any) -> None:
        """``pool_factory()`` returns a pool with acquire/release (python-oracledb's, or a test's)."""
        self._pool_factory = pool_factory
        self._pool: Any = None

    def _query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if self._pool is None:
            self._pool = self._pool_factory()
        connection = self._pool.acquire()
        connection.call_timeout = CALL_TIMEOUT_MS
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            self._pool.release(connection)
        return rows

    @staticmethod
    def _params(tag: TagInfo, from_ms: int, to_ms: int) -> dict[str, Any]:
        return {"plc": tag.plc_code, "address": tag.address, "from_ts": naive_utc(from_ms), "to_ts": naive_utc(to_ms)}

    def most(self, tag: TagInfo, from_ms: int, to_ms: int) -> int:
        return int(self._query(MOST, self._params(tag, from_ms, to_ms))[0][0])

    def raw(self, tag: TagInfo, from_ms: int, to_ms: int) -> list[tuple[int, Any, str]]:
        return [(ms_of_naive_utc(ts), text if text is not None else value, quality)
                for ts, value, text, quality in self._query(RAW, self._params(tag, from_ms, to_ms))]

    def buckets(self, tag: TagInfo, from_ms: int, to_ms: int, bucket_ms: int) -> list[Bucket]:
        rows = self._query(BUCKETS, {**self._params(tag, from_ms, to_ms), "bucket_ms": bucket_ms})
        out: list[Bucket] = []
        for b, count, good, lo, hi, total, numbers, first_ts, first_n, first_t, last_ts, last_n, last_t in rows:
            first = first_t if first_t is not None else first_n
            last = last_t if last_t is not None else last_n
            out.append((int(b), int(count), int(good or 0), lo, hi, total, int(numbers or 0),
                        None if first_ts is None else ms_of_naive_utc(first_ts), first if first_ts else None,
                        None if last_ts is None else ms_of_naive_utc(last_ts), last if last_ts else None))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close(force=True)
            self._pool = None
