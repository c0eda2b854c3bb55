"""``scada tap``: print what passes on a PUB socket, one JSON line per message."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgpack
import zmq


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def tap(endpoint: str, topic: str = "", count: int | None = None, timeout_s: float | None = None) -> int:
    """Subscribe to ``endpoint`` and print messages until Ctrl-C, ``count`` messages, or ``timeout_s`` of silence."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sock.connect(endpoint)
    printed = 0
    try:
        while count is None or printed < count:
            if not sock.poll(int(timeout_s * 1000) if timeout_s else -1):
                break
            parts = sock.recv_multipart()
            head, payload = (parts[0], parts[-1]) if len(parts) > 1 else (b"", parts[0])
            try:
                body = msgpack.unpackb(payload, raw=False)
            except Exception as error:  # show the bad frame rather than stop the tap
                body = {"undecodable": payload[:64].hex(), "error": str(error)}
            line = {"topic": head.decode(errors="replace"), "message": body}
            try:
                text = json.dumps(line, ensure_ascii=False, default=_jsonable)
            except (TypeError, ValueError):  # a map with bytes keys: show it rather than stop the tap
                text = json.dumps({**line, "message": _jsonable(body)}, ensure_ascii=False)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        ctx.term()
    return printed
