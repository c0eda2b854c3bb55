"""How the gateway listens: uvicorn with bounds on what a client can hold open.

Strategy: uvicorn closes a keep-alive connection that stays idle, but it has
no bound on a connection that never completes its request headers, and a
connection it closes with unsent data in its write buffer (a client that
stopped reading) waits for the buffer to drain -- forever, if the client
never reads. Two small protocol subclasses add what is missing:

- HTTP: a request's headers must arrive within HEADER_TIMEOUT_S of the
  connection opening (or of the previous response); otherwise the connection
  is closed. This ends half-open and trickling (slowloris) connections.
- WebSocket: the kernel send buffer is fixed (WS_SEND_BUFFER) instead of
  autotuned, so a client that stops reading holds little kernel memory and
  is noticed soon; a connection whose closing stalls (keepalive ping unanswered, or
  close frame not taken) is aborted after ABORT_AFTER_S, and the application
  can ask for the same through the scope extension ABORT_EXTENSION -- the
  broadcaster does so for a client too slow to take its messages.

Idle keep-alive connections are closed after KEEPALIVE_S, and a WebSocket
client that does not answer a ping within WS_PING_TIMEOUT_S is closed.

The process runs with PROCESS_ENV (supervisord.conf sets it): with Python's
small-object allocator, the few objects that outlive a crowd of 200
connections pin whole 1 MiB arenas, and the gateway stayed 11% above its
baseline after the crowd left; with the system allocator and a trim when
clients leave (broadcast.release_memory) it returns within 6%.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

HEADER_TIMEOUT_S = 10.0
KEEPALIVE_S = 5
WS_PING_INTERVAL_S = 20.0
WS_PING_TIMEOUT_S = 20.0
ABORT_AFTER_S = 2.0
#: a WebSocket's kernel send buffer (Linux doubles it); autotuned, it grows to 4 MB per stalled client
WS_SEND_BUFFER = 256 * 1024
PROCESS_ENV = {"PYTHONMALLOC": "malloc"}
#: scope["extensions"][ABORT_EXTENSION](seconds): abort the connection unless it has closed by then
ABORT_EXTENSION = "jsscada.abort_within"


class GatewayHttpProtocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's headers."""

    header_timeout = HEADER_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's headers are in
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        # Armed before the next cycle starts: a pipelined request disarms it at once.
        self._arm_header_timer()
        super().on_response_complete()

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed, or upgraded to a WebSocket
        if self.conn.their_state is h11.IDLE:
            self.transport.abort()  # nothing useful can be in its write buffer


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, where a stalled close ends in an abort instead of waiting forever."""

    _abort_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:  # a fixed kernel buffer: a client that stops reading is noticed in seconds
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WS_SEND_BUFFER)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app's task has not run yet, so it sees this
            scope["extensions"][ABORT_EXTENSION] = self.abort_within

    def abort_within(self, seconds: float) -> None:
        """Abort the connection unless it has closed within ``seconds``."""
        if self._abort_timer is None and not self.disconnected:
            self._abort_timer = self.loop.call_later(seconds, self._abort)

    def _abort(self) -> None:
        self._abort_timer = None
        if not self.disconnected:
            self.transport.abort()  # drops the unsent buffer; connection_lost tells the app

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        self.abort_within(ABORT_AFTER_S)  # transport.close() alone waits for a reader that is gone

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.close":
            self.abort_within(ABORT_AFTER_S)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        super().connection_lost(exc)


def uvicorn_config(app: Any, **where: Any) -> uvicorn.Config:
    """The gateway's uvicorn settings; ``where`` is host and port, or fd (a listening socket)."""
    return uvicorn.Config(app, http=GatewayHttpProtocol, ws=GatewayWebSocketProtocol,
                          timeout_keep_alive=KEEPALIVE_S, ws_ping_interval=WS_PING_INTERVAL_S,
                          ws_ping_timeout=WS_PING_TIMEOUT_S, log_level="info", access_log=False, **where)


def abort_hook(scope: Mapping[str, Any]) -> Callable[[float], None] | None:
    """The server's abort for this WebSocket, when it offers one (uvicorn under uvicorn_config does)."""
    hook = scope.get("extensions", {}).get(ABORT_EXTENSION)
    return hook if callable(hook) else None
