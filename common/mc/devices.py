"""Q-series device table and tag addresses.

Strategy: one table row per device family holds everything both encodings and
the config store need -- the binary device code, the two-character ASCII
code, whether the device holds bits or words, whether its numbers are written
in hexadecimal, and the highest number a Q-series Universal model CPU can be
parameterised to. Address parsing (``D100``, ``W1A``, ``X1F``, ``ZR1000``,
``D100.3``) lives here so the CSV importer and the read planner reject the
same things for the same reasons.

The upper bounds are the largest each device can be given in the CPU
parameters; a PLC configured smaller answers end code C056, which the client
reports as :class:`~common.mc.errors.DeviceRangeError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from common.mc.errors import AddressError


class Unit(Enum):
    BIT = "bit"
    WORD = "word"


@dataclass(frozen=True)
class Device:
    name: str
    binary_code: int
    unit: Unit
    hexadecimal: bool
    maximum: int

    @property
    def ascii_code(self) -> bytes:
        """Two characters, a one-letter device padded with ``*`` (``D*``, ``ZR``)."""
        return self.name.ljust(2, "*").encode("ascii")

    def format_number(self, number: int) -> str:
        return f"{number:X}" if self.hexadecimal else str(number)

    @property
    def is_bit(self) -> bool:
        return self.unit is Unit.BIT


def _d(name: str, code: int, unit: Unit, hexadecimal: bool, maximum: int) -> Device:
    return Device(name, code, unit, hexadecimal, maximum)


B, W = Unit.BIT, Unit.WORD

#: Every Q-series device the MC protocol's QnA-compatible 3E frame can name.
DEVICES: dict[str, Device] = {
    d.name: d
    for d in (
        _d("X", 0x9C, B, True, 0x1FFF),  # input
        _d("Y", 0x9D, B, True, 0x1FFF),  # output
        _d("M", 0x90, B, False, 61439),  # internal relay
        _d("L", 0x92, B, False, 32767),  # latch relay
        _d("F", 0x93, B, False, 32767),  # annunciator
        _d("V", 0x94, B, False, 32767),  # edge relay
        _d("S", 0x98, B, False, 8191),  # step relay
        _d("B", 0xA0, B, True, 0xEFFF),  # link relay
        _d("SB", 0xA1, B, True, 0x7FFF),  # link special relay
        _d("DX", 0xA2, B, True, 0x1FFF),  # direct input
        _d("DY", 0xA3, B, True, 0x1FFF),  # direct output
        _d("SM", 0x91, B, False, 2047),  # special relay
        _d("TS", 0xC1, B, False, 32767),  # timer contact
        _d("TC", 0xC0, B, False, 32767),  # timer coil
        _d("SS", 0xC7, B, False, 32767),  # retentive timer contact
        _d("SC", 0xC6, B, False, 32767),  # retentive timer coil
        _d("CS", 0xC4, B, False, 32767),  # counter contact
        _d("CC", 0xC3, B, False, 32767),  # counter coil
        _d("D", 0xA8, W, False, 999_999),  # data register (incl. extended)
        _d("W", 0xB4, W, True, 0x3FFFFF),  # link register (incl. extended)
        _d("SW", 0xB5, W, True, 0x7FFF),  # link special register
        _d("SD", 0xA9, W, False, 2047),  # special register
        _d("R", 0xAF, W, False, 32767),  # file register, block switching
        _d("ZR", 0xB0, W, True, 0x3FD7FF),  # file register, serial numbers
        _d("TN", 0xC2, W, False, 32767),  # timer current value
        _d("SN", 0xC8, W, False, 32767),  # retentive timer current value
        _d("CN", 0xC5, W, False, 32767),  # counter current value
        _d("Z", 0xCC, W, False, 19),  # index register
    )
}

DEVICES_BY_CODE: dict[int, Device] = {d.binary_code: d for d in DEVICES.values()}

# Longest names first so "SM" is not read as "S" followed by "M...".
_NAMES = "|".join(sorted(DEVICES, key=len, reverse=True))
_ADDRESS = re.compile(rf"^({_NAMES})([0-9A-Za-z]+)(?:\.([0-9A-Za-z]+))?$")
_HEX = re.compile(r"^[0-9A-F]+$")
_DEC = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class DevicePoint:
    """A device and a head number, as a request names it."""

    device: Device
    number: int

    def __str__(self) -> str:
        return f"{self.device.name}{self.device.format_number(self.number)}"


@dataclass(frozen=True, order=True)
class DeviceAddress:
    """One device point, or one bit of a word device (``D100.3``)."""

    device: Device
    number: int
    bit: int | None = None

    def __str__(self) -> str:
        text = f"{self.device.name}{self.device.format_number(self.number)}"
        return text if self.bit is None else f"{text}.{self.bit:X}"

    @property
    def is_bit(self) -> bool:
        return self.device.is_bit or self.bit is not None


def parse_address(text: str) -> DeviceAddress:
    """Parse a Q-series address as plant engineers write it, or raise AddressError.

    Hexadecimal devices (X Y B W SB SW DX DY ZR) take hex digits; the rest take
    decimal digits. ``.N`` selects bit N (0-F) of a word device.
    """
    raw = text.strip().upper()
    match = _ADDRESS.match(raw)
    if match is None:
        raise AddressError(f"{text!r} is not a Q-series device address (e.g. D100, W1A, M0, X1F, D100.3)")
    name, digits, bit_text = match.groups()
    device = DEVICES[name]
    if device.hexadecimal:
        if not _HEX.match(digits):
            raise AddressError(f"{text!r}: {name} is numbered in hexadecimal, {digits!r} is not hex")
        number = int(digits, 16)
    else:
        if not _DEC.match(digits):
            raise AddressError(f"{text!r}: {name} is numbered in decimal, {digits!r} is not decimal")
        number = int(digits, 10)
    if number > device.maximum:
        raise AddressError(
            f"{text!r}: {name} goes up to {name}{device.format_number(device.maximum)} on the Q series"
        )
    bit: int | None = None
    if bit_text is not None:
        if device.is_bit:
            raise AddressError(f"{text!r}: {name} is a bit device; a bit suffix needs a word device")
        if len(bit_text) != 1 or not _HEX.match(bit_text):
            raise AddressError(f"{text!r}: the bit of a word is 0-F")
        bit = int(bit_text, 16)
    return DeviceAddress(device, number, bit)
