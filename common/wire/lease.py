"""The lease protocol between the writer (DEALER) and the buffer (ROUTER).

The writer asks for a batch; the buffer leases it and forgets it only when
the writer acknowledges that it is committed (or backed up). ``id`` pairs a
reply with its request; a reply with another id is ignored. Acknowledging a
batch inside the next lease request costs no round trip of its own; a batch
whose acknowledgement never arrives is leased again after
BUFFER_LEASE_TIMEOUT and stored once (the insert is idempotent)::

    writer: {"v": 1, "t": "lease", "id": 7, "max": 500, "ack": 30}   # "ack": the previous batch, committed
    buffer: {"v": 1, "t": "batch", "id": 7, "lease": 31, "blocks": [block, ...], "backlog": 12000}
            # blocks may be [] (then lease is null); backlog: the values still in the ring
            # (a writer behind takes larger batches)
    writer: {"v": 1, "t": "ack", "id": 8, "lease": 31}   # alone, only when the writer stops
    buffer: {"v": 1, "t": "acked", "id": 8, "lease": 31, "known": true}

A block is shown in common/wire/block.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from common.wire.block import Block
from common.wire.envelope import MessageError, envelope, field_error


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    KIND: ClassVar[str] = "lease"

    id: int
    #: at most this many values (None: the buffer's BUFFER_BATCH_SIZE)
    max: int | None = None
    #: the lease of the previous batch, committed; None if none is owed
    ack: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = envelope(self.KIND, id=self.id)
        if self.max is not None:
            wire["max"] = self.max
        if self.ack is not None:
            wire["ack"] = self.ack
        return wire

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> LeaseRequest:
        try:
            most, ack = m.get("max"), m.get("ack")
            return cls(int(m["id"]), None if most is None else int(most), None if ack is None else int(ack))
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None


@dataclass(frozen=True, slots=True)
class LeaseAck:
    """A batch acknowledged on its own (a stopping writer), answered by :class:`Acked`."""

    KIND: ClassVar[str] = "ack"

    id: int
    lease: int

    def to_wire(self) -> dict[str, Any]:
        return envelope(self.KIND, id=self.id, lease=self.lease)

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> LeaseAck:
        try:
            return cls(int(m["id"]), int(m["lease"]))
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None


@dataclass(frozen=True, slots=True)
class Batch:
    KIND: ClassVar[str] = "batch"

    id: int
    #: None when there was nothing to lease
    lease: int | None
    blocks: list[Block] = field(default_factory=list)
    #: the values still in the ring after this batch
    backlog: int = 0

    @property
    def count(self) -> int:
        return sum(b.count for b in self.blocks)

    def to_wire(self) -> dict[str, Any]:
        return envelope(self.KIND, id=self.id, lease=self.lease, blocks=[b.to_wire() for b in self.blocks],
                        backlog=self.backlog)

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Batch:
        """A batch with its blocks checked (their values unpacked); MessageError names the lease."""
        try:
            lease = m.get("lease")
            request_id, lease, raw = int(m["id"]), None if lease is None else int(lease), m.get("blocks") or []
            backlog = int(m.get("backlog") or 0)
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None
        try:
            return cls(request_id, lease, [Block.from_wire(b) for b in raw], backlog)
        except (MessageError, TypeError) as error:
            raise MessageError(f"malformed batch (lease {lease}): {error}") from None


@dataclass(frozen=True, slots=True)
class Acked:
    KIND: ClassVar[str] = "acked"

    id: int
    lease: int | None
    #: whether the buffer still held that lease (False: it had expired and was handed out again)
    known: bool

    def to_wire(self) -> dict[str, Any]:
        return envelope(self.KIND, id=self.id, lease=self.lease, known=self.known)

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Acked:
        try:
            lease = m.get("lease")
            return cls(int(m["id"]), None if lease is None else int(lease), bool(m.get("known")))
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None
