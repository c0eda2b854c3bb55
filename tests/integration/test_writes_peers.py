"""Writes through the poller's write path (old value, 1401 in order, read-modify-write, read back)
against both third-party peers: virtual-plc and aslmp's simulator, binary and ASCII."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from virtual_plc import Server

from common.config_store.model import Tag
from common.mc.client import PlcClient
from common.mc.commands import Codec
from common.mc.frames import Encoding, Frame
from common.writes.values import CheckedWrite, check_write
from services.poller.writes import write_tags
from tests.aslmp_peer import Link, aslmp_peer, peer_name
from tests.helpers import free_port

pytestmark = pytest.mark.timeout(60)

#: (address, type, scale, offset, value written in engineering units); every type, every kind of address
WRITES: list[tuple[str, str, float | None, float | None, Any]] = [
    ("D100", "INT16", None, None, -1234), ("D101", "UINT16", None, None, 65000),
    ("D102", "INT32", None, None, -123456789), ("D104", "UINT32", None, None, 4_000_000_000),
    ("D106", "FLOAT32", None, None, 3.5), ("D108", "FLOAT64", None, None, -2.25e10),
    ("D112", "STRING[4]", None, None, "KRCW1"), ("D200", "INT16", 0.1, -40.0, 12.3),
    ("D201", "UINT32", 0.01, 273.15, 300.0), ("D120.3", "BIT", None, None, 1), ("D120.4", "BIT", None, None, 0),
    ("D120.F", "BIT", None, None, 1), ("M7", "BIT", None, None, 1), ("M8", "BIT", None, None, 1),
    ("X1F", "BIT", None, None, 1), ("W1A", "INT16", None, None, 77), ("ZR1F0", "FLOAT32", 2.0, None, -1.0),
]


def writes() -> list[CheckedWrite]:
    return [check_write(Tag("KRCWO12ELOA101", "G", f"T_{a}", a, t, s, o, "", "", True), v)
            for a, t, s, o, v in WRITES]


def run_writes(host: str, port: int, codec: Codec, checked: list[CheckedWrite],
               transport: str = "TCP") -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        client = PlcClient("KRCWO12ELOA101", host, [port] * 2, codec, 2.0, transport=transport)
        try:
            return await write_tags(client, checked, codec.encoding)
        finally:
            client.close()

    return asyncio.run(run())


def assert_written(outcomes: list[dict[str, Any]]) -> None:
    wrong = [(o["tag"], o["requested"], o["read_back"], o["result"], o["detail"]) for o in outcomes
             if o["result"] != "written" or o["read_back"] != pytest.approx(o["requested"])]
    assert not wrong


@pytest.fixture(params=[Encoding.ASCII, Encoding.BINARY], ids=["ascii", "binary"])
def virtual_plc(request: pytest.FixtureRequest) -> Iterator[tuple[Server, Encoding]]:
    with Server(ascii_dword_order="client") as server:
        yield server, request.param


def test_every_type_written_and_read_back_on_virtual_plc(virtual_plc: tuple[Server, Encoding]) -> None:
    server, encoding = virtual_plc
    server.memory.write_words("D", 120, [0b0000_0000_0001_0001])  # bit 4 set (cleared by the write), bit 0 kept
    host, port = server.address
    outcomes = run_writes(host, port, Codec(encoding, ascii_hex_numbers=False), writes())
    assert_written(outcomes)
    assert outcomes[10]["old_value"] == 1  # D120.4 as it was
    assert server.memory.read_words("D", 120, 1) == [0b1000_0000_0000_1001]  # the other bits as they were
    assert server.memory.read_words("D", 200, 1) == [523]  # (12.3 + 40) / 0.1


@pytest.mark.parametrize("link", [Link("TCP", e, f) for e in Encoding for f in Frame] + [
    Link("UDP", Encoding.BINARY, Frame.E3)], ids=lambda link: link.name)
def test_every_type_written_and_read_back_on_aslmp(link: Link) -> None:
    with aslmp_peer((link,)) as peer:
        peer.memory.write_words("D", 120, [0b0000_0000_0001_0001])
        host, port = peer.address(link)
        outcomes = run_writes(host, port, link.codec(), writes(), link.transport)
        assert_written(outcomes)
        assert peer.memory.read_words("D", 120, 1) == (0b1000_0000_0000_1001,)
        assert peer.memory.read_words(peer_name("D"), 201, 2) == (2685, 0)


def test_a_list_goes_out_in_as_few_requests_as_the_order_allows(virtual_plc: tuple[Server, Encoding]) -> None:
    server, encoding = virtual_plc
    seen: list[str] = []

    class Counting(PlcClient):
        async def execute(self, request: Any) -> Any:
            seen.append(f"{request.command:04X}")
            return await super().execute(request)

    checked = [check_write(Tag("KRCWO12ELOA101", "G", f"T{n}", f"D{3000 + n}", "INT16", None, None, "", "", True),
                           n) for n in range(100)]

    async def run() -> list[dict[str, Any]]:
        host, port = server.address
        client = Counting("KRCWO12ELOA101", host, [port],
                          Codec(encoding, ascii_hex_numbers=False), 2.0)
        try:
            return await write_tags(client, checked, encoding)
        finally:
            client.close()

    assert_written(asyncio.run(run()))
    assert seen == ["0401", "1401", "0401"]  # old values, one write of 100 words, read back
    assert server.memory.read_words("D", 3000, 100) == list(range(100))


def test_a_plc_that_is_away_gets_nothing_and_says_how() -> None:
    outcomes = run_writes("127.0.0.1", free_port(), Codec(Encoding.BINARY), writes()[:2])
    assert [(o["result"], o["failure"]) for o in outcomes] == [("not_sent", "connection")] * 2
    assert "nothing written" in outcomes[0]["detail"]
