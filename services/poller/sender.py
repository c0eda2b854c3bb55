"""The poller's send queue: the outbox's policy wired to a PUSH socket, a journal and the ledger.

Strategy: every PollingData is written to the queue's journal, then waits in
the queue until the buffer confirms that it has journaled it (an
``ingested`` message on the live PUB); only then is it forgotten. So a
poller killed at any instant starts again with what the buffer had not
confirmed, and a cycle the buffer lost (killed between receiving and
journaling it) is sent again after POLLER_ACK_TIMEOUT. A duplicate costs
nothing: the historian stores a cycle once. What to keep, send, send again
and drop is decided by :class:`~services.poller.outbox.Outbox`; this module
does the I/O. The PUSH socket sets ZMQ_IMMEDIATE and a small high-water
mark, so while the buffer is away cycles stay here, where they are counted,
rather than in ZeroMQ's pipe.

A full disk is a state, not a crash: a journal write that fails leaves the
file cut back to its last whole record (see common/journal.py); from then on
the queue keeps its cycles in memory only (``unjournaled`` in its figures,
``disk`` in the poller's status), polling goes on, and once a second it
tries to rewrite the journal whole from what it holds; when that succeeds
every cycle is on file again. The ledger keeps its records in memory
meanwhile (common/ledger.py).

A cycle is named by (group, cycle number), never by its read time: two
cycles of a group never share a key, whatever the wall clock did.

Journal records: ``[1, group, cycle, frame]`` queued, ``[2, [[group, cycle], ...]]`` forgotten.
A journal of the previous release named cycles (group, ts); its frames carry
no cycle number, and are keyed, sent and confirmed as (group, -ts)
(``legacy_cycle``) from the first load on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from common import bus, curve
from common.disk import DiskState
from common.journal import Journal, fsync_and_close
from common.ledger import Ledger
from common.wire.envelope import MessageError, decode, encode
from common.wire.ingest import Ingested, PollingData, cycle_head
from services.poller.outbox import Key, Outbox

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import QueueFigures

log = logging.getLogger("poller.sender")

QUEUED, FORGOTTEN = 1, 2


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
            head = cycle_head(frame)
            keyed[(head.group, head.cycle)] = frame
        except MessageError as error:
            log.error("%s: a queued PollingData that does not decode (%s); kept under %s", journal.path, error, key)
            keyed[key] = frame
    return keyed


class SendQueue:
    def __init__(self, ctx: zmq.Context[Any], endpoint: str, capacity: int, journal_path: Path,
                 ledger: Ledger, plc_code: str, ack_timeout: float = 5.0,
                 security: curve.SocketSecurity | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.plc_code = plc_code
        self.ledger = ledger
        self.disk: DiskState = ledger.disk
        self.clock = clock
        self.outbox = Outbox(capacity, ack_timeout)
        self.journal = Journal(journal_path)
        self.stale = False  # a journal write failed: what is live is rewritten whole once the disk takes it
        self.bad_acks = 0
        self._wake = asyncio.Event()
        self.sock = bus.make_socket(ctx, zmq.PUSH, connect=endpoint, hwm=100, linger=0, immediate=True,
                                    security=security, name="ingest")

    # -- journal ---------------------------------------------------------------
    def load(self) -> int:
        """Queue again, first, what the last run had not seen confirmed; opens the journal.

        On a disk too full to rewrite it, the journal is read in place and opened as it is (or, in the
        previous release's format, left unopened until it can be converted): the poller starts anyway.
        """
        self.outbox.reload(waiting(self.journal).items())
        try:
            self._rewrite()
        except OSError as error:
            self.disk.failed(self.journal.path, error)
            try:
                self.journal.open()
            except OSError:
                self.stale = True
        return len(self.outbox)

    def _rewrite(self) -> None:
        self.journal.rewrite([QUEUED, k[0], k[1], frame] for k, frame in self.outbox.live())
        self.outbox.all_journaled()

    def _journal(self, records: list[list[Any]]) -> bool:
        if self.stale:
            return False
        try:
            self.journal.append(records)
        except OSError as error:
            self.stale = True
            self.disk.failed(self.journal.path, error)
            return False
        if not self.disk.ok:  # e.g. opened in place at start on a full disk, and now it takes writes again
            self.disk.written(self.journal.path)
        return True

    def restore(self) -> bool:
        """After a failed write: the journal rewritten from what the queue holds, once the disk takes it."""
        if not self.stale:
            return True
        try:
            self._rewrite()
        except OSError as error:
            self.disk.failed(self.journal.path, error)
            return False
        self.stale = False
        self.disk.written(self.journal.path)
        log.warning("send queue journal written again: %d PollingData on file", len(self.outbox))
        return True

    def _compact(self) -> None:
        if self.stale or not self.journal.should_compact(self.outbox.live_bytes()):
            return
        try:
            self._rewrite()
        except OSError as error:  # the old file is intact; compaction waits for room (logged once by disk)
            self.disk.failed(self.journal.rewrite_path, error)
            return
        self.disk.written(self.journal.rewrite_path)

    # -- queue -----------------------------------------------------------------
    def put(self, data: PollingData, suppressed: int = 0) -> None:
        """Queue a cycle; ``suppressed``: values the cycle read that its deadband left out of ``data``."""
        key = (data.group, data.identity)
        frame = encode(data)
        n = len(data.values)
        # The ledger first: a cycle is counted as polled (all it read) before anything can lose it.
        polled = ["polled", self.plc_code, data.group, data.seq, data.ts_ms, n + suppressed, key[1]]
        if suppressed:
            self.ledger.record(polled, ["suppressed", self.plc_code, data.group, data.ts_ms, suppressed, key[1]])
        else:
            self.ledger.record(polled)
        dropped = self.outbox.put(key, frame, n, data.ts_ms)
        for old_key, old in dropped:
            ts, count = old.ts_and_count()
            self.ledger.record(["queue_dropped", self.plc_code, old_key[0], ts, count, old_key[1]])
            if self.outbox.dropped == 1 or self.outbox.dropped % 1000 == 0:
                log.warning("send queue full (%d): dropped the oldest PollingData (%d so far)",
                            self.outbox.capacity, self.outbox.dropped)
        records: list[list[Any]] = [[FORGOTTEN, [list(k) for k, _ in dropped]]] if dropped else []
        if not self._journal([*records, [QUEUED, key[0], key[1], frame]]):
            self.outbox.entries[key].journaled = False
        self._wake.set()

    def confirm(self, frame: bytes) -> int:
        """The buffer journaled these cycles: forget them. Returns how many were ours."""
        try:
            keys = decode(frame, Ingested).keys
        except MessageError as error:
            self.bad_acks += 1
            log.warning("dropped a bad confirmation (%d so far): %s", self.bad_acks, error)
            return 0
        forgotten = self.outbox.confirm(keys)
        if forgotten:
            self._journal([[FORGOTTEN, [list(k) for k in forgotten]]])
        return len(forgotten)

    def resend_unconfirmed(self) -> int:
        """Queue again what was sent and not confirmed in time (the buffer may have lost it)."""
        late = self.outbox.due(self.clock())
        if late:
            log.warning("%d PollingData not confirmed by the buffer in %.0f s; sending them again",
                        len(late), self.outbox.ack_timeout)
            self._wake.set()
        return len(late)

    def _send_ready(self) -> bool:
        """Send what the socket takes now; False when it takes no more."""
        while (next_frame := self.outbox.next_frame()) is not None:
            key, frame = next_frame
            try:
                self.sock.send(frame, zmq.NOBLOCK)
            except zmq.Again:
                return False
            self.outbox.sent(key, self.clock())
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

    async def sync_to_disk(self) -> None:
        """Rewrite a journal that failed, write the ledger's pending records, fsync the journal and the
        ledger, compact (services/poller/housekeeping.py runs it once a second).

        The fsyncs run in a worker thread: on a slow disk they take tens of
        milliseconds, which must not delay the polling schedules on this loop.
        """
        self.restore()
        self.ledger.flush()
        handles = [h for h in (self.journal.sync_handle(), self.ledger.sync_handle()) if h is not None]
        if handles:
            try:
                await asyncio.to_thread(fsync_and_close, handles)
            except OSError as error:  # what was written may not be on the disk: write it all again
                self.stale = True
                self.disk.failed(self.journal.path, error)
        self._compact()

    async def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` for everything queued to be sent and confirmed; returns what is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.outbox.entries and loop.time() < deadline:
            self._send_ready()
            await asyncio.sleep(0.02)
        self.restore()
        return len(self.outbox)

    def figures(self) -> QueueFigures:
        o = self.outbox
        size = o.queued
        return {"size": size, "capacity": o.capacity, "dropped": o.dropped, "sent": o.sent_count,
                "in_flight": o.in_flight, "resent": o.resent, "confirmed": o.confirmed,
                "unjournaled": o.unjournaled if self.stale else 0, "ledger_pending": len(self.ledger.pending),
                "utilization_pct": round(100 * size / o.capacity, 2) if o.capacity else 0.0}

    def close(self) -> None:
        self.journal.close()
        self.ledger.close()
        self.sock.close(linger=0)
