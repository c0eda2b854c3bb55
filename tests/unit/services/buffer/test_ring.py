"""The buffer's ring: whole cycles leased in order, the oldest dropped and counted when full."""

from __future__ import annotations

import pytest

from common.wire.block import Block
from services.buffer.ring import Ring


def block(seq: int, n: int) -> Block:
    return Block.of_values("KRCWO12ELOA101", "G", seq, 1000 * seq, [[f"D{i}", i, "GOOD"] for i in range(n)])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ring_keeps_order_and_leases_slices() -> None:
    ring = Ring(100)
    ring.append(block(1, 30))
    ring.append(block(2, 30))
    taken = ring.take(40)
    assert [(b.seq, b.count) for b in taken] == [(1, 30)]  # whole cycles, up to the lease size
    assert ring.size == 30
    ring.put_back(taken)
    assert ring.size == 60
    first = ring.take(20)  # a cycle larger than the lease is split
    assert [(b.seq, b.count, b.first_value) for b in first] == [(1, 20, 0)]
    assert ring.size == 40 and ring.blocks[0].values()[0][0] == "D20" and ring.blocks[0].first_value == 20
    ring.put_back(first)
    assert [(b.seq, b.count) for b in ring.take(100)] == [(1, 20), (1, 10), (2, 30)]


def test_ring_drops_oldest_values_when_full_and_counts_them() -> None:
    ring = Ring(100)
    dropped = [ring.append(block(seq, 30)) for seq in range(1, 5)]
    assert ring.size == 90 and ring.overflow_count == 30  # the oldest cycle went, whole
    assert [[b.seq for b in d] for d in dropped] == [[], [], [], [1]]
    assert ring.blocks[0].seq == 2
    assert ring.received == 120


def test_overflow_rate_over_a_rolling_hour() -> None:
    clock = FakeClock()
    ring = Ring(100, clock)
    for seq in range(10):
        ring.append(block(seq, 50))  # 500 in, 400 dropped
    assert ring.window.rate_pct() == pytest.approx(80.0)
    clock.now += 30 * 60
    ring.take(100)
    for seq in range(10):
        ring.append(block(seq, 10))  # 100 in, none dropped
    assert ring.window.rate_pct() == pytest.approx(400 / 600 * 100)
    clock.now += 31 * 60  # the first burst is now over an hour old
    assert ring.window.rate_pct() == pytest.approx(0.0)
