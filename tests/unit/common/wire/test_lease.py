"""The lease protocol's messages: the maps the module's docstring shows, and back."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from common.wire.block import Block
from common.wire.envelope import MessageError, decode, encode, envelope, pack
from common.wire.lease import Acked, Batch, LeaseAck, LeaseRequest

BLOCK = Block.of_values("KRCWO12ELOA101", "FAST_1S", 42, 1763868000123, [["D100", 1234, "GOOD"]], cycle=30064771114)


@pytest.mark.parametrize(("message", "wire"), [
    (LeaseRequest(7, 500, 30), {"v": 1, "t": "lease", "id": 7, "max": 500, "ack": 30}),
    (LeaseRequest(7, 500), {"v": 1, "t": "lease", "id": 7, "max": 500}),
    (LeaseAck(8, 31), {"v": 1, "t": "ack", "id": 8, "lease": 31}),
    (Acked(8, 31, True), {"v": 1, "t": "acked", "id": 8, "lease": 31, "known": True}),
    (Batch(7, None), {"v": 1, "t": "batch", "id": 7, "lease": None, "blocks": [], "backlog": 0}),
    (Batch(7, 31, [BLOCK], 12000), {"v": 1, "t": "batch", "id": 7, "lease": 31, "blocks": [BLOCK.to_wire()],
                                    "backlog": 12000}),
])
def test_each_message_is_its_map_and_reads_back(message: Any, wire: dict[str, Any]) -> None:
    assert msgpack.unpackb(encode(message)) == wire
    back = decode(encode(message), type(message))
    assert back == message
    if isinstance(message, Batch):
        assert [b.values() for b in back.blocks] == [b.values() for b in message.blocks]


def test_a_lease_request_without_max_asks_for_the_buffers_batch_size() -> None:
    assert decode(pack(envelope("lease", id=3)), LeaseRequest) == LeaseRequest(3, None, None)


def test_a_batch_with_a_malformed_block_names_its_lease() -> None:
    bad = [*BLOCK.to_wire()[:4], 5, BLOCK.packed, BLOCK.cycle]  # counts 5 values, holds 1
    with pytest.raises(MessageError, match="lease 31"):
        decode(pack(envelope("batch", id=7, lease=31, blocks=[bad], backlog=0)), Batch)
