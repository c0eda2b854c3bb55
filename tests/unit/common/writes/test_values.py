"""A requested value against its tag: writable, type, limits, scale and offset reversed exactly."""

from __future__ import annotations

from typing import Any

import pytest

from common.config_store.model import Tag
from common.mc.datatypes import parse_data_type
from common.mc.planner import TagRead, _decoder, plan_reads
from common.writes.values import WriteRefused, check_write


def tag(data_type: str, address: str = "D100", *, writable: bool = True, scale: float | None = None,
        offset: float | None = None, low: float | None = None, high: float | None = None) -> Tag:
    return Tag("KRCWO12ELOA101", "G", "SP_1", address, data_type, scale, offset, "", "", writable, low, high)


def polled(t: Tag, raw: Any) -> Any:
    """What the poller reports for ``raw`` in the PLC: the words decoded as a polling cycle decodes them."""
    words = t.type.encode(raw)
    plan = plan_reads([TagRead(t.device_address, t.type, t.scale, t.offset)])
    return _decoder(plan.slots[0], plan.tags[0])(words, 0)


@pytest.mark.parametrize(("data_type", "value", "raw"), [
    ("INT16", -32768, -32768), ("INT16", "32767", 32767), ("UINT16", 65535, 65535), ("UINT16", 12.0, 12),
    ("INT32", -2_147_483_648, -2_147_483_648), ("UINT32", 4_294_967_295, 4_294_967_295),
    ("FLOAT32", 3.5, 3.5), ("FLOAT32", "-0.25", -0.25), ("FLOAT64", -2.25e10, -2.25e10),
    ("STRING[3]", "KRCW1", "KRCW1"), ("STRING[3]", "", ""), ("STRING[2]", "한", "한"),
])
def test_every_type_takes_what_it_holds(data_type: str, value: Any, raw: Any) -> None:
    checked = check_write(tag(data_type), value)
    assert checked.raw == raw and type(checked.raw) is type(raw)


@pytest.mark.parametrize(("value", "bit"), [(1, 1), (0, 0), (True, 1), (False, 0), ("on", 1), ("FALSE", 0),
                                            (1.0, 1)])
def test_bits(value: Any, bit: int) -> None:
    assert check_write(tag("BIT", "M5"), value).raw == bit
    assert check_write(tag("BIT", "D100.3"), value).raw == bit


@pytest.mark.parametrize(("data_type", "value", "reason"), [
    ("INT16", 32768, "does not fit INT16"), ("INT16", -32769, "does not fit INT16"),
    ("UINT16", -1, "does not fit UINT16"), ("UINT32", 2**32, "does not fit UINT32"),
    ("INT16", 1.5, "not a whole number"), ("INT16", "abc", "is not a number"), ("INT16", True, "is not a number"),
    ("INT16", None, "is not a number"), ("INT16", [1], "is not a number"), ("FLOAT64", float("nan"), "finite"),
    ("FLOAT32", "inf", "finite"), ("FLOAT32", 1e39, "does not fit FLOAT32"), ("STRING[2]", "ABCDE", "do not fit"),
    ("STRING[2]", 12, "is not text"), ("STRING[2]", "A\x00B", "NUL"), ("BIT", 2, "is not a bit"),
    ("BIT", "maybe", "is not a bit"), ("FLOAT64", 10**400, "beyond every type"), ("INT32", -(2**64), "beyond every"),
    ("FLOAT32", "1e400", "finite"), ("UINT32", "9" * 5000, "finite"),
])
def test_values_a_type_cannot_hold_are_422_naming_the_tag(data_type: str, value: Any, reason: str) -> None:
    with pytest.raises(WriteRefused, match=reason) as refused:
        check_write(tag(data_type, "M5" if data_type == "BIT" else "D100"), value)
    assert refused.value.status == 422 and refused.value.tag == "SP_1" and str(refused.value).startswith("SP_1: ")


def test_a_tag_not_marked_writable_is_403() -> None:
    with pytest.raises(WriteRefused, match="not writable") as refused:
        check_write(tag("INT16", writable=False), 1)
    assert refused.value.status == 403


def test_limits_are_in_engineering_units_and_inclusive() -> None:
    t = tag("INT16", scale=0.1, low=-5.0, high=120.5)
    assert check_write(t, -5).raw == -50 and check_write(t, 120.5).raw == 1205
    for value, word in ((-5.1, "below its min -5"), (120.6, "above its max 120.5")):
        with pytest.raises(WriteRefused, match=word) as refused:
            check_write(t, value)
        assert refused.value.status == 422


@pytest.mark.parametrize(("data_type", "scale", "offset", "value", "raw"), [
    ("INT16", 0.1, None, 12.3, 123), ("INT16", 0.1, None, 0.3, 3), ("INT16", 0.1, -40.0, -40.0, 0),
    ("INT16", 0.01, 273.15, 300.0, 2685), ("UINT16", 2.0, 1.0, 65535.0 * 2 + 1, 65535),
    ("INT32", 0.001, None, -2147483.648, -2147483648), ("UINT32", None, 100.0, 100.0, 0),
    ("FLOAT32", 10.0, 5.0, 40.0, 3.5), ("FLOAT64", 0.5, 1.0, 2.0, 2.0),
])
def test_scale_and_offset_reversed_exactly_and_the_poller_reads_the_value_back(
        data_type: str, scale: float | None, offset: float | None, value: float, raw: Any) -> None:
    t = tag(data_type, scale=scale, offset=offset)
    checked = check_write(t, value)
    assert checked.raw == raw
    assert polled(t, checked.raw) == pytest.approx(value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("scale", "offset", "value"), [(0.1, None, 12.35), (2.0, None, 3.0), (0.5, 0.25, 1.0),
                                                         (0.1, None, 3276.8)])
def test_a_value_between_steps_or_beyond_the_type_after_scale_is_refused_not_rounded(
        scale: float, offset: float | None, value: float) -> None:
    with pytest.raises(WriteRefused) as refused:
        check_write(tag("INT16", scale=scale, offset=offset), value)
    assert refused.value.status == 422


def test_every_raw_int16_round_trips_through_a_decimal_scale() -> None:
    t = tag("INT16", scale=0.1, offset=-50.0)
    dtype = parse_data_type("INT16")
    for raw in range(-32768, 32768, 7):
        value = polled(t, raw)
        assert check_write(t, value).raw == raw
        assert dtype.decode(dtype.encode(raw)) == raw
