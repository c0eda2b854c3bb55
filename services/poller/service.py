"""The poller process for one PLC: its pool, its groups on their schedules, its queue, its status.

Strategy: asyncio, one task per FIXED group sleeping until its next absolute
deadline, so a slow or failing group delays nobody else; the PLC client's
pool lets the groups' requests run side by side. PollingData goes to the send
queue, which never blocks. SIGTERM stops the schedules, flushes the queue,
closes the pool and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

import zmq

from common import bus, messages
from common.config_store import model, open_store
from common.mc.client import PlcClient
from common.mc.commands import Codec
from common.mc.frames import Encoding
from common.settings import Settings
from services.poller.group import GroupRunner
from services.poller.schedule import FixedSchedule
from services.poller.sender import SendQueue

log = logging.getLogger("poller")

KEEPALIVE_IDLE_S = 20.0  # a Q-series built-in port drops a connection after ~45 s of silence
FLUSH_TIMEOUT_S = 1.5


class PollerService:
    def __init__(self, settings: Settings, plc_code: str) -> None:
        self.settings = settings
        conn = open_store(settings.config_db)
        try:
            plc = model.load_plc(conn, plc_code)
            if plc is None:
                raise SystemExit(f"PLC {plc_code} is not in the config store {settings.config_db}")
            groups = model.load_groups(conn, plc_code)
            tags = model.load_tags(conn, plc_code)
        finally:
            conn.close()
        self.plc = plc
        by_group: dict[str, list[model.Tag]] = {}
        for tag in tags:
            by_group.setdefault(tag.group_name, []).append(tag)
        self.groups = [GroupRunner(g, by_group.get(g.group_name, [])) for g in groups]
        encoding = Encoding.BINARY if plc.protocol == "MC3E_BINARY" else Encoding.ASCII
        timeout = plc.timeout_ms / 1000
        codec = Codec(encoding, timer=max(1, min(0xFFFF, int(timeout * 4))),
                      ascii_hex_numbers=settings.mc_ascii_hex_numbers)
        self.codec = codec
        self.timeout = timeout
        self.client: PlcClient | None = None
        self.queue: SendQueue | None = None
        self.started = time.time()

    async def run_fixed(self, runner: GroupRunner) -> None:
        assert self.client is not None and self.queue is not None
        loop = asyncio.get_running_loop()
        interval = runner.group.interval_ms / 1000
        schedule = FixedSchedule(loop.time(), interval)
        while True:
            delay = schedule.deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness = 1000 * (loop.time() - schedule.deadline)
            runner.stats.max_lateness_ms = max(runner.stats.max_lateness_ms, lateness)
            if runner.state == "RUNNING":
                data = await runner.cycle(self.client)
                self.queue.put(messages.encode_polling_data(data))
            schedule.advance(loop.time())
            runner.stats.overruns = schedule.overruns

    def figures(self) -> dict[str, Any]:
        assert self.client is not None and self.queue is not None
        return {"plc_code": self.plc.plc_code, "host": self.plc.host, "protocol": self.plc.protocol,
                "started_ms": int(self.started * 1000), "groups": [g.figures() for g in self.groups],
                "queue": self.queue.figures(), "connections": self.client.describe()}

    async def publish_status(self, telemetry: bus.Telemetry) -> None:
        assert self.client is not None
        while True:
            telemetry.publish(**self.figures())
            await self.client.keep_alive(KEEPALIVE_IDLE_S)
            await asyncio.sleep(1.0)

    async def run(self) -> None:
        s = self.settings
        ctx: zmq.Context[Any] = zmq.Context.instance()
        self.client = PlcClient(self.plc.plc_code, self.plc.host, self.plc.connection_ports, self.codec,
                                self.timeout)
        self.queue = SendQueue(ctx, s.ingest_endpoint, s.data_queue_size)
        telemetry = bus.Telemetry(ctx, s.telemetry_endpoint, "poller", self.plc.plc_code)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(self.queue.run(), name="sender"),
                 asyncio.create_task(self.publish_status(telemetry), name="status")]
        for runner in self.groups:
            if runner.group.mode == "FIXED":
                tasks.append(asyncio.create_task(self.run_fixed(runner), name=runner.name))
        log.info("%s: %d groups, %d tags, %d connections to %s (%s)", self.plc.plc_code, len(self.groups),
                 sum(len(g.tags) for g in self.groups), len(self.client.connections), self.plc.host,
                 self.plc.protocol)
        await stop.wait()
        for task in tasks:
            if task.get_name() != "sender":
                task.cancel()
        for task in tasks:
            if task.get_name() != "sender":
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        left = await self.queue.flush(FLUSH_TIMEOUT_S)
        if left:
            log.error("stopping with %d PollingData unsent (the buffer did not take them)", left)
        tasks[0].cancel()
        telemetry.publish(**self.figures(), stopped=True)
        self.client.close()
        self.queue.close()
        telemetry.close()
