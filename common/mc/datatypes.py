"""Tag data types: how a tag's value sits in PLC words.

Strategy: every type is a whole number of 16-bit words read from consecutive
addresses; a 32- or 64-bit value has its lowest word at the lowest address
(the Q series' order), and a STRING[n] is n words holding two characters each,
low byte first. Bits are BIT tags on a bit device or ``D100.3``-style bits of
a word. Encoding back to words exists for the simulator and for tests.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from common.mc.errors import McLocalError

Value = int | float | str


class Kind(Enum):
    BIT = "BIT"
    INT16 = "INT16"
    UINT16 = "UINT16"
    INT32 = "INT32"
    UINT32 = "UINT32"
    FLOAT32 = "FLOAT32"
    FLOAT64 = "FLOAT64"
    STRING = "STRING"


_WORDS = {Kind.BIT: 1, Kind.INT16: 1, Kind.UINT16: 1, Kind.INT32: 2, Kind.UINT32: 2, Kind.FLOAT32: 2,
          Kind.FLOAT64: 4}
_STRUCT = {Kind.INT16: "<h", Kind.UINT16: "<H", Kind.INT32: "<i", Kind.UINT32: "<I", Kind.FLOAT32: "<f",
           Kind.FLOAT64: "<d"}
_STRING = re.compile(r"^STRING\[(\d+)\]$")
MAX_STRING_WORDS = 480


class DataTypeError(McLocalError, ValueError):
    """A data type name this project does not know."""


@dataclass(frozen=True)
class DataType:
    kind: Kind
    words: int

    def __str__(self) -> str:
        return f"STRING[{self.words}]" if self.kind is Kind.STRING else self.kind.value

    @property
    def is_numeric(self) -> bool:
        return self.kind not in (Kind.STRING, Kind.BIT)

    def decode(self, words: list[int] | tuple[int, ...]) -> Value:
        """The value held in ``words`` (exactly ``self.words`` unsigned 16-bit words)."""
        if self.kind is Kind.BIT:
            return words[0] & 1
        raw = struct.pack(f"<{self.words}H", *words)
        if self.kind is Kind.STRING:
            return raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")
        value: int | float = struct.unpack(_STRUCT[self.kind], raw)[0]
        return value

    def decoder(self) -> Callable[[list[int], int], Value]:
        """``decode`` as a function of (words, index), compiled once per tag for the polling hot path."""
        kind = self.kind
        if kind is Kind.UINT16:
            return lambda w, i: w[i]
        if kind is Kind.INT16:
            return lambda w, i: v - 0x10000 if (v := w[i]) & 0x8000 else v
        if kind is Kind.BIT:
            return lambda w, i: w[i] & 1
        if kind is Kind.UINT32:
            return lambda w, i: w[i] | w[i + 1] << 16
        if kind is Kind.INT32:
            return lambda w, i: v - 0x1_0000_0000 if (v := w[i] | w[i + 1] << 16) & 0x8000_0000 else v
        n = self.words
        return lambda w, i: self.decode(w[i:i + n])

    def encode(self, value: Value) -> list[int]:
        """The words that hold ``value``; the inverse of :meth:`decode`."""
        if self.kind is Kind.BIT:
            return [1 if value else 0]
        if self.kind is Kind.STRING:
            raw = str(value).encode("utf-8")
            if len(raw) > 2 * self.words:
                raise McLocalError(f"{value!r} does not fit {self}")
            raw = raw.ljust(2 * self.words, b"\x00")
        else:
            try:
                raw = struct.pack(_STRUCT[self.kind], value)
            except struct.error as error:
                raise McLocalError(f"{value!r} does not fit {self}: {error}") from None
        return list(struct.unpack(f"<{self.words}H", raw))


@functools.cache  # hundreds of tags, a handful of types: one (frozen) DataType each, not one per tag
def parse_data_type(text: str) -> DataType:
    name = text.strip().upper()
    match = _STRING.match(name)
    if match:
        words = int(match.group(1))
        if not 1 <= words <= MAX_STRING_WORDS:
            raise DataTypeError(f"{text!r}: a STRING holds 1 to {MAX_STRING_WORDS} words")
        return DataType(Kind.STRING, words)
    if name == "STRING":
        raise DataTypeError(f"{text!r}: give the length in words, e.g. STRING[10]")
    try:
        kind = Kind(name)
    except ValueError:
        known = ", ".join(k.value for k in Kind)
        raise DataTypeError(f"{text!r} is not a data type ({known}; STRING[n])") from None
    return DataType(kind, _WORDS[kind])
