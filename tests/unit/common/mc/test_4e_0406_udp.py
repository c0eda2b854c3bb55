"""Byte tables for 4E frames (both encodings), 0406 multi-block reads and UDP datagram matching.

The 0406 request is the reference manual's example layout (word blocks D0 x4
and W100 x8, bit blocks M0 x2, M128 x2 and B100 x3); the 4E rows are the
manual's D100 x10 batch read with serial number 1234H. Expected bytes are
written field by field from the manual's layout, not produced by the codec.
"""

from __future__ import annotations

import pytest

from common.mc import errors
from common.mc.commands import BatchRead, Codec, DevicePoint
from common.mc.devices import DEVICES
from common.mc.frames import Encoding, Frame, ReplySplitter, reply_size
from common.mc.multiblock import MAX_BLOCKS, Block, MultiBlockRead
from common.mc.udp import DatagramMatcher


def p(name: str, number: int) -> DevicePoint:
    return DevicePoint(DEVICES[name], number)


MANUAL_BLOCKS = MultiBlockRead((Block(p("D", 0), 4), Block(p("W", 0x100), 8)),
                               (Block(p("M", 0), 2), Block(p("M", 128), 2), Block(p("B", 0x100), 3)))
E4_BINARY = Codec(Encoding.BINARY, frame=Frame.E4)
E4_ASCII = Codec(Encoding.ASCII, frame=Frame.E4)

REQUESTS = [
    (Codec(Encoding.BINARY), MANUAL_BLOCKS, 0, bytes.fromhex(
        "500000FFFF0300" "2600" "1000" "0604" "0000" "0203" "000000A80400" "000100B40800" "000000900200"
        "800000900200" "000100A00300")),
    (Codec(Encoding.ASCII), MANUAL_BLOCKS, 0,
     b"500000FF03FF00" b"004C" b"0010" b"0406" b"0000" b"0203" b"D*0000000004" b"W*0001000008" b"M*0000000002"
     b"M*0001280002" b"B*0001000003"),
    (E4_BINARY, BatchRead(p("D", 100), 10), 0x1234,
     bytes.fromhex("5400" "3412" "0000" "00FFFF0300" "0C00" "1000" "0104" "0000" "640000A8" "0A00")),
    (E4_ASCII, BatchRead(p("D", 100), 10), 0x1234,
     b"5400" b"1234" b"0000" b"00FF03FF00" b"0018" b"0010" b"0401" b"0000" b"D*000100" b"000A"),
    (E4_BINARY, MANUAL_BLOCKS, 0xFFFF, bytes.fromhex(
        "5400FFFF0000" "00FFFF0300" "2600" "1000" "0604" "0000" "0203" "000000A80400" "000100B40800" "000000900200"
        "800000900200" "000100A00300")),
]


@pytest.mark.parametrize(("codec", "request_", "serial", "wire"), REQUESTS, ids=range(len(REQUESTS)))
def test_request_bytes(codec: Codec, request_: object, serial: int, wire: bytes) -> None:
    assert codec.encode(request_, serial) == wire  # type: ignore[arg-type]


WORDS = list(range(0x1000, 0x1000 + 19))
REPLIES = [
    (Codec(Encoding.BINARY), MANUAL_BLOCKS, 0,
     bytes.fromhex("D00000FFFF0300" "2800" "0000") + b"".join(w.to_bytes(2, "little") for w in WORDS), WORDS),
    (Codec(Encoding.ASCII), MANUAL_BLOCKS, 0,
     b"D00000FF03FF00" b"0050" b"0000" + b"".join(f"{w:04X}".encode() for w in WORDS), WORDS),
    (E4_BINARY, BatchRead(p("D", 100), 2), 0x1234,
     bytes.fromhex("D400" "3412" "0000" "00FFFF0300" "0600" "0000" "9519" "0212"), [0x1995, 0x1202]),
    (E4_ASCII, BatchRead(p("D", 100), 2), 0x1234,
     b"D400" b"1234" b"0000" b"00FF03FF00" b"000C" b"0000" b"1995" b"1202", [0x1995, 0x1202]),
]


