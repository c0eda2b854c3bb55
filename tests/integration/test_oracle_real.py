"""Against a real Oracle Database: runs when ORACLE_DSN is set (with ORACLE_USERNAME and ORACLE_PASSWORD).

ORACLE_DSN is an Easy Connect string, e.g. dbhost:1521/FREEPDB1. The test creates TAG_DATA from
sql/oracle/tag_data.sql when the schema does not have it, and removes the rows it wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.historian.oracle_sink import OracleSink
from common.historian.rows import Row
from common.times import ms_of_iso

DSN = os.environ.get("ORACLE_DSN")
pytestmark = pytest.mark.skipif(
    not DSN, reason="no Oracle server on this machine: set ORACLE_DSN (and ORACLE_USERNAME, ORACLE_PASSWORD) "
                    "to run the Oracle sink against a real database")
DDL = Path(__file__).resolve().parents[2] / "sql" / "oracle" / "tag_data.sql"
PLC = "KRTESTORACLE01"


def test_real_oracle_insert_duplicates_and_types() -> None:
    import oracledb

    user, password = os.environ["ORACLE_USERNAME"], os.environ["ORACLE_PASSWORD"]

    def pool() -> oracledb.ConnectionPool:
        return oracledb.create_pool(user=user, password=password, dsn=DSN, min=1, max=2)

    with oracledb.connect(user=user, password=password, dsn=DSN) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM user_tables WHERE table_name = 'TAG_DATA'")
        if cursor.fetchone()[0] == 0:
            text = "\n".join(line for line in DDL.read_text().splitlines() if not line.startswith("--"))
            for statement in filter(None, (s.strip() for s in text.split(";"))):
                cursor.execute(statement)
        cursor.execute("DELETE FROM TAG_DATA WHERE plc_code = :1", [PLC])
        conn.commit()
    sink = OracleSink(pool)
    rows = [Row(f"2026-11-23T03:36:00.{i:03d}Z", PLC, f"D{i}", [1.5, 7, "TEXT", None][i % 4],
                "GOOD" if i % 4 != 3 else "BAD_TIMEOUT", "G", i) for i in range(20)]
    try:
        first = sink.write(rows)
        again = sink.write(rows)
        assert (first.inserted, first.duplicates) == (20, 0)
        assert (again.inserted, again.duplicates) == (0, 20)
        with oracledb.connect(user=user, password=password, dsn=DSN) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT tag_value, tag_text FROM TAG_DATA WHERE plc_code = :1 ORDER BY cycle", [PLC])
            stored = cursor.fetchall()
        assert stored[:4] == [(1.5, None), (7, None), (None, "TEXT"), (None, None)]
        # what scada account asks: rows per cycle in a window, the addresses of one cycle
        t0 = ms_of_iso("2026-11-23T03:36:00.000Z")
        counts = {k: n for k, n in sink.cycle_counts(t0, t0 + 10).items() if k[0] == PLC}
        assert counts == {(PLC, "G", i): 1 for i in range(10)}
        assert sink.addresses((PLC, "G", 3), t0 + 3) == {"D3"}
    finally:
        sink.close()
        with oracledb.connect(user=user, password=password, dsn=DSN) as conn, conn.cursor() as cursor:
            cursor.execute("DELETE FROM TAG_DATA WHERE plc_code = :1", [PLC])
            conn.commit()


def test_real_oracle_history_raw_and_buckets() -> None:
    """GET /api/history's SQL (common/historian/oracle_history.py) on a real server."""
    import oracledb

    from common.historian.history import HistoryQuery, TagInfo, answer
    from common.historian.oracle_history import OracleHistory

    user, password = os.environ["ORACLE_USERNAME"], os.environ["ORACLE_PASSWORD"]

    def pool() -> oracledb.ConnectionPool:
        return oracledb.create_pool(user=user, password=password, dsn=DSN, min=1, max=2)

    t0 = ms_of_iso("2026-11-23T03:00:00.000Z")
    rows = [Row(f"2026-11-23T03:{c // 60:02d}:{c % 60:02d}.000Z", PLC, "D100", None if c % 10 == 5 else c,
                "BAD_TIMEOUT" if c % 10 == 5 else "GOOD", "G", c) for c in range(1200)]
    rows += [Row(f"2026-11-23T03:{c // 60:02d}:{c % 60:02d}.000Z", PLC, "D200", f"LOT{c // 600}", "GOOD", "G", c)
             for c in range(1200)]
    sink, reader = OracleSink(pool), OracleHistory(pool)
    try:
        with oracledb.connect(user=user, password=password, dsn=DSN) as conn, conn.cursor() as cursor:
            cursor.execute("DELETE FROM TAG_DATA WHERE plc_code = :1", [PLC])
            conn.commit()
        assert sink.write(rows).inserted == 2400
        tag = TagInfo(PLC, "SPEED", "D100", "INT16", "", "")
        (raw,) = answer(reader, [tag], HistoryQuery([f"{PLC}/D100"], t0, t0 + 12_000, 1000))["series"]
        assert raw["mode"] == "raw" and raw["ts"] == [t0 + 1000 * c for c in range(12)]
        assert raw["value"][:6] == [0, 1, 2, 3, 4, None] and raw["quality"][5] == "BAD_TIMEOUT"
        (b,) = answer(reader, [tag], HistoryQuery([f"{PLC}/D100"], t0, t0 + 1_200_000, 2))["series"]
        assert (b["mode"], b["bucket_ms"], b["count"], b["good_share"]) == ("buckets", 600_000, [600, 600], [0.9, 0.9])
        assert (b["first"], b["last"], b["min"], b["max"]) == ([0, 600], [599, 1199], [0, 600], [599, 1199])
        text = TagInfo(PLC, "LOT", "D200", "STRING[5]", "", "")
        (t,) = answer(reader, [text], HistoryQuery([f"{PLC}/D200"], t0, t0 + 1_200_000, 2))["series"]
        assert (t["first"], t["last"], t["avg"]) == (["LOT0", "LOT1"], ["LOT0", "LOT1"], [None, None])
    finally:
        reader.close()
        sink.close()
        with oracledb.connect(user=user, password=password, dsn=DSN) as conn, conn.cursor() as cursor:
            cursor.execute("DELETE FROM TAG_DATA WHERE plc_code = :1", [PLC])
            conn.commit()
