"""A historian of the previous release (one text TAG_DATA table with the cycle) is upgraded when the writer
opens it: every row kept, TAG_DATA reads the same, the same values sent again are duplicates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from common.historian.layout import DAY_MS
from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink
from common.times import iso_ms

PLC = "KRTEST00PLC001"
T0 = 20_800 * DAY_MS - 30_000  # 30 s before midnight: the rows fall on two days

RELEASE_2 = """CREATE TABLE TAG_DATA (ts TEXT NOT NULL, plc_code TEXT NOT NULL, tag_address TEXT NOT NULL, tag_value,
    quality TEXT NOT NULL, group_name TEXT NOT NULL, cycle INTEGER NOT NULL,
    PRIMARY KEY (ts, plc_code, group_name, cycle, tag_address)) WITHOUT ROWID"""


def test_the_previous_layout_is_upgraded_with_every_row(tmp_path: Path) -> None:
    rows = [Row(iso_ms(T0 + 1000 * c), PLC, f"D{a}", [c, c * 0.5, "TXT", None][a],
                "GOOD" if a < 3 else "BAD_TIMEOUT", "FAST" if c % 2 else "SLOW", (1 << 32) + c)
            for c in range(60) for a in range(4)]
    path = tmp_path / "tag_data.db"
    with sqlite3.connect(path) as db:
        db.execute(RELEASE_2)
        db.executemany("INSERT INTO TAG_DATA VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()
    sink = SqliteSink(path)
    conn = sink._connection()
    stored = conn.execute("SELECT ts, plc_code, tag_address, tag_value, quality, group_name, cycle FROM TAG_DATA"
                          ).fetchall()
    assert sorted(stored, key=repr) == sorted([tuple(r) for r in rows], key=repr)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'TAG_DATA_PREVIOUS'").fetchone()[0] == 0
    assert (sink.write(rows).inserted, sink.write(rows).duplicates) == (0, 240)
    assert conn.execute("SELECT count(*) FROM rollup_pending").fetchone()[0] == 2  # a minute on each day
    sink.close()
    assert SqliteSink(path).cycle_counts(T0, T0 + 60_000)[(PLC, "FAST", (1 << 32) + 1)] == 4  # opened again: as is
