"""What each CSV field accepts: parsers from a cell's text to the stored value.

Each parser returns the value to store or raises FieldError with a sentence
a plant engineer can act on (csv_rules.py puts them in columns).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from common.mc.datatypes import DataType, parse_data_type
from common.mc.devices import parse_address
from common.mc.errors import McLocalError


class FieldError(ValueError):
    """A cell that cannot be stored; the message says why."""


Parser = Callable[[str], Any]


_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
_PLC_CODE = re.compile(r"^[A-Z0-9]{14}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_NAME = re.compile(r"^[^\x00-\x1f]{1,64}$")


def code(text: str) -> str:
    if not _CODE.match(text):
        raise FieldError(f"{text!r}: codes are 1-32 upper-case letters, digits, '_' or '-'")
    return text


def plc_code(text: str) -> str:
    if not _PLC_CODE.match(text):
        raise FieldError(
            f"{text!r}: an equipment code is exactly 14 upper-case letters and digits, e.g. KRCWO12ELOA101 "
            f"(this one has {len(text)} characters)"
        )
    return text


def name(text: str) -> str:
    if not _NAME.match(text):
        raise FieldError(f"{text!r}: a name is 1-64 printable characters")
    return text


def free_text(text: str) -> str:
    if len(text) > 512:
        raise FieldError("longer than 512 characters")
    return text


def host(text: str) -> str:
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if re.match(r"^[0-9.]+$", text) or not _HOSTNAME.match(text):
        raise FieldError(f"{text!r} is neither an IP address nor a host name")
    return text


def whole(low: int, high: int, what: str) -> Parser:
    def parse(text: str) -> int:
        if not re.match(r"^[0-9]+$", text):
            raise FieldError(f"{text!r}: {what} must be a whole number")
        value = int(text)
        if not low <= value <= high:
            raise FieldError(f"{value}: {what} must be {low} to {high}")
        return value

    return parse


def choice(*options: str) -> Parser:
    def parse(text: str) -> str:
        value = text.upper()
        if value not in options:
            raise FieldError(f"{text!r}: must be one of {', '.join(options)}")
        return value

    return parse


#: How a peer departs from the reference manual; a PLC lists the ones its peer has (plcs.csv ``deviations``).
DEVIATIONS = {
    "ascii_decimal_numbers": "ASCII frames write every device number in decimal, X Y B W SB SW DX DY ZR too",
    "ascii_dwords_low_first": "ASCII random reads (0403) return double words low word first",
}


def deviations(text: str) -> str:
    names = [n.strip().lower() for n in text.replace(",", ";").split(";") if n.strip()]
    for n in names:
        if n not in DEVIATIONS:
            raise FieldError(f"{n!r}: known deviations are {', '.join(DEVIATIONS)}")
    return ";".join(sorted(set(names)))


def flag(text: str) -> int:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y"):
        return 1
    if value in ("0", "false", "no", "n"):
        return 0
    raise FieldError(f"{text!r}: must be 1 or 0")


def ports(text: str) -> str:
    parts = text.replace(";", " ").split()
    port = whole(1, 65535, "a port")
    return ";".join(str(port(p)) for p in parts)


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FieldError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldError(f"{text!r} is not a finite number")
    return value


def address(text: str) -> str:
    try:
        return str(parse_address(text))
    except McLocalError as error:
        raise FieldError(str(error)) from None


def bit_address(text: str) -> str:
    try:
        parsed = parse_address(text)
    except McLocalError as error:
        raise FieldError(str(error)) from None
    if not parsed.is_bit:
        raise FieldError(f"{text!r}: a handshake device must be a bit (M100, or D100.0)")
    return str(parsed)


@functools.lru_cache(maxsize=256)
def data_type_of(text: str) -> DataType:
    """A plant has a handful of data types over a million tags: each text is parsed once."""
    return parse_data_type(text)


def data_type(text: str) -> str:
    try:
        return str(data_type_of(text))
    except McLocalError as error:
        raise FieldError(str(error)) from None
