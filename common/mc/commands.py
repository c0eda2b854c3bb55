"""MC commands: requests as frozen dataclasses, their data fields, their replies.

Strategy: a request knows how to write its own data field and how many data
bytes its reply must carry; ``Codec`` (below) adds the 3E or 4E frame around
it and checks the reply against the request -- subheader, serial number (4E),
route, length, end code -- before the request decodes the values. The 0406
multi-block read carries all of that itself (multiblock.py), the model for
new commands. Nothing here touches a socket or a
clock.

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

import struct
from dataclasses import dataclass, field

from common.mc.devices import DevicePoint, Unit
from common.mc.errors import (
    FrameError,
    McLocalError,
    RequestTooLargeError,
    SerialMismatchError,
    end_code_error,
)
from common.mc.frames import Encoding, Frame, Route, decode_reply_frame, encode_frame
from common.mc.multiblock import MultiBlockRead

#: Points per request, from the reference manual (QnA-compatible 3E frame, Q series).
MAX_WORD_POINTS = 960
MAX_BIT_POINTS = {Encoding.BINARY: 7168, Encoding.ASCII: 3584}
MAX_RANDOM_POINTS = 192
ECHO_MAX_BYTES = 960

SUB_WORD = 0x0000
DEFAULT_ROUTE = Route()
SUB_BIT = 0x0001


@dataclass(frozen=True)
class BatchRead:
    """0401: ``points`` consecutive words (or bits) from ``head``."""

    head: DevicePoint
    points: int
    unit: Unit = Unit.WORD
    command: int = field(default=0x0401, init=False)

    def __str__(self) -> str:
        return f"batch read {self.head} x{self.points} {self.unit.value}s"


@dataclass(frozen=True)
class BatchWrite:
    """1401: write consecutive words (or bits, 0/1) from ``head``."""

    head: DevicePoint
    values: tuple[int, ...]
    unit: Unit = Unit.WORD
    command: int = field(default=0x1401, init=False)

    def __str__(self) -> str:
        return f"batch write {self.head} x{len(self.values)} {self.unit.value}s"


@dataclass(frozen=True)
class RandomRead:
    """0403: scattered words, then scattered double words (a double word is two words)."""

    words: tuple[DevicePoint, ...]
    dwords: tuple[DevicePoint, ...] = ()
    command: int = field(default=0x0403, init=False)

    def __str__(self) -> str:
        return f"random read {len(self.words)} words + {len(self.dwords)} dwords"


#: Loopback data may only hold these characters (the manual: "0" to "9", "A" to "F").
ECHO_CHARACTERS = frozenset(b"0123456789ABCDEF")


@dataclass(frozen=True)
class Echo:
    """0619 loopback: the PLC returns ``data`` (0-9, A-F, as the manual allows); used as keep-alive."""

    data: bytes = b"0123456789ABCDEF"
    command: int = field(default=0x0619, init=False)

    def __str__(self) -> str:
        return "echo"


Request = BatchRead | BatchWrite | RandomRead | Echo | MultiBlockRead
#: Reply values: words or bits for reads (random read: words then dwords), None for writes, bytes for echo.
ReplyValues = list[int] | None | bytes


def _subcommand(request: Request) -> int:
    if isinstance(request, BatchRead | BatchWrite):
        return SUB_BIT if request.unit is Unit.BIT else SUB_WORD
    if isinstance(request, MultiBlockRead):
        return request.subcommand
    return 0x0000


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
    def encode(self, request: Request, serial: int = 0) -> bytes:
        """The whole request frame; raises McLocalError if the protocol can't say it.

        ``serial`` goes into a 4E frame (3E has no field for it).
        """
        return encode_frame(
            self.encoding, self.route, self.timer, request.command, _subcommand(request), self._data(request),
            self.frame, serial,
        )

    def _descriptor(self, point: DevicePoint) -> bytes:
        device, number = point.device, point.number
        if not 0 <= number <= device.maximum:
            raise McLocalError(f"{point}: out of the device's range")
        if self.encoding is Encoding.BINARY:
            return number.to_bytes(3, "little") + bytes([device.binary_code])
        text = f"{number:06X}" if (device.hexadecimal and self.ascii_hex_numbers) else f"{number:06d}"
        if len(text) > 6:
            raise McLocalError(f"{point}: number does not fit the 6-character ASCII field")
        return device.ascii_code + text.encode("ascii")

    def _check_points(self, count: int, unit: Unit, what: str) -> None:
        limit = MAX_BIT_POINTS[self.encoding] if unit is Unit.BIT else MAX_WORD_POINTS
        if not 1 <= count <= limit:
            raise RequestTooLargeError(f"{what}: {count} points, one request takes 1 to {limit}")

    def _data(self, request: Request) -> bytes:
        n = self.encoding.number
        if isinstance(request, BatchRead):
            self._check_points(request.points, request.unit, str(request))
            return self._descriptor(request.head) + n(request.points, 2)
        if isinstance(request, BatchWrite):
            count = len(request.values)
            self._check_points(count, request.unit, str(request))
            out = self._descriptor(request.head) + n(count, 2)
            if request.unit is Unit.BIT:
                if any(v not in (0, 1) for v in request.values):
                    raise McLocalError(f"{request}: bit values must be 0 or 1")
                return out + _pack_bits(request.values, self.encoding)
            if any(not 0 <= v <= 0xFFFF for v in request.values):
                raise McLocalError(f"{request}: word values must be 0..65535 (unsigned)")
            return out + b"".join(n(v, 2) for v in request.values)
        if isinstance(request, RandomRead):
            total = len(request.words) + len(request.dwords)
            if not 1 <= total <= MAX_RANDOM_POINTS:
                raise RequestTooLargeError(f"{request}: one random read takes 1 to {MAX_RANDOM_POINTS} points")
            return (
                n(len(request.words), 1)
                + n(len(request.dwords), 1)
                + b"".join(self._descriptor(p) for p in (*request.words, *request.dwords))
            )
        if isinstance(request, MultiBlockRead):
            return request.encode_body(self.encoding, self._descriptor)
        if not (0 < len(request.data) <= ECHO_MAX_BYTES and set(request.data) <= ECHO_CHARACTERS):
            raise McLocalError("echo data must be 1 to 960 characters of 0-9 and A-F")
        return n(len(request.data), 2) + request.data

    # -- replies -------------------------------------------------------------
    def decode(self, request: Request, frame: bytes, serial: int = 0) -> ReplyValues:
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
        data = reply.data
        enc = self.encoding
        if isinstance(request, BatchRead):
            if request.unit is Unit.BIT:
                return _unpack_bits(data, request.points, enc)
            return _unpack_numbers(data, [2] * request.points, enc, str(request))
        if isinstance(request, BatchWrite):
            if data:
                raise FrameError(f"{request}: reply carries {len(data)} unexpected bytes")
            return None
        if isinstance(request, RandomRead):
            sizes = [2] * len(request.words) + [4] * len(request.dwords)
            values = _unpack_numbers(data, sizes, enc, str(request))
            if self.ascii_dwords_low_first and enc is Encoding.ASCII:
                n = len(request.words)
                values[n:] = [(v & 0xFFFF) << 16 | v >> 16 for v in values[n:]]
            return values
        if isinstance(request, MultiBlockRead):
            return request.decode_reply(data, enc)
        length = enc.read_number(data, 0, 2) if data else -1
        echoed = data[2 * enc.scale :]
        if length != len(request.data) or echoed != request.data:
            raise FrameError("echo reply does not return the data sent")
        return bytes(echoed)


def _pack_bits(values: tuple[int, ...], encoding: Encoding) -> bytes:
    if encoding is Encoding.ASCII:
        return bytes(48 + v for v in values)
    padded = list(values) + [0] * (len(values) % 2)
    return bytes(hi << 4 | lo for hi, lo in zip(padded[::2], padded[1::2], strict=True))


def _unpack_bits(data: bytes, count: int, encoding: Encoding) -> list[int]:
    if encoding is Encoding.ASCII:
        if len(data) != count or data.strip(b"01"):
            raise FrameError(f"bit reply: expected {count} characters of 0/1, got {data[:16]!r}")
        return [c - 48 for c in data]
    if len(data) != (count + 1) // 2:
        raise FrameError(f"bit reply: expected {(count + 1) // 2} bytes, got {len(data)}")
    bits = [nibble for byte in data for nibble in (byte >> 4, byte & 0x0F)][:count]
    if any(b > 1 for b in bits):
        raise FrameError("bit reply: a nibble other than 0 or 1")
    return bits


def _unpack_numbers(data: bytes, sizes: list[int], encoding: Encoding, what: str) -> list[int]:
    expected = sum(sizes) * encoding.scale
    if len(data) != expected:
        raise FrameError(f"{what}: reply carries {len(data)} data bytes, expected {expected}")
    if all(s == 2 for s in sizes):
        # The hot path of every poll cycle: one struct call, not a loop.
        if encoding is Encoding.BINARY:
            return list(struct.unpack(f"<{len(sizes)}H", data))
        try:
            return list(struct.unpack(f">{len(sizes)}H", bytes.fromhex(data.decode("ascii"))))
        except ValueError:
            raise FrameError(f"{what}: reply data is not hexadecimal") from None
    out: list[int] = []
    offset = 0
    for size in sizes:
        out.append(encoding.read_number(data, offset, size))
        offset += size * encoding.scale
    return out
