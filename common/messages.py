"""Every message that crosses a ZeroMQ socket, defined once, in msgpack.

Each message is a msgpack map with ``v`` (the wire version) and ``t`` (its
type). ``decode`` checks both and the shape of the fields it needs, and
raises :class:`MessageError` for anything else, so a receiving process can
count and log a bad frame and carry on.

PollingData (poller -> buffer, PUSH/PULL; buffer -> taps, PUB topic
``data.<plc_code>.<group>``)::

    {"v": 1, "t": "polling_data", "plc": "KRCWO12ELOA101", "group": "FAST_1S",
     "seq": 42, "ts": 1763868000123, "dur": 12.5, "err": null,
     "values": [["D100", 1234, "GOOD"], ["M0", null, "BAD_TIMEOUT"], ...]}

``ts`` is the cycle's read start in Unix milliseconds (UTC), ``dur`` the read's
duration in ms, ``seq`` counts the group's cycles from 1 at poller start.
``quality`` is ``GOOD`` or ``BAD_<REASON>``; a BAD value has no value (null).

Status (every stage -> gateway, PUB/SUB topic ``status.<stage>[.<plc_code>]``)::

    {"v": 1, "t": "status", "stage": "buffer", "ts": 1763868000123, "pid": 4242, ...figures}

Lease protocol (writer DEALER <-> buffer ROUTER); ``id`` pairs a reply with
its request and a reply with another id is ignored::

    writer: {"v": 1, "t": "lease", "id": 7, "max": 500, "ack": 30}   # "ack": the previous batch, committed
    buffer: {"v": 1, "t": "batch", "id": 7, "lease": 31, "blocks": [block, ...], "backlog": 12000}
            # blocks may be []; backlog: the values still in the ring (a writer behind takes larger batches)
    writer: {"v": 1, "t": "ack", "id": 8, "lease": 31}   # alone, only when the writer stops
    buffer: {"v": 1, "t": "acked", "id": 8, "lease": 31, "known": true}

Ingest confirmation (buffer -> poller, on the live PUB, topic ``ack.<plc_code>``):
these cycles are journaled; the poller forgets them. A cycle not confirmed
within POLLER_ACK_TIMEOUT is sent again (a duplicate is stored once)::

    {"v": 1, "t": "ingested", "plc": "KRCWO12ELOA101", "keys": [["FAST_1S", 1763868000123], ...]}

Acknowledging a batch inside the next lease request costs no round trip of
its own; a batch whose acknowledgement never arrives is leased again after
the lease timeout and stored once (the insert is idempotent).

A block is one PollingData's values, or a slice of them, the values packed
as msgpack bytes (``bin``) of ``[[address, value, quality], ...]``::

    ["KRCWO12ELOA101", "FAST_1S", 42, 1763868000123, 500, b"\x91\x93\xa4D100\xcd\x04\xd2\xa4GOOD..."]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgpack

from common.value_checks import INT64_MAX, INT64_MIN, CycleRefused, IngestLimits, check_cycle, check_values

WIRE_VERSION = 1
GOOD = "GOOD"


class MessageError(ValueError):
    """A frame that does not decode to a message of this version and shape."""


class TagValue(NamedTuple):
    address: str
    value: int | float | str | None
    quality: str


@dataclass(frozen=True, slots=True)
class PollingData:
    plc_code: str
    group: str
    seq: int
    ts_ms: int
    duration_ms: float
    values: list[TagValue]
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"v": WIRE_VERSION, "t": "polling_data", "plc": self.plc_code, "group": self.group,
                "seq": self.seq, "ts": self.ts_ms, "dur": self.duration_ms, "err": self.error,
                "values": self.values}  # TagValues pack as msgpack arrays; no copy on the hot path

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> PollingData:
        try:
            values = [TagValue(str(a), v, str(q)) for a, v, q in m["values"]]
            return cls(str(m["plc"]), str(m["group"]), int(m["seq"]), int(m["ts"]), float(m["dur"]),
                       values, m.get("err"))
        except (KeyError, TypeError, ValueError) as error:
            raise MessageError(f"polling_data of the wrong shape: {error}") from None

    def block(self) -> Block:
        return Block.of_values(self.plc_code, self.group, self.seq, self.ts_ms, [list(v) for v in self.values])


@dataclass(slots=True)
class Block:
    """The values of one cycle (or a slice of them) as the buffer keeps and leases them.

    The values stay packed (msgpack bytes, ~15 bytes a value) while the block
    waits in the ring and travels to a writer; only the writer unpacks them.
    """

    plc_code: str
    group: str
    seq: int
    ts_ms: int
    count: int
    packed: bytes
    #: the buffer's journal number of the cycle and the index of this slice's first value in it
    number: int = 0
    first: int = 0
    #: the values, once a writer has unpacked (and checked) them
    unpacked: list[list[Any]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of_values(cls, plc_code: str, group: str, seq: int, ts_ms: int, values: list[list[Any]],
                  number: int = 0, first: int = 0) -> Block:
        return cls(plc_code, group, seq, ts_ms, len(values), pack_values(values), number, first)

    def values(self) -> list[list[Any]]:
        if self.unpacked is not None:
            return self.unpacked
        values: list[list[Any]] = msgpack.unpackb(self.packed, raw=False, use_list=True)
        return values

    def split(self, n: int) -> tuple[Block, Block]:
        """The first ``n`` values and the rest, as two blocks of the same cycle."""
        values = self.values()
        head = Block.of_values(self.plc_code, self.group, self.seq, self.ts_ms, values[:n], self.number, self.first)
        return head, Block.of_values(self.plc_code, self.group, self.seq, self.ts_ms, values[n:],
                                     self.number, self.first + n)

    def to_wire(self) -> list[Any]:
        return [self.plc_code, self.group, self.seq, self.ts_ms, self.count, self.packed]

    @classmethod
    def from_wire(cls, raw: Any) -> Block:
        """A block from a lease or a saved ring; its values are checked here, where they are unpacked."""
        try:
            plc, group, seq, ts, count, packed = raw
            block = cls(str(plc), str(group), int(seq), int(ts), int(count), bytes(packed))
            values = block.values()
        except (TypeError, ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
            raise MessageError(f"block of the wrong shape: {error}") from None
        if len(values) != block.count or not all(isinstance(v, list) and len(v) == 3 for v in values):
            raise MessageError("block values must be [address, value, quality] triples, as many as counted")
        block.unpacked = values
        return block


def pack_values(values: list[list[Any]]) -> bytes:
    packed: bytes = msgpack.packb(values, use_bin_type=True)
    return packed


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def unpack(frame: bytes, expected: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """Decode one frame; raise MessageError unless it is a map of this version (and type)."""
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


def encode_polling_data(data: PollingData) -> bytes:
    return pack(data.to_wire())


def decode_polling_data(frame: bytes) -> PollingData:
    return PollingData.from_wire(unpack(frame, "polling_data"))


def block_from_frame(frame: bytes) -> Block:
    """A PollingData frame checked for shape and kept as a packed block, without TagValues."""
    return checked_block(frame, None, 0)[0]


def checked_block(frame: bytes, limits: IngestLimits | None, now: int) -> tuple[Block, dict[str, int]]:
    """The buffer's way in: a PollingData frame checked (see value_checks.py) and kept as a packed block.

    Returns the block and how many of its values were made BAD, per quality.
    Raises MessageError for a frame that is not a PollingData, and
    CycleRefused (with ``cycle``: plc, group, seq, ts, count) for one that
    decodes but cannot be taken in (``limits`` None: shape only).
    """
    m = unpack(frame, "polling_data")
    try:
        values = m["values"]
        plc, group, seq, ts = str(m["plc"]), str(m["group"]), int(m["seq"]), int(m["ts"])
        float(m["dur"])
    except (KeyError, TypeError, ValueError, OverflowError) as error:  # OverflowError: int(inf)
        raise MessageError(f"polling_data of the wrong shape: {error}") from None
    if not isinstance(values, list):
        raise MessageError("polling_data values must be a list")
    marked: dict[str, int] = {}
    try:
        if not INT64_MIN <= seq <= INT64_MAX:
            raise CycleRefused("wrong_shape", f"seq {seq} outside signed 64 bits")
        if limits is not None:
            check_cycle(plc, group, ts, len(values), limits, now)
            values, marked = check_values(values, limits)
        else:
            for v in values:
                if not (isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and isinstance(v[2], str)):
                    raise CycleRefused("wrong_shape", f"polling_data value of the wrong shape: {v!r:.80}")
    except CycleRefused as refused:
        refused.cycle = (plc, group, seq, ts, len(values))
        if limits is None:
            raise MessageError(str(refused)) from None
        raise
    return Block(plc, group, seq, ts, len(values), pack_values(values)), marked


def repacked(frame: bytes, block: Block) -> bytes:
    """The frame with the values of ``block`` (as checked): what taps and the gateway see of a cycle
    whose unstorable values were made BAD, so that none of them meets a NaN or a 10 MB string."""
    message = unpack(frame, "polling_data")
    message["values"] = block.values()
    return pack(message)


def ingested(plc_code: str, keys: list[list[Any]]) -> dict[str, Any]:
    return {"v": WIRE_VERSION, "t": "ingested", "plc": plc_code, "keys": keys}


def status(stage: str, **figures: Any) -> dict[str, Any]:
    return {"v": WIRE_VERSION, "t": "status", "stage": stage, "ts": now_ms(), "pid": os.getpid(), **figures}


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def ms_of_iso(text: str) -> int:
    """The inverse of :func:`iso_ms`."""
    at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(at.timestamp()) * 1000 + at.microsecond // 1000


def iso_ms(ts_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, the historian's ``ts`` text: 2026-11-23T03:36:00.123Z."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"
