"""Retention (HISTORIAN_KEEP_DAYS) with a clock the test controls: whole days older than the setting go, in
steps of at most CHUNK_ROWS rows, each its own short transaction with writes going on between them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.historian import layout, retention
from common.historian.layout import DAY_MS
from common.historian.rows import Row
from common.historian.sqlite_sink import SqliteSink
from common.times import iso_ms

PLC = "KRTEST00PLC001"
TODAY = 20_800  # a Unix day (2026-12-13)


def day_rows(day: int, n: int, first_cycle: int) -> list[Row]:
    return [Row(iso_ms(day * DAY_MS + 1000 * c), PLC, f"D{a}", c, "GOOD", "G", first_cycle + c)
            for c in range(n) for a in range(3)]


def tag_data_days(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {ts[:10] for (ts,) in db.execute("SELECT DISTINCT substr(ts, 1, 10) FROM TAG_DATA")}


def test_days_older_than_the_setting_go_in_bounded_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "CHUNK_ROWS", 50)
    now = [(TODAY - 7) * DAY_MS]
    sink = SqliteSink(tmp_path / "h.db", keep_days=3, clock=lambda: now[0])
    for k, day in enumerate(range(TODAY - 6, TODAY + 1)):
        assert sink.write(day_rows(day, 60, 1000 * k)).inserted == 180
    now[0] = TODAY * DAY_MS + DAY_MS // 2  # noon: the days whose end is more than 3 x 24 h ago go
    assert retention.expired(sink._connection(), now[0], 3) == [TODAY - 6, TODAY - 5, TODAY - 4]
    conn = sink._connection()
    steps = 0
    while True:
        before = conn.total_changes
        if not sink.housekeep():
            break
        steps += 1
        # a step changes at most CHUNK_ROWS rows (plus a few of the catalogue): the writer waits for no more
        assert conn.total_changes - before <= retention.CHUNK_ROWS + 10
        if steps == 1:  # the first step takes the day out of TAG_DATA at once: never seen half removed
            assert iso_ms((TODAY - 6) * DAY_MS)[:10] not in tag_data_days(sink.path)
        if steps % 5 == 0:  # the writer goes on between the steps
            assert sink.write(day_rows(TODAY, 1, 90_000 + steps)).inserted == 3
    kept = {iso_ms(d * DAY_MS)[:10] for d in range(TODAY - 3, TODAY + 1)}
    assert tag_data_days(sink.path) == kept
    assert layout.days(conn) == list(range(TODAY - 3, TODAY + 1))
    names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {t for d in range(TODAY - 6, TODAY - 3) for t in layout.day_tables(d)} & names
    assert sink.cycle_counts((TODAY - 6) * DAY_MS, (TODAY - 3) * DAY_MS) == {}
    assert sum(sink.cycle_counts((TODAY - 3) * DAY_MS, (TODAY + 1) * DAY_MS).values()) == 4 * 180 + 3 * (steps // 5)
    assert steps >= 3 * (180 // 50)  # the old days' values went 50 rows at a time
    sink.close()


def test_a_value_of_a_day_retention_removes_is_refused_with_the_reason(tmp_path: Path) -> None:
    sink = SqliteSink(tmp_path / "h.db", keep_days=3, clock=lambda: TODAY * DAY_MS)
    result = sink.write(day_rows(TODAY - 5, 1, 1) + day_rows(TODAY - 2, 1, 2))
    assert result.inserted == 3 and len(result.rejected) == 3
    assert "older than HISTORIAN_KEEP_DAYS (3)" in result.rejected[0][1]
    sink.close()
