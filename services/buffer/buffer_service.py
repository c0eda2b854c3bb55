"""The buffer process: ingest PULL, live PUB, lease ROUTER, status PUB.

Strategy: one thread, one zmq.Poller loop with a short timeout, so ingest,
leases, lease expiry and the once-a-second status all run without locks. A
frame that does not decode is counted and logged, never fatal. Every cycle
taken in, and every slice of one committed or dropped, goes to the journal
(ring_journal.py) once per turn of the loop; only then does the poller hear,
on the live PUB under ``ack.<plc_code>``, that its cycles are in
(confirmations.py), so a buffer killed at any instant loses nothing: what it
had journaled comes back at the next start, and what it had not is sent
again by its poller. Batches leased to writers are kept in leases.py until
acknowledged.

A full disk is a state, not a crash: while the journal cannot be written the
buffer goes on taking cycles into its ring and handing them to the writer,
but confirms none of them (they are not on file); a poller's resend of a
cycle it already holds unconfirmed is not taken twice. Once a second it
tries to rewrite the journal from what is live; when that works everything
held is confirmed. Its status carries ``disk`` (see common/disk.py) and is
published once a second whatever the rest of the loop does.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import zmq

from common import bus, curve
from common.disk import DiskState
from common.ledger import Ledger
from common.loglimit import RateLimitedLog
from common.runtime import survive
from common.settings import Settings
from common.value_checks import CycleRefused
from common.wire.block import Block
from common.wire.envelope import Message, MessageError, decode_any, encode
from common.wire.lease import Acked, Batch, LeaseAck, LeaseRequest
from common.wire.status import BufferFigures
from services.buffer.confirmations import Confirmations, LivePub
from services.buffer.door import IngestDoor
from services.buffer.leases import Leases
from services.buffer.ring import Ring
from services.buffer.ring_journal import RingJournal

log = logging.getLogger("buffer")



class BufferService:
    def __init__(self, settings: Settings, ctx: zmq.Context[Any] | None = None,
                 security: curve.SocketSecurity | None = None) -> None:
        self.settings = settings
        self.ctx = ctx or zmq.Context.instance()
        self.security = security or curve.for_stage(settings, "buffer")
        self.ring = Ring(settings.buffer_max_size)
        self.disk = DiskState()
        self.journal = RingJournal(settings.buffer_journal_file, settings.buffer_journal_sync, self.disk)
        self.ledger = Ledger(settings.ledger_dir, "buffer", settings.ledger_keep_days, self.disk)
        self.door = IngestDoor(settings)
        self._loud = RateLimitedLog(log)
        self.confirmations = Confirmations(self.journal, self.ledger, settings.buffer_journal_sync_ms)
        self._loaded = False
        self.leases = Leases(settings.buffer_lease_timeout)
        self.bad_frames = 0
        self.messages_in = 0
        self._alerting = False

    # -- persistence ---------------------------------------------------------
    def load_state(self) -> None:
        """Take back what the journal holds: the ring and the unacknowledged leases of the last run."""
        if self._loaded:
            return
        self._loaded = True
        blocks = self.journal.load()
        for block in blocks:
            self._dropped(self.ring.append(block))
        self.ring.received = 0  # reloaded values were counted when they first arrived
        if blocks:
            log.info("journal: %d values taken back (ring and unacknowledged leases of the last run)",
                     self.ring.size)

    def _dropped(self, blocks: list[Block]) -> None:
        """Values the full ring let go: finished in the journal, counted in the ledger."""
        if not blocks:
            return
        self.journal.finished(blocks)
        self.ledger.record(*(["overflow", b.plc_code, b.group, b.ts_ms, b.count, b.identity] for b in blocks))
        dropped = sum(b.count for b in blocks)
        self._loud.warning("overflow", dropped, "ring full (BUFFER_MAX_SIZE %d): dropped the %d oldest values "
                           "(%d in all since start; counted in the ledger)", self.ring.max_values, dropped,
                           self.ring.overflow_count)

    # -- handlers ------------------------------------------------------------
    def on_ingest(self, frame: bytes, live: LivePub) -> None:
        try:
            block, frame = self.door.take(frame)
        except CycleRefused as refused:
            self._refused(refused)
            return
        except MessageError:
            self.bad_frames += 1  # logged by the door
            return
        # the cycle's identity, as its poller's queue knows it; sent again while the journal is stale: here
        if not self.confirmations.taken_in(block.plc_code, (block.group, block.identity)):
            return
        self.messages_in += 1
        self.journal.taken_in(block)
        self._dropped(self.ring.append(block))
        self._check_alert()
        with contextlib.suppress(zmq.Again):  # a slow tap misses messages; the pipeline does not wait
            live.send_multipart([bus.data_topic(block.plc_code, block.group), frame], flags=zmq.NOBLOCK)

    def _refused(self, refused: CycleRefused) -> None:
        """A cycle refused at the door: in the ledger (``scada account`` shows it), then confirmed to its
        poller like one taken in, so that it is not sent again and again."""
        if refused.cycle is None:
            return
        plc, group, _seq, ts, count, cycle = refused.cycle
        self.ledger.record(["rejected_at_ingest", plc, group, ts, count, cycle])
        self.confirmations.refused(plc, (group, cycle))

    def _check_alert(self) -> None:
        threshold = self.settings.buffer_alert_threshold
        if not self._alerting and self.ring.utilization >= threshold:
            self._alerting = True
            log.warning("buffer utilisation %.1f%% crossed the alert threshold %.0f%%",
                        100 * self.ring.utilization, 100 * threshold)
        elif self._alerting and self.ring.utilization < threshold:
            self._alerting = False
            log.info("buffer utilisation back to %.1f%%, below %.0f%%", 100 * self.ring.utilization, 100 * threshold)

    def on_lease_request(self, writer: bytes, frame: bytes) -> Message | None:
        """The reply to a writer's lease request or acknowledgement; None for a frame that is neither."""
        try:
            request = decode_any(frame, LeaseRequest, LeaseAck)
        except MessageError as error:
            self.bad_frames += 1
            log.warning("dropped a bad lease frame (%d so far): %s", self.bad_frames, error)
            return None
        self.leases.heard_from(writer)
        if isinstance(request, LeaseAck):
            return Acked(request.id, request.lease, self._ack(request.lease))
        assert isinstance(request, LeaseRequest)
        if request.ack is not None:
            self._ack(request.ack)
        wanted = request.max if request.max is not None else self.settings.buffer_batch_size
        blocks = self.ring.take(max(1, min(wanted, self.settings.buffer_max_size)))
        if not blocks:
            return Batch(request.id, None)
        lease = self.leases.hand_out(writer, blocks)
        self._check_alert()
        return Batch(request.id, lease.lease_id, blocks, self.ring.size)

    def _ack(self, lease_id: int) -> bool:
        lease = self.leases.acknowledged(lease_id)
        if lease is not None:
            self.journal.finished(lease.blocks)
        return lease is not None

    def expire_leases(self) -> None:
        for lease in self.leases.take_back_expired():
            self._dropped(self.ring.put_back(lease.blocks))
            log.warning("lease %d (%d values) not acknowledged in %.0f s; handed out again",
                        lease.lease_id, lease.values, self.settings.buffer_lease_timeout)

    @property
    def acked_values(self) -> int:
        return self.leases.acked_values

    @property
    def expired_leases(self) -> int:
        return self.leases.expired

    def figures(self) -> BufferFigures:
        ring = self.ring
        return {
            "current_size": ring.size, "max_size": ring.max_values,
            "utilization_pct": round(100 * ring.utilization, 2),
            "overflow_count": ring.overflow_count, "overflow_rate_pct": round(ring.window.rate_pct(), 4),
            "overflow_last_minute": ring.window.dropped_lately(),
            "received_values": ring.received, "messages_in": self.messages_in,
            "bad_frames": self.bad_frames, **self.door.figures(),
            "leased_batches": len(self.leases), "leased_values": self.leases.values,
            "acked_values": self.acked_values, "expired_leases": self.expired_leases,
            "journal_bytes": self.journal.journal.size, "journal_ok": not self.journal.stale,
            "unconfirmed_cycles": self.confirmations.waiting, "resends_held": self.confirmations.resends_held,
            "ledger_pending": len(self.ledger.pending), "disk": self.disk.figures(),
            "alert_threshold_pct": 100 * self.settings.buffer_alert_threshold, "alerting": self._alerting,
            "writers": self.leases.writers,
            "refused_connections": self.security.refused(),
            "refused_handshakes": self.security.refused_handshakes(),
        }

    # -- loop ----------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        s = self.settings
        self.load_state()
        door = self.security
        ingest = bus.make_socket(self.ctx, zmq.PULL, bind=s.ingest_endpoint, security=door, name="ingest")
        live = bus.make_socket(self.ctx, zmq.PUB, bind=s.live_endpoint, hwm=10_000, linger=0, security=door,
                               name="live")
        lease = bus.make_socket(self.ctx, zmq.ROUTER, bind=s.lease_endpoint, security=door, name="lease")
        telemetry = bus.Telemetry(self.ctx, s.telemetry_endpoint, "buffer", security=door)
        poller = zmq.Poller()
        poller.register(ingest, zmq.POLLIN)
        poller.register(lease, zmq.POLLIN)
        log.info("ingest %s, live %s, leases %s", s.ingest_endpoint, s.live_endpoint, s.lease_endpoint)
        next_status = 0.0
        wait = 0.1
        try:
            while not stop.is_set():
                events = dict(poller.poll(max(1, int(wait * 1000))))
                if ingest in events:
                    for _ in range(s.buffer_ingest_burst):  # drain in bursts, but let leases in
                        try:
                            self.on_ingest(ingest.recv(zmq.NOBLOCK), live)
                        except zmq.Again:
                            break
                if lease in events:
                    for _ in range(s.buffer_lease_burst):
                        try:
                            parts = lease.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        if len(parts) != 2:
                            self.bad_frames += 1
                            continue
                        reply = self.on_lease_request(parts[0], parts[1])
                        if reply is not None:
                            lease.send_multipart([parts[0], encode(reply)])
                wait = self.confirmations.confirm(live)
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + 1.0
                    survive("buffer housekeeping", self.every_second, live)
                    telemetry.publish(**self.figures())  # on its own schedule, whatever the rest did
            # Take what is still in flight before stopping.
            while True:
                try:
                    self.on_ingest(ingest.recv(zmq.NOBLOCK), live)
                except zmq.Again:
                    break
            self.confirmations.confirm(live, force=True)
        finally:
            self.journal.close()
            self.ledger.close()
            for sock in (ingest, live, lease):
                sock.close(linger=0)
            telemetry.close()
            self.security.close()

    def every_second(self, live: LivePub) -> None:
        self.expire_leases()
        self.confirmations.again(live)
        if self.journal.stale:
            self.journal.restore(self._live_blocks())
        self.journal.compact(self._live_blocks())
        self.ledger.flush()
        self.ledger.sync()

    def _live_blocks(self) -> list[Block]:
        return self.leases.blocks() + list(self.ring.blocks)
