"""Values in an MC data field: bits packed four bits a nibble (binary) or a character each (ASCII),
words and double words little-endian (binary) or upper-case hex, high digit first (ASCII)."""

from __future__ import annotations

import struct

from common.mc.errors import FrameError
from common.mc.frames import Encoding


def pack_bits(values: tuple[int, ...], encoding: Encoding) -> bytes:
    if encoding is Encoding.ASCII:
        return bytes(48 + v for v in values)
    padded = list(values) + [0] * (len(values) % 2)
    return bytes(hi << 4 | lo for hi, lo in zip(padded[::2], padded[1::2], strict=True))


def unpack_bits(data: bytes, count: int, encoding: Encoding) -> list[int]:
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


def unpack_numbers(data: bytes, sizes: list[int], encoding: Encoding, what: str) -> list[int]:
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
