"""Device addresses and data types: what parses, what is refused, and round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.mc.datatypes import DataTypeError, Kind, parse_data_type
from common.mc.devices import DEVICES, parse_address
from common.mc.errors import AddressError, McLocalError


@pytest.mark.parametrize(("text", "device", "number", "bit", "canonical"), [
    ("D100", "D", 100, None, "D100"),
    ("d100", "D", 100, None, "D100"),
    ("W1A", "W", 0x1A, None, "W1A"),
    ("X1F", "X", 0x1F, None, "X1F"),
    ("M0", "M", 0, None, "M0"),
    ("ZR1000", "ZR", 0x1000, None, "ZR1000"),
    ("D100.3", "D", 100, 3, "D100.3"),
    ("D100.f", "D", 100, 15, "D100.F"),
    ("SM400", "SM", 400, None, "SM400"),
    ("SD203", "SD", 203, None, "SD203"),
    ("SB1F", "SB", 0x1F, None, "SB1F"),
    ("SW10", "SW", 0x10, None, "SW10"),
    ("TN5", "TN", 5, None, "TN5"),
    ("CS7", "CS", 7, None, "CS7"),
    ("DX10", "DX", 0x10, None, "DX10"),
])
def test_addresses_parse(text: str, device: str, number: int, bit: int | None, canonical: str) -> None:
    address = parse_address(text)
    assert (address.device.name, address.number, address.bit) == (device, number, bit)
    assert str(address) == canonical


@pytest.mark.parametrize(("text", "reason"), [
    ("Q100", "not a Q-series device"),
    ("D", "not a Q-series device"),
    ("D1A", "decimal"),  # hex digit on a decimal device
    ("WG", "hexadecimal"),  # a letter beyond F on a hex device
    ("D1000000", "goes up to"),  # out of range
    ("X2000", "goes up to"),
    ("M5.1", "bit device"),  # bit suffix on a bit device
    ("D100.16", "0-F"),
    ("D100.G", "0-F"),
    ("", "not a Q-series device"),
])
def test_bad_addresses_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        parse_address(text)


def test_device_table_is_complete_and_codes_unique() -> None:
    required = ["X", "Y", "M", "L", "F", "V", "B", "D", "W", "R", "ZR", "SM", "SD", "SB", "SW", "DX", "DY", "TS",
                "TC", "TN", "SS", "SC", "SN", "CS", "CC", "CN"]
    assert set(required) <= set(DEVICES)
    codes = [d.binary_code for d in DEVICES.values()]
    assert len(codes) == len(set(codes))
    assert {n for n, d in DEVICES.items() if d.hexadecimal} == {"X", "Y", "B", "W", "SB", "SW", "DX", "DY", "ZR"}


def test_data_types_parse() -> None:
    assert parse_data_type("float32").kind is Kind.FLOAT32
    assert parse_data_type("STRING[10]").words == 10
    assert str(parse_data_type("string[4]")) == "STRING[4]"
    for bad in ("STRING", "STRING[0]", "STRING[x]", "REAL", "INT8", ""):
        with pytest.raises(DataTypeError):
            parse_data_type(bad)


INTS = {"INT16": (-(2**15), 2**15 - 1), "UINT16": (0, 2**16 - 1), "INT32": (-(2**31), 2**31 - 1),
        "UINT32": (0, 2**32 - 1)}


@pytest.mark.parametrize("name", list(INTS))
@given(data=st.data())
def test_integers_round_trip(name: str, data: st.DataObject) -> None:
    low, high = INTS[name]
    value = data.draw(st.integers(low, high))
    dtype = parse_data_type(name)
    words = dtype.encode(value)
    assert len(words) == dtype.words and all(0 <= w <= 0xFFFF for w in words)
    assert dtype.decode(words) == value


@given(st.floats(width=32, allow_nan=False))
def test_float32_round_trip(value: float) -> None:
    dtype = parse_data_type("FLOAT32")
    assert dtype.decode(dtype.encode(value)) == value


@given(st.floats(allow_nan=False))
def test_float64_round_trip(value: float) -> None:
    dtype = parse_data_type("FLOAT64")
    assert dtype.decode(dtype.encode(value)) == value


def test_float_nan_survives() -> None:
    dtype = parse_data_type("FLOAT32")
    assert math.isnan(float(dtype.decode(dtype.encode(float("nan")))))


@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x7E), max_size=20))
def test_string_round_trip(text: str) -> None:
    dtype = parse_data_type("STRING[10]")
    assert dtype.decode(dtype.encode(text)) == text


def test_word_order_is_low_word_first() -> None:
    assert parse_data_type("INT32").encode(0x12345678) == [0x5678, 0x1234]
    assert parse_data_type("STRING[2]").encode("ABC") == [0x4241, 0x0043]
    with pytest.raises(McLocalError):
        parse_data_type("STRING[1]").encode("ABC")
    with pytest.raises(McLocalError):
        parse_data_type("INT16").encode(40000)


@given(name=st.sampled_from(["BIT", "INT16", "UINT16", "INT32", "UINT32", "FLOAT32", "FLOAT64", "STRING[3]"]),
       words=st.lists(st.integers(0, 0xFFFF), min_size=6, max_size=6), at=st.integers(0, 2))
def test_the_compiled_decoder_reads_what_decode_reads(name: str, words: list[int], at: int) -> None:
    dtype = parse_data_type(name)
    expected = dtype.decode(words[at:at + dtype.words])
    got = dtype.decoder()(words, at)
    assert got == expected or (isinstance(got, float) and math.isnan(got) and math.isnan(expected))  # type: ignore[arg-type]
