"""The send queue's policy: what to keep, what to send next, what to send again, what to drop.

Strategy: like h11's connection object, this decides and the caller does the
I/O. No socket, no file, no clock of its own: the caller passes ``now`` (a
monotonic time) and writes the journal and the ledger from what the methods
return (``SendQueue`` in sender.py is that caller). The rules:

- every cycle put is kept until the buffer confirms it;
- at most ``capacity`` cycles wait to be sent; a cycle sent and waiting for its
  confirmation is in flight, not queued, until ``ack_timeout`` makes it due
  again; never more than ``HARD_LIMIT`` x ``capacity`` cycles in all (a buffer
  that takes cycles and never confirms them);
- past either limit the oldest cycle not sent yet is dropped (or, if every one
  was sent, the oldest): a cycle sent has most likely arrived, and dropping it
  would count as dropped a cycle that is stored;
- a cycle is sent in the order it was put, and sent again in the order it fell due;
- a cycle the journal could not take (a full disk) is kept all the same, marked
  unjournaled until the caller has it on file again.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator

from common.wire.envelope import MessageError
from common.wire.ingest import cycle_head

Key = tuple[str, int]  # a cycle of this PLC: (group, cycle identity)
HARD_LIMIT = 2


class QueuedCycle:
    """One cycle in the send queue: its frame, until the buffer confirms it."""

    __slots__ = ("frame", "journaled", "sent_at", "ts_ms", "values")

    def __init__(self, frame: bytes, values: int, ts_ms: int | None = None, journaled: bool = True) -> None:
        self.frame = frame
        self.values = values
        self.ts_ms = ts_ms  # None for a cycle reloaded from the journal: read from the frame when needed
        self.sent_at: float | None = None
        self.journaled = journaled

    def ts_and_count(self) -> tuple[int, int]:
        """The cycle's read time and value count (for the ledger when it is dropped)."""
        if self.ts_ms is not None:
            return self.ts_ms, self.values
        try:  # a cycle reloaded from the journal: read its frame once, when it is dropped
            head = cycle_head(self.frame)
            return head.ts_ms, head.value_count
        except MessageError:
            return 0, 0

    def count(self) -> int:
        return self.ts_and_count()[1]


class Outbox:
    def __init__(self, capacity: int, ack_timeout: float) -> None:
        self.capacity = capacity
        self.ack_timeout = ack_timeout
        self.entries: OrderedDict[Key, QueuedCycle] = OrderedDict()  # every cycle not confirmed, oldest first
        self.to_send: deque[Key] = deque()
        self.in_flight = 0  # entries sent, waiting for their confirmation
        self.dropped = 0
        self.sent_count = 0
        self.resent = 0
        self.confirmed = 0

    # -- decisions ---------------------------------------------------------------
    def put(self, key: Key, frame: bytes, values: int, ts_ms: int | None = None) -> list[tuple[Key, QueuedCycle]]:
        """Keep a new cycle; returns the cycles dropped to make room, oldest first (ledger and journal them)."""
        dropped: list[tuple[Key, QueuedCycle]] = []
        while self.entries and (self.queued >= self.capacity or len(self.entries) >= HARD_LIMIT * self.capacity):
            dropped.append(self._drop_oldest())
        self.dropped += len(dropped)
        old = self.entries.pop(key, None)  # the same identity twice: the later read is the one kept
        if old is not None and old.sent_at is not None:
            self.in_flight -= 1
        self.entries[key] = QueuedCycle(frame, values, ts_ms)
        self.to_send.append(key)
        return dropped

    def reload(self, frames: Iterable[tuple[Key, bytes]]) -> None:
        """Cycles a previous run left unconfirmed: first in line."""
        for key, frame in frames:
            self.entries[key] = QueuedCycle(frame, 0)
            self.to_send.append(key)

    def _drop_oldest(self) -> tuple[Key, QueuedCycle]:
        for key, entry in self.entries.items():
            if entry.sent_at is None:
                return key, self.entries.pop(key)
        key, entry = self.entries.popitem(last=False)
        self.in_flight -= 1
        return key, entry

    def next_frame(self) -> tuple[Key, bytes] | None:
        """The next cycle to send, or None; call ``sent`` once the socket took it."""
        while self.to_send:
            key = self.to_send[0]
            entry = self.entries.get(key)
            if entry is None or entry.sent_at is not None:  # confirmed or dropped meanwhile
                self.to_send.popleft()
                continue
            return key, entry.frame
        return None

    def sent(self, key: Key, now: float) -> None:
        entry = self.entries[key]
        entry.sent_at = now
        self.in_flight += 1
        self.sent_count += 1
        if self.to_send and self.to_send[0] == key:
            self.to_send.popleft()

    def confirm(self, keys: Iterable[Key]) -> list[Key]:
        """The buffer has these cycles on file: forget them. Returns those that were ours (journal them)."""
        forgotten = []
        for key in keys:
            entry = self.entries.pop(key, None)
            if entry is not None:
                forgotten.append(key)
                self.in_flight -= entry.sent_at is not None
        self.confirmed += len(forgotten)
        return forgotten

    def due(self, now: float) -> list[Key]:
        """Cycles sent and not confirmed within ``ack_timeout`` (the buffer may have lost them): queued again."""
        limit = now - self.ack_timeout
        late = [k for k, e in self.entries.items() if e.sent_at is not None and e.sent_at < limit]
        for key in late:
            self.entries[key].sent_at = None
            self.to_send.append(key)
        self.in_flight -= len(late)
        self.resent += len(late)
        return late

    # -- what is kept ------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Cycles waiting to be sent; those sent and waiting for their confirmation are in flight."""
        return len(self.entries) - self.in_flight

    @property
    def unjournaled(self) -> int:
        return sum(1 for e in self.entries.values() if not e.journaled)

    def live(self) -> Iterator[tuple[Key, bytes]]:
        return ((k, e.frame) for k, e in self.entries.items())

    def live_bytes(self) -> int:
        return sum(len(e.frame) + 32 for e in self.entries.values())

    def all_journaled(self) -> None:
        for entry in self.entries.values():
            entry.journaled = True

    def __len__(self) -> int:
        return len(self.entries)
