"""The client against virtual-plc, cross-checked with pymcprotocol, in 3E ASCII and binary."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pymcprotocol import Type3E
from virtual_plc import Server

from common.mc.client import PlcClient
from common.mc.commands import BatchRead, BatchWrite, Codec, DevicePoint
from common.mc.datatypes import parse_data_type
from common.mc.devices import DEVICES, Unit, parse_address
from common.mc.errors import DeviceRangeError, PlcConnectionError
from common.mc.frames import Encoding
from common.mc.planner import TagRead, plan_reads


@pytest.fixture(params=[Encoding.ASCII, Encoding.BINARY], ids=["ascii", "binary"])
def plc(request: pytest.FixtureRequest) -> Iterator[tuple[Server, Encoding, Type3E]]:
    with Server(ascii_dword_order="client") as server:
        peer = Type3E(plctype="Q")
        peer.setaccessopt(commtype=request.param.value)
        peer.connect(*server.address)
        try:
            yield server, request.param, peer
        finally:
            peer.close()


def client_for(server: Server, encoding: Encoding, pool: int = 3) -> PlcClient:
    host, port = server.address
    return PlcClient("KRCWO12ELOA101", host, [port] * pool, Codec(encoding, ascii_hex_numbers=False), 2.0)


def peer_text(name: str, number: int) -> str:
    """pymcprotocol's spelling: hex devices in hex, with a 0 so that B0E is not read as device BE."""
    peer_name = {"SS": "STS", "SC": "STC", "SN": "STN"}.get(name, name)  # its names for retentive timers
    return f"{peer_name}0{number:X}" if DEVICES[name].hexadecimal else f"{peer_name}{number}"


WORD_DEVICES = ["D", "W", "R", "ZR", "SD", "SW", "TN", "CN", "SN"]
BIT_DEVICES = ["M", "X", "Y", "L", "F", "V", "B", "SB", "SM", "DX", "DY", "TS", "TC", "CS", "CC", "SS", "SC"]


def test_words_written_by_pymcprotocol_read_back_for_every_word_device(
        plc: tuple[Server, Encoding, Type3E]) -> None:
    server, encoding, peer = plc
    expected = {}
    for i, name in enumerate(WORD_DEVICES):
        values = [(i * 1000 + k * 37) % 32768 for k in range(5)]
        number = 0x20 + i  # hex devices: the peer takes hex text
        peer.batchwrite_wordunits(peer_text(name, number), values)
        expected[f"{name}{DEVICES[name].format_number(number)}"] = values

    async def read() -> dict[str, list[int]]:
        client = client_for(server, encoding)
        try:
            out: dict[str, list[int]] = {}
            for text in expected:
                a = parse_address(text)
                words = await client.execute(BatchRead(DevicePoint(a.device, a.number), 5))
                assert isinstance(words, list)
                out[text] = words
            return out
        finally:
            client.close()

    assert asyncio.run(read()) == expected


def test_bits_both_ways_for_every_bit_device(plc: tuple[Server, Encoding, Type3E]) -> None:
    server, encoding, peer = plc
    pattern = [1, 0, 1, 1, 0, 0, 1, 0]

    async def run() -> None:
        client = client_for(server, encoding)
        try:
            for i, name in enumerate(BIT_DEVICES):
                head = 32 * (i + 1)
                text = peer_text(name, head)
                peer.batchwrite_bitunits(text, pattern)
                point = DevicePoint(DEVICES[name], head)
                assert await client.execute(BatchRead(point, 8, Unit.BIT)) == pattern, name
                inverted = tuple(1 - b for b in pattern)
                await client.execute(BatchWrite(point, inverted, Unit.BIT))
                assert peer.batchread_bitunits(text, 8) == list(inverted), name
        finally:
            client.close()

    asyncio.run(run())


TYPED: list[tuple[str, str, Any]] = [("D100", "INT16", -1234), ("D101", "UINT16", 65000), ("D102", "INT32", -123456789),
         ("D104", "UINT32", 4_000_000_000), ("D106", "FLOAT32", 3.5), ("D108", "FLOAT64", -2.25e10),
         ("D112", "STRING[4]", "KRCW1"), ("D120.3", "BIT", 1), ("D120.4", "BIT", 0), ("W1A", "INT16", 77),
         ("ZR1F0", "INT32", 99999), ("M7", "BIT", 1), ("X1F", "BIT", 1), ("D5000", "UINT16", 5000),
         ("D9000", "INT32", 12), ("W200", "FLOAT32", -0.5)]


