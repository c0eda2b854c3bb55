"""The client against aslmp's simulator (the manual as written): every device family x data type,
in binary and ASCII, 3E and 4E, over TCP and UDP, through batch (0401), random (0403) and
multi-block (0406) reads; writes read back from the peer's memory; end codes; 4E serials and UDP loss.

One simulator serves the whole module (8 links: TCP/UDP x binary/ASCII x 3E/4E) and each link's
checks take a handful of round trips, so the matrix stays fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aslmp.testing import Pathology

from common.mc.client import PlcClient
from common.mc.commands import BatchRead, BatchWrite, Echo, RandomRead
from common.mc.datatypes import DataType, parse_data_type
from common.mc.devices import DEVICES, DevicePoint, Unit, parse_address
from common.mc.errors import DeviceRangeError, DeviceSpecificationError, PlcTimeoutError, SerialMismatchError
from common.mc.frames import Encoding, Frame
from common.mc.multiblock import Block, MultiBlockRead
from common.mc.planner import TagRead, plan_reads
from common.mc.planner_blocks import plan_multi_block
from tests.aslmp_peer import LINKS, Link, Peer, aslmp_peer, peer_name

pytestmark = pytest.mark.timeout(60)

WORD_DEVICES = ["D", "W", "R", "ZR", "SD", "SW", "TN", "CN", "SN"]
BIT_DEVICES = ["M", "X", "Y", "L", "F", "V", "S", "B", "SB", "SM", "DX", "DY", "TS", "TC", "CS", "CC", "SS", "SC"]
TYPES = ["INT16", "UINT16", "INT32", "UINT32", "FLOAT32", "FLOAT64", "STRING[3]"]


def _value(dtype: DataType, i: int, k: int) -> object:
    return {"INT16": -100 - i, "UINT16": 40000 + i, "INT32": -123456 - i, "UINT32": 0xDEAD0000 + i,
            "FLOAT32": 1.5 + i, "FLOAT64": 2.25 + i, "STRING[3]": f"Q{i:02d}k{k}"}[str(dtype)]


def _tags() -> list[tuple[TagRead, object]]:
    """Every word device x data type, every bit device, bits of words; seeded far enough apart that
    the planner has a real choice between batch, random and block reads."""
    out: list[tuple[TagRead, object]] = []
    for i, name in enumerate(WORD_DEVICES):
        device = DEVICES[name]
        step = min(device.maximum, 65535) // (len(TYPES) + 2)
        for k, text in enumerate(TYPES):
            dtype = parse_data_type(text)
            number = 16 + k * step
            out.append((TagRead(parse_address(f"{name}{device.format_number(number)}"), dtype), _value(dtype, i, k)))
        bit_word = 16 + len(TYPES) * step
        out.append((TagRead(parse_address(f"{name}{device.format_number(bit_word)}.3"), parse_data_type("BIT")), 1))
    for k, (number, text) in enumerate(((1, "INT16"), (2, "UINT16"), (4, "INT32"), (6, "FLOAT32"), (8, "FLOAT64"))):
        dtype = parse_data_type(text)  # Z, the index register, holds only 20 words
        out.append((TagRead(parse_address(f"Z{number}"), dtype), _value(dtype, len(WORD_DEVICES), k)))
    for i, name in enumerate(BIT_DEVICES):
        device = DEVICES[name]
        for number, value in ((17 + i, 1), (18 + i, 0), (min(device.maximum, 65535) - i, 1)):
            out.append((TagRead(parse_address(f"{name}{device.format_number(number)}"), parse_data_type("BIT")),
                        value))
    return out


TAGS = _tags()


def _seed(peer: Peer) -> None:
    for tag, value in TAGS:
        a = tag.address
        if a.device.is_bit:
            peer.memory.write_bits(peer_name(a.device.name), a.number, [bool(value)])
        elif a.bit is not None:
            word = peer.memory.read_words(peer_name(a.device.name), a.number, 1)[0]
            peer.memory.write_words(peer_name(a.device.name), a.number, [word | (value << a.bit)])  # type: ignore[operator]
        else:
            peer.memory.write_words(peer_name(a.device.name), a.number, tag.data_type.encode(value))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    with aslmp_peer() as running:
        _seed(running)
        yield running


def client(peer: Peer, link: Link, pool: int = 2, timeout: float = 2.0, **codec: object) -> PlcClient:
    host, port = peer.address(link)
    return PlcClient("KRCWO12ELOA101", host, [port] * pool, link.codec(**codec), timeout, transport=link.transport)


@pytest.mark.parametrize("link", LINKS, ids=lambda link: link.name)
def test_every_device_family_and_data_type_reads_right_by_batch_random_and_block_reads(
        peer: Peer, link: Link) -> None:
    tags = [t for t, _ in TAGS]
    expected = [v for _, v in TAGS]
    plans = {"planner": plan_reads(tags), "random": plan_reads(tags, max_gap=0),
             "0406": plan_multi_block(tags)}
    used = set().union(*(p.commands for p in plans.values()))
    assert {"0401", "0403", "0406"} <= used

    async def run() -> dict[str, list[object]]:
        c = client(peer, link)
        try:
            return {name: await c.read(plan) for name, plan in plans.items()}
        finally:
            c.close()

    for name, values in asyncio.run(run()).items():
        wrong = [(str(t.address), str(t.data_type), v, e) for t, v, e in zip(tags, values, expected, strict=True)
                 if v != e]
        assert not wrong, f"{name}: {wrong[:5]}"


@pytest.mark.parametrize("link", LINKS, ids=lambda link: link.name)
def test_words_and_bits_written_by_the_client_are_in_the_peers_memory(peer: Peer, link: Link) -> None:
    base = 30000 + 16 * LINKS.index(link)
    words = tuple((base * 7 + k * 4099) & 0xFFFF for k in range(6))
    bits = (1, 0, 1, 1, 0, 0, 1)

    async def run() -> None:
        c = client(peer, link, pool=1)
        try:
            await c.execute(BatchWrite(DevicePoint(DEVICES["W"], base), words))
            await c.execute(BatchWrite(DevicePoint(DEVICES["B"], base), bits, Unit.BIT))
        finally:
            c.close()

    asyncio.run(run())
    assert peer.memory.read_words("W", base, len(words)) == words
    assert tuple(int(b) for b in peer.memory.read_bits("B", base, len(bits))) == bits


@pytest.mark.parametrize("link", LINKS, ids=lambda link: link.name)
def test_end_codes_of_the_manual_arrive_as_their_classes(peer: Peer, link: Link) -> None:
    async def run() -> None:
        c = client(peer, link, pool=1)
        try:
            with pytest.raises(DeviceSpecificationError) as contact:  # the manual forbids TS in random reads
                await c.execute(RandomRead((DevicePoint(DEVICES["TS"], 0),)))
            assert contact.value.end_code == 0x4032
            with pytest.raises(DeviceRangeError):
                await c.execute(BatchRead(DevicePoint(DEVICES["D"], 65535), 2))
            block = MultiBlockRead((Block(DevicePoint(DEVICES["D"], 16), 2),),
                                   (Block(DevicePoint(DEVICES["M"], 16), 1),))
            assert len(await c.execute(block)) == 3  # type: ignore[arg-type]  # and the link still works
            assert await c.execute(Echo()) == Echo().data  # keep-alive data the manual allows
        finally:
            c.close()

    asyncio.run(run())


@pytest.mark.parametrize("encoding", list(Encoding), ids=lambda e: e.value)
def test_a_4e_reply_with_another_serial_is_rejected_and_the_connection_replaced(encoding: Encoding) -> None:
    link = Link("TCP", encoding, Frame.E4)
    with aslmp_peer((link,), Pathology(wrong_serial_echo=True)) as p:
        async def run() -> None:
            c = client(p, link, pool=1)
            try:
                for _ in range(2):
                    with pytest.raises(SerialMismatchError):
                        await c.execute(BatchRead(DevicePoint(DEVICES["D"], 0), 1))
                connection = c.connections[0]
                assert connection.connects == 2 and connection.failures == 2 and connection.state == "DISCONNECTED"
            finally:
                c.close()

        asyncio.run(run())


@pytest.mark.parametrize("frame", list(Frame), ids=lambda f: f.value)
def test_udp_timeout_is_not_a_broken_connection_and_a_late_reply_is_never_the_next_answer(frame: Frame) -> None:
    link = Link("UDP", Encoding.BINARY, frame)
    with aslmp_peer((link,), Pathology(late_reply_s=0.25)) as p:
        p.memory.write_words("D", 0, [111, 222])

        async def run() -> None:
            c = client(p, link, pool=1, timeout=0.1)
            connection = c.connections[0]
            try:
                with pytest.raises(PlcTimeoutError):
                    await c.execute(BatchRead(DevicePoint(DEVICES["D"], 0), 1))
                assert connection.state == "CONNECTED"
                connection.timeout = 1.0
                # D0's late reply (111) lands while this one waits: it must not be taken for D1's.
                assert await c.execute(BatchRead(DevicePoint(DEVICES["D"], 1), 1)) == [222]
                figures = connection.describe()
                assert figures["timeouts"] == 1 and figures["failures"] == 0
                if frame is Frame.E4:
                    assert figures["stray"] == 1  # seen and dropped by its serial
                else:
                    assert figures["connects"] == 2  # 3E: a new socket, the late reply went to the old port
            finally:
                c.close()

        asyncio.run(run())


def test_ascii_hex_device_numbers_follow_the_manual() -> None:
    link = Link("TCP", Encoding.ASCII, Frame.E3)
    with aslmp_peer((link,)) as p:
        p.memory.write_words("W", 0x1A, [0x1A])
        p.memory.write_words("W", 0x26, [0x26])

        async def run() -> tuple[object, object]:
            manual = client(p, link, pool=1)
            decimal = client(p, link, pool=1, ascii_hex_numbers=False)
            try:
                return (await manual.execute(BatchRead(DevicePoint(DEVICES["W"], 0x1A), 1)),
                        await decimal.execute(BatchRead(DevicePoint(DEVICES["W"], 0x1A), 1)))
            finally:
                manual.close()
                decimal.close()

        # W1A: the manual writes 00001A; a decimal writer sends 000026, which this peer reads as W26.
        assert asyncio.run(run()) == ([0x1A], [0x26])

