"""Write planner: the checked writes of one command into as few batch writes (1401) as keep their order.

Strategy: writes go out in the order given, because order can matter on a
machine (a recipe's values before the bit that starts it). Consecutive
writes whose addresses follow on from each other on one device -- word
tags, or bits of a bit device -- ride in one batch write, which the PLC
applies in one scan; anything else starts a new request. A bit of a word
(``D100.3``) cannot be written alone: the MC protocol writes whole words,
so its word is read (0401), the bit set or cleared, and the word written
back (1401). Consecutive writes to bits of the same word share that one
read-modify-write. Its race: whatever changes the word's other bits between
the read and the write (the PLC program, another client) is overwritten
with what was read -- one round trip of the PLC's time. Nothing here
touches a socket: :class:`WordBits` says what to read and builds the write
from what was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common.mc.commands import MAX_BIT_POINTS, MAX_WORD_POINTS, BatchRead, BatchWrite
from common.mc.devices import DevicePoint, Unit
from common.mc.frames import Encoding
from common.writes.values import CheckedWrite


@dataclass(frozen=True)
class WordBits:
    """A read-modify-write of one word: ``bits`` maps a bit number to the value it is set to."""

    head: DevicePoint
    bits: tuple[tuple[int, int], ...]

    @property
    def read(self) -> BatchRead:
        return BatchRead(self.head, 1, Unit.WORD)

    def write(self, word: int) -> BatchWrite:
        """The batch write of ``word`` (as read) with the bits changed."""
        for bit, value in self.bits:
            word = word | (1 << bit) if value else word & ~(1 << bit)
        return BatchWrite(self.head, (word,), Unit.WORD)


Step = BatchWrite | WordBits


@dataclass(frozen=True)
class WritePlan:
    """The steps in order, and for each step the indices of the writes it carries."""

    steps: tuple[Step, ...]
    carries: tuple[tuple[int, ...], ...]

    @property
    def requests(self) -> int:
        """MC requests the plan sends (a read-modify-write is two)."""
        return sum(2 if isinstance(s, WordBits) else 1 for s in self.steps)


def plan_writes(writes: Sequence[CheckedWrite], encoding: Encoding = Encoding.ASCII) -> WritePlan:
    steps: list[Step] = []
    carries: list[list[int]] = []
    max_bits = MAX_BIT_POINTS[encoding]
    for index, write in enumerate(writes):
        address = write.tag.device_address
        head = DevicePoint(address.device, address.number)
        last = steps[-1] if steps else None
        if address.bit is not None:  # a bit of a word
            bit = (address.bit, int(write.raw))
            if isinstance(last, WordBits) and last.head == head:
                steps[-1] = WordBits(head, (*last.bits, bit))
                carries[-1].append(index)
            else:
                steps.append(WordBits(head, (bit,)))
                carries.append([index])
            continue
        values: tuple[int, ...]
        if address.device.is_bit:
            unit, values, limit = Unit.BIT, (int(write.raw),), max_bits
        else:
            unit, values, limit = Unit.WORD, tuple(write.tag.type.encode(write.raw)), MAX_WORD_POINTS
        if (isinstance(last, BatchWrite) and last.unit is unit and last.head.device == head.device
                and last.head.number + len(last.values) == head.number
                and len(last.values) + len(values) <= limit):
            steps[-1] = BatchWrite(last.head, last.values + values, unit)
            carries[-1].append(index)
        else:
            steps.append(BatchWrite(head, values, unit))
            carries.append([index])
    return WritePlan(tuple(steps), tuple(tuple(c) for c in carries))
