"""CURVE on tcp:// endpoints: who a stage is, whom it trusts, and the door that refuses the others.

Strategy: each stage makes one ``SocketSecurity`` at start (``for_stage``)
and hands it to ``bus.make_socket``; a socket on ``ipc://`` (the default,
reachable only through the run directory's 0700 folder) is left as it is,
a socket on ``tcp://`` gets CURVE. A binder answers as a CURVE server and
asks the process's ZAP handler (pyzmq's ThreadAuthenticator, one per
ZeroMQ context) whether the client's public key is in ``allowed/``; the
handler reads the folder again when it changes, so ``scada keys allow``
needs no restart. Every refusal is counted per socket (``ingest``, ``live``,
``lease``, ``control``, ``telemetry``) and logged, at most once per 10 s
each; the counts are in the binder's status.

A tcp:// endpoint without the keys it needs stops the stage at start with
one line (``KeyFolderError``), unless ZMQ_ALLOW_INSECURE_TCP=true: then
tcp:// runs without CURVE, open to any host that reaches it, and every start
says so at WARNING.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from common import zmq_keys
from common.settings import Settings
from common.zmq_keys import KeyFolderError, KeyPair

if TYPE_CHECKING:
    from common.handshakes import HandshakeWatch
    from common.zap import DoorKeeper

log = logging.getLogger("curve")

# Which stage binds which endpoint, and the endpoints each stage binds and connects.
BINDER = {"ingest": "buffer", "live": "buffer", "lease": "buffer", "telemetry": "gateway", "control": "gateway"}
STAGE_SOCKETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # stage -> (binds, connects)
    "buffer": (("ingest", "live", "lease"), ("telemetry",)),
    "gateway": (("telemetry", "control"), ("live",)),
    "writer": ((), ("lease", "telemetry")),
    "poller": ((), ("ingest", "live", "telemetry", "control")),
    "tap": ((), ("live",)),
}


def is_tcp(endpoint: str) -> bool:
    return endpoint.startswith("tcp://")


class SocketSecurity:
    """What one stage needs to put CURVE on its tcp:// sockets; ``plain`` leaves every socket as it is."""

    def __init__(self, stage: str, folder: Path, endpoints: dict[str, str], *, server: KeyPair | None = None,
                 client: KeyPair | None = None, server_keys: dict[str, bytes] | None = None,
                 plain: bool = False) -> None:
        self.stage = stage
        self.folder = folder
        self.endpoints = endpoints  # socket name -> endpoint
        self.server = server
        self.client = client
        self.server_keys = server_keys or {}  # binder stage -> its public key
        self.plain = plain
        self.keeper: DoorKeeper | None = None
        self.handshakes: HandshakeWatch | None = None  # clients refused before ZAP: no CURVE (common/handshakes.py)
        self._served: list[str] = []
        self._final: dict[str, int] = {}

    def bound(self, ctx: zmq.Context[Any], sock: zmq.Socket[Any], name: str, endpoint: str) -> None:
        """Make ``sock`` a CURVE server that lets in only allowed clients; before it binds."""
        if self.plain or not is_tcp(endpoint):
            return
        if self.server is None:
            raise KeyFolderError(f"{self.stage} binds {endpoint} ({name}) without its key pair")
        from common.zap import door_keeper  # only binders pay for the ZAP thread's imports

        self.keeper = door_keeper(ctx, self.folder)
        # pyzmq looks a provider up by the exact ZAP domain ("*" is not a wildcard there).
        self.keeper.configure_curve_callback(domain=name, credentials_provider=self.keeper.allowed)
        sock.setsockopt(zmq.ZAP_DOMAIN, name.encode())
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.server.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.server.secret)
        self._served.append(name)
        if self.handshakes is None:
            from common.handshakes import HandshakeWatch

            self.handshakes = HandshakeWatch()
        self.handshakes.watch(sock, name)

    def connected(self, sock: zmq.Socket[Any], name: str, endpoint: str, binder: str | None = None) -> None:
        """Make ``sock`` a CURVE client of the stage that binds ``name`` (or ``binder``); before it connects."""
        if self.plain or not is_tcp(endpoint):
            return
        binder = binder or BINDER[name]
        server_key = self.server_keys.get(binder)
        if self.client is None or server_key is None:
            raise KeyFolderError(f"{self.stage} connects {endpoint} ({name}) without its client key or "
                                 f"{binder}.key")
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.client.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.client.secret)

    def close(self) -> None:
        """Stop the ZAP handler and the handshake watch (their sockets would keep the context's term() waiting
        forever)."""
        if self.handshakes is not None:
            self.handshakes.stop()
        keeper, self.keeper = self.keeper, None
        if keeper is None:
            return
        self._final = keeper.counts(tuple(self._served))  # the status a stopping stage publishes last
        from common.zap import stop_door_keeper

        stop_door_keeper(keeper)

    def refused(self) -> dict[str, int]:
        """Clients refused at each of this stage's CURVE sockets since start (for its status)."""
        if self.keeper is None:
            return dict(self._final)
        return self.keeper.counts(tuple(self._served))

    def refused_handshakes(self) -> dict[str, int]:
        """Clients refused at each CURVE socket before any key was checked: no CURVE offered (for its status)."""
        return self.handshakes.counts() if self.handshakes is not None else {}


