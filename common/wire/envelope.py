"""The envelope every wire message shares: msgpack, a version and a type.

Strategy: each message is a msgpack map ``{"v": WIRE_VERSION, "t": <kind>,
...fields}``. This module is the one place that writes or checks ``v``: a
message class builds its map through :func:`envelope` and is read back
through :func:`decode`, which checks the version and the kind and hands the
map to the class's ``from_wire``. Anything else (not msgpack, not a map,
another version, another kind, a field of the wrong shape) raises
:class:`MessageError`, so a receiving process counts and logs the frame and
carries on; a bad frame never kills a process.

The messages, one module per protocol:

- ``common/wire/ingest.py``: PollingData (poller -> buffer) and Ingested
  (buffer -> poller, the confirmation);
- ``common/wire/block.py``: Block, a cycle's values as the buffer keeps and
  leases them; ``common/wire/cycle.py``: cycle numbers;
- ``common/wire/lease.py``: LeaseRequest, LeaseAck, Batch, Acked (writer <-> buffer);
- ``common/wire/control.py``: Command (one class per op), Reply, Hello (gateway <-> poller);
- ``common/wire/status.py``: Status (every stage -> gateway).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, Self, TypeVar

import msgpack

WIRE_VERSION = 1


class MessageError(ValueError):
    """A frame that does not decode to a message of this version and shape."""


class Message(Protocol):
    """What a wire message class offers: its kind, its map, and a way back from the map."""

    KIND: ClassVar[str]

    def to_wire(self) -> dict[str, Any]: ...

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Self: ...


M = TypeVar("M", bound=Message)


def envelope(kind: str, **fields: Any) -> dict[str, Any]:
    """A message's map, with this build's version: the only place ``v`` is written."""
    return {"v": WIRE_VERSION, "t": kind, **fields}


def pack(message: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def unpack(frame: bytes, expected: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """Decode one frame to its map; raise MessageError unless it is a map of this version (and kind)."""
    try:
        message = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except Exception as error:  # msgpack raises several unrelated types for bad input
        raise MessageError(f"not msgpack: {type(error).__name__}: {error}") from None
    if not isinstance(message, dict):
        raise MessageError(f"expected a map, got {type(message).__name__}")
    if message.get("v") != WIRE_VERSION:
        raise MessageError(f"wire version {message.get('v')!r}, this build speaks {WIRE_VERSION}")
    kind = message.get("t")
    if expected is not None and kind not in ((expected,) if isinstance(expected, str) else expected):
        raise MessageError(f"unexpected message type {kind!r}")
    return message


def encode(message: Message) -> bytes:
    return pack(message.to_wire())


def decode(frame: bytes, kind: type[M]) -> M:
    """The message of class ``kind`` in ``frame``; MessageError for anything else."""
    return kind.from_wire(unpack(frame, kind.KIND))


def decode_any(frame: bytes, *kinds: type[Message]) -> Message:
    """The message in ``frame``, of whichever of ``kinds`` its type names; MessageError for anything else."""
    by_kind = {k.KIND: k for k in kinds}
    m = unpack(frame, tuple(by_kind))
    return by_kind[m["t"]].from_wire(m)


def field_error(kind: str, error: Exception) -> MessageError:
    """The MessageError for a map of the right kind whose fields are of the wrong shape."""
    return MessageError(f"{kind} of the wrong shape: {type(error).__name__}: {error}")
