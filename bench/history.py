"""Benchmark: the SQLite historian with 7 days of the sample plant -- size, inserts, GET /api/history.

    .venv/bin/python -m bench.history [--days 7]   (from the project directory; under the suite's lock)

- generates ``--days`` whole UTC days (ending yesterday) of the sample plant
  (data/sample: 3 PLCs, FIXED groups at 1 s, 5 s and 10 s, 1,410 tags; the
  HANDSHAKE groups triggered once a minute) straight into the historian's
  layout: the first day with SQL (values as the simulator's kinds: counters
  for integer tags, a sine for FLOAT32 and scaled tags, 0/1 for bits, text
  for STRING; one value in 1,000 BAD) and its per-minute summaries made by
  the writer's own code (printing what a minute's summary costs), the other
  days copies of it, a day apart; prints bytes per stored value on disk
  (values, cycles, summaries, indexes: the whole file);
- inserts through the writer's sink (SqliteSink.write: one transaction per
  batch, WAL) 300,000 values of today at batch 500 and at batch 5,000, on
  top of those days: values/s;
- starts the gateway (create_app under uvicorn, in this process) on the
  sample plant's config store and that historian and sends 100 GET
  /api/history for one 1 s tag over 24 h bucketed to 1,000 points, and 100
  over 1 h raw (points=5000), each time another FAST_1S tag and another
  day or hour: p50 and p99 in ms.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.historian import layout, rollup
from common.historian.layout import DAY_MS, SERIES_BITS
from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink, open_historian
from common.times import iso_ms, now_ms
from tests.gateway_run import GatewayThread, gateway_settings

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
HANDSHAKE_EVERY_MS = 60_000


def kind(row: dict[str, str]) -> str:
    data_type = row["data_type"]
    if data_type == "BIT":
        return "bit"
    if data_type.startswith("STRING"):
        return "text"
    if data_type.startswith("FLOAT") or row["scale"] not in ("", "1"):
        return "float"
    return "int"


def plant() -> tuple[dict[tuple[str, str], int], list[tuple[str, str, str, str]]]:
    """Intervals by (plc, group) and tags as (plc, group, address, kind)."""
    intervals = {}
    for r in csv.DictReader((SAMPLE / "polling_groups.csv").open(encoding="utf-8-sig")):
        if r["is_active"] != "0":
            intervals[(r["plc_code"], r["group_name"])] = (
                int(r["interval_ms"] or 1000) if r["mode"] == "FIXED" else HANDSHAKE_EVERY_MS)
    tags = [(r["plc_code"], r["group_name"], r["address"], kind(r))
            for r in csv.DictReader((SAMPLE / "tags.csv").open(encoding="utf-8-sig"))]
    return intervals, tags


VALUE = ("CASE WHEN (c.id + s.id) % 1000 = 0 THEN NULL "
         "WHEN t.kind = 'bit' THEN (c.ts_ms / 10000 + s.id) % 2 "
         "WHEN t.kind = 'float' THEN 50 + 40 * sin((c.ts_ms / 1000.0 + s.id) / 60.0) "
         "WHEN t.kind = 'text' THEN 'LOT' || (c.ts_ms / 3600000 % 100) "
         "ELSE (c.cycle + s.id * 37) % 32768 END")


def generate(path: Path, days: int) -> tuple[int, list[float]]:
    """``days`` whole days ending yesterday, in the historian's layout: the first generated with SQL and
    summarized minute by minute by the writer's own code (rollup.summarize), the others copies of it a day
    later each. Returns the values stored and the ms each minute's summary took."""
    intervals, tags = plant()
    conn = open_historian(path)
    conn.execute("BEGIN")
    conn.execute("INSERT OR IGNORE INTO qualities (id, quality) VALUES (1, 'BAD_TIMEOUT')")
    conn.execute("CREATE TEMP TABLE gen_groups (id INTEGER PRIMARY KEY, interval_ms INTEGER)")
    conn.execute("CREATE TEMP TABLE gen_kinds (series_id INTEGER PRIMARY KEY, kind TEXT)")
    for (plc, group), interval in intervals.items():
        gid = conn.execute("INSERT INTO groups (plc_code, group_name) VALUES (?, ?) RETURNING id",
                           (plc, group)).fetchone()[0]
        conn.execute("INSERT INTO gen_groups VALUES (?, ?)", (gid, interval))
    for plc, group, address, kind_of_tag in tags:
        sid = conn.execute("INSERT INTO series (group_id, tag_address) SELECT id, ? FROM groups WHERE plc_code = ? "
                           "AND group_name = ? RETURNING id", (address, plc, group)).fetchone()[0]
        conn.execute("INSERT INTO gen_kinds VALUES (?, ?)", (sid, kind_of_tag))
    conn.execute("COMMIT")
    first = layout.day_of(now_ms()) - days
    started = time.perf_counter()
    conn.execute("BEGIN")
    for statement in layout.day_ddl(first):
        conn.execute(statement)
    c, v = layout.cycles_table(first), layout.values_table(first)
    conn.execute(f"WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 86399) "
                 f"INSERT INTO {c} (group_id, cycle, ts_ms) SELECT g.id, (1 << 32) + n.k, "
                 f"{first * DAY_MS} + n.k * g.interval_ms FROM gen_groups g JOIN n ON n.k * g.interval_ms < "
                 f"{DAY_MS} ORDER BY 3, 1")
    per_day = conn.execute(
        f"INSERT INTO {v} (id, tag_value, quality) SELECT (c.id << {SERIES_BITS}) | s.id, {VALUE}, "
        f"CASE WHEN (c.id + s.id) % 1000 = 0 THEN 1 ELSE 0 END FROM {c} c "
        "CROSS JOIN series s ON s.group_id = c.group_id CROSS JOIN gen_kinds t ON t.series_id = s.id "
        "ORDER BY c.id, s.id").rowcount
    conn.execute("COMMIT")
    print(f"  day {layout.day_name(first)}: {per_day:,} values in {time.perf_counter() - started:.0f} s", flush=True)
    summary_ms = []
    m = layout.minutes_table(first)
    for minute in range(1440):
        t = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO {m} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         rollup.summarize(conn, first, minute))
        conn.execute("COMMIT")
        summary_ms.append(1000 * (time.perf_counter() - t))
    print(f"  its 1,440 minute summaries (the writer's upkeep): p50 {statistics.median(summary_ms):.0f} ms a "
          "minute of the plant", flush=True)
    for k in range(1, days):
        started = time.perf_counter()
        day = first + k
        conn.execute("BEGIN")
        for statement in layout.day_ddl(day):
            conn.execute(statement)
        shift = k * DAY_MS
        conn.execute(f"INSERT INTO {layout.cycles_table(day)} SELECT id, group_id, cycle + {k * 100_000}, "
                     f"ts_ms + {shift} FROM {c} ORDER BY id")
        conn.execute(f"INSERT INTO {layout.values_table(day)} SELECT * FROM {v} ORDER BY id")
        conn.execute(f"INSERT INTO {layout.minutes_table(day)} SELECT id, count, good, min, max, sum, numbers, "
                     f"first_ts + {shift}, first, last_ts + {shift}, last FROM {m} ORDER BY id")
        conn.execute("COMMIT")
        print(f"  day {layout.day_name(day)}: a copy, {time.perf_counter() - started:.0f} s", flush=True)
    conn.execute("BEGIN")
    layout.rebuild_view(conn)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return per_day * days, summary_ms


