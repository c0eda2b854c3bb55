"""3E frame layout: the header both encodings share, with no sockets in it.

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


REQUEST_SUBHEADER = 0x5000
REPLY_SUBHEADER = 0xD000
#: subheader 2 + route 5 + length 2, in binary bytes.
HEADER_BYTES = 9


def _subheader(value: int, encoding: Encoding) -> bytes:
    # The subheader is written high byte first in both encodings (50 00 / "5000").
    return value.to_bytes(2, "big") if encoding is Encoding.BINARY else f"{value:04X}".encode()


def encode_frame(
    encoding: Encoding, route: Route, timer: int, command: int, subcommand: int, data: bytes
) -> bytes:
    n = encoding.number
    body = n(timer, 2) + n(command, 2) + n(subcommand, 2) + data
    return _subheader(REQUEST_SUBHEADER, encoding) + route.encode(encoding) + n(len(body), 2) + body


def reply_size(buffer: bytes | bytearray | memoryview, encoding: Encoding) -> int | None:
    """Size of the reply frame at the start of ``buffer``; None while its header is incomplete.

    Raises FrameError at once when the bytes cannot start a 3E reply, so a
    connection that returned garbage is closed instead of read forever.
    """
    header = HEADER_BYTES * encoding.scale
    head = bytes(buffer[: 2 * encoding.scale])
    expected = _subheader(REPLY_SUBHEADER, encoding)
    if not expected.startswith(head[: len(expected)]):
        raise FrameError(f"not a 3E {encoding.value} reply: starts with {head!r}")
    if len(buffer) < header:
        return None
    length = encoding.read_number(buffer, header - 2 * encoding.scale, 2)
    return header + length


@dataclass(frozen=True)
class ReplyFrame:
    """A reply split into its parts; ``data`` excludes the end code."""

    route: Route
    end_code: int
    data: bytes


def decode_reply_frame(frame: bytes, encoding: Encoding) -> ReplyFrame:
    size = reply_size(frame, encoding)
    if size is None or size != len(frame):
        raise FrameError(f"reply length field says {size}, frame has {len(frame)} bytes")
    s = encoding.scale
    rn = encoding.read_number
    route = Route(rn(frame, 2 * s, 1), rn(frame, 3 * s, 1), rn(frame, 4 * s, 2), rn(frame, 6 * s, 1))
    if len(frame) < (HEADER_BYTES + 2) * s:
        raise FrameError("reply too short to hold an end code")
    end_code = rn(frame, HEADER_BYTES * s, 2)
    return ReplyFrame(route, end_code, frame[(HEADER_BYTES + 2) * s :])


class ReplySplitter:
    """Cuts a byte stream into whole reply frames: bytes in, frames out.

    A frame split across reads waits for its rest; several frames in one read
    come out one by one; bytes that cannot start a reply raise FrameError.
    """

    def __init__(self, encoding: Encoding) -> None:
        self.encoding = encoding
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while self._buffer:
            size = reply_size(self._buffer, self.encoding)
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
