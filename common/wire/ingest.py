"""The ingest protocol: PollingData from the pollers, Ingested confirmations back from the buffer.

PollingData (poller PUSH -> buffer PULL; the buffer republishes it on its
live PUB under the topic ``data.<plc_code>.<group>`` for the gateway and taps)::

    {"v": 1, "t": "polling_data", "plc": "KRCWO12ELOA101", "group": "FAST_1S",
     "seq": 42, "cycle": 30064771114, "ts": 1763868000123, "dur": 12.5, "err": null,
     "values": [["D100", 1234, "GOOD"], ["M0", null, "BAD_TIMEOUT"], ...]}

``ts`` is the cycle's read start in Unix milliseconds (UTC) as the wall clock
said it, ``dur`` the read's duration in ms, ``seq`` counts the group's cycles
from 1 at poller start, ``cycle`` is the cycle's identity (common/wire/cycle.py).
A frame without ``cycle`` was queued by the release before cycle numbers: its
cycle is ``-ts``. ``quality`` is ``GOOD`` or ``BAD_<REASON>``; a BAD value has
no value (null).

Ingested (buffer live PUB -> poller SUB, topic ``ack.<plc_code>``): these
cycles are journaled in the buffer; the poller forgets them. A cycle not
confirmed within POLLER_ACK_TIMEOUT is sent again (a duplicate is stored once)::

    {"v": 1, "t": "ingested", "plc": "KRCWO12ELOA101", "keys": [["FAST_1S", 30064771114], ...]}  # [group, cycle]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from common.value_checks import INT64_MAX, INT64_MIN, CycleRefused, IngestLimits, check_cycle, check_values
from common.wire.block import Block, pack_values
from common.wire.cycle import legacy_cycle
from common.wire.envelope import MessageError, envelope, field_error, pack, unpack

GOOD = "GOOD"


class TagValue(NamedTuple):
    address: str
    value: int | float | str | None
    quality: str


@dataclass(frozen=True, slots=True)
class PollingData:
    KIND: ClassVar[str] = "polling_data"

    plc_code: str
    group: str
    seq: int
    ts_ms: int
    duration_ms: float
    values: list[TagValue]
    error: str | None = None
    #: the cycle's identity in its (plc, group); None only for a frame of the previous release
    cycle: int | None = None

    @property
    def identity(self) -> int:
        """The cycle number, ``-ts`` for a frame of the previous release."""
        return legacy_cycle(self.ts_ms) if self.cycle is None else self.cycle

    def to_wire(self) -> dict[str, Any]:
        wire = envelope(self.KIND, plc=self.plc_code, group=self.group, seq=self.seq, ts=self.ts_ms,
                        dur=self.duration_ms, err=self.error,
                        values=self.values)  # TagValues pack as msgpack arrays; no copy on the hot path
        if self.cycle is not None:
            wire["cycle"] = self.cycle
        return wire

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> PollingData:
        try:
            values = [TagValue(str(a), v, str(q)) for a, v, q in m["values"]]
            cycle = m.get("cycle")
            return cls(str(m["plc"]), str(m["group"]), int(m["seq"]), int(m["ts"]), float(m["dur"]),
                       values, m.get("err"), None if cycle is None else int(cycle))
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None

    def block(self) -> Block:
        return Block.of_values(self.plc_code, self.group, self.seq, self.ts_ms, [list(v) for v in self.values],
                               cycle=self.identity)


@dataclass(frozen=True, slots=True)
class Ingested:
    KIND: ClassVar[str] = "ingested"

    plc_code: str
    #: (group, cycle) of each cycle journaled
    keys: list[tuple[str, int]]

    def to_wire(self) -> dict[str, Any]:
        return envelope(self.KIND, plc=self.plc_code, keys=self.keys)  # tuples pack as msgpack arrays

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Ingested:
        try:
            return cls(str(m["plc"]), [(str(g), int(cycle)) for g, cycle in m["keys"]])
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None


class CycleHead(NamedTuple):
    """What a PollingData frame says of its cycle, read without building its TagValues."""

    plc_code: str
    group: str
    ts_ms: int
    value_count: int
    cycle: int  # ``-ts`` for a frame of the previous release


def cycle_head(frame: bytes) -> CycleHead:
    """The cycle a PollingData frame carries (for an outbox or ``scada account``); MessageError if none."""
    m = unpack(frame, PollingData.KIND)
    try:
        cycle, ts = m.get("cycle"), int(m["ts"])
        return CycleHead(str(m["plc"]), str(m["group"]), ts, len(m["values"]),
                         legacy_cycle(ts) if cycle is None else int(cycle))
    except (KeyError, TypeError, ValueError) as error:
        raise field_error(PollingData.KIND, error) from None


def checked_block(frame: bytes, limits: IngestLimits | None, now: int) -> tuple[Block, dict[str, int]]:
    """The buffer's way in: a PollingData frame checked (see value_checks.py) and kept as a packed block.

    Returns the block and how many of its values were made BAD, per quality.
    Raises MessageError for a frame that is not a PollingData, and
    CycleRefused (with ``cycle``: plc, group, seq, ts, count) for one that
    decodes but cannot be taken in (``limits`` None: shape only).
    """
    m = unpack(frame, PollingData.KIND)
    try:
        values = m["values"]
        plc, group, seq, ts = str(m["plc"]), str(m["group"]), int(m["seq"]), int(m["ts"])
        cycle = m.get("cycle")
        cycle = None if cycle is None else int(cycle)
        float(m["dur"])
    except (KeyError, TypeError, ValueError, OverflowError) as error:  # OverflowError: int(inf)
        raise field_error(PollingData.KIND, error) from None
    if not isinstance(values, list):
        raise MessageError("polling_data values must be a list")
    marked: dict[str, int] = {}
    try:
        if not INT64_MIN <= seq <= INT64_MAX:
            raise CycleRefused("wrong_shape", f"seq {seq} outside signed 64 bits")
        if cycle is not None and not INT64_MIN <= cycle <= INT64_MAX:
            raise CycleRefused("wrong_shape", f"cycle {cycle} outside signed 64 bits")
        if limits is not None:
            check_cycle(plc, group, ts, len(values), limits, now)
            values, marked = check_values(values, limits)
        else:
            for v in values:
                if not (isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and isinstance(v[2], str)):
                    raise CycleRefused("wrong_shape", f"polling_data value of the wrong shape: {v!r:.80}")
    except CycleRefused as refused:
        refused.cycle = (plc, group, seq, ts, len(values), legacy_cycle(ts) if cycle is None else cycle)
        if limits is None:
            raise MessageError(str(refused)) from None
        raise
    return Block(plc, group, seq, ts, len(values), pack_values(values), cycle=cycle), marked


def block_from_frame(frame: bytes) -> Block:
    """A PollingData frame checked for shape and kept as a packed block, without TagValues."""
    return checked_block(frame, None, 0)[0]


def repacked(frame: bytes, block: Block) -> bytes:
    """The frame with the values of ``block`` (as checked): what taps and the gateway see of a cycle
    whose unstorable values were made BAD, so that none of them meets a NaN or a 10 MB string."""
    message = unpack(frame, PollingData.KIND)
    message["values"] = block.values()
    return pack(message)