def insert_rate(path: Path, batch: int, values: int = 300_000) -> float:
    """Values/s through the writer's sink: the sample plant's FIXED cycles of today, in time order."""
    intervals, tags = plant()
    by_group: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for plc, group, address, k in tags:
        by_group.setdefault((plc, group), []).append((address, k))
    start = layout.day_of(now_ms()) * DAY_MS + (1 if batch == 500 else 2) * 3_600_000
    rows: list[Row] = []
    t = 0
    while len(rows) < values:
        for (plc, group), interval in intervals.items():
            if t % interval == 0:
                ts = iso_ms(start + t)
                cycle = (1 << 32) + t // interval + batch
                rows.extend(Row(ts, plc, address, (t + i) % 32768 if k == "int" else 0.5 + t / 1000 if k == "float"
                                else t // 1000 % 2 if k == "bit" else "LOT1", "GOOD", group, cycle)
                            for i, (address, k) in enumerate(by_group[(plc, group)]))
        t += 1000
    rows = rows[:values]
    sink = SqliteSink(path)
    sink.write(rows[:batch])  # open, dictionaries, today's tables
    started = time.perf_counter()
    for i in range(batch, len(rows), batch):
        sink.write(rows[i:i + batch])
    elapsed = time.perf_counter() - started
    sink.close()
    return (len(rows) - batch) / elapsed


def latencies(base: str, requests: list[dict[str, Any]]) -> list[float]:
    out = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for params in requests:
            started = time.perf_counter()
            response = http.get("/api/history", params=params)
            out.append(1000 * (time.perf_counter() - started))
            response.raise_for_status()
    return out


def figures(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    return f"{name}: p50 {statistics.median(ms):.1f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.1f} ms, max {ms[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        settings = gateway_settings(Path(tmp))
        conn = open_store(settings.config_db)
        import_csv(conn, [SAMPLE])
        conn.close()
        path = settings.historian_db
        print(f"generating {args.days} days of the sample plant into {path}", flush=True)
        stored, _ = generate(path, args.days)
        size = os.path.getsize(path)
        print(f"stored {stored:,} values in {size / 1e6:,.0f} MB: {size / stored:.1f} bytes per value")
        for batch in (500, 5000):
            print(f"insert at batch {batch:,}: {insert_rate(path, batch):,.0f} values/s", flush=True)
        fast = [a for p, g, a, k in plant()[1] if p == "KRCWO12ELOA101" and g == "FAST_1S" and k != "text"]
        today = layout.day_of(now_ms())
        day_requests: list[dict[str, Any]] = [{"tag": f"KRCWO12ELOA101/{fast[i % len(fast)]}",
                         "from": iso_ms((today - 1 - i % args.days) * DAY_MS),
                         "to": iso_ms((today - i % args.days) * DAY_MS), "points": 1000} for i in range(100)]
        hour_requests: list[dict[str, Any]] = [{"tag": f"KRCWO12ELOA101/{fast[(i * 7) % len(fast)]}",
                          "from": iso_ms((today - 1 - i % args.days) * DAY_MS + (i % 24) * 3_600_000),
                          "to": iso_ms((today - 1 - i % args.days) * DAY_MS + (i % 24 + 1) * 3_600_000),
                          "points": 5000} for i in range(100)]
        with GatewayThread(settings) as gateway:
            check = httpx.get(f"{gateway.url}/api/history", params=day_requests[0], timeout=30).json()["series"][0]
            raw = httpx.get(f"{gateway.url}/api/history", params=hour_requests[0], timeout=30).json()["series"][0]
            print(f"24 h answer: {check['mode']}, {len(check['ts'])} buckets of {check['bucket_ms']} ms, "
                  f"{sum(check['count']):,} values; 1 h answer: {raw['mode']}, {len(raw['ts']):,} values")
            print(figures("GET /api/history, one 1 s tag, 24 h in 1,000 buckets", latencies(gateway.url, day_requests)))
            print(figures("GET /api/history, one 1 s tag, 1 h raw", latencies(gateway.url, hour_requests)))


if __name__ == "__main__":
    main()
