"""0406 multi-block batch read: several runs of word and bit devices in one request.

Strategy: one request, one PLC scan, up to 120 runs anywhere in the device
memory. A bit-device block is read in words (16 points a word, bit k of a
word is device head + k), so the reply is words either way: the word
blocks' words in order, then the bit blocks' words. The class carries its
command and subcommand, writes its own data field, states its reply size and
decodes its reply; the codec adds the frame and checks the end code. Data
field::

    [ word blocks 1 ][ bit blocks 1 ]
    [ device descriptor ][ points 2 ]   x word blocks, then x bit blocks

The manual's limits (Q series, QnA-compatible 3E/4E): at most 120 blocks,
and at most 960 points in all, a bit block's points counted in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from common.mc.data_field import unpack_numbers
from common.mc.devices import DevicePoint
from common.mc.errors import McLocalError, RequestTooLargeError
from common.mc.frames import Encoding

if TYPE_CHECKING:
    from common.mc.commands import FieldCodec

MAX_BLOCKS = 120
MAX_BLOCK_POINTS = 960


@dataclass(frozen=True)
class Block:
    """A run of ``points`` words from ``head``; on a bit device each word is 16 points."""

    head: DevicePoint
    points: int

    def __str__(self) -> str:
        return f"{self.head} x{self.points}"


@dataclass(frozen=True)
class MultiBlockRead:
    """0406: word blocks then bit blocks, each a run of words; the reply is their words in that order."""

    word_blocks: tuple[Block, ...]
    bit_blocks: tuple[Block, ...] = ()
    command: int = field(default=0x0406, init=False)
    subcommand: int = field(default=0x0000, init=False)
    rereadable: bool = field(default=True, init=False)

    def __str__(self) -> str:
        return (f"multi-block read {len(self.word_blocks)} word + {len(self.bit_blocks)} bit blocks, "
                f"{self.points} words")

    @property
    def points(self) -> int:
        return sum(b.points for b in (*self.word_blocks, *self.bit_blocks))

    def encode_body(self, codec: FieldCodec) -> bytes:
        """The data field; raises McLocalError when the manual's limits or the device kinds forbid it."""
        blocks = len(self.word_blocks) + len(self.bit_blocks)
        if not 1 <= blocks <= MAX_BLOCKS:
            raise RequestTooLargeError(f"{self}: one request takes 1 to {MAX_BLOCKS} blocks")
        if not 1 <= self.points <= MAX_BLOCK_POINTS or any(b.points < 1 for b in (*self.word_blocks,
                                                                                     *self.bit_blocks)):
            raise RequestTooLargeError(f"{self}: one request takes 1 to {MAX_BLOCK_POINTS} points, each block 1+")
        if any(b.head.device.is_bit for b in self.word_blocks) or any(
                not b.head.device.is_bit for b in self.bit_blocks):
            raise McLocalError(f"{self}: word blocks name word devices, bit blocks bit devices")
        n = codec.encoding.number
        out = n(len(self.word_blocks), 1) + n(len(self.bit_blocks), 1)
        return out + b"".join(codec.descriptor(b.head) + n(b.points, 2)
                              for b in (*self.word_blocks, *self.bit_blocks))

    def reply_size(self, encoding: Encoding) -> int:
        """Bytes of reply data after the end code."""
        return 2 * self.points * encoding.scale

    def decode_reply(self, data: bytes, codec: FieldCodec) -> list[int]:
        """The words of every block, word blocks first."""
        return unpack_numbers(data, [2] * self.points, codec.encoding, str(self))
