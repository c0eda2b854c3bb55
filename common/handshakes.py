"""Clients a CURVE binder refuses before any key is checked: counted per socket, logged.

Strategy: a client that offers no CURVE at all (a plain ZeroMQ socket: no
key, or ZMQ_ALLOW_INSECURE_TCP on its side) or that does not speak ZeroMQ
fails the handshake on the mechanism, so the ZAP handler (common/zap.py),
which counts the clients whose key is not allowed, never hears of it.
libzmq tells the socket's monitor instead (``EVENT_HANDSHAKE_FAILED_PROTOCOL``,
``..._NO_DETAIL``). :class:`HandshakeWatch` monitors every CURVE socket a
stage binds, in one thread of its own with its own PAIR sockets (in the same
ZeroMQ context as the watched socket, for ``inproc://``), and counts those
events per socket name. A refused client retries every reconnect interval
(100 ms by default), so the count is of attempts, like the ZAP handler's.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from common.loglimit import RateLimitedLog

log = logging.getLogger("curve")

#: The handshake failures that mean "not a CURVE client of ours"; an unlisted key is
#: EVENT_HANDSHAKE_FAILED_AUTH, counted by the ZAP handler instead.
REFUSED_EVENTS = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
POLL_MS = 200
_serial = itertools.count(1)


class HandshakeWatch:
    """Counts the handshakes refused at each watched socket (``counts()``); ``stop()`` before the context ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._pending: list[tuple[int, str, str]] = []  # (context, inproc address, socket name)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loud = RateLimitedLog(log)

    def watch(self, sock: zmq.Socket[Any], name: str) -> None:
        """Count the refused handshakes of ``sock`` (a CURVE server) as ``name``'s; before it binds."""
        address = f"inproc://scada.handshakes.{name}.{next(_serial)}"
        sock.monitor(address, REFUSED_EVENTS)
        with self._lock:
            self._counts.setdefault(name, 0)
            self._pending.append((sock.context.underlying, address, name))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="handshake-watch", daemon=True)
                self._thread.start()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        poller = zmq.Poller()
        names: dict[zmq.Socket[Any], str] = {}
        try:
            while not self._stop.is_set():
                with self._lock:
                    pending, self._pending = self._pending, []
                for underlying, address, name in pending:
                    monitor: zmq.Socket[Any] = zmq.Context.shadow(underlying).socket(zmq.PAIR)
                    monitor.setsockopt(zmq.LINGER, 0)
                    monitor.connect(address)
                    poller.register(monitor, zmq.POLLIN)
                    names[monitor] = name
                for ready, _ in poller.poll(POLL_MS):
                    self._event(names[ready], ready.recv_multipart())
        finally:
            for pair in names:
                pair.close(linger=0)

    def _event(self, name: str, frames: list[bytes]) -> None:
        try:
            event = parse_monitor_message(frames)["event"]
        except (ValueError, KeyError, IndexError):
            return
        if not event & REFUSED_EVENTS:
            return
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            total = self._counts[name]
        self._loud.warning(f"handshake.{name}", 1, "%s: refused a client that offered no CURVE (a plain socket: no "
                           "key on its host, or ZMQ_ALLOW_INSECURE_TCP there) or did not speak ZeroMQ (%d in all)",
                           name, total)
