"""The poller process for one PLC: its pool, its groups on their schedules, its queue, its status.

Strategy: asyncio, one task per group sleeping until its next absolute
deadline, so a slow or failing group delays nobody else; the PLC client's
pool lets the groups' requests run side by side. FIXED groups read at every
deadline; HANDSHAKE groups look at their trigger bit at every deadline and
read when the PLC asks. PollingData goes to the send queue, which never
blocks and keeps each cycle (journaled) until the buffer confirms it.
Commands from the gateway (start, stop, trigger) arrive on the control
socket. SIGTERM stops the schedules, waits a moment for the queue to be
confirmed (what is not stays journaled for the next start), closes the pool
and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

import zmq
import zmq.asyncio

from common import bus, messages
from common.config_store import model, open_store
from common.ledger import Ledger
from common.mc.client import PlcClient
from common.mc.errors import McError
from common.runtime import settle_memory
from common.settings import Settings
from services.poller.control import CommandError, ControlLink
from services.poller.group import GroupRunner
from services.poller.handshake import TriggerWatch
from services.poller.link import plc_client, plc_codec
from services.poller.schedule import FixedSchedule
from services.poller.sender import SendQueue

log = logging.getLogger("poller")

KEEPALIVE_IDLE_S = 20.0  # a Q-series built-in port drops a connection after ~45 s of silence
FLUSH_TIMEOUT_S = 1.2


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
        self.groups = {g.group_name: GroupRunner(g, by_group.get(g.group_name, []), plc.multi_block_read)
                       for g in groups}
        timeout = plc.timeout_ms / 1000
        self.codec = plc_codec(plc, timeout, settings.mc_ascii_hex_numbers)
        self.timeout = timeout
        self.client: PlcClient | None = None
        self.queue: SendQueue | None = None
        self.started = time.time()

    # -- cycles --------------------------------------------------------------
    async def _read_and_send(self, runner: GroupRunner) -> messages.PollingData:
        assert self.client is not None and self.queue is not None
        data = await runner.cycle(self.client)
        self.queue.put(data)
        return data

    async def run_group(self, runner: GroupRunner, phase: float = 0.0) -> None:
        """A group's schedule: FIXED reads at every deadline, HANDSHAKE looks at its trigger.

        ``phase`` (a fraction of the interval) staggers the groups of a PLC, so
        they do not all ask the PLC at the same instant.
        """
        assert self.client is not None
        loop = asyncio.get_running_loop()
        interval = runner.group.interval_ms / 1000
        schedule = FixedSchedule(loop.time() + phase * min(interval, 1.0), interval)
        watch = (TriggerWatch(runner.group.trigger_device, runner.group.ack_device)
                 if runner.group.mode == "HANDSHAKE" else None)
        while True:
            delay = schedule.deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            runner.stats.late(1000 * (loop.time() - schedule.deadline))
            if runner.state == "RUNNING":
                if watch is None:
                    await self._read_and_send(runner)
                else:
                    try:
                        waiting = await watch.should_read(self.client)
                        runner.stats.last_good_ms = messages.now_ms()  # the PLC answered the trigger look
                        if waiting:
                            data = await self._read_and_send(runner)
                            if data.error is None:
                                await watch.served(self.client)
                    except McError as error:
                        runner.note_error(error)
            schedule.advance(loop.time())
            runner.stats.overruns = schedule.overruns

    # -- control -------------------------------------------------------------
    def _group(self, command: dict[str, Any]) -> GroupRunner:
        name = command.get("group")
        runner = self.groups.get(str(name))
        if runner is None:
            raise CommandError("unknown_group", f"no group {name} on {self.plc.plc_code}")
        return runner

    async def on_command(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.get("op")
        if op in ("start", "stop"):
            runner = self._group(command)
            runner.state = "RUNNING" if op == "start" else "STOPPED"
            return {"group": runner.name, "state": runner.state}
        if op in ("start_all", "stop_all"):
            for runner in self.groups.values():
                runner.state = "RUNNING" if op == "start_all" else "STOPPED"
            return {"groups": [{"group": r.name, "state": r.state} for r in self.groups.values()]}
        if op == "trigger":
            runner = self._group(command)
            if runner.group.mode != "HANDSHAKE":
                raise CommandError("not_handshake",
                                   f"{runner.name} is a FIXED group; only HANDSHAKE groups are triggered")
            data = await self._read_and_send(runner)
            if data.error is not None:
                raise CommandError("read_failed", f"{runner.name} cycle {data.seq}: {data.error}")
            return {"group": runner.name, "plc_code": self.plc.plc_code, "sequence": data.seq,
                    "values": len(data.values), "duration_ms": data.duration_ms, "ts_ms": data.ts_ms}
        raise CommandError("bad_command", f"unknown op {op!r}")

    # -- status --------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        assert self.client is not None and self.queue is not None
        return {"plc_code": self.plc.plc_code, "host": self.plc.host, "protocol": self.plc.protocol,
                "transport": self.plc.transport, "multi_block_read": self.plc.multi_block_read,
                "deviations": sorted(self.plc.deviations),
                "started_ms": int(self.started * 1000),
                "groups": [g.figures() for g in self.groups.values()],
                "queue": self.queue.figures(), "connections": self.client.describe(),
                "connected": self.client.connected}

    async def publish_status(self, telemetry: bus.Telemetry) -> None:
        assert self.client is not None
        assert self.queue is not None
        while True:
            telemetry.publish(**self.figures())
            await self.queue.housekeeping()
            await self.client.keep_alive(KEEPALIVE_IDLE_S)
            await asyncio.sleep(1.0)

    # -- process -------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        s = self.settings
        ctx: zmq.Context[Any] = zmq.Context.instance()
        actx = zmq.asyncio.Context.instance()
        self.client = plc_client(self.plc, self.codec, self.timeout)
        code = self.plc.plc_code
        self.queue = SendQueue(ctx, s.ingest_endpoint, s.data_queue_size, s.poller_outbox_file(code),
                               Ledger(s.ledger_dir, f"poller_{code}", s.ledger_keep_days), code,
                               s.poller_ack_timeout)
        loaded = self.queue.load()
        if loaded:
            log.info("queued again %d PollingData the buffer had not confirmed at the last stop", loaded)
        confirmations = bus.make_socket(actx, zmq.SUB, connect=s.live_endpoint, linger=0)
        confirmations.setsockopt(zmq.SUBSCRIBE, bus.ack_topic(code))
        telemetry = bus.Telemetry(ctx, s.telemetry_endpoint, "poller", self.plc.plc_code)
        control = ControlLink(actx, s.control_endpoint, self.plc.plc_code, list(self.groups), self.on_command)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        sender = asyncio.create_task(self.queue.run(), name="sender")
        tasks = [asyncio.create_task(self.publish_status(telemetry), name="status"),
                 asyncio.create_task(control.run(), name="control")]
        receiver = asyncio.create_task(self.queue.receive_confirmations(confirmations), name="confirmations")
        count = len(self.groups)
        tasks += [asyncio.create_task(self.run_group(r, i / count), name=r.name)
                  for i, r in enumerate(self.groups.values())]
        settle_memory()
        log.info("%s: %d groups, %d tags, %d connections to %s (%s)", self.plc.plc_code, len(self.groups),
                 sum(len(g.tags) for g in self.groups.values()), len(self.client.connections), self.plc.host,
                 self.plc.protocol)
        await stop.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        left = await self.queue.flush(FLUSH_TIMEOUT_S)
        if left:
            log.warning("the buffer has not confirmed %d PollingData; they stay in %s for the next start",
                        left, self.queue.journal.path)
        for task in (sender, receiver):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        telemetry.publish(**self.figures(), stopped=True)
        self.client.close()
        self.queue.close()
        confirmations.close()
        control.close()
        telemetry.close()
