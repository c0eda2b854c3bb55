"""PollingData and Ingested on the wire, and the buffer's way in (a frame kept as a packed block)."""

from __future__ import annotations

import msgpack
import pytest

from common.wire.block import Block
from common.wire.envelope import MessageError, decode, encode, envelope, pack
from common.wire.ingest import CycleHead, Ingested, PollingData, TagValue, block_from_frame, cycle_head


def test_polling_data_round_trip() -> None:
    data = PollingData("KRCWO12ELOA101", "FAST_1S", 7, 1_763_868_000_123, 12.5,
                       [TagValue("D100", 1234, "GOOD"), TagValue("M0", None, "BAD_TIMEOUT"),
                        TagValue("D200", "텍스트", "GOOD"), TagValue("D300", 1.5, "GOOD")], None)
    assert decode(encode(data), PollingData) == data


@pytest.mark.parametrize("frame", [
    b"\xc1",  # not msgpack
    msgpack.packb([1, 2, 3]),  # not a map
    msgpack.packb({"v": 2, "t": "polling_data"}),  # another version
    pack(envelope("status")),  # another type
    pack(envelope("polling_data", plc="X")),  # missing fields
    pack(envelope("polling_data", plc="X", group="G", seq="a", ts=0, dur=0, values=[])),
    pack(envelope("polling_data", plc="X", group="G", seq=1, ts=0, dur=0, values=[[1, 2]])),
])


def test_bad_frames_raise_message_error(frame: bytes) -> None:
    with pytest.raises(MessageError):
        decode(frame, PollingData)
    with pytest.raises(MessageError):
        block_from_frame(frame)


def test_block_from_frame_keeps_every_value() -> None:
    data = PollingData("KRCWO12ELOA101", "G", 3, 5, 1.0, [TagValue("D1", 1, "GOOD"), TagValue("D2", None, "BAD_X")])
    block = block_from_frame(encode(data))
    assert (block.plc_code, block.group, block.seq, block.ts_ms, block.count) == ("KRCWO12ELOA101", "G", 3, 5, 2)
    assert block.values() == [["D1", 1, "GOOD"], ["D2", None, "BAD_X"]]
    assert Block.from_wire(block.to_wire()) == block
    with pytest.raises(MessageError):
        Block.from_wire([*block.to_wire()[:4], 3, block.packed])  # count does not match


def test_polling_data_is_the_map_its_docstring_shows() -> None:
    data = PollingData("KRCWO12ELOA101", "FAST_1S", 42, 1763868000123, 12.5,
                       [TagValue("D100", 1234, "GOOD"), TagValue("M0", None, "BAD_TIMEOUT")], None, 30064771114)
    assert msgpack.unpackb(encode(data)) == {
        "v": 1, "t": "polling_data", "plc": "KRCWO12ELOA101", "group": "FAST_1S", "seq": 42, "cycle": 30064771114,
        "ts": 1763868000123, "dur": 12.5, "err": None, "values": [["D100", 1234, "GOOD"], ["M0", None, "BAD_TIMEOUT"]]}


def test_a_frame_without_cycle_has_the_legacy_cycle() -> None:
    old = PollingData("KRCWO12ELOA101", "G", 5, 1_763_868_000_000, 1.0, [TagValue("D0", 1, "GOOD")])
    assert "cycle" not in msgpack.unpackb(encode(old))
    assert decode(encode(old), PollingData).identity == -1_763_868_000_000
    assert cycle_head(encode(old)) == CycleHead("KRCWO12ELOA101", "G", 1_763_868_000_000, 1, -1_763_868_000_000)


def test_ingested_is_the_map_its_docstring_shows_and_reads_back() -> None:
    confirmation = Ingested("KRCWO12ELOA101", [("FAST_1S", 30064771114), ("SLOW_5S", 7)])
    assert msgpack.unpackb(encode(confirmation)) == {
        "v": 1, "t": "ingested", "plc": "KRCWO12ELOA101", "keys": [["FAST_1S", 30064771114], ["SLOW_5S", 7]]}
    assert decode(encode(confirmation), Ingested) == confirmation


@pytest.mark.parametrize("keys", [[["G"]], [["G", "x"]], "G", None])
def test_an_ingested_of_the_wrong_shape_is_a_message_error(keys: object) -> None:
    with pytest.raises(MessageError, match="ingested of the wrong shape"):
        decode(pack(envelope("ingested", plc="KRCWO12ELOA101", keys=keys)), Ingested)
