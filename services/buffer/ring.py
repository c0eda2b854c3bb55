"""The ring: at most ``max_values`` tag values, oldest dropped first, and counted.

Strategy: values arrive a cycle at a time, so the ring keeps blocks (one
PollingData's values each, packed) and counts values, not blocks: appending
and leasing touch a block per cycle, not a Python object per value. When
full, the oldest cycles are dropped whole (a cycle is kept or dropped as
one, and nothing is unpacked to drop it). A lease takes up to N values from
the front in whole cycles, splitting one only when the first cycle alone is
larger than N; a lease that comes back unacknowledged is put back at the
front, so it is written before anything newer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from common.wire.block import Block


@dataclass
class OverflowWindow:
    """Values received and dropped per minute over a rolling hour."""

    clock: Callable[[], float] = time.monotonic
    minutes: deque[list[int]] = field(default_factory=deque)  # [minute, received, dropped]

    def add(self, received: int, dropped: int) -> None:
        minute = int(self.clock() // 60)
        if not self.minutes or self.minutes[-1][0] != minute:
            self.minutes.append([minute, 0, 0])
        self.minutes[-1][1] += received
        self.minutes[-1][2] += dropped
        while self.minutes and self.minutes[0][0] <= minute - 60:
            self.minutes.popleft()

    def dropped_lately(self) -> int:
        """Values dropped in this minute and the one before (a health reason while it is not 0)."""
        self.add(0, 0)
        minute = int(self.clock() // 60)
        return sum(m[2] for m in self.minutes if m[0] >= minute - 1)

    def rate_pct(self) -> float:
        self.add(0, 0)
        received = sum(m[1] for m in self.minutes)
        dropped = sum(m[2] for m in self.minutes)
        return 100.0 * dropped / received if received else 0.0


class Ring:
    def __init__(self, max_values: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_values = max_values
        self.blocks: deque[Block] = deque()
        self.size = 0
        self.received = 0
        self.overflow_count = 0
        self.window = OverflowWindow(clock)

    def append(self, block: Block) -> list[Block]:
        """Add a cycle's values; returns the oldest values dropped to make room (usually none)."""
        n = block.count
        if n == 0:
            return []
        self.blocks.append(block)
        self.size += n
        self.received += n
        dropped = self._trim()
        self.window.add(n, sum(b.count for b in dropped))
        return dropped

    def _trim(self) -> list[Block]:
        dropped: list[Block] = []
        while self.size > self.max_values:
            dropped.append(self.blocks.popleft())
            self.size -= dropped[-1].count
            self.overflow_count += dropped[-1].count
        return dropped

    def take(self, max_values: int) -> list[Block]:
        """Remove and return up to ``max_values`` values from the front, as blocks."""
        out: list[Block] = []
        want = max_values
        while self.blocks and self.blocks[0].count <= want:
            out.append(self.blocks.popleft())
            want -= out[-1].count
        if not out and self.blocks:  # the first cycle alone is larger than a lease: split it
            first, self.blocks[0] = self.blocks[0].split(want)
            out.append(first)
            want = 0
        self.size -= max_values - want
        return out

    def put_back(self, blocks: list[Block]) -> list[Block]:
        """Return unacknowledged blocks to the front, in order; may drop the oldest to fit."""
        for block in reversed(blocks):
            self.blocks.appendleft(block)
            self.size += block.count
        dropped = self._trim()
        self.window.add(0, sum(b.count for b in dropped))
        return dropped

    @property
    def utilization(self) -> float:
        return self.size / self.max_values if self.max_values else 0.0
