"""The per-minute summaries made by the writer's Summarizer thread: the same buckets as an independent
reduction, a minute written to while it was being read summarized again, writes never waiting for a
summary's read, and a historian locked past the busy timeout put off and counted, not lost."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from common.historian import layout, rollup, summarizer
from common.historian.history import HistoryQuery, TagInfo, answer, bucket_plan
from common.historian.layout import MINUTE_BITS
from common.historian.rows import Row
from common.historian.sqlite_history import SqliteHistory
from common.historian.sqlite_sink import SqliteSink
from common.historian.summarizer import Summarizer
from common.times import iso_ms
from tests.helpers import wait_for
from tests.unit.common.historian.test_sqlite_history import PLC, T0, plant, reference, same

LATER = T0 + 60 * 60_000  # every minute of plant() due


def pending(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM rollup_pending").fetchone()[0])
    finally:
        conn.close()


def written(path: Path, rows: list[Row]) -> SqliteSink:
    sink = SqliteSink(path, clock=lambda: LATER)
    for i in range(0, len(rows), 500):
        sink.write(rows[i:i + 500])
    return sink


def test_the_threads_summaries_give_the_buckets_of_an_independent_reduction(tmp_path: Path) -> None:
    rows = plant()
    sink = written(tmp_path / "h.db", rows)
    sink.rollups = False
    assert not sink.housekeep()  # the sink's own upkeep leaves the minutes to the thread
    summaries = Summarizer(tmp_path / "h.db", clock=lambda: LATER).start()
    try:
        wait_for(lambda: pending(tmp_path / "h.db") == 0, 20, what="every minute summarized")
        wait_for(lambda: summaries.figures()["pending"] == 0, 5, what="the status saying so")
        assert summaries.native_id is not None  # the thread runs behind the batches on a busy machine:
        assert os.getpriority(os.PRIO_PROCESS, summaries.native_id) == summarizer.NICE
    finally:
        summaries.close()
    assert summaries.minutes == 40 and summaries.errors == 0  # 23:40:00.003 .. 00:19:59.004: 40 minutes
    sink.close()
    history = SqliteHistory(tmp_path / "h.db")
    q = HistoryQuery([f"{PLC}/D100"], T0, T0 + 2_400_000, 40)
    got, _ = answer(history, [TagInfo(PLC, "SPEED", "D100", "INT16", "", ""),
                              TagInfo(PLC, "LOT", "D200", "STRING[5]", "", "")], q)["series"]
    start, bucket_ms = bucket_plan(q.from_ms, q.to_ms, q.points)
    want = reference(rows, "D100", start, q.to_ms, bucket_ms)
    assert got["mode"] != "raw"
    for column in want:
        assert same(got[column], want[column]), column
    history.close()


def test_a_minute_written_to_during_its_read_is_summarized_again(tmp_path: Path) -> None:
    rows = plant()[:400]  # the first ~3 minutes
    sink = written(tmp_path / "h.db", rows)
    conn = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    read = rollup.read_one(conn, LATER)
    assert read is not None and read[3]
    day, minute, marks, summary = read
    late = Row(iso_ms(T0 + 30_000), PLC, "D100", 12345, "GOOD", "FAST", 88_888)  # in the minute being read
    sink.write([late])
    assert not rollup.store(conn, day, minute, marks, summary)  # not stored: it would lack the late value
    summaries = Summarizer(tmp_path / "h.db", clock=lambda: LATER)
    assert summaries.turn(conn) and summaries.minutes == 1
    got = conn.execute(f"SELECT sum(count), max(max) FROM {layout.minutes_table(day)} "
                       f"WHERE id & {(1 << MINUTE_BITS) - 1} = ?", (minute,)).fetchone()
    first_minute = [r for r in [*rows, late] if iso_ms(T0) <= r.ts < iso_ms(T0 + 60_000)]
    assert got == (len(first_minute), 12345)  # every value of the minute, the late one too
    conn.close()
    sink.close()


def test_writes_go_on_while_a_summary_is_being_read(tmp_path: Path) -> None:
    sink = written(tmp_path / "h.db", plant()[:400])
    reader = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    reader.execute("BEGIN")
    assert rollup.due(reader, LATER) is not None  # the read transaction holds its snapshot...
    done = threading.Event()

    def write() -> None:
        sink.write([Row(iso_ms(T0 + 400_000), PLC, "D100", 1, "GOOD", "FAST", 77)])
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(5)  # ...and the writer commits meanwhile (WAL: a reader never blocks it)
    reader.execute("COMMIT")
    reader.close()
    sink.close()


def test_a_locked_historian_puts_the_summaries_off_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = written(tmp_path / "h.db", plant()[:400])
    sink.close()
    monkeypatch.setattr(summarizer, "RETRY_S", 0.2)
    locker = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock past the busy timeout
    summaries = Summarizer(tmp_path / "h.db", clock=lambda: LATER, timeout=0.05).start()
    try:
        wait_for(lambda: summaries.errors >= 1, 10, what="the lock seen")
        assert summaries.minutes == 0 and "locked" in (summaries.last_error or "")
        locker.execute("COMMIT")
        wait_for(lambda: pending(tmp_path / "h.db") == 0, 20, what="the minutes summarized once the lock went")
    finally:
        summaries.close()
        locker.close()
    assert summaries.minutes >= 3 and summaries.last_error is None


def test_close_interrupts_a_summary_under_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's stop does not wait for a minute of a large plant to be read (seconds of SQLite)."""
    written(tmp_path / "h.db", plant()[:400]).close()
    reading = threading.Event()

    def at_work() -> int:
        reading.set()  # SQLite is running the query: an interrupt now stops it
        return 1

    def endless(conn: sqlite3.Connection, now_ms: int) -> None:
        conn.create_function("reading", 0, at_work)
        forever = "WITH RECURSIVE n(i) AS (SELECT reading() UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        conn.execute(forever).fetchone()

    monkeypatch.setattr(rollup, "read_one", endless)
    summaries = Summarizer(tmp_path / "h.db", clock=lambda: LATER).start()
    assert reading.wait(10)
    started = time.monotonic()
    summaries.close()
    assert time.monotonic() - started < 3 and not summaries._thread.is_alive()
    assert summaries.errors == 0 and summaries.last_error is None  # a stop, not a failure
    assert pending(tmp_path / "h.db") > 0  # the minutes wait for the next start
