"""What the simulator writes at each address, as a function of the tick.

By region of the address, so a plant's tag list gets lively values without
any extra configuration:

    D0-D999       counters (increase by 1 every tick)
    D1000-D1999   sine waves
    D2000-D8999   ramps (sawtooth)
    D9000-D9999   constants: written once, never changed -- tests check them
    W, R, ZR      ramps
    bit devices   toggling bits, each at its own pace

``constant_value`` is public so a test can compute what the historian must
hold for a constant tag.
"""

from __future__ import annotations

import math

from common.mc.datatypes import DataType, Kind, Value
from common.mc.devices import DeviceAddress

CONSTANT_FIRST, CONSTANT_LAST = 9000, 9999


def is_constant(address: DeviceAddress) -> bool:
    return address.device.name == "D" and CONSTANT_FIRST <= address.number <= CONSTANT_LAST


def _fit(value: float, data_type: DataType) -> Value:
    kind = data_type.kind
    if kind is Kind.BIT:
        return int(value) & 1
    if kind is Kind.STRING:
        return f"S{int(value)}"[: 2 * data_type.words]
    if kind in (Kind.FLOAT32, Kind.FLOAT64):
        return float(value)
    number = int(value)
    if kind is Kind.INT16:
        return (number + 0x8000) % 0x10000 - 0x8000
    if kind is Kind.UINT16:
        return number % 0x10000
    if kind is Kind.INT32:
        return (number + 0x80000000) % 0x100000000 - 0x80000000
    return number % 0x100000000


def constant_value(address: DeviceAddress, data_type: DataType) -> Value:
    """The raw value (before scale and offset) the simulator keeps at a constant address."""
    n = address.number
    kind = data_type.kind
    if kind is Kind.BIT:
        return n % 2
    if kind is Kind.STRING:
        return f"C{n}"[: 2 * data_type.words]
    if kind is Kind.FLOAT32:
        return n / 8  # exact in float32
    if kind is Kind.FLOAT64:
        return n * 0.25 + 0.125
    if kind is Kind.INT16:
        return (n * 7) % 30000 - 15000
    if kind is Kind.UINT16:
        return (n * 13) % 65536
    if kind is Kind.INT32:
        return n * 100_003 - 500_000_000
    return n * 100_003


def value_at(address: DeviceAddress, data_type: DataType, tick: int) -> Value:
    if is_constant(address):
        return constant_value(address, data_type)
    n = address.number
    if address.is_bit:
        return ((tick // (1 + n % 5)) + n) % 2
    if address.device.name == "D" and n < 1000:
        return _fit(tick + n, data_type)
    if address.device.name == "D" and n < 2000:
        return _fit(1000 * math.sin(2 * math.pi * (tick / 40 + n / 100)), data_type)
    return _fit((tick * 7 + n) % 1000, data_type)
