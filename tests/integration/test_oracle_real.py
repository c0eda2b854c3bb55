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
