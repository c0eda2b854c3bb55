"""The Oracle history reader at the driver boundary: the SQL and binds it sends, and the answer it makes of
rows shaped as python-oracledb returns them (naive UTC datetimes, NUMBER as int or float, VARCHAR2 text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.historian.history import HistoryQuery, TagInfo, answer
from common.historian.oracle_history import BUCKETS, MOST, RAW, OracleHistory
from common.historian.oracle_sink import ms_of_naive_utc

PLC = "KRCWO12ELOA101"
T0 = datetime(2026, 12, 3, 6, 0, 0)


class Cursor:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def execute(self, sql: str, params: dict[str, Any]) -> None:
        self.pool.statements.append((sql, params))
        self.result = self.pool.answers[sql]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.result


class Connection:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.call_timeout = 0

    def cursor(self) -> Cursor:
        return Cursor(self.pool)


class Pool:
    def __init__(self, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.answers = answers
        self.statements: list[tuple[str, dict[str, Any]]] = []
        self.released = 0

    def acquire(self) -> Connection:
        return Connection(self)

    def release(self, connection: Connection) -> None:
        self.released += 1

    def close(self, force: bool = False) -> None:
        pass


def at(seconds: float) -> datetime:
    from datetime import timedelta

    return T0 + timedelta(seconds=seconds)


TAG = TagInfo(PLC, "LINE_SPEED", "D100", "INT16", "m/min", "")
FROM_MS = ms_of_naive_utc(T0)


def test_raw_binds_naive_utc_and_reads_numbers_text_and_bad() -> None:
    pool = Pool({MOST: [(3,)], RAW: [(at(0), 12, None, "GOOD"), (at(1), None, None, "BAD_TIMEOUT"),
                                     (at(2), 12.5, None, "GOOD")]})
    reader = OracleHistory(lambda: pool)
    (series,) = answer(reader, [TAG], HistoryQuery([f"{PLC}/D100"], FROM_MS, FROM_MS + 10_000, 1000))["series"]
    assert (series["mode"], series["ts"]) == ("raw", [FROM_MS, FROM_MS + 1000, FROM_MS + 2000])
    assert series["value"] == [12, None, 12.5] and series["quality"] == ["GOOD", "BAD_TIMEOUT", "GOOD"]
    sql, params = pool.statements[-1]
    assert sql == RAW and "plc_code = :plc AND tag_address = :address AND ts >= :from_ts AND ts < :to_ts" in sql
    assert params == {"plc": PLC, "address": "D100", "from_ts": T0, "to_ts": at(10)}
    assert pool.released == 2


def test_buckets_are_computed_by_the_server_and_shaped_like_sqlite() -> None:
    # buckets 0 and 2 have values (bucket 2 only BAD ones), bucket 1 none: a gap
    pool = Pool({MOST: [(5000,)], BUCKETS: [
        (0, 1200, 1080, 3, 97, 54_000.0, 1080, at(1), 7, None, at(599), 9, None),
        (2, 600, 0, None, None, None, 0, None, 3, None, None, 4, None),
    ]})
    reader = OracleHistory(lambda: pool)
    q = HistoryQuery([f"{PLC}/D100"], FROM_MS, FROM_MS + 1_800_000, 3)
    (s,) = answer(reader, [TAG], q)["series"]
    assert (s["mode"], s["bucket_ms"], s["ts"]) == ("buckets", 600_000, [FROM_MS, FROM_MS + 600_000,
                                                                         FROM_MS + 1_200_000])
    assert s["count"] == [1200, 0, 600] and s["good_share"] == [0.9, None, 0.0]
    assert (s["min"], s["max"], s["avg"]) == ([3, None, None], [97, None, None], [50.0, None, None])
    assert (s["first"], s["last"]) == ([7, None, None], [9, None, None])  # no GOOD value: no first or last
    sql, params = pool.statements[-1]
    assert "KEEP (DENSE_RANK FIRST ORDER BY CASE WHEN quality = 'GOOD' THEN 0 ELSE 1 END, ts)" in sql
    assert "FLOOR(" in sql and params["bucket_ms"] == 600_000 and params["from_ts"] == T0


def test_strings_come_from_tag_text() -> None:
    pool = Pool({MOST: [(5000,)], BUCKETS: [(0, 1200, 1200, None, None, None, 0, at(0), None, "LOT1", at(599), None,
                                             "LOT2")]})
    text = TagInfo(PLC, "LOT", "D200", "STRING[5]", "", "")
    (s,) = answer(OracleHistory(lambda: pool), [text], HistoryQuery([f"{PLC}/D200"], FROM_MS, FROM_MS + 600_000,
                                                                      1))["series"]
    assert (s["first"], s["last"], s["min"], s["avg"]) == (["LOT1"], ["LOT2"], [None], [None])
