"""The poller's send queue: bounded, journaled, never blocking the polling, drops counted.

Strategy: every PollingData is written to the queue's journal, then waits in
the queue until the buffer confirms that it has journaled it (an
``ingested`` message on the live PUB); only then is it forgotten. So a
poller killed at any instant starts again with what the buffer had not
confirmed, and a cycle the buffer lost (killed between receiving and
journaling it) is sent again after POLLER_ACK_TIMEOUT. A duplicate costs
nothing: the historian stores a cycle once. The queue holds at most
DATA_QUEUE_SIZE cycles waiting to be sent (a cycle sent and waiting for its
confirmation is in flight, not queued, until POLLER_ACK_TIMEOUT makes it
due again); a full queue drops its oldest unsent cycle, counts it and puts
it in the ledger. The PUSH socket sets ZMQ_IMMEDIATE and a small
high-water mark, so while the buffer is away cycles stay here, where they
are counted, rather than in ZeroMQ's pipe.

A cycle is named by (group, cycle number), never by its read time: two
cycles of a group never share a key, whatever the wall clock did.

Journal records: ``[1, group, cycle, frame]`` queued, ``[2, [[group, cycle], ...]]`` forgotten.
A journal of the previous release named cycles (group, ts); its frames carry
no cycle number, and are keyed, sent and confirmed as (group, -ts)
(``messages.legacy_cycle``) from the first load on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

import zmq

from common import bus, curve, messages
from common.journal import Journal, fsync_and_close
from common.ledger import Ledger
from common.messages import MessageError

log = logging.getLogger("poller.sender")

QUEUED, FORGOTTEN = 1, 2
Key = tuple[str, int]  # (group, cycle number): a cycle of this PLC
COMPACT_MIN_BYTES = 4 << 20
HARD_LIMIT = 2  # sent or not, never more than twice DATA_QUEUE_SIZE cycles (a buffer that never confirms)


def waiting(journal: Journal, repair: bool = True) -> dict[Key, bytes]:
    """The cycles a send queue's journal holds unconfirmed, oldest first.

    ``repair=False`` reads a running poller's journal without touching it (``scada account``).
    """
    frames: dict[Key, bytes] = {}
    for record in journal.replay(repair):
        try:
            if record[0] == QUEUED:
                frames[(str(record[1]), int(record[2]))] = bytes(record[3])
            elif record[0] == FORGOTTEN:
                for group, cycle in record[1]:
                    frames.pop((str(group), int(cycle)), None)
        except (TypeError, ValueError, IndexError):
            log.error("%s: a record of an unknown shape skipped", journal.path)
    # The records' keys agree with each other within a release; the frame says the cycle for good
    # (a record of the previous release keyed by ts holds a frame whose cycle is -ts).
    keyed: dict[Key, bytes] = {}
    for key, frame in frames.items():
        try:
            keyed[messages.cycle_of_frame(frame)] = frame
        except MessageError as error:
            log.error("%s: a queued PollingData that does not decode (%s); kept under %s", journal.path, error, key)
            keyed[key] = frame
    return keyed


class Entry:
    __slots__ = ("frame", "sent_at", "ts_ms", "values")

    def __init__(self, frame: bytes, values: int, ts_ms: int | None = None) -> None:
        self.frame = frame
        self.values = values
        self.ts_ms = ts_ms  # None for a cycle reloaded from the journal: read from the frame when needed
        self.sent_at: float | None = None


class SendQueue:
    def __init__(self, ctx: zmq.Context[Any], endpoint: str, capacity: int, journal_path: Path,
                 ledger: Ledger, plc_code: str, ack_timeout: float = 5.0,
                 security: curve.SocketSecurity | None = None) -> None:
        self.capacity = capacity
        self.plc_code = plc_code
        self.ack_timeout = ack_timeout
        self.ledger = ledger
        self.entries: OrderedDict[Key, Entry] = OrderedDict()  # every cycle not confirmed, oldest first
        self.to_send: deque[Key] = deque()
        self.journal = Journal(journal_path)
        self.dropped = 0
        self.sent = 0
        self.resent = 0
        self.confirmed = 0
        self.bad_acks = 0
        self._in_flight = 0  # entries sent, waiting for their confirmation
        self._wake = asyncio.Event()
        self.sock = bus.make_socket(ctx, zmq.PUSH, connect=endpoint, hwm=100, linger=0, immediate=True,
                                    security=security, name="ingest")

    # -- journal ---------------------------------------------------------------
    def load(self) -> int:
        """Queue again, first, what the last run had not seen confirmed; opens the journal."""
        for key, frame in waiting(self.journal).items():
            self.entries[key] = Entry(frame, 0)
        self.journal.rewrite([QUEUED, k[0], k[1], e.frame] for k, e in self.entries.items())
        self.to_send.extend(self.entries)
        return len(self.entries)

    def _compact(self) -> None:
        live = sum(len(e.frame) + 32 for e in self.entries.values())
        if self.journal.size > max(COMPACT_MIN_BYTES, 4 * live):
            self.journal.rewrite([QUEUED, k[0], k[1], e.frame] for k, e in self.entries.items())

    # -- queue -----------------------------------------------------------------
    def put(self, data: messages.PollingData) -> None:
        key = (data.group, data.identity)
        frame = messages.encode_polling_data(data)
        n = len(data.values)
        # The ledger first: a cycle is counted as polled before anything can lose it.
        self.ledger.record(["polled", self.plc_code, data.group, data.seq, data.ts_ms, n, key[1]])
        forgotten: list[list[Any]] = []
        while self._queued() >= self.capacity or len(self.entries) >= HARD_LIMIT * self.capacity:
            old_key, old = self._oldest_undelivered()
            self.dropped += 1
            forgotten.append(list(old_key))
            ts, count = self._ts_and_count(old)
            self.ledger.record(["queue_dropped", self.plc_code, old_key[0], ts, count, old_key[1]])
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("send queue full (%d): dropped the oldest PollingData (%d so far)",
                            self.capacity, self.dropped)
        records: list[list[Any]] = [[FORGOTTEN, forgotten]] if forgotten else []
        self.journal.append([*records, [QUEUED, key[0], key[1], frame]])
        self.entries[key] = Entry(frame, n, data.ts_ms)
        self.to_send.append(key)
        self._wake.set()

    def _queued(self) -> int:
        """Cycles waiting to be sent; those sent and waiting for their confirmation are in flight, not queued."""
        return len(self.entries) - self._in_flight

    def _oldest_undelivered(self) -> tuple[Key, Entry]:
        """Remove and return the oldest cycle not sent yet; if every one was sent, the oldest.

        A cycle sent and waiting for its confirmation has most likely arrived:
        dropping it would count as dropped a cycle that is stored.
        """
        for key, entry in self.entries.items():
            if entry.sent_at is None:
                return key, self.entries.pop(key)
        key, entry = self.entries.popitem(last=False)
        self._in_flight -= 1
        return key, entry

    @staticmethod
    def _ts_and_count(entry: Entry) -> tuple[int, int]:
        if entry.ts_ms is not None:
            return entry.ts_ms, entry.values
        try:  # a cycle reloaded from the journal: read its frame once, when it is dropped
            m = messages.unpack(entry.frame, "polling_data")
            return int(m["ts"]), len(m["values"])
        except (MessageError, KeyError, TypeError, ValueError):
            return 0, 0

    def confirm(self, frame: bytes) -> int:
        """The buffer journaled these cycles: forget them. Returns how many were ours."""
        try:
            message = messages.unpack(frame, "ingested")
            keys = [(str(g), int(cycle)) for g, cycle in message["keys"]]
        except (MessageError, KeyError, TypeError, ValueError) as error:
            self.bad_acks += 1
            log.warning("dropped a bad confirmation (%d so far): %s", self.bad_acks, error)
            return 0
        forgotten = []
        for key in keys:
            entry = self.entries.pop(key, None)
            if entry is not None:
                forgotten.append(list(key))
                self._in_flight -= entry.sent_at is not None
        if forgotten:
            self.journal.append([[FORGOTTEN, forgotten]])
            self.confirmed += len(forgotten)
        return len(forgotten)

    def resend_unconfirmed(self) -> int:
        """Queue again what was sent and not confirmed in time (the buffer may have lost it)."""
        limit = time.monotonic() - self.ack_timeout
        late = [k for k, e in self.entries.items() if e.sent_at is not None and e.sent_at < limit]
        for key in late:
            self.entries[key].sent_at = None
            self.to_send.append(key)
        self._in_flight -= len(late)
        if late:
            self.resent += len(late)
            log.warning("%d PollingData not confirmed by the buffer in %.0f s; sending them again",
                        len(late), self.ack_timeout)
            self._wake.set()
        return len(late)

    def _send_ready(self) -> bool:
        """Send what the socket takes now; False when it takes no more."""
        while self.to_send:
            entry = self.entries.get(self.to_send[0])
            if entry is None or entry.sent_at is not None:  # confirmed or dropped meanwhile
                self.to_send.popleft()
                continue
            try:
                self.sock.send(entry.frame, zmq.NOBLOCK)
            except zmq.Again:
                return False
            entry.sent_at = time.monotonic()
            self._in_flight += 1
            self.to_send.popleft()
            self.sent += 1
        return True

    # -- tasks -----------------------------------------------------------------
    async def run(self) -> None:
        while True:
            if self._send_ready():
                self._wake.clear()
                await self._wake.wait()
            else:
                await asyncio.sleep(0.05)

    async def receive_confirmations(self, sock: Any) -> None:
        """Read ``ingested`` messages from the buffer's live PUB (an asyncio SUB socket)."""
        while True:
            parts = await sock.recv_multipart()
            self.confirm(parts[-1])

    async def housekeeping(self) -> None:
        """Once a second: resend the overdue, fsync the journal and ledger, compact.

        The fsyncs run in a worker thread: on a slow disk they take tens of
        milliseconds, which must not delay the polling schedules on this loop.
        """
        self.resend_unconfirmed()
        handles = [h for h in (self.journal.sync_handle(), self.ledger.sync_handle()) if h is not None]
        if handles:
            await asyncio.to_thread(fsync_and_close, handles)
        self._compact()

    async def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` for everything queued to be sent and confirmed; returns what is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.entries and loop.time() < deadline:
            self._send_ready()
            await asyncio.sleep(0.02)
        return len(self.entries)

    def figures(self) -> dict[str, Any]:
        size = self._queued()
        return {"size": size, "capacity": self.capacity, "dropped": self.dropped, "sent": self.sent,
                "in_flight": self._in_flight, "resent": self.resent, "confirmed": self.confirmed,
                "utilization_pct": round(100 * size / self.capacity, 2) if self.capacity else 0.0}

    def close(self) -> None:
        self.journal.close()
        self.ledger.close()
        self.sock.close(linger=0)
