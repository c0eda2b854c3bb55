"""PlcClient.deadline: requests made under it end by the deadline -- waiting for the PLC's reply and
waiting for a free pooled connection -- with PlcTimeoutError, so a polling cycle never outlives it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from virtual_plc import FaultPlan, Memory, Server

from common.mc.client import PlcClient
from common.mc.commands import BatchRead, Codec, DevicePoint
from common.mc.devices import DEVICES
from common.mc.errors import PlcTimeoutError
from common.mc.frames import Encoding

PLC = "KRCWO12ELOA101"
READ = BatchRead(DevicePoint(DEVICES["D"], 0), 2)


def silent_plan() -> FaultPlan:
    return FaultPlan([{"match": {"command": 0x0401}, "times": 1000, "action": {"type": "silent_hold"}}])


def test_requests_end_at_the_deadline_not_the_timeout() -> None:
    with Server(memory=Memory(), fault_plan=silent_plan()) as server:
        host, port = server.address

        async def run() -> list[Any]:
            # a pool of 2, a timeout of 5 s; 4 requests under a 0.4 s deadline: 2 wait for the PLC, 2 for the pool
            client = PlcClient(PLC, host, [port, port], Codec(Encoding.BINARY), 5.0)
            try:
                with client.deadline(time.monotonic() + 0.4):
                    return await asyncio.gather(*(client.execute(READ) for _ in range(4)), return_exceptions=True)
            finally:
                client.close()

        started = time.monotonic()
        results = asyncio.run(run())
        took = time.monotonic() - started
    assert all(isinstance(r, PlcTimeoutError) for r in results), results
    assert sum("no pooled connection free" in str(r) for r in results) == 2, results
    assert took < 1.5, took  # the deadline (0.4 s), not the 5 s timeout; margin for a loaded machine


@pytest.mark.parametrize("encoding", list(Encoding), ids=["ascii", "binary"])
def test_without_a_deadline_the_timeout_bounds_the_wait_for_a_connection(encoding: Encoding) -> None:
    with Server(memory=Memory(), fault_plan=silent_plan()) as server:
        host, port = server.address

        async def run() -> list[Any]:
            client = PlcClient(PLC, host, [port], Codec(encoding, ascii_hex_numbers=False), 0.3)
            try:
                return list(await asyncio.gather(client.execute(READ), client.execute(READ), return_exceptions=True))
            finally:
                client.close()

        results = asyncio.run(run())
    assert all(isinstance(r, PlcTimeoutError) for r in results), results
