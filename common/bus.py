"""ZeroMQ sockets made the same way everywhere.

Every socket sets a linger (a stopping process never hangs on unsent
messages, and never drops them silently either: the caller decides how long
to wait), ipc endpoints get their directory created, and telemetry topics
are prefixes a subscriber can filter on (``status.poller.KRCWO12ELOA101``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import zmq

from common.wire.envelope import encode
from common.wire.status import Status

if TYPE_CHECKING:
    from common.curve import SocketSecurity

log = logging.getLogger(__name__)

LINGER_MS = 1000
S = TypeVar("S", bound=zmq.Socket[Any])


def ensure_ipc_dir(endpoint: str) -> None:
    if endpoint.startswith("ipc://"):
        Path(endpoint[len("ipc://") :]).parent.mkdir(parents=True, exist_ok=True, mode=0o700)


class EndpointInUse(RuntimeError):
    """An ipc endpoint another live process serves: binding would silently take it over."""


def refuse_live_ipc(endpoint: str) -> None:
    """Raise EndpointInUse if something answers on this ipc:// path.

    ZeroMQ binds an ipc path by unlinking whatever file is there, so a second
    buffer would steal the first one's sockets from under its peers; a stale
    file (its process gone) refuses the connection and is left to ZeroMQ.
    """
    if not endpoint.startswith("ipc://") or endpoint.startswith("ipc://@"):
        return
    path = endpoint[len("ipc://") :]
    if not Path(path).exists():
        return
    # A socket being closed (a stage restarting in the same process, as tests do) stops listening
    # within milliseconds: ask again for a moment before calling the endpoint taken.
    for _ in range(20):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            return  # nobody listens: a file left by a process that is gone
        except OSError:
            pass  # a timeout, a full backlog: someone is there, busy
        finally:
            probe.close()
        time.sleep(0.05)
    raise EndpointInUse(f"{endpoint} is served by another live process; not taking it over")


def make_socket(ctx: zmq.Context[S], kind: int, *, bind: str | None = None, connect: str | None = None,
                hwm: int | None = None, linger: int = LINGER_MS, immediate: bool = False,
                security: SocketSecurity | None = None, name: str = "", binder: str | None = None) -> S:
    """A socket with its options set before it binds or connects (ZMQ_IMMEDIATE only counts then).

    ``immediate``: queue messages only to completed connections, so a send to a
    peer that is not there fails at once instead of waiting in ZeroMQ's pipe.
    ``security``: on a tcp:// endpoint, CURVE as that stage's server or client;
    ``name`` says which of the plant's sockets this is (ingest, live, lease,
    telemetry, control) and ``binder`` whose key to expect when the endpoint is
    not one of the settings' (a tap given an address).
    """
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, linger)
    if immediate:
        sock.setsockopt(zmq.IMMEDIATE, 1)
    if hwm is not None:
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
    try:
        if security is not None and bind is not None:
            security.bound(ctx, sock, name, bind)
        if security is not None and connect is not None:
            security.connected(sock, name, connect, binder)
    except Exception:
        sock.close(linger=0)
        raise
    if bind is not None:
        ensure_ipc_dir(bind)
        try:
            refuse_live_ipc(bind)
        except EndpointInUse:
            sock.close(linger=0)
            raise
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

    def __init__(self, ctx: zmq.Context[Any], endpoint: str, stage: str, plc_code: str | None = None,
                 security: SocketSecurity | None = None) -> None:
        self.stage = stage
        self.topic = status_topic(stage, plc_code)
        self.sock = make_socket(ctx, zmq.PUB, connect=endpoint, hwm=10, linger=0, security=security,
                                name="telemetry")

    def publish(self, **figures: Any) -> None:
        # Nobody listening: a status is a snapshot, the next one replaces it.
        with contextlib.suppress(zmq.Again):
            self.sock.send_multipart([self.topic, encode(Status.now(self.stage, figures))],
                                     flags=zmq.NOBLOCK)

    def close(self) -> None:
        self.sock.close()
