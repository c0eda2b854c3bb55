"""The writer's end of the lease protocol (common/wire/lease.py): a DEALER to the buffer's ROUTER.

Every request carries an id; a reply with another id (late, to an earlier
request) is ignored, and the lease it carried expires in the buffer and is
handed out again. A reply that does not decode is counted and logged.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, TypeVar

import zmq

from common import bus, curve
from common.wire.envelope import MessageError, decode, encode
from common.wire.lease import Acked, Batch, LeaseAck, LeaseRequest

log = logging.getLogger("writer")

REPLY_TIMEOUT_S = 2.0
Reply = TypeVar("Reply", Batch, Acked)


class LeaseClient:
    def __init__(self, ctx: zmq.Context[Any], endpoint: str, security: curve.SocketSecurity) -> None:
        self.sock = bus.make_socket(ctx, zmq.DEALER, connect=endpoint, immediate=True, security=security,
                                    name="lease")
        self._ids = itertools.count(1)
        self.bad_frames = 0

    def lease(self, wanted: int, ack: int | None, stop: threading.Event) -> Batch | None:
        """A batch of up to ``wanted`` values, acknowledging lease ``ack``; None if the buffer did not answer."""
        return self._call(LeaseRequest(next(self._ids), wanted, ack), Batch, stop)

    def acknowledge(self, lease_id: int) -> bool:
        """A standalone ack (when stopping), one try; False if unconfirmed (the batch is leased again, stored once)."""
        return self._call(LeaseAck(next(self._ids), lease_id), Acked, threading.Event()) is not None

    def _call(self, request: LeaseRequest | LeaseAck, reply_kind: type[Reply], stop: threading.Event) -> Reply | None:
        try:
            self.sock.send(encode(request), zmq.NOBLOCK)
        except zmq.Again:
            return None  # the buffer is not there
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self.sock.poll(int(min(remaining, 0.2) * 1000)):
                continue
            try:
                reply = decode(self.sock.recv(), reply_kind)
            except MessageError as error:
                self.bad_frames += 1
                log.error("dropped a bad reply from the buffer: %s", error)
                continue
            if reply.id == request.id:
                return reply
        return None

    def close(self) -> None:
        self.sock.close(linger=0)
