"""Byte tables for the 3E codec, ASCII and binary.

The D100 x10 word read is the reference manual's worked example in both
encodings; the other rows follow the same layout field by field.
"""

from __future__ import annotations

import pytest

from common.mc import errors
from common.mc.commands import (
    BatchRead,
    BatchWrite,
    Codec,
    DevicePoint,
    Echo,
    RandomRead,
)
from common.mc.devices import DEVICES, Unit
from common.mc.frames import Encoding, Route, reply_size

ASCII = Codec(Encoding.ASCII)
ASCII_DEC = Codec(Encoding.ASCII, ascii_hex_numbers=False)
BINARY = Codec(Encoding.BINARY)


def p(name: str, number: int) -> DevicePoint:
    return DevicePoint(DEVICES[name], number)


REQUESTS = [
    # (codec, request, exact bytes)
    (ASCII, BatchRead(p("D", 100), 10), b"500000FF03FF000018001004010000D*000100000A"),
    (BINARY, BatchRead(p("D", 100), 10), bytes.fromhex("500000FFFF03000C00100001040000640000A80A00")),
    (ASCII, BatchRead(p("M", 100), 8, Unit.BIT), b"500000FF03FF000018001004010001M*0001000008"),
    (BINARY, BatchRead(p("M", 100), 8, Unit.BIT), bytes.fromhex("500000FFFF03000C0010000104010064000090" + "0800")),
    (ASCII, BatchRead(p("W", 0x1A), 2), b"500000FF03FF000018001004010000W*00001A0002"),
    (ASCII_DEC, BatchRead(p("W", 0x1A), 2), b"500000FF03FF000018001004010000W*0000260002"),
    (BINARY, BatchRead(p("ZR", 0x1000), 1), bytes.fromhex("500000FFFF03000C00100001040000001000B00100")),
    (ASCII, BatchWrite(p("D", 100), (0x1995, 0x1202)), b"500000FF03FF000020001014010000D*00010000021995" + b"1202"),
    (BINARY, BatchWrite(p("D", 100), (0x1995, 0x1202)),
     bytes.fromhex("500000FFFF03001000100001140000640000A80200" + "95190212")),
    (ASCII, BatchWrite(p("M", 100), (1, 0, 1), Unit.BIT), b"500000FF03FF00001B001014010001M*0001000003101"),
    (BINARY, BatchWrite(p("M", 100), (1, 0, 1), Unit.BIT),
     bytes.fromhex("500000FFFF03000E001000011401006400009003001" + "010")),
    (ASCII, RandomRead((p("D", 0), p("M", 16)), (p("D", 1500),)),
     b"500000FF03FF00002800100403000002" + b"01D*000000M*000016D*001500"),
    (BINARY, RandomRead((p("D", 0), p("M", 16)), (p("D", 1500),)),
     bytes.fromhex("500000FFFF03001400100003040000" + "0201" + "000000A8" + "10000090" + "DC0500A8")),
    (ASCII, Echo(b"ABCDE"), b"500000FF03FF000015001006190000" + b"0005ABCDE"),
    (BINARY, Echo(b"ABCDE"), bytes.fromhex("500000FFFF03000D00100019060000" + "0500") + b"ABCDE"),
]


@pytest.mark.parametrize(("codec", "request_", "wire"), REQUESTS, ids=lambda v: str(v)[:40])
def test_request_bytes(codec: Codec, request_: object, wire: bytes) -> None:
    assert codec.encode(request_) == wire  # type: ignore[arg-type]


def ascii_reply(data: str, end_code: str = "0000") -> bytes:
    body = end_code + data
    return f"D00000FF03FF00{len(body):04X}{body}".encode()


def binary_reply(data: bytes, end_code: int = 0) -> bytes:
    body = end_code.to_bytes(2, "little") + data
    return bytes.fromhex("D00000FFFF0300") + len(body).to_bytes(2, "little") + body


REPLIES = [
    (ASCII, BatchRead(p("D", 100), 3), ascii_reply("1995120200FF"), [0x1995, 0x1202, 0x00FF]),
    (BINARY, BatchRead(p("D", 100), 3), binary_reply(bytes.fromhex("95190212FF00")), [0x1995, 0x1202, 0x00FF]),
    (ASCII, BatchRead(p("M", 100), 5, Unit.BIT), ascii_reply("10110"), [1, 0, 1, 1, 0]),
    (BINARY, BatchRead(p("M", 100), 5, Unit.BIT), binary_reply(bytes.fromhex("101100")), [1, 0, 1, 1, 0]),
    (ASCII, BatchWrite(p("D", 0), (1,)), ascii_reply(""), None),
    (BINARY, BatchWrite(p("D", 0), (1,)), binary_reply(b""), None),
    (ASCII, RandomRead((p("D", 0),), (p("D", 2),)), ascii_reply("0102" + "12345678"), [0x0102, 0x12345678]),
    (BINARY, RandomRead((p("D", 0),), (p("D", 2),)), binary_reply(bytes.fromhex("0201" + "78563412")),
     [0x0102, 0x12345678]),
    (ASCII, Echo(b"AB1"), ascii_reply("0003AB1"), b"AB1"),
    (BINARY, Echo(b"AB1"), binary_reply(bytes.fromhex("0300") + b"AB1"), b"AB1"),
]


@pytest.mark.parametrize(("codec", "request_", "wire", "values"), REPLIES, ids=lambda v: str(v)[:40])
def test_reply_decoding(codec: Codec, request_: object, wire: bytes, values: object) -> None:
    assert reply_size(wire, codec.encoding) == len(wire)
    assert codec.decode(request_, wire) == values  # type: ignore[arg-type]


