"""The writer process: lease a batch, insert it, commit, acknowledge.

Strategy: ask the buffer for up to BUFFER_BATCH_SIZE values; a full batch is
followed at once by the next request, a short one by a pause of
BUFFER_WRITE_INTERVAL, so the writer stores 500 values at a time under load
and whatever is there every 0.5 s otherwise. A batch is acknowledged only
after its commit; a writer killed before that loses nothing, because the
buffer hands the lease out again and the insert is idempotent.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import zmq

from common import bus, messages
from common.historian.rows import rows_of
from common.historian.sqlite_sink import SqliteSink
from common.messages import Block, MessageError
from common.settings import Settings

log = logging.getLogger("writer")

REPLY_TIMEOUT_MS = 2000


class WriterService:
    def __init__(self, settings: Settings, sink: SqliteSink | None = None,
                 ctx: zmq.Context[Any] | None = None) -> None:
        self.settings = settings
        self.sink = sink or SqliteSink(settings.historian_db)
        self.ctx = ctx or zmq.Context.instance()
        self._ids = itertools.count(1)
        self.batches = 0
        self.values_written = 0
        self.duplicates = 0
        self.failed_writes = 0
        self.bad_frames = 0
        self.last_latency_ms = 0.0
        self.sock: zmq.Socket[Any] | None = None

    def _connect(self) -> zmq.Socket[Any]:
        return bus.make_socket(self.ctx, zmq.DEALER, connect=self.settings.lease_endpoint, immediate=True)

    def _call(self, message: dict[str, Any], expected: str, stop: threading.Event) -> dict[str, Any] | None:
        """Send a request and wait for the reply with its id; None on timeout or stop."""
        assert self.sock is not None
        request_id = next(self._ids)
        message["id"] = request_id
        try:
            self.sock.send(messages.pack(message), zmq.NOBLOCK)
        except zmq.Again:
            return None  # the buffer is not there
        deadline = time.monotonic() + REPLY_TIMEOUT_MS / 1000
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.sock.poll(int(min(remaining, 0.2) * 1000)):
                if remaining <= 0:
                    return None
                continue
            frame = self.sock.recv()
            try:
                reply = messages.unpack(frame, expected)
            except MessageError as error:
                self.bad_frames += 1
                log.warning("dropped a bad reply from the buffer: %s", error)
                continue
            if reply.get("id") == request_id:
                return reply
            # a late reply to an earlier request: its lease will expire and be handed out again
        return None

    def write_batch(self, blocks: list[Block]) -> None:
        rows = rows_of(blocks)
        started = time.monotonic()
        result = self.sink.write(rows)
        self.last_latency_ms = 1000 * (time.monotonic() - started)
        self.batches += 1
        self.values_written += result.inserted
        self.duplicates += result.duplicates

    def figures(self) -> dict[str, Any]:
        return {"is_running": True, "sink": self.sink.name, "batches": self.batches,
                "successful_writes": self.batches, "failed_writes": self.failed_writes,
                "values_written": self.values_written, "duplicates": self.duplicates,
                "last_write_latency_ms": round(self.last_latency_ms, 2), "bad_frames": self.bad_frames}

    def run(self, stop: threading.Event) -> None:
        s = self.settings
        self.sock = self._connect()
        telemetry = bus.Telemetry(self.ctx, s.telemetry_endpoint, "writer")
        log.info("leasing from %s into %s", s.lease_endpoint, self.sink.name)
        next_status = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_status:
                    next_status = now + 1.0
                    telemetry.publish(**self.figures())
                reply = self._call({"v": 1, "t": "lease", "max": s.buffer_batch_size}, "batch", stop)
                if reply is None:
                    stop.wait(s.buffer_write_interval)
                    continue
                try:
                    blocks = [Block.from_wire(b) for b in reply.get("blocks", [])]
                except MessageError as error:
                    self.bad_frames += 1
                    log.error("buffer sent a malformed batch (lease %s): %s", reply.get("lease"), error)
                    continue
                count = sum(len(b.values) for b in blocks)
                if blocks:
                    try:
                        self.write_batch(blocks)
                    except Exception as error:
                        # Not acknowledged: the buffer hands the lease out again after its timeout.
                        self.failed_writes += 1
                        log.error("batch of %d values not stored: %s", count, error)
                        stop.wait(1.0)
                        continue
                    self._acknowledge(reply["lease"], stop)
                if count < s.buffer_batch_size:
                    stop.wait(s.buffer_write_interval)
        finally:
            telemetry.publish(**{**self.figures(), "is_running": False})
            telemetry.close()
            self.sock.close(linger=0)
            self.sink.close()

    def _acknowledge(self, lease_id: int, stop: threading.Event) -> None:
        for _ in range(5):
            if self._call({"v": 1, "t": "ack", "lease": lease_id}, "acked", stop) is not None:
                return
        log.warning("ack of lease %d not confirmed; the batch may be written again (idempotent)", lease_id)
