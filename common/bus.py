"""ZeroMQ sockets made the same way everywhere.

Every socket sets a linger (a stopping process never hangs on unsent
messages, and never drops them silently either: the caller decides how long
to wait), ipc endpoints get their directory created, and telemetry topics
are prefixes a subscriber can filter on (``status.poller.KRCWO12ELOA101``).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, TypeVar

import zmq

from common import messages

log = logging.getLogger(__name__)

LINGER_MS = 1000
S = TypeVar("S", bound=zmq.Socket[Any])


def ensure_ipc_dir(endpoint: str) -> None:
    if endpoint.startswith("ipc://"):
        Path(endpoint[len("ipc://") :]).parent.mkdir(parents=True, exist_ok=True, mode=0o700)


def make_socket(ctx: zmq.Context[S], kind: int, *, bind: str | None = None, connect: str | None = None,
                hwm: int | None = None, linger: int = LINGER_MS, immediate: bool = False) -> S:
    """A socket with its options set before it binds or connects (ZMQ_IMMEDIATE only counts then).

    ``immediate``: queue messages only to completed connections, so a send to a
    peer that is not there fails at once instead of waiting in ZeroMQ's pipe.
    """
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, linger)
    if immediate:
        sock.setsockopt(zmq.IMMEDIATE, 1)
    if hwm is not None:
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
    if bind is not None:
        ensure_ipc_dir(bind)
        sock.bind(bind)
    if connect is not None:
        ensure_ipc_dir(connect)
        sock.connect(connect)
    return sock


def status_topic(stage: str, plc_code: str | None = None) -> bytes:
    return f"status.{stage}.{plc_code}".encode() if plc_code else f"status.{stage}".encode()


def data_topic(plc_code: str, group: str) -> bytes:
    return f"data.{plc_code}.{group}".encode()


def ack_topic(plc_code: str) -> bytes:
    return f"ack.{plc_code}".encode()


class Telemetry:
    """Publishes one stage's status on the gateway's telemetry SUB, never blocking."""

    def __init__(self, ctx: zmq.Context[Any], endpoint: str, stage: str, plc_code: str | None = None) -> None:
        self.stage = stage
        self.topic = status_topic(stage, plc_code)
        self.sock = make_socket(ctx, zmq.PUB, connect=endpoint, hwm=10, linger=0)

    def publish(self, **figures: Any) -> None:
        # Nobody listening: a status is a snapshot, the next one replaces it.
        with contextlib.suppress(zmq.Again):
            self.sock.send_multipart([self.topic, messages.pack(messages.status(self.stage, **figures))],
                                     flags=zmq.NOBLOCK)

    def close(self) -> None:
        self.sock.close()
