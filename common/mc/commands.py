"""MC commands: requests as frozen dataclasses, their data fields, their replies.

Strategy: one class per command (pymodbus's one class per function code,
without futures or retries on it): a request carries its command and
subcommand, writes its own data field and reads the values in its reply
(``McRequest``); ``Codec`` (below) adds the 3E or 4E frame around the data
field and checks the reply against the request -- subheader, serial number
(4E), route, length, end code -- before the request decodes the values. The
0406 multi-block read is such a class in multiblock.py. Nothing here touches
a socket or a clock.

Device descriptor in the data field::

    binary: [ number 3, little-endian ][ device code 1 ]
    ASCII : [ device code 2 chars, e.g. "D*" ][ number 6 chars ]

The reference manual writes the ASCII number in hexadecimal for hexadecimal
devices (X, Y, B, W, ...); some peers, virtual-plc and pymcprotocol among
them, write it in decimal for every device. ``Codec.ascii_hex_numbers``
chooses, so the choice is explicit per connection; likewise
``Codec.ascii_dwords_low_first`` for virtual-plc's random-read double words,
which it sends low word first in ASCII where the manual says high word first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from common.mc.data_field import pack_bits, unpack_bits, unpack_numbers
from common.mc.devices import DevicePoint, Unit
from common.mc.errors import (
    FrameError,
    McLocalError,
    RequestTooLargeError,
    SerialMismatchError,
    end_code_error,
)
from common.mc.frames import Encoding, Frame, Route, decode_reply_frame, encode_frame

#: Points per request, from the reference manual (QnA-compatible 3E frame, Q series).
MAX_WORD_POINTS = 960
MAX_BIT_POINTS = {Encoding.BINARY: 7168, Encoding.ASCII: 3584}
MAX_RANDOM_POINTS = 192
ECHO_MAX_BYTES = 960

SUB_WORD = 0x0000
DEFAULT_ROUTE = Route()
SUB_BIT = 0x0001


class FieldCodec(Protocol):
    """What a request needs of the codec to write and read its data field."""

    @property
    def encoding(self) -> Encoding: ...

    @property
    def ascii_dwords_low_first(self) -> bool: ...

    def descriptor(self, point: DevicePoint) -> bytes: ...


class McRequest(Protocol):
    """One MC command: its command and subcommand, its data field, and the values in its reply.

    A new command is one class with these (multiblock.py's 0406 is one); the
    codec adds the frame around the data field and checks the reply's header
    and end code before the request reads its data. ``rereadable``: sending it
    again changes nothing in the PLC, so the client may resend it once on a
    fresh connection when the PLC had closed the idle one.
    """

    @property
    def command(self) -> int: ...

    @property
    def subcommand(self) -> int: ...

    @property
    def rereadable(self) -> bool: ...

    def encode_body(self, codec: FieldCodec) -> bytes: ...

    def decode_reply(self, data: bytes, codec: FieldCodec) -> ReplyValues: ...


def _check_points(count: int, unit: Unit, encoding: Encoding, what: str) -> None:
    limit = MAX_BIT_POINTS[encoding] if unit is Unit.BIT else MAX_WORD_POINTS
    if not 1 <= count <= limit:
        raise RequestTooLargeError(f"{what}: {count} points, one request takes 1 to {limit}")


@dataclass(frozen=True)
class BatchRead:
    """0401: ``points`` consecutive words (or bits) from ``head``."""

    head: DevicePoint
    points: int
    unit: Unit = Unit.WORD
    command: int = field(default=0x0401, init=False)
    rereadable: bool = field(default=True, init=False)

    def __str__(self) -> str:
        return f"batch read {self.head} x{self.points} {self.unit.value}s"

    @property
    def subcommand(self) -> int:
        return SUB_BIT if self.unit is Unit.BIT else SUB_WORD

    def encode_body(self, codec: FieldCodec) -> bytes:
        _check_points(self.points, self.unit, codec.encoding, str(self))
        return codec.descriptor(self.head) + codec.encoding.number(self.points, 2)

    def decode_reply(self, data: bytes, codec: FieldCodec) -> ReplyValues:
        if self.unit is Unit.BIT:
            return unpack_bits(data, self.points, codec.encoding)
        return unpack_numbers(data, [2] * self.points, codec.encoding, str(self))


@dataclass(frozen=True)
class BatchWrite:
    """1401: write consecutive words (or bits, 0/1) from ``head``."""

    head: DevicePoint
    values: tuple[int, ...]
    unit: Unit = Unit.WORD
    command: int = field(default=0x1401, init=False)
    rereadable: bool = field(default=False, init=False)

    def __str__(self) -> str:
        return f"batch write {self.head} x{len(self.values)} {self.unit.value}s"

    @property
    def subcommand(self) -> int:
        return SUB_BIT if self.unit is Unit.BIT else SUB_WORD

    def encode_body(self, codec: FieldCodec) -> bytes:
        n, count = codec.encoding.number, len(self.values)
        _check_points(count, self.unit, codec.encoding, str(self))
        out = codec.descriptor(self.head) + n(count, 2)
        if self.unit is Unit.BIT:
            if any(v not in (0, 1) for v in self.values):
                raise McLocalError(f"{self}: bit values must be 0 or 1")
            return out + pack_bits(self.values, codec.encoding)
        if any(not 0 <= v <= 0xFFFF for v in self.values):
            raise McLocalError(f"{self}: word values must be 0..65535 (unsigned)")
        return out + b"".join(n(v, 2) for v in self.values)

    def decode_reply(self, data: bytes, codec: FieldCodec) -> ReplyValues:
        if data:
            raise FrameError(f"{self}: reply carries {len(data)} unexpected bytes")
        return None


@dataclass(frozen=True)
class RandomRead:
    """0403: scattered words, then scattered double words (a double word is two words)."""

    words: tuple[DevicePoint, ...]
    dwords: tuple[DevicePoint, ...] = ()
    command: int = field(default=0x0403, init=False)
    subcommand: int = field(default=0x0000, init=False)
    rereadable: bool = field(default=True, init=False)

    def __str__(self) -> str:
        return f"random read {len(self.words)} words + {len(self.dwords)} dwords"

    def encode_body(self, codec: FieldCodec) -> bytes:
        total = len(self.words) + len(self.dwords)
        if not 1 <= total <= MAX_RANDOM_POINTS:
            raise RequestTooLargeError(f"{self}: one random read takes 1 to {MAX_RANDOM_POINTS} points")
        n = codec.encoding.number
        return n(len(self.words), 1) + n(len(self.dwords), 1) + b"".join(
            codec.descriptor(p) for p in (*self.words, *self.dwords))

    def decode_reply(self, data: bytes, codec: FieldCodec) -> ReplyValues:
        sizes = [2] * len(self.words) + [4] * len(self.dwords)
        values = unpack_numbers(data, sizes, codec.encoding, str(self))
        if codec.ascii_dwords_low_first and codec.encoding is Encoding.ASCII:
            n = len(self.words)
            values[n:] = [(v & 0xFFFF) << 16 | v >> 16 for v in values[n:]]
        return values


#: Loopback data may only hold these characters (the manual: "0" to "9", "A" to "F").
ECHO_CHARACTERS = frozenset(b"0123456789ABCDEF")


@dataclass(frozen=True)
class Echo:
    """0619 loopback: the PLC returns ``data`` (0-9, A-F, as the manual allows); used as keep-alive."""

    data: bytes = b"0123456789ABCDEF"
    command: int = field(default=0x0619, init=False)
    subcommand: int = field(default=0x0000, init=False)
    rereadable: bool = field(default=True, init=False)

    def __str__(self) -> str:
        return "echo"

    def encode_body(self, codec: FieldCodec) -> bytes:
        if not (0 < len(self.data) <= ECHO_MAX_BYTES and set(self.data) <= ECHO_CHARACTERS):
            raise McLocalError("echo data must be 1 to 960 characters of 0-9 and A-F")
        return codec.encoding.number(len(self.data), 2) + self.data

    def decode_reply(self, data: bytes, codec: FieldCodec) -> ReplyValues:
        enc = codec.encoding
        length = enc.read_number(data, 0, 2) if data else -1
        echoed = data[2 * enc.scale :]
        if length != len(self.data) or echoed != self.data:
            raise FrameError("echo reply does not return the data sent")
        return bytes(echoed)


#: Every request this codec speaks; a new command is a class of the McRequest protocol.
Request = McRequest
#: Reply values: words or bits for reads (random read: words then dwords), None for writes, bytes for echo.
ReplyValues = list[int] | None | bytes


@dataclass(frozen=True)
class Codec:
    """Encodes requests and decodes their replies for one encoding and route."""

    encoding: Encoding = Encoding.ASCII
    route: Route = DEFAULT_ROUTE
    timer: int = 0x0010  # x 250 ms = 4 s; the PLC gives up on the route after this
    ascii_hex_numbers: bool = True
    #: virtual-plc's ASCII deviation: a random read's double words come low word first.
    ascii_dwords_low_first: bool = False
    frame: Frame = Frame.E3

    # -- requests ------------------------------------------------------------
    def encode(self, request: McRequest, serial: int = 0) -> bytes:
        """The whole request frame; raises McLocalError if the protocol can't say it.

        ``serial`` goes into a 4E frame (3E has no field for it).
        """
        return encode_frame(self.encoding, self.route, self.timer, request.command, request.subcommand,
                            request.encode_body(self), self.frame, serial)

    def descriptor(self, point: DevicePoint) -> bytes:
        """A device point in the data field (see the module's docstring)."""
        device, number = point.device, point.number
        if not 0 <= number <= device.maximum:
            raise McLocalError(f"{point}: out of the device's range")
        if self.encoding is Encoding.BINARY:
            return number.to_bytes(3, "little") + bytes([device.binary_code])
        text = f"{number:06X}" if (device.hexadecimal and self.ascii_hex_numbers) else f"{number:06d}"
        if len(text) > 6:
            raise McLocalError(f"{point}: number does not fit the 6-character ASCII field")
        return device.ascii_code + text.encode("ascii")

    # -- replies -------------------------------------------------------------
    def decode(self, request: McRequest, frame: bytes, serial: int = 0) -> ReplyValues:
        """Check a whole reply frame against ``request`` and return its values.

        Raises FrameError for a reply that is not the answer to this request
        (SerialMismatchError for a 4E reply carrying another serial number) and
        the end code's own PlcEndCodeError subclass for an error end code.
        """
        reply = decode_reply_frame(frame, self.encoding, self.frame)
        if self.frame is Frame.E4 and reply.serial != serial:
            raise SerialMismatchError(f"reply serial {reply.serial} is not the request's {serial}")
        if reply.route != self.route:
            raise FrameError(f"reply route {reply.route} does not match the request's {self.route}")
        if reply.end_code != 0:
            raise end_code_error(reply.end_code, str(request))
        return request.decode_reply(reply.data, self)
