"""The batches the buffer has handed to writers and not yet heard acknowledged.

A lease is forgotten for good only when its writer acknowledges it
(committed, or backed up); one not acknowledged within BUFFER_LEASE_TIMEOUT
is taken back and handed out again (buffer_service.py puts its blocks back at the
front of the ring), and stored once all the same: the insert is idempotent.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass

from common.wire.block import Block

#: a writer not heard from for this long is not counted among the writers
WRITER_GONE_S = 10.0


@dataclass
class Lease:
    lease_id: int
    writer: bytes
    blocks: list[Block]
    values: int
    expires: float


class Leases:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.open: dict[int, Lease] = {}
        # Lease ids go on from where the last run's could have reached (ms since the epoch, x1000), so a
        # writer's late acknowledgement of the last run's lease never names a lease of this run.
        self._ids = itertools.count(int(time.time() * 1000) * 1000)
        self.acked_values = 0
        self.expired = 0
        self.writers_seen: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self.open)

    def __iter__(self) -> Iterator[Lease]:
        return iter(self.open.values())

    def heard_from(self, writer: bytes) -> None:
        self.writers_seen[writer] = time.monotonic()

    def hand_out(self, writer: bytes, blocks: list[Block]) -> Lease:
        lease = Lease(next(self._ids), writer, blocks, sum(b.count for b in blocks),
                      time.monotonic() + self.timeout_s)
        self.open[lease.lease_id] = lease
        return lease

    def acknowledged(self, lease_id: int) -> Lease | None:
        """The lease, forgotten; None if it is not open (expired and handed out again, or of the last run)."""
        lease = self.open.pop(lease_id, None)
        if lease is not None:
            self.acked_values += lease.values
        return lease

    def take_back_expired(self) -> list[Lease]:
        """The leases past their timeout, forgotten, the newest first (each goes back to the ring's front)."""
        now = time.monotonic()
        expired = sorted((lease for lease in self.open.values() if lease.expires <= now),
                         key=lambda lease: lease.lease_id, reverse=True)
        for lease in expired:
            del self.open[lease.lease_id]
        self.expired += len(expired)
        return expired

    def blocks(self) -> list[Block]:
        return [b for lease in self.open.values() for b in lease.blocks]

    @property
    def values(self) -> int:
        return sum(lease.values for lease in self.open.values())

    @property
    def writers(self) -> int:
        now = time.monotonic()
        return sum(1 for seen in self.writers_seen.values() if now - seen < WRITER_GONE_S)
