"""The SQLite history reader against an independent count: buckets from the per-minute summaries, from the
values, and from both (some minutes summarized, some pending, a late value) equal a plain Python reduction."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from common.historian.history import HistoryQuery, TagInfo, answer, bucket_plan
from common.historian.layout import DAY_MS
from common.historian.rows import Row
from common.historian.sqlite_history import SqliteHistory
from common.historian.sqlite_sink import SqliteSink
from common.times import iso_ms

PLC = "KRTEST00PLC001"
DAY0 = 20_425 * DAY_MS  # 2025-12-03T00:00:00Z
T0 = DAY0 + DAY_MS - 20 * 60_000  # 23:40, so that the range runs over midnight into the next day's tables


def plant(seed: int = 7) -> list[Row]:
    """40 minutes of a 1 s group and a 5 s group that both read D100 (two series of one address), values with
    BAD ones, and a 1 s text tag."""
    rnd = random.Random(seed)
    rows = []
    for c in range(2400):
        ts = iso_ms(T0 + 1000 * c + 3)
        bad = rnd.random() < 0.1
        rows.append(Row(ts, PLC, "D100", None if bad else rnd.choice([rnd.randint(-50, 50), rnd.uniform(-5, 5)]),
                        "BAD_TIMEOUT" if bad else "GOOD", "FAST", c + 1))
        rows.append(Row(ts, PLC, "D200", f"LOT{c // 300}", "GOOD", "FAST", c + 1))
        if c % 5 == 0:
            rows.append(Row(iso_ms(T0 + 1000 * c + 4), PLC, "D100", c, "GOOD", "SLOW", c + 1))
    return rows


def reference(rows: list[Row], address: str, start: int, to_ms: int, bucket_ms: int) -> dict[str, list[Any]]:
    from common.times import ms_of_iso

    n = math.ceil((to_ms - start) / bucket_ms)
    found: dict[int, list[tuple[int, Any, str]]] = {}
    for r in rows:
        ts = ms_of_iso(r.ts)
        if r.tag_address == address and start <= ts < to_ms:
            found.setdefault((ts - start) // bucket_ms, []).append((ts, r.tag_value, r.quality))
    out: dict[str, list[Any]] = {k: [] for k in ("count", "good_share", "min", "max", "avg", "first", "last")}
    for i in range(n):
        values = sorted(found.get(i, []), key=lambda v: v[0])
        good = [v for v in values if v[2] == "GOOD"]
        numbers = [v[1] for v in good if isinstance(v[1], int | float)]
        out["count"].append(len(values))
        out["good_share"].append(len(good) / len(values) if values else None)
        out["min"].append(min(numbers) if numbers else None)
        out["max"].append(max(numbers) if numbers else None)
        out["avg"].append(sum(numbers) / len(numbers) if numbers else None)
        out["first"].append(good[0][1] if good else None)
        out["last"].append(good[-1][1] if good else None)
    return out


def same(got: list[Any], want: list[Any]) -> bool:
    return all(g == w or (isinstance(g, float) and w is not None and math.isclose(g, w)) for g, w in zip(got, want,
                                                                                                           strict=True))


RANGES = [(0, 2_400_000, 40), (29_000, 2_000_000, 7), (0, 2_400_000, 2000), (125_500, 1_200_000, 15)]


@pytest.mark.parametrize("summarized_until", [None, T0 + 17 * 60_000, T0 + 60 * 60_000])
def test_buckets_equal_an_independent_reduction(tmp_path: Path, summarized_until: int | None) -> None:
    rows = plant()
    sink = SqliteSink(tmp_path / "h.db", clock=lambda: summarized_until or 0)
    for i in range(0, len(rows), 500):
        sink.write(rows[i:i + 500])
    if summarized_until is not None:
        while sink.housekeep():
            pass
    # a late value, written after its minute was summarized: that minute is pending again
    late = Row(iso_ms(T0 + 61_500), PLC, "D100", 1000, "GOOD", "FAST", 99_999)
    sink.write([late])
    sink.close()
    rows.append(late)
    history = SqliteHistory(tmp_path / "h.db")
    tag = TagInfo(PLC, "SPEED", "D100", "INT16", "", "")
    text = TagInfo(PLC, "LOT", "D200", "STRING[5]", "", "")
    for offset, span, points in RANGES:
        q = HistoryQuery([f"{PLC}/D100"], T0 + offset, T0 + offset + span, points)
        got, lot = answer(history, [tag, text], q)["series"]
        start, bucket_ms = bucket_plan(q.from_ms, q.to_ms, q.points)
        want = reference(rows, "D100", start, q.to_ms, bucket_ms)
        if got["mode"] == "raw":
            assert len(got["ts"]) == sum(want["count"])
            continue
        assert (got["bucket_ms"], got["ts"][0]) == (bucket_ms, start)
        for column in want:
            assert same(got[column], want[column]), (column, offset, span, points)
        lots = reference(rows, "D200", start, q.to_ms, bucket_ms)
        assert lot["first"] == lots["first"] and lot["last"] == lots["last"] and set(lot["min"]) == {None}
    history.close()


def test_bucket_plan_uses_whole_minutes_from_the_minute_from_falls_in() -> None:
    assert bucket_plan(T0 + 1, T0 + 1 + 24 * 3_600_000, 1000) == (T0, 120_000)
    assert bucket_plan(T0 + 1, T0 + 3_600_001, 1000) == (T0 + 1, 3600)
    start, bucket_ms = bucket_plan(T0 + 59_999, T0 + 59_999 + 10 * 60_000, 10)
    assert (start, bucket_ms) == (T0, 120_000) and math.ceil((T0 + 59_999 + 600_000 - start) / bucket_ms) <= 10
