"""Block: the values of one cycle (or a slice of them) as the buffer keeps, journals and leases them.

A block travels inside a lease's Batch (common/wire/lease.py) and in the
buffer's journal as a list, its values packed as msgpack bytes (``bin``) of
``[[address, value, quality], ...]``::

    ["KRCWO12ELOA101", "FAST_1S", 42, 1763868000123, 500,
     b"\\x91\\x93\\xa4D100\\xcd\\x04\\xd2\\xa4GOOD...", 30064771114]

(plc, group, seq, ts, count, packed, cycle); a block of six elements has
the legacy cycle ``-ts`` (common/wire/cycle.py). The values stay packed
(~15 bytes a value) while the block waits in the ring and travels to a
writer; only the writer unpacks them, and checks them where it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from common.wire.cycle import legacy_cycle
from common.wire.envelope import MessageError


@dataclass(slots=True)
class Block:
    plc_code: str
    group: str
    seq: int
    ts_ms: int
    count: int
    packed: bytes
    #: the buffer's journal number of the cycle, and the index of this slice's first value in it
    journal_number: int = 0
    first_value: int = 0
    #: the values, once a writer has unpacked (and checked) them
    unpacked: list[list[Any]] | None = field(default=None, repr=False, compare=False)
    #: the cycle's identity in its (plc, group); None (a block of the previous release) becomes ``-ts``
    cycle: int | None = None

    def __post_init__(self) -> None:
        if self.cycle is None:
            self.cycle = legacy_cycle(self.ts_ms)

    @property
    def identity(self) -> int:
        assert self.cycle is not None  # set in __post_init__
        return self.cycle

    @classmethod
    def of_values(cls, plc_code: str, group: str, seq: int, ts_ms: int, values: list[list[Any]],
                  journal_number: int = 0, first_value: int = 0, cycle: int | None = None) -> Block:
        return cls(plc_code, group, seq, ts_ms, len(values), pack_values(values), journal_number, first_value,
                   cycle=cycle)

    def values(self) -> list[list[Any]]:
        if self.unpacked is not None:
            return self.unpacked
        values: list[list[Any]] = msgpack.unpackb(self.packed, raw=False, use_list=True)
        return values

    def split(self, n: int) -> tuple[Block, Block]:
        """The first ``n`` values and the rest, as two blocks of the same cycle."""
        values = self.values()
        head = Block.of_values(self.plc_code, self.group, self.seq, self.ts_ms, values[:n], self.journal_number,
                               self.first_value, self.cycle)
        return head, Block.of_values(self.plc_code, self.group, self.seq, self.ts_ms, values[n:],
                                     self.journal_number, self.first_value + n, self.cycle)

    def to_wire(self) -> list[Any]:
        return [self.plc_code, self.group, self.seq, self.ts_ms, self.count, self.packed, self.cycle]

    @classmethod
    def from_wire(cls, raw: Any) -> Block:
        """A block from a lease or a journal; its values are checked here, where they are unpacked."""
        try:
            plc, group, seq, ts, count, packed, *rest = raw
            if len(rest) > 1:
                raise ValueError(f"{6 + len(rest)} fields, expected 6 or 7")
            cycle = int(rest[0]) if rest and rest[0] is not None else None
            block = cls(str(plc), str(group), int(seq), int(ts), int(count), bytes(packed), cycle=cycle)
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
