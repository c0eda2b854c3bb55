"""The buffer process: ingest PULL, live PUB, lease ROUTER, status PUB.

Strategy: one thread, one zmq.Poller loop with a short timeout, so ingest,
leases, lease expiry and the once-a-second status all run without locks. A
frame that does not decode is counted and logged, never fatal. On stop the
ring and every unacknowledged lease are saved to a file that the next start
loads, so a restart by supervisorctl loses nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import zmq

from common import bus, messages
from common.messages import Block, MessageError
from common.settings import Settings
from services.buffer.ring import Ring

log = logging.getLogger("buffer")


@dataclass
class Lease:
    lease_id: int
    writer: bytes
    blocks: list[Block]
    values: int
    expires: float


class BufferService:
    def __init__(self, settings: Settings, ctx: zmq.Context[Any] | None = None) -> None:
        self.settings = settings
        self.ctx = ctx or zmq.Context.instance()
        self.ring = Ring(settings.buffer_max_size)
        self.leases: dict[int, Lease] = {}
        self._lease_ids = itertools.count(1)
        self.bad_frames = 0
        self.messages_in = 0
        self.acked_values = 0
        self.expired_leases = 0
        self.writers_seen: dict[bytes, float] = {}
        self._alerting = False

    # -- persistence ---------------------------------------------------------
    def load_state(self) -> None:
        path = self.settings.buffer_state_file
        if not path.exists():
            return
        try:
            raw = msgpack.unpackb(path.read_bytes(), raw=False)
            blocks = [Block.from_wire(b) for b in raw["blocks"]]
        except (ValueError, KeyError, TypeError, MessageError) as error:
            aside = path.with_suffix(".unreadable")
            path.rename(aside)
            log.error("saved ring %s unreadable (%s); moved to %s", path, error, aside)
            return
        for block in blocks:
            self.ring.append(block)
        self.ring.received = 0  # reloaded values were counted when they first arrived
        path.unlink()
        log.info("loaded %d values saved at the last stop", self.ring.size)

    def save_state(self) -> None:
        blocks = [b for lease in sorted(self.leases.values(), key=lambda x: x.lease_id) for b in lease.blocks]
        blocks += list(self.ring.blocks)
        if not blocks:
            return
        path: Path = self.settings.buffer_state_file
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(msgpack.packb({"blocks": [b.to_wire() for b in blocks]}, use_bin_type=True))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        log.info("saved %d values for the next start", sum(b.count for b in blocks))

    # -- handlers ------------------------------------------------------------
    def on_ingest(self, frame: bytes, live: zmq.Socket[Any]) -> None:
        try:
            block = messages.block_from_frame(frame)
        except MessageError as error:
            self.bad_frames += 1
            log.warning("dropped a bad ingest frame (%d so far): %s", self.bad_frames, error)
            return
        self.messages_in += 1
        dropped = self.ring.append(block)
        if dropped:
            log.debug("ring full: dropped %d oldest values", dropped)
        self._check_alert()
        with contextlib.suppress(zmq.Again):  # a slow tap misses messages; the pipeline does not wait
            live.send_multipart([bus.data_topic(block.plc_code, block.group), frame], flags=zmq.NOBLOCK)

    def _check_alert(self) -> None:
        threshold = self.settings.buffer_alert_threshold
        if not self._alerting and self.ring.utilization >= threshold:
            self._alerting = True
            log.warning("buffer utilisation %.1f%% crossed the alert threshold %.0f%%",
                        100 * self.ring.utilization, 100 * threshold)
        elif self._alerting and self.ring.utilization < threshold:
            self._alerting = False
            log.info("buffer utilisation back to %.1f%%, below %.0f%%", 100 * self.ring.utilization, 100 * threshold)

    def on_lease_request(self, writer: bytes, frame: bytes) -> dict[str, Any] | None:
        try:
            request = messages.unpack(frame, ("lease", "ack"))
            request_id = int(request["id"])
        except (MessageError, KeyError, TypeError, ValueError) as error:
            self.bad_frames += 1
            log.warning("dropped a bad lease frame (%d so far): %s", self.bad_frames, error)
            return None
        self.writers_seen[writer] = time.monotonic()
        if request["t"] == "ack":
            known = self._ack(request.get("lease"))
            return {"v": 1, "t": "acked", "id": request_id, "lease": request.get("lease"), "known": known}
        if request.get("ack") is not None:
            self._ack(request["ack"])
        wanted = max(1, min(int(request.get("max", self.settings.buffer_batch_size)), 100_000))
        blocks = self.ring.take(wanted)
        if not blocks:
            return {"v": 1, "t": "batch", "id": request_id, "lease": None, "blocks": []}
        lease = Lease(next(self._lease_ids), writer, blocks, sum(b.count for b in blocks),
                      time.monotonic() + self.settings.buffer_lease_timeout)
        self.leases[lease.lease_id] = lease
        self._check_alert()
        return {"v": 1, "t": "batch", "id": request_id, "lease": lease.lease_id,
                "blocks": [b.to_wire() for b in blocks]}

    def _ack(self, lease_id: Any) -> bool:
        try:
            lease = self.leases.pop(int(lease_id), None)
        except (TypeError, ValueError):
            self.bad_frames += 1
            return False
        if lease is not None:
            self.acked_values += lease.values
        return lease is not None

    def expire_leases(self) -> None:
        now = time.monotonic()
        expired = [lease for lease in self.leases.values() if lease.expires <= now]
        for lease in sorted(expired, key=lambda x: x.lease_id, reverse=True):
            del self.leases[lease.lease_id]
            self.ring.put_back(lease.blocks)
            self.expired_leases += 1
            log.warning("lease %d (%d values) not acknowledged in %.0f s; handed out again",
                        lease.lease_id, lease.values, self.settings.buffer_lease_timeout)

    def figures(self) -> dict[str, Any]:
        ring = self.ring
        return {
            "current_size": ring.size, "max_size": ring.max_values,
            "utilization_pct": round(100 * ring.utilization, 2),
            "overflow_count": ring.overflow_count, "overflow_rate_pct": round(ring.window.rate_pct(), 4),
            "received_values": ring.received, "messages_in": self.messages_in, "bad_frames": self.bad_frames,
            "leased_batches": len(self.leases), "leased_values": sum(x.values for x in self.leases.values()),
            "acked_values": self.acked_values, "expired_leases": self.expired_leases,
            "alert_threshold_pct": 100 * self.settings.buffer_alert_threshold, "alerting": self._alerting,
            "writers": sum(1 for t in self.writers_seen.values() if time.monotonic() - t < 10),
        }

    # -- loop ----------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        s = self.settings
        ingest = bus.make_socket(self.ctx, zmq.PULL, bind=s.ingest_endpoint)
        live = bus.make_socket(self.ctx, zmq.PUB, bind=s.live_endpoint, hwm=10_000, linger=0)
        lease = bus.make_socket(self.ctx, zmq.ROUTER, bind=s.lease_endpoint)
        telemetry = bus.Telemetry(self.ctx, s.telemetry_endpoint, "buffer")
        poller = zmq.Poller()
        poller.register(ingest, zmq.POLLIN)
        poller.register(lease, zmq.POLLIN)
        log.info("ingest %s, live %s, leases %s", s.ingest_endpoint, s.live_endpoint, s.lease_endpoint)
        next_status = 0.0
        try:
            while not stop.is_set():
                events = dict(poller.poll(100))
                if ingest in events:
                    for _ in range(1000):  # drain in bursts, but let leases in
                        try:
                            self.on_ingest(ingest.recv(zmq.NOBLOCK), live)
                        except zmq.Again:
                            break
                if lease in events:
                    for _ in range(100):
                        try:
                            parts = lease.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        if len(parts) != 2:
                            self.bad_frames += 1
                            continue
                        reply = self.on_lease_request(parts[0], parts[1])
                        if reply is not None:
                            lease.send_multipart([parts[0], messages.pack(reply)])
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + 1.0
                    self.expire_leases()
                    telemetry.publish(**self.figures())
            # Take what is still in flight before saving.
            while True:
                try:
                    self.on_ingest(ingest.recv(zmq.NOBLOCK), live)
                except zmq.Again:
                    break
        finally:
            self.save_state()
            for sock in (ingest, live, lease):
                sock.close(linger=0)
            telemetry.close()
