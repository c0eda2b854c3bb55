"""The binders' ZAP handler: pyzmq's ThreadAuthenticator, asking ``allowed/`` and counting refusals.

Strategy: one handler per ZeroMQ context (libzmq looks for it at
``inproc://zeromq.zap.01`` in the socket's own context), started by the
first CURVE binder of that context and stopped with it. pyzmq finds a
credentials provider by the exact ZAP domain, so each binder registers its
socket's name (``ingest``, ``control``, ...) and the refusals are counted per
socket. Kept apart from common/curve.py so that connecting-only processes
(pollers, taps) never import the authenticator.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from common import zmq_keys
from common.loglimit import RateLimitedLog

log = logging.getLogger("curve")


class AllowedClients:
    """The ZAP handler's answer: is this key in ``allowed/``? Reads the folder again when it changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen: list[tuple[str, int]] | None = None
        self._keys: set[bytes] = set()

    def callback(self, domain: str, key: bytes) -> bool:
        # Every file's name and mtime, not the folder's: a key replaced under the same name counts as a change.
        # Connections are rare (a reconnect at most every 100 ms per client): a few stat calls each are nothing.
        try:
            stamp = sorted((p.name, p.stat().st_mtime_ns) for p in (self.folder / zmq_keys.ALLOWED).glob("*.key"))
        except OSError:
            stamp = []
        if stamp != self._seen:
            self._seen = stamp
            self._keys = zmq_keys.allowed_keys(self.folder)
        return key in self._keys  # pyzmq hands the key over in Z85, as load_certificates keys them


class DoorKeeper(ThreadAuthenticator):
    """pyzmq's ZAP thread, counting and logging every client it refuses, per socket (ZAP domain)."""

    def __init__(self, context: zmq.Context[Any], folder: Path) -> None:
        super().__init__(context, log=logging.getLogger("curve.zap"))
        self.refused: dict[str, int] = {}
        self._lock = threading.Lock()
        self._loud = RateLimitedLog(log)
        self._request: tuple[str, str, str] = ("", "", "")
        self.allowed = AllowedClients(folder)

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        if len(msg) >= 7:  # version, request id, domain, address, identity, mechanism, key
            key = z85.encode(msg[6]).decode() if len(msg[6]) == 32 else "?"
            self._request = (msg[2].decode(errors="replace"), msg[3].decode(errors="replace"), key)
        else:
            self._request = ("?", "?", "?")
        await super().handle_zap_message(msg)

    def _send_zap_reply(self, request_id: bytes, status_code: bytes, status_text: bytes,
                        user_id: str = "anonymous") -> None:
        if status_code != b"200":
            domain, address, key = self._request
            with self._lock:
                self.refused[domain] = self.refused.get(domain, 0) + 1
                total = self.refused[domain]
            # A public key is no secret, and it is what the operator needs to allow the client.
            self._loud.warning(f"refused.{domain}", 1, "%s: refused a client from %s, public key %s not in the "
                               "allowed list (%d refused in all)", domain, address, key, total)
        super()._send_zap_reply(request_id, status_code, status_text, user_id)

    def counts(self, domains: tuple[str, ...]) -> dict[str, int]:
        with self._lock:
            return {d: self.refused.get(d, 0) for d in domains}


_keepers: dict[int, DoorKeeper] = {}  # one ZAP handler per ZeroMQ context (inproc://zeromq.zap.01 is per context)
_keepers_lock = threading.Lock()


def door_keeper(ctx: zmq.Context[Any], folder: Path) -> DoorKeeper:
    with _keepers_lock:
        keeper = _keepers.get(ctx.underlying)
        if keeper is None or not keeper.is_alive():
            keeper = DoorKeeper(ctx, folder)
            keeper.start()
            _keepers[ctx.underlying] = keeper
        return keeper




def stop_door_keeper(keeper: DoorKeeper) -> None:
    with _keepers_lock:
        for key, known in list(_keepers.items()):
            if known is keeper:
                del _keepers[key]
    keeper.stop()