@pytest.mark.parametrize(("codec", "request_", "serial", "wire", "values"), REPLIES, ids=range(len(REPLIES)))
def test_reply_bytes(codec: Codec, request_: object, serial: int, wire: bytes, values: list[int]) -> None:
    assert reply_size(wire, codec.encoding, codec.frame) == len(wire)
    assert codec.decode(request_, wire, serial) == values  # type: ignore[arg-type]
    splitter = ReplySplitter(codec.encoding, codec.frame)
    assert splitter.feed(wire[:7]) == [] and splitter.feed(wire[7:] + wire) == [wire, wire]


@pytest.mark.parametrize("codec", [E4_BINARY, E4_ASCII], ids=["binary", "ascii"])
def test_a_4e_reply_with_another_serial_is_refused(codec: Codec) -> None:
    wire = REPLIES[2][3] if codec is E4_BINARY else REPLIES[3][3]
    with pytest.raises(errors.SerialMismatchError, match="serial 4660 is not the request's 4661"):
        codec.decode(BatchRead(p("D", 100), 2), wire, 0x1235)


def test_a_3e_reply_is_not_a_4e_reply() -> None:
    with pytest.raises(errors.FrameError):
        reply_size(bytes.fromhex("D00000FFFF03000400000001"), Encoding.BINARY, Frame.E4)


@pytest.mark.parametrize(("blocks", "message"), [
    (MultiBlockRead(tuple(Block(p("D", 2 * k), 1) for k in range(MAX_BLOCKS + 1))), "1 to 120 blocks"),
    (MultiBlockRead((Block(p("D", 0), 900), Block(p("W", 0), 61))), "1 to 960 points"),
    (MultiBlockRead((Block(p("M", 0), 1),)), "word blocks name word devices"),
    (MultiBlockRead(()), "1 to 120 blocks"),
])
def test_multi_block_limits_are_local_errors(blocks: MultiBlockRead, message: str) -> None:
    with pytest.raises(errors.McLocalError, match=message):
        Codec(Encoding.BINARY).encode(blocks)


def test_multi_block_at_the_manual_limits_encodes() -> None:
    blocks = MultiBlockRead(tuple(Block(p("D", 10 * k), 8) for k in range(MAX_BLOCKS)))
    assert blocks.points == 960 and len(Codec(Encoding.BINARY).encode(blocks)) == 15 + 2 + 120 * 6


def test_echo_data_is_what_the_manual_allows() -> None:
    from common.mc.commands import Echo

    assert set(Echo().data) <= set(b"0123456789ABCDEF")
    with pytest.raises(errors.McLocalError, match="0-9 and A-F"):
        Codec(Encoding.ASCII).encode(Echo(b"KEEPALIVE"))


# -- UDP: one frame per datagram; which datagram answers the request outstanding ----------------

def reply_4e(serial: int, word: int) -> bytes:
    return (bytes.fromhex("D400") + serial.to_bytes(2, "little") + bytes.fromhex("0000" "00FFFF0300" "0400" "0000")
            + word.to_bytes(2, "little"))


def test_udp_4e_datagram_matching_by_serial() -> None:
    matcher = DatagramMatcher(E4_BINARY)
    first = matcher.encode(BatchRead(p("D", 0), 1))
    assert first[2:4] == bytes.fromhex("0100")  # serial 1
    second = matcher.encode(BatchRead(p("D", 1), 1))
    assert second[2:4] == bytes.fromhex("0200")
    assert not matcher.answers(reply_4e(1, 111))  # the first request's late reply
    assert matcher.answers(reply_4e(2, 222))
    assert not matcher.answers(reply_4e(2, 222)[:-1])  # a truncated datagram
    assert not matcher.answers(reply_4e(2, 222) * 2)  # two frames in one datagram
    assert not matcher.replace_socket_after_timeout


def test_udp_3e_has_no_serial_so_a_timeout_replaces_the_socket() -> None:
    matcher = DatagramMatcher(Codec(Encoding.BINARY))
    wire = matcher.encode(BatchRead(p("D", 0), 1))
    assert wire[:2] == bytes.fromhex("5000")
    assert matcher.answers(bytes.fromhex("D00000FFFF0300" "0400" "0000" "6F00"))
    assert matcher.replace_socket_after_timeout


def test_serials_wrap_after_ffff() -> None:
    matcher = DatagramMatcher(E4_ASCII)
    matcher.serial = 0xFFFF
    assert matcher.encode(BatchRead(p("D", 0), 1))[4:8] == b"0000"