def endpoints_of(settings: Settings) -> dict[str, str]:
    return {"ingest": settings.ingest_endpoint, "live": settings.live_endpoint, "lease": settings.lease_endpoint,
            "telemetry": settings.telemetry_endpoint, "control": settings.control_endpoint}


def for_stage(settings: Settings, stage: str, *, extra_connects: dict[str, str] | None = None) -> SocketSecurity:
    """The stage's security, with every key its tcp:// endpoints need loaded now.

    Raises KeyFolderError naming the first missing key. ``extra_connects``:
    endpoints beyond the settings' (a tap given an endpoint), name -> endpoint.
    """
    endpoints = endpoints_of(settings)
    binds, connects = STAGE_SOCKETS[stage]
    tcp_binds = [n for n in binds if is_tcp(endpoints[n])]
    tcp_connects = {n: endpoints[n] for n in connects if is_tcp(endpoints[n])}
    tcp_connects.update({n: e for n, e in (extra_connects or {}).items() if is_tcp(e)})
    folder = settings.keys_dir
    if not tcp_binds and not tcp_connects:
        return SocketSecurity(stage, folder, endpoints, plain=True)
    if settings.zmq_allow_insecure_tcp:
        shown = ", ".join(sorted({endpoints[n] for n in tcp_binds} | set(tcp_connects.values())))
        log.warning("ZMQ_ALLOW_INSECURE_TCP=true: %s without CURVE: any host that reaches these endpoints can "
                    "send data, read live values and send commands", shown)
        return SocketSecurity(stage, folder, endpoints, plain=True)
    server = zmq_keys.key_pair(folder, stage) if tcp_binds else None
    client = zmq_keys.key_pair(folder, settings.zmq_key_name or stage) if tcp_connects else None
    binders = {BINDER.get(n, "buffer") for n in tcp_connects}
    server_keys = {b: (server.public if server is not None and b == stage else zmq_keys.public_key(folder, b))
                   for b in binders}
    if tcp_binds and not zmq_keys.allowed_keys(folder):
        log.warning("no client keys in %s: every client of %s will be refused (add them with scada keys allow)",
                    folder / zmq_keys.ALLOWED, ", ".join(endpoints[n] for n in tcp_binds))
    log.info("CURVE on %s", ", ".join([endpoints[n] for n in tcp_binds] + list(tcp_connects.values())))
    return SocketSecurity(stage, folder, endpoints, server=server, client=client, server_keys=server_keys)


def for_stage_or_exit(settings: Settings, stage: str) -> SocketSecurity:
    """``for_stage``, or one line at ERROR and exit status 2 when a key is missing."""
    try:
        return for_stage(settings, stage)
    except KeyFolderError as error:
        log.error("refusing to start: tcp:// endpoints need CURVE keys: %s (or ZMQ_ALLOW_INSECURE_TCP=true)", error)
        raise SystemExit(2) from None
