"""Benchmark: the historian's SQLite table: key order, rowid or not.

    .venv/bin/python -m bench.sqlite_layout

100,000 rows (100 cycles of 1,000 tags, the pipeline benchmark's shape) into a
fresh file, WAL, synchronous=NORMAL, the writer's own INSERT ... ON CONFLICT
DO NOTHING, in transactions of 500 and 5,000 rows, three runs each. The
layouts: the previous release's key (ts, plc_code, tag_address), the
identity key led by ts (the sink's), the identity key alone (led by
plc_code), and a rowid table with a unique index for comparison.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from common.historian.rows import COLUMNS as NAMES
from common.historian.rows import insert_statement
from common.historian.sqlite_sink import DDL
from common.times import iso_ms
from common.wire.cycle import make_cycle

COLUMNS = ("ts TEXT NOT NULL, plc_code TEXT NOT NULL, tag_address TEXT NOT NULL, tag_value, quality TEXT NOT NULL, "
           "group_name TEXT NOT NULL, cycle INTEGER NOT NULL")
IDENTITY = "plc_code, group_name, cycle, tag_address"
#: layout -> (CREATE TABLE, the unique key the INSERT's ON CONFLICT names)
LAYOUTS = {
    "WITHOUT ROWID, PK (ts, plc_code, tag_address) (previous release)":
        (f"CREATE TABLE TAG_DATA ({COLUMNS}, PRIMARY KEY (ts, plc_code, tag_address)) WITHOUT ROWID",
         "ts, plc_code, tag_address"),
    "rowid table + UNIQUE (ts, plc, group, cycle, address)":
        (f"CREATE TABLE TAG_DATA ({COLUMNS}, UNIQUE (ts, {IDENTITY}))", f"ts, {IDENTITY}"),
    "WITHOUT ROWID, PK (plc, group, cycle, address)":
        (f"CREATE TABLE TAG_DATA ({COLUMNS}, PRIMARY KEY ({IDENTITY})) WITHOUT ROWID", IDENTITY),
    "WITHOUT ROWID, PK (ts, plc, group, cycle, address) (the sink's)": (DDL, f"ts, {IDENTITY}"),
}


def rows(cycles: int = 100, tags: int = 1000) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for c in range(cycles):
        ts = iso_ms(1_800_000_000_000 + c * 160)
        out += [(ts, "KRBENCH000PIPE", f"D{j}", j * 7, "GOOD", f"G{c % 4}", make_cycle(3, c + 1)) for j in range(tags)]
    return out


def run(layout: tuple[str, str], batch: int, data: list[tuple[object, ...]]) -> float:
    ddl, key = layout
    insert = insert_statement(NAMES, "?") + f" ON CONFLICT ({key}) DO NOTHING"
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        db = sqlite3.connect(Path(tmp) / "t.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(ddl)
        started = time.perf_counter()
        for start in range(0, len(data), batch):
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, data[start : start + batch])
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        db.close()
    return len(data) / elapsed


def main() -> None:
    data = rows()
    print(f"{'layout':<70} {'batch':>6} {'rows/s (median of 3)':>22}")
    for name, layout in LAYOUTS.items():
        for batch in (500, 5000):
            rate = statistics.median(run(layout, batch, data) for _ in range(3))
            print(f"{name:<70} {batch:>6,} {rate:>22,.0f}")


if __name__ == "__main__":
    main()