def test_every_data_type_through_the_planner(plc: tuple[Server, Encoding, Type3E]) -> None:
    server, encoding, peer = plc
    d120 = 0
    for address, dtype, value in TYPED:
        a = parse_address(address)
        words = parse_data_type(dtype).encode(value)
        if a.device.is_bit:
            peer.batchwrite_bitunits(peer_text(a.device.name, a.number), [value])
        elif a.bit is not None:
            d120 |= value << a.bit
        else:
            signed = [w - 65536 if w > 32767 else w for w in words]  # pymcprotocol takes signed words
            peer.batchwrite_wordunits(peer_text(a.device.name, a.number), signed)
    peer.batchwrite_wordunits("D120", [d120])
    plan = plan_reads([TagRead(parse_address(a), parse_data_type(t)) for a, t, _ in TYPED])
    assert len(plan.requests) < len(TYPED)

    async def read() -> list[object]:
        client = client_for(server, encoding)
        try:
            return await client.read(plan)
        finally:
            client.close()

    assert asyncio.run(read()) == [v for _, _, v in TYPED]


def test_end_code_errors_leave_the_connection_usable(plc: tuple[Server, Encoding, Type3E]) -> None:
    _, encoding, _ = plc
    server_small = Server(memory=None, max_points=10)  # a PLC that allows only 10 points

    async def run() -> None:
        with server_small:
            host, port = server_small.address
            client = PlcClient("KRCWO12ELOA101", host, [port], Codec(encoding, ascii_hex_numbers=False), 2.0)
            try:
                with pytest.raises(DeviceRangeError, match="KRCWO12ELOA101"):
                    await client.execute(BatchRead(DevicePoint(DEVICES["D"], 0), 20))
                assert await client.execute(BatchRead(DevicePoint(DEVICES["D"], 0), 2)) == [0, 0]
                assert client.connections[0].connects == 1
            finally:
                client.close()

    asyncio.run(run())


def test_unreachable_plc_backs_off() -> None:
    from tests.helpers import free_port

    async def run() -> None:
        client = PlcClient("KRCWO12ELOA101", "127.0.0.1", [free_port()], Codec(Encoding.BINARY), 0.5)
        with pytest.raises(PlcConnectionError, match="connect failed"):
            await client.execute(BatchRead(DevicePoint(DEVICES["D"], 0), 1))
        with pytest.raises(PlcConnectionError, match="reconnecting in"):
            await client.execute(BatchRead(DevicePoint(DEVICES["D"], 0), 1))
        assert client.connections[0].state == "BACKOFF"

    asyncio.run(run())


def test_every_data_type_written_by_the_client_reads_back_in_pymcprotocol(
        plc: tuple[Server, Encoding, Type3E]) -> None:
    server, encoding, peer = plc
    word_tags = [(a, t, v) for a, t, v in TYPED if not parse_address(a).is_bit]

    async def write() -> None:
        client = client_for(server, encoding)
        try:
            for address, dtype, value in word_tags:
                a = parse_address(address)
                words = tuple(parse_data_type(dtype).encode(value))
                await client.execute(BatchWrite(DevicePoint(a.device, a.number), words))
        finally:
            client.close()

    asyncio.run(write())
    for address, dtype, value in word_tags:
        a = parse_address(address)
        dt = parse_data_type(dtype)
        signed = peer.batchread_wordunits(peer_text(a.device.name, a.number), dt.words)
        unsigned = [w & 0xFFFF for w in signed]
        assert dt.decode(unsigned) == value, address


@pytest.mark.parametrize("encoding", list(Encoding), ids=lambda e: e.value)
def test_4e_frames_echo_and_the_ascii_dword_deviation_against_virtual_plc(encoding: Encoding) -> None:
    from virtual_plc import Memory

    from common.mc.commands import Echo, RandomRead
    from common.mc.frames import Frame

    memory = Memory()
    memory.write_words("D", 10, parse_data_type("INT32").encode(-123456))
    with Server(memory=memory) as server:  # virtual-plc as it ships: ASCII dwords low word first
        async def run(low_first: bool) -> tuple[object, object, object]:
            codec = Codec(encoding, frame=Frame.E4, ascii_hex_numbers=False, ascii_dwords_low_first=low_first)
            client = PlcClient("KRCWO12ELOA101", server.address[0], [server.address[1]], codec, 2.0)
            try:
                return (await client.execute(BatchRead(DevicePoint(DEVICES["D"], 10), 2)),
                        await client.execute(RandomRead((), (DevicePoint(DEVICES["D"], 10),))),
                        await client.execute(Echo()))
            finally:
                client.close()

        words, dwords, echoed = asyncio.run(run(low_first=True))
        assert words == [0x1DC0, 0xFFFE] and dwords == [0xFFFE1DC0] and echoed == b"0123456789ABCDEF"
        if encoding is Encoding.ASCII:  # the manual's order against this peer: the words come swapped
            assert asyncio.run(run(low_first=False))[1] == [0x1DC0FFFE]