def test_error_end_code_raises_its_registered_class() -> None:
    info = "00FF03FF00" + "0401" + "0000"
    with pytest.raises(errors.DeviceRangeError) as caught:
        ASCII.decode(BatchRead(p("D", 100), 3), ascii_reply(info, "C056"))
    assert caught.value.end_code == 0xC056 and "C056" in str(caught.value)
    assert type(caught.value).__name__ == "DeviceError_C056"
    with pytest.raises(errors.PlcEndCodeError) as unknown:
        BINARY.decode(BatchRead(p("D", 100), 3), binary_reply(bytes(9), 0x4FFF))
    assert unknown.value.end_code == 0x4FFF and type(unknown.value) is errors.PlcEndCodeError


@pytest.mark.parametrize(("code", "family"), [
    (0x4032, errors.DeviceSpecificationError),  # TS/TC/SS/SC/CS/CC in a random read
    (0x4031, errors.DeviceRangeError),
    (0xC0D8, errors.DeviceRangeError),  # too many blocks in a multi-block read
    (0xC059, errors.CommandNotSupportedError),
    (0xC05C, errors.PlcEndCodeError),
])
def test_manual_end_codes_have_their_class_and_meaning(code: int, family: type) -> None:
    error = errors.end_code_error(code, "D100")
    assert isinstance(error, family) and type(error) is not family
    assert error.end_code == code and type(error).__name__.endswith(f"_{code:04X}")
    assert f"{code:04X}H" in str(error) and error.meaning != errors.PlcEndCodeError.meaning


@pytest.mark.parametrize("encoding", list(Encoding))
def test_reply_size_needs_the_whole_header(encoding: Encoding) -> None:
    codec = Codec(encoding)
    wire = ascii_reply("0001") if encoding is Encoding.ASCII else binary_reply(b"\x01\x00")
    header = 9 * encoding.scale
    for cut in range(header):
        assert reply_size(wire[:cut], encoding) is None
    assert reply_size(wire[:header], encoding) == len(wire)
    assert codec.decode(BatchRead(p("D", 0), 1), wire) == [1]


@pytest.mark.parametrize(("codec", "wire"), [
    (ASCII, b"XYZ000FF03FF000004"),
    (BINARY, b"\x50\x00\x00\xff\xff\x03\x00\x02\x00"),  # a request subheader where a reply belongs
])
def test_garbage_is_a_frame_error_at_once(codec: Codec, wire: bytes) -> None:
    with pytest.raises(errors.FrameError):
        reply_size(wire, codec.encoding)


def test_reply_that_does_not_match_the_request() -> None:
    # two words answered to a three-word read
    with pytest.raises(errors.FrameError):
        BINARY.decode(BatchRead(p("D", 100), 3), binary_reply(bytes(4)))
    # another station's reply
    other = Codec(Encoding.BINARY, route=Route(station=1))
    with pytest.raises(errors.FrameError):
        other.decode(BatchRead(p("D", 100), 1), binary_reply(bytes(2)))
    # length field longer than the frame
    wire = binary_reply(bytes(2))
    with pytest.raises(errors.FrameError):
        BINARY.decode(BatchRead(p("D", 100), 1), wire[:-1])
    # an ASCII bit reply with a character other than 0/1
    with pytest.raises(errors.FrameError):
        ASCII.decode(BatchRead(p("M", 0), 2, Unit.BIT), ascii_reply("12"))


def test_local_errors_before_anything_is_sent() -> None:
    with pytest.raises(errors.RequestTooLargeError):
        BINARY.encode(BatchRead(p("D", 0), 961))
    with pytest.raises(errors.RequestTooLargeError):
        ASCII.encode(BatchRead(p("M", 0), 3585, Unit.BIT))
    BINARY.encode(BatchRead(p("M", 0), 7168, Unit.BIT))
    with pytest.raises(errors.RequestTooLargeError):
        BINARY.encode(RandomRead(tuple(p("D", i) for i in range(193))))
    with pytest.raises(errors.McLocalError):
        BINARY.encode(BatchRead(p("SD", 2048), 1))
    with pytest.raises(errors.McLocalError):
        BINARY.encode(BatchWrite(p("D", 0), (70000,)))
    with pytest.raises(errors.McLocalError):
        BINARY.encode(BatchWrite(p("M", 0), (2,), Unit.BIT))
    with pytest.raises(errors.McLocalError):
        BINARY.encode(Echo(b"no spaces"))


@pytest.mark.parametrize("encoding", list(Encoding))
def test_splitter_handles_frames_split_anywhere_and_several_in_one_read(encoding: Encoding) -> None:
    from common.mc.frames import ReplySplitter

    one = ascii_reply("0001") if encoding is Encoding.ASCII else binary_reply(b"\x01\x00")
    two = ascii_reply("00020003") if encoding is Encoding.ASCII else binary_reply(b"\x02\x00\x03\x00")
    stream = one + two
    for cut in range(1, len(stream)):
        splitter = ReplySplitter(encoding)
        frames = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
        assert frames == [one, two]
        assert splitter.pending == 0
    splitter = ReplySplitter(encoding)
    for byte in stream:
        splitter.feed(bytes([byte]))
    splitter = ReplySplitter(encoding)
    assert splitter.feed(one[:-1]) == [] and splitter.pending == len(one) - 1


def test_an_end_code_has_one_class_made_at_its_first_error() -> None:
    first, again = errors.end_code_error(0xC056, "a"), errors.end_code_error(0xC056, "b")
    assert type(first) is type(again) and isinstance(first, errors.DeviceRangeError)
    assert type(first).__name__ == "DeviceError_C056" and type(first).__module__ == "common.mc.errors"
    assert errors.end_code_class(0x4FFF) is errors.PlcEndCodeError
