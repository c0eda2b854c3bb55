"""The ring: at most ``max_values`` tag values, oldest dropped first, and counted.

Strategy: values arrive a cycle at a time, so the ring keeps blocks (one
PollingData's values each, packed) and counts values, not blocks: appending
and leasing touch a block per cycle, not a Python object per value. When
full, values are dropped from the oldest block (splitting it when needed). A lease
takes up to N values from the front; a lease that comes back unacknowledged
is put back at the front, so it is written before anything newer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from common.messages import Block


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
            excess = self.size - self.max_values
            head = self.blocks[0]
            if head.count <= excess:
                dropped.append(self.blocks.popleft())
            else:
                gone, self.blocks[0] = head.split(excess)
                dropped.append(gone)
            self.size -= dropped[-1].count
            self.overflow_count += dropped[-1].count
        return dropped

    def take(self, max_values: int) -> list[Block]:
        """Remove and return up to ``max_values`` values from the front, as blocks."""
        out: list[Block] = []
        want = max_values
        while want > 0 and self.blocks:
            head = self.blocks[0]
            if head.count <= want:
                self.blocks.popleft()
                out.append(head)
                want -= head.count
            else:
                first, self.blocks[0] = head.split(want)
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
