"""3E and 4E frame layouts: the header both encodings share, with no sockets in it.

Request (binary sizes in bytes; ASCII writes every field as upper-case hex
digits, two characters a byte, most significant digit first)::

    [ subheader 50 00 ][ network 1 ][ pc 1 ][ io 2 ][ station 1 ][ length 2 ]
    [ timer 2 ][ command 2 ][ subcommand 2 ][ data ... ]
                 '-- length counts from the timer to the end --'

Reply::

    [ subheader D0 00 ][ network 1 ][ pc 1 ][ io 2 ][ station 1 ][ length 2 ]
    [ end code 2 ][ data ... | error information 9: network pc io station command subcommand ]

Binary numbers are little-endian; the ASCII subheader is the text ``5000`` /
``D000``. The monitoring timer is in units of 250 ms (0 waits forever).

A 4E frame is the 3E frame with a serial number between the subheader and
the route, which the reply carries back, so a late reply is told from the
answer to the request now outstanding::

    [ subheader 54 00 ][ serial 2 ][ 00 00 ][ network 1 ][ pc 1 ][ io 2 ][ station 1 ][ length 2 ] ...
    [ subheader D4 00 ][ serial 2 ][ 00 00 ][ network 1 ][ pc 1 ][ io 2 ][ station 1 ][ length 2 ] ...

The serial is a number like any other field (binary little-endian, ASCII four
hex digits); the subheader is written high byte first in both encodings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from common.mc.errors import FrameError


class Encoding(Enum):
    ASCII = "ascii"
    BINARY = "binary"

    @property
    def scale(self) -> int:
        """Characters on the wire per byte of the binary form."""
        return 2 if self is Encoding.ASCII else 1

    def number(self, value: int, size: int) -> bytes:
        """A fixed-width unsigned field of ``size`` binary bytes."""
        if self is Encoding.ASCII:
            return f"{value:0{size * 2}X}".encode("ascii")
        return value.to_bytes(size, "little")

    def read_number(self, data: bytes | bytearray | memoryview, offset: int, size: int) -> int:
        width = size * self.scale
        chunk = bytes(data[offset : offset + width])
        if len(chunk) != width:
            raise FrameError(f"short field at offset {offset}: {len(chunk)} of {width} bytes")
        if self is Encoding.ASCII:
            try:
                return int(chunk, 16)
            except ValueError:
                raise FrameError(f"not hexadecimal at offset {offset}: {chunk!r}") from None
        return int.from_bytes(chunk, "little")


@dataclass(frozen=True)
class Route:
    """Where the request goes: the defaults address the connected station itself."""

    network: int = 0x00
    pc: int = 0xFF
    io: int = 0x03FF
    station: int = 0x00

    def encode(self, encoding: Encoding) -> bytes:
        n = encoding.number
        return n(self.network, 1) + n(self.pc, 1) + n(self.io, 2) + n(self.station, 1)


class Frame(Enum):
    """The frame type: 3E, or 4E with a serial number in every request and its reply."""

    E3 = "3E"
    E4 = "4E"

    @property
    def request_subheader(self) -> int:
        return 0x5000 if self is Frame.E3 else 0x5400

    @property
    def reply_subheader(self) -> int:
        return 0xD000 if self is Frame.E3 else 0xD400

    @property
    def serial_bytes(self) -> int:
        """Binary bytes between the subheader and the route: serial 2 + fixed 00 00."""
        return 0 if self is Frame.E3 else 4


REQUEST_SUBHEADER = 0x5000
REPLY_SUBHEADER = 0xD000
#: subheader 2 + route 5 + length 2, in binary bytes (3E; a 4E header has 4 more).
HEADER_BYTES = 9
#: Serial numbers of 4E requests run 0..MAX_SERIAL and wrap.
MAX_SERIAL = 0xFFFF


def _subheader(value: int, encoding: Encoding) -> bytes:
    # The subheader is written high byte first in both encodings (50 00 / "5000").
    return value.to_bytes(2, "big") if encoding is Encoding.BINARY else f"{value:04X}".encode()


def encode_frame(
    encoding: Encoding, route: Route, timer: int, command: int, subcommand: int, data: bytes,
    frame: Frame = Frame.E3, serial: int = 0,
) -> bytes:
    n = encoding.number
    body = n(timer, 2) + n(command, 2) + n(subcommand, 2) + data
    head = _subheader(frame.request_subheader, encoding)
    if frame is Frame.E4:
        if not 0 <= serial <= MAX_SERIAL:
            raise ValueError(f"4E serial number {serial} out of 0..{MAX_SERIAL}")
        head += n(serial, 2) + n(0, 2)
    return head + route.encode(encoding) + n(len(body), 2) + body


def reply_size(buffer: bytes | bytearray | memoryview, encoding: Encoding, frame: Frame = Frame.E3) -> int | None:
    """Size of the reply frame at the start of ``buffer``; None while its header is incomplete.

    Raises FrameError at once when the bytes cannot start a reply of this
    frame type, so a connection that returned garbage is closed instead of
    read forever.
    """
    header = (HEADER_BYTES + frame.serial_bytes) * encoding.scale
    head = bytes(buffer[: 2 * encoding.scale])
    expected = _subheader(frame.reply_subheader, encoding)
    if not expected.startswith(head[: len(expected)]):
        raise FrameError(f"not a {frame.value} {encoding.value} reply: starts with {head!r}")
    if len(buffer) < header:
        return None
    length = encoding.read_number(buffer, header - 2 * encoding.scale, 2)
    return header + length


@dataclass(frozen=True)
class ReplyFrame:
    """A reply split into its parts; ``data`` excludes the end code; ``serial`` is 0 in 3E."""

    route: Route
    end_code: int
    data: bytes
    serial: int = 0


def decode_reply_frame(data: bytes, encoding: Encoding, frame: Frame = Frame.E3) -> ReplyFrame:
    size = reply_size(data, encoding, frame)
    if size is None or size != len(data):
        raise FrameError(f"reply length field says {size}, frame has {len(data)} bytes")
    s = encoding.scale
    rn = encoding.read_number
    serial = rn(data, 2 * s, 2) if frame is Frame.E4 else 0
    r = (2 + frame.serial_bytes) * s  # where the route starts
    route = Route(rn(data, r, 1), rn(data, r + s, 1), rn(data, r + 2 * s, 2), rn(data, r + 4 * s, 1))
    header = HEADER_BYTES + frame.serial_bytes
    if len(data) < (header + 2) * s:
        raise FrameError("reply too short to hold an end code")
    end_code = rn(data, header * s, 2)
    return ReplyFrame(route, end_code, data[(header + 2) * s :], serial)


class ReplySplitter:
    """Cuts a byte stream into whole reply frames: bytes in, frames out.

    A frame split across reads waits for its rest; several frames in one read
    come out one by one; bytes that cannot start a reply raise FrameError.
    """

    def __init__(self, encoding: Encoding, frame: Frame = Frame.E3) -> None:
        self.encoding = encoding
        self.frame = frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while self._buffer:
            size = reply_size(self._buffer, self.encoding, self.frame)
            if size is None or len(self._buffer) < size:
                break
            frames.append(bytes(self._buffer[:size]))
            del self._buffer[:size]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still waiting for the rest."""
        return len(self._buffer)

    def clear(self) -> None:
        self._buffer.clear()
