"""What a tag accepts: a requested value checked and turned into the raw value the PLC holds.

Strategy: an operator writes in engineering units, the units the poller
reports (``raw * scale + offset``). The value is checked against the tag --
writable, its type, its ``min``/``max`` -- and the scale and offset are
reversed: for a whole-number type the raw value must be a whole number (a
value between two steps of the scale is refused, never rounded to the
nearer one) that fits the type. Every refusal is a :class:`WriteRefused`
naming the tag and saying why, before anything is sent. Nothing here
touches a socket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from common.config_store.model import Tag
from common.mc.datatypes import Kind, Value

#: the range of each whole-number type
INT_RANGES = {Kind.INT16: (-0x8000, 0x7FFF), Kind.UINT16: (0, 0xFFFF), Kind.INT32: (-0x8000_0000, 0x7FFF_FFFF),
              Kind.UINT32: (0, 0xFFFF_FFFF)}
FLOAT32_MAX = 3.4028234663852886e38
#: a whole number this large fits no type (and would not even convert to a float): refused as it comes
LARGEST_INT = 2**64
#: how far (in steps of the scale) a value may sit from a raw whole number and still be that number:
#: decimal fractions like 0.1 are not exact in binary, so 12.3 / 0.1 is 122.99999999999999
STEP_TOLERANCE = 1e-6
_TRUE, _FALSE = ("1", "true", "on"), ("0", "false", "off")


class WriteRefused(ValueError):
    """A write refused before anything was sent; ``status`` is the HTTP answer (403, 404, 422)."""

    def __init__(self, status: int, tag: str, reason: str) -> None:
        super().__init__(f"{tag}: {reason}")
        self.status = status
        self.tag = tag
        self.reason = reason


@dataclass(frozen=True)
class CheckedWrite:
    """A write that may be sent: the tag, the value asked for and the raw value that goes to the PLC."""

    tag: Tag
    requested: Value
    raw: Value


def check_write(tag: Tag, value: Any) -> CheckedWrite:
    """``value`` (engineering units; a number's text is taken too) for ``tag``, or WriteRefused."""
    if not tag.writable:
        raise WriteRefused(403, tag.tag_name, "not writable (tags.csv marks a tag writable with writable=1)")
    dtype = tag.type
    if dtype.kind is Kind.STRING:
        return CheckedWrite(tag, value, _string(tag, value))
    if dtype.kind is Kind.BIT:
        bit = _bit(tag, value)
        return CheckedWrite(tag, bit, bit)
    number = _number(tag, value)
    if tag.min is not None and number < tag.min:
        raise WriteRefused(422, tag.tag_name, f"{number:g} is below its min {tag.min:g}")
    if tag.max is not None and number > tag.max:
        raise WriteRefused(422, tag.tag_name, f"{number:g} is above its max {tag.max:g}")
    scale = 1.0 if tag.scale is None else tag.scale
    offset = tag.offset or 0.0
    if scale == 0:
        raise WriteRefused(422, tag.tag_name, "its scale is 0: no raw value gives another value")
    raw: float | int = number if tag.scale is None and tag.offset is None else (number - offset) / scale
    if dtype.kind in INT_RANGES:
        return CheckedWrite(tag, number, _whole(tag, number, raw))
    if not math.isfinite(raw) or (dtype.kind is Kind.FLOAT32 and abs(raw) > FLOAT32_MAX):
        raise WriteRefused(422, tag.tag_name, f"{number:g} does not fit {dtype} after scale and offset")
    return CheckedWrite(tag, number, float(raw))


def _number(tag: Tag, value: Any) -> float | int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            try:
                value = float(value.strip())
            except ValueError:
                raise WriteRefused(422, tag.tag_name, f"{value!r:.40} is not a number ({tag.type})") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WriteRefused(422, tag.tag_name, f"{value!r:.40} is not a number ({tag.type})")
    if isinstance(value, float) and not math.isfinite(value):
        raise WriteRefused(422, tag.tag_name, f"{value} is not a finite number")
    if isinstance(value, int) and abs(value) >= LARGEST_INT:
        raise WriteRefused(422, tag.tag_name, f"{str(value)[:20]}... is beyond every type a PLC holds")
    return value


def _whole(tag: Tag, number: float | int, raw: float | int) -> int:
    kind = tag.type.kind
    low, high = INT_RANGES[kind]
    if isinstance(raw, int):
        whole = raw
    else:
        whole = round(raw)
        if abs(raw - whole) > STEP_TOLERANCE:
            step = "" if tag.scale is None else f" in steps of its scale {tag.scale:g}"
            raise WriteRefused(422, tag.tag_name, f"{number:g} is not a value {kind.value} holds{step} "
                               f"(raw {raw:.6g} is not a whole number)")
    if not low <= whole <= high:
        raise WriteRefused(422, tag.tag_name, f"{number:g} does not fit {kind.value} ({low}..{high} raw, "
                           f"this is {whole})")
    return whole


def _bit(tag: Tag, value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return 1 if value.strip().lower() in _TRUE else 0
    if isinstance(value, bool | int | float) and value in (0, 1):
        return int(value)
    raise WriteRefused(422, tag.tag_name, f"{value!r:.40} is not a bit (0 or 1, true or false)")


def _string(tag: Tag, value: Any) -> str:
    if not isinstance(value, str):
        raise WriteRefused(422, tag.tag_name, f"{value!r:.40} is not text ({tag.type} takes a string)")
    size = len(value.encode("utf-8"))
    room = 2 * tag.type.words
    if size > room:
        raise WriteRefused(422, tag.tag_name, f"{size} bytes of UTF-8 do not fit {tag.type} ({room} bytes)")
    if "\x00" in value:
        raise WriteRefused(422, tag.tag_name, "a NUL character ends the string in the PLC; leave it out")
    return value
