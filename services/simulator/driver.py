"""Keeps a PLC's values changing, through the project's own MC client.

Every tick the driver computes each tag's value (``patterns``), lays the
values out in PLC words and bits, and writes them with as few batch writes
(1401) as the protocol allows.
"""

from __future__ import annotations

from collections import defaultdict

from common.config_store.model import Tag
from common.mc.client import PlcClient
from common.mc.commands import MAX_BIT_POINTS, MAX_WORD_POINTS, BatchWrite, DevicePoint
from common.mc.devices import DEVICES, Unit
from common.mc.frames import Encoding
from services.simulator.patterns import is_constant, value_at

#: Constants are written at the first tick and again now and then, in case a write was lost.
CONSTANTS_EVERY = 20


Cells = dict[str, dict[int, int]]  # device name -> number -> word or bit


def layout(tags: list[Tag], tick: int, *, constants: bool) -> tuple[Cells, Cells]:
    """Words and bits to write at ``tick``; constants only when ``constants``."""
    words: Cells = defaultdict(dict)
    bits: Cells = defaultdict(dict)
    for tag in tags:
        address, data_type = tag.device_address, tag.type
        if is_constant(address) and not constants:
            continue
        value = value_at(address, data_type, tick)
        if address.device.is_bit:
            bits[address.device.name][address.number] = int(value)
        elif address.bit is not None:
            cell = words[address.device.name].get(address.number, 0)
            mask = 1 << address.bit
            words[address.device.name][address.number] = (cell | mask) if value else (cell & ~mask)
        else:
            for i, word in enumerate(data_type.encode(value)):
                words[address.device.name][address.number + i] = word
    return words, bits


def _runs(cells: dict[int, int], limit: int) -> list[tuple[int, list[int]]]:
    runs: list[tuple[int, list[int]]] = []
    for number in sorted(cells):
        if runs and runs[-1][0] + len(runs[-1][1]) == number and len(runs[-1][1]) < limit:
            runs[-1][1].append(cells[number])
        else:
            runs.append((number, [cells[number]]))
    return runs


def writes(words: Cells, bits: Cells, encoding: Encoding) -> list[BatchWrite]:
    out = []
    for name, cells in words.items():
        for head, values in _runs(cells, MAX_WORD_POINTS):
            out.append(BatchWrite(DevicePoint(DEVICES[name], head), tuple(values), Unit.WORD))
    for name, cells in bits.items():
        for head, values in _runs(cells, MAX_BIT_POINTS[encoding]):
            out.append(BatchWrite(DevicePoint(DEVICES[name], head), tuple(values), Unit.BIT))
    return out


async def drive_once(client: PlcClient, tags: list[Tag], tick: int, encoding: Encoding) -> int:
    words, bits = layout(tags, tick, constants=tick % CONSTANTS_EVERY == 0)
    requests = writes(words, bits, encoding)
    for request in requests:
        await client.execute(request)
    return len(requests)
