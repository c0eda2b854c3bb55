"""The poller process for one PLC: its pool, its groups on their schedules, its queue, its status.

Strategy: asyncio, one task per group sleeping until its next absolute
deadline, so a slow or failing group delays nobody else; the PLC client's
pool lets the groups' requests run side by side. FIXED groups read at every
deadline; HANDSHAKE groups look at their trigger bit at every deadline and
read when the PLC asks. PollingData goes to the send queue, which never
blocks and keeps each cycle (journaled) until the buffer confirms it.
Commands from the gateway (start, stop, trigger) arrive on the control
socket. At start the poller takes its epoch (epoch.py), which with each
group's sequence makes cycle numbers no clock step or restart repeats; a
clock watch compares the wall clock with the monotonic one once a second and
reports a step in the status. SIGTERM stops the schedules, waits a moment for the queue to be
confirmed (what is not stays journaled for the next start), closes the pool
and exits. Every task (each group, the sender, the confirmations, control,
status, housekeeping) is started through ``runtime.supervise``: one that
raises is logged with its traceback and started again, and the status
(published by a task of its own, whatever the others do) counts its deaths.
A full disk stops nothing: the send queue keeps what it cannot journal in
memory and the status says so (``disk``, ``queue.unjournaled``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import signal
import sqlite3
import time
from typing import Any

import zmq
import zmq.asyncio

from common import bus, curve, messages
from common.config_store import model, open_store
from common.disk import DiskState
from common.ledger import Ledger
from common.mc.client import Backoff, PlcClient
from common.mc.errors import McError, PlcTimeoutError
from common.runtime import settle_memory, supervise
from common.settings import Settings
from services.poller.clock import ClockWatch
from services.poller.control import CommandError, ControlLink
from services.poller.epoch import next_epoch
from services.poller.group import GroupRunner
from services.poller.handshake import TriggerWatch
from services.poller.link import plc_client, plc_codec
from services.poller.schedule import FixedSchedule
from services.poller.sender import SendQueue

log = logging.getLogger("poller")

KEEPALIVE_IDLE_S = 20.0  # a Q-series built-in port drops a connection after ~45 s of silence
FLUSH_TIMEOUT_S = 1.2
EPOCH_RETRY_S = 2.0  # while the disk refuses the epoch file
CYCLE_MARGIN_S = 0.05  # a cycle ends this long before the next deadline (at most a tenth of the interval)
STORE_RETRY_BASE_S = 0.5
STORE_RETRY_CAP_S = 10.0


def load_plant(settings: Settings, plc_code: str) -> tuple[model.Plc, list[model.PollingGroup], list[model.Tag]]:
    """The PLC, its groups and tags; while the store is busy (locked by an import), wait and try again.

    A poller that died on a locked store would be restarted by supervisord a
    few times and then given up (FATAL); waiting here with backoff, it comes
    up as soon as the store answers.
    """
    backoff = Backoff(base=STORE_RETRY_BASE_S, cap=STORE_RETRY_CAP_S)
    while True:
        try:
            conn = open_store(settings.config_db)
            try:
                plc = model.load_plc(conn, plc_code)
                if plc is None:
                    raise SystemExit(f"PLC {plc_code} is not in the config store {settings.config_db}")
                return plc, model.load_groups(conn, plc_code), model.load_tags(conn, plc_code)
            finally:
                conn.close()
        except sqlite3.OperationalError as error:
            delay = backoff.next_delay()
            log.warning("config store %s not readable (%s); trying again in %.1f s", settings.config_db, error,
                        delay)
            time.sleep(delay)


class PollerService:
    def __init__(self, settings: Settings, plc_code: str, security: curve.SocketSecurity | None = None) -> None:
        self.settings = settings
        self.security = security or curve.for_stage(settings, "poller")
        plc, groups, tags = load_plant(settings, plc_code)
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
        self.clock = ClockWatch(settings.poller_clock_step_ms)
        self.epoch = 0
        self.started = time.time()
        self.task_deaths: dict[str, int] = {}

    # -- cycles --------------------------------------------------------------
    async def _read_and_send(self, runner: GroupRunner) -> messages.PollingData:
        assert self.client is not None and self.queue is not None
        data = await runner.cycle(self.client)
        kept = runner.deadband.filter(data.values, data.ts_ms)  # report by exception (deadband.py)
        self.queue.put(dataclasses.replace(data, values=kept.values) if kept.suppressed else data, kept.suppressed)
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
        connects = self._connects()
        margin = min(CYCLE_MARGIN_S, interval / 10)
        while True:
            delay = schedule.deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            runner.stats.late(1000 * (loop.time() - schedule.deadline))
            if runner.state == "RUNNING":
                if watch is not None:
                    now_connects = self._connects()
                    if now_connects != connects:
                        connects = now_connects
                        watch.forget()  # reconnected: the PLC may have restarted and lost the handshake's state
                # the PLC gets until just before the next deadline: a silent PLC gives a BAD row per deadline
                with self.client.deadline(schedule.next_deadline - margin):
                    await self._cycle(runner, watch)
            schedule.advance(loop.time())
            st = runner.stats
            st.overruns, st.deadlines_skipped = schedule.overruns, schedule.missed
            st.deadlines_missed = st.deadlines_skipped + st.reads_timed_out

    async def _cycle(self, runner: GroupRunner, watch: TriggerWatch | None) -> None:
        assert self.client is not None
        if watch is None:
            data = await self._read_and_send(runner)
            if any(v.quality == "BAD_TIMEOUT" for v in data.values):
                runner.stats.reads_timed_out += 1
            return
        try:
            waiting = await watch.should_read(self.client)
            runner.stats.last_good_ms = messages.now_ms()  # the PLC answered the trigger look
            if waiting:
                data = await self._read_and_send(runner)
                if data.error is None:
                    await watch.served(self.client)
        except McError as error:
            watch.forget()  # a failed read: whatever the PLC holds now is read again
            if isinstance(error, PlcTimeoutError):
                runner.stats.reads_timed_out += 1
            runner.note_error(error)

    def _connects(self) -> int:
        """Connections made to the PLC so far; a change means a reconnect."""
        assert self.client is not None
        return sum(c.connects for c in self.client.connections)

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
            return {"group": runner.name, "plc_code": self.plc.plc_code, "sequence": data.seq, "cycle": data.cycle,
                    "values": len(data.values), "duration_ms": data.duration_ms, "ts_ms": data.ts_ms}
        raise CommandError("bad_command", f"unknown op {op!r}")

    # -- status --------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        assert self.client is not None and self.queue is not None
        return {"plc_code": self.plc.plc_code, "host": self.plc.host, "protocol": self.plc.protocol,
                "transport": self.plc.transport, "multi_block_read": self.plc.multi_block_read,
                "deviations": sorted(self.plc.deviations),
                "started_ms": int(self.started * 1000), "epoch": self.epoch, "clock": self.clock.figures(),
                "groups": [g.figures() for g in self.groups.values()],
                "queue": self.queue.figures(), "connections": self.client.describe(),
                "connected": self.client.connected, "disk": self.queue.disk.figures(),
                "task_deaths": dict(self.task_deaths)}

    async def publish_status(self, telemetry: bus.Telemetry) -> None:
        while True:
            self.clock.look()
            telemetry.publish(**self.figures())
            await asyncio.sleep(1.0)

    async def housekeeping(self) -> None:
        """Apart from the status, so that a slow disk or PLC never delays it."""
        assert self.client is not None
        assert self.queue is not None
        while True:
            await self.queue.housekeeping()
            await self.client.keep_alive(KEEPALIVE_IDLE_S)
            await asyncio.sleep(1.0)

    async def _take_epoch(self) -> int:
        """This start's epoch; while the disk refuses the epoch file (full), wait for it rather than exit.

        Exiting would hand the wait to supervisord, whose retries back off to minutes; polling cannot
        start without a durable epoch (cycle numbers could repeat), so the poller waits here and says why.
        """
        path = self.settings.poller_epoch_file(self.plc.plc_code)
        assert self.queue is not None, "the send queue is loaded first: its cycles bound the epoch"
        warned = False
        while True:
            try:
                return next_epoch(path, (cycle for _, cycle in self.queue.outbox.entries))
            except OSError as error:
                if not warned:
                    log.warning("cannot write the poller's epoch to %s (%s); polling starts once it can, "
                                "trying every %.0f s", path, error, EPOCH_RETRY_S)
                    warned = True
                await asyncio.sleep(EPOCH_RETRY_S)

    # -- process -------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        s = self.settings
        ctx: zmq.Context[Any] = zmq.Context.instance()
        actx = zmq.asyncio.Context.instance()
        self.client = plc_client(self.plc, self.codec, self.timeout)
        code = self.plc.plc_code
        self.queue = SendQueue(ctx, s.ingest_endpoint, s.data_queue_size, s.poller_outbox_file(code),
                               Ledger(s.ledger_dir, f"poller_{code}", s.ledger_keep_days, DiskState()), code,
                               s.poller_ack_timeout, self.security)
        loaded = self.queue.load()
        if loaded:
            log.info("queued again %d PollingData the buffer had not confirmed at the last stop", loaded)
        self.epoch = await self._take_epoch()
        for runner in self.groups.values():
            runner.epoch = self.epoch
        self.clock.look()
        confirmations = bus.make_socket(actx, zmq.SUB, connect=s.live_endpoint, linger=0, security=self.security,
                                        name="live")
        confirmations.setsockopt(zmq.SUBSCRIBE, bus.ack_topic(code))
        telemetry = bus.Telemetry(ctx, s.telemetry_endpoint, "poller", self.plc.plc_code, self.security)
        control = ControlLink(actx, s.control_endpoint, self.plc.plc_code, list(self.groups), self.on_command,
                              self.security)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        queue, deaths = self.queue, self.task_deaths
        sender = supervise(queue.run, "sender", deaths=deaths)
        receiver = supervise(lambda: queue.receive_confirmations(confirmations), "confirmations", deaths=deaths)
        tasks = [supervise(lambda: self.publish_status(telemetry), "status", deaths=deaths),
                 supervise(self.housekeeping, "housekeeping", deaths=deaths),
                 supervise(control.run, "control", deaths=deaths)]
        count = len(self.groups)
        tasks += [supervise(functools.partial(self.run_group, r, i / count), f"group {r.name}", deaths=deaths)
                  for i, r in enumerate(self.groups.values())]
        settle_memory()
        log.info("%s: %d groups, %d tags, %d connections to %s (%s), epoch %d", self.plc.plc_code,
                 len(self.groups), sum(len(g.tags) for g in self.groups.values()), len(self.client.connections),
                 self.plc.host, self.plc.protocol, self.epoch)
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
