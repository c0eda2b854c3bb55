"""Every fault action of virtual-plc's fault plans: a clear error naming the PLC and the
request, then the pool recovers and the next request succeeds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from virtual_plc import FaultPlan, Memory, Server

from common.mc.client import PlcClient
from common.mc.commands import BatchRead, BatchWrite, Codec, DevicePoint
from common.mc.devices import DEVICES
from common.mc.errors import DeviceRangeError, FrameError, McError, PlcConnectionError, PlcTimeoutError
from common.mc.frames import Encoding

PLC = "KRCWO12ELOA101"
TIMEOUT = 0.3
READ = BatchRead(DevicePoint(DEVICES["D"], 0), 4)

FAULTS: list[tuple[str, dict[str, Any], type[McError] | None]] = [
    ("delay past the timeout", {"type": "delay", "seconds": 1.0}, PlcTimeoutError),
    ("drop", {"type": "drop"}, PlcTimeoutError),
    ("truncate", {"type": "truncate", "n": 5}, PlcTimeoutError),
    ("bad end code", {"type": "bad_end_code", "code": 0xC056}, DeviceRangeError),
    ("close before response", {"type": "close_before_response"}, PlcConnectionError),
    ("close after response", {"type": "close_after_response"}, None),
    ("reset", {"type": "rst"}, PlcConnectionError),
    ("silent hold", {"type": "silent_hold"}, PlcTimeoutError),
    ("corrupt header", {"type": "corrupt_header", "offset": 0, "xor": 1}, FrameError),
    ("partial send", {"type": "partial_send", "chunks": [3, 4, 1], "pause": 0.05}, None),
]


def seeded() -> Memory:
    memory = Memory()
    memory.load({"D": {"0": [11, 22, 33, 44]}})
    return memory


@pytest.mark.parametrize("encoding", list(Encoding), ids=["ascii", "binary"])
@pytest.mark.parametrize(("name", "action", "error"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_then_recovery(encoding: Encoding, name: str, action: dict[str, Any],
                             error: type[McError] | None) -> None:
    plan = FaultPlan([{"match": {"command": 0x0401}, "times": 1, "action": action}])
    with Server(memory=seeded(), fault_plan=plan) as server:
        host, port = server.address

        async def run() -> None:
            client = PlcClient(PLC, host, [port], Codec(encoding, ascii_hex_numbers=False), TIMEOUT)
            try:
                if error is None:
                    assert await client.execute(READ) == [11, 22, 33, 44]
                else:
                    with pytest.raises(error) as caught:
                        await client.execute(READ)
                    text = str(caught.value)
                    assert PLC in text and "batch read D0 x4" in text, text
                # the pool recovers: the next requests succeed, on the same pool of one connection
                for _ in range(3):
                    assert await client.execute(READ) == [11, 22, 33, 44]
                await client.execute(BatchWrite(DevicePoint(DEVICES["D"], 10), (5,)))
            finally:
                client.close()

        asyncio.run(run())


def test_connection_that_returned_garbage_is_never_reused() -> None:
    plan = FaultPlan([{"match": {"command": 0x0401}, "times": 1,
                       "action": {"type": "corrupt_header", "offset": 1, "xor": 0xFF}}])
    with Server(memory=seeded(), fault_plan=plan) as server:

        async def run() -> None:
            host, port = server.address
            client = PlcClient(PLC, host, [port], Codec(Encoding.BINARY), TIMEOUT)
            with pytest.raises(FrameError):
                await client.execute(READ)
            assert client.connections[0].state == "DISCONNECTED"
            assert await client.execute(READ) == [11, 22, 33, 44]
            assert client.connections[0].connects == 2
            client.close()

        asyncio.run(run())


def test_pool_runs_requests_in_parallel() -> None:
    # every reply is held 0.2 s: five requests on a pool of five take ~0.2 s, not ~1 s
    plan = FaultPlan([{"match": {"command": 0x0401}, "times": 100, "action": {"type": "delay", "seconds": 0.2}}])
    with Server(memory=seeded(), fault_plan=plan) as server:

        async def run() -> float:
            client = PlcClient(PLC, server.address[0], [server.address[1]] * 5, Codec(Encoding.BINARY), 2.0)
            loop = asyncio.get_running_loop()
            started = loop.time()
            results = await asyncio.gather(*(client.execute(READ) for _ in range(5)))
            elapsed = loop.time() - started
            assert all(r == [11, 22, 33, 44] for r in results)
            client.close()
            return elapsed

        # virtual-plc serialises requests across connections, so parallelism shows as overlap of the waits
        assert asyncio.run(run()) < 0.9


def test_keep_alive_holds_an_idle_connection_open() -> None:
    with Server(memory=seeded(), idle_timeout=0.6) as server:

        async def run() -> None:
            client = PlcClient(PLC, server.address[0], [server.address[1]], Codec(Encoding.ASCII), 1.0)
            assert await client.execute(READ) == [11, 22, 33, 44]
            for _ in range(6):
                await asyncio.sleep(0.25)
                await client.keep_alive(0.2)
            assert client.connections[0].connects == 1  # never dropped by the PLC
            assert await client.execute(READ) == [11, 22, 33, 44]
            assert client.connections[0].connects == 1
            client.close()

        asyncio.run(run())


def test_a_connection_the_plc_closed_while_idle_is_replaced_transparently() -> None:
    with Server(memory=seeded(), idle_timeout=0.3) as server:

        async def run() -> None:
            client = PlcClient(PLC, server.address[0], [server.address[1]], Codec(Encoding.BINARY), 1.0)
            assert await client.execute(READ) == [11, 22, 33, 44]
            await asyncio.sleep(0.6)  # the PLC drops the idle connection
            assert await client.execute(READ) == [11, 22, 33, 44]
            assert client.connections[0].connects == 2
            client.close()

        asyncio.run(run())
