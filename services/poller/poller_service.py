"""The poller process for one PLC: its pool, its groups on their schedules, its queue, its status.

Strategy: asyncio, with every part of the poller a task of its own, started
through ``runtime.supervise`` (one that raises is logged with its traceback
and started again; the status counts its deaths):

- each group on its schedule (group_schedule.py), reading through the PLC
  client's pool and putting one PollingData per cycle in the send queue;
- the send queue (sender.py) and the buffer's confirmations: the queue never
  blocks and keeps each cycle, journaled, until the buffer confirms it;
- the gateway's commands on the control socket (control.py, commands.py);
- housekeeping (housekeeping.py): resend, journal fsync, keep-alive, memory, each on
  its own, so a slow disk or PLC delays none of the others;
- the status, once a second, whatever the others do.

The plant (the PLC, its groups and tags) is read from the config store by
``PollerService.from_store`` (plant.py), not by the constructor. At start the
poller takes its epoch (epoch.py), which with each group's sequence makes
cycle numbers no clock step or restart repeats; a clock watch compares the
wall clock with the monotonic one once a second and reports a step in the
status. SIGTERM stops the schedules, waits a moment for the queue to be
confirmed (what is not stays journaled for the next start), closes the pool
and exits. A full disk stops nothing: the send queue keeps what it cannot
journal in memory and the status says so (``disk``, ``queue.unjournaled``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import zmq
import zmq.asyncio

from common import bus, curve, footprint
from common.config_store.digest import config_digest
from common.disk import DiskState
from common.ledger import Ledger
from common.mc.client import PlcClient
from common.runtime import cancel_and_wait, settle_memory, supervise
from common.settings import Settings
from common.wire.ingest import PollingData
from services.poller import housekeeping
from services.poller.clock import ClockWatch
from services.poller.commands import PollerCommands
from services.poller.control import ControlLink
from services.poller.epoch import next_epoch
from services.poller.group import GroupReader
from services.poller.group_schedule import GroupSchedule, plc_phase
from services.poller.link import plc_client, plc_codec
from services.poller.plant import Plant, load_plant
from services.poller.reload import PlantReload
from services.poller.sender import SendQueue

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import PollerFigures
    from services.poller.writes import WriteDesk

log = logging.getLogger("poller")

FLUSH_TIMEOUT_S = 1.2
EPOCH_RETRY_S = 2.0  # while the disk refuses the epoch file
STATUS_EVERY_S = 1.0


class PollerService:
    def __init__(self, settings: Settings, plant: Plant, security: curve.SocketSecurity | None = None) -> None:
        self.settings = settings
        self.security = security or curve.for_stage(settings, "poller")
        self.plc = plc = plant.plc
        self.groups = {g.group_name: GroupReader(g, plant.tags_of(g), plc.multi_block_read) for g in plant.groups}
        self.plant_codes = plant.plant_codes
        self.timeout = plc.timeout_ms / 1000
        self.codec = plc_codec(plc, self.timeout, settings.mc_ascii_hex_numbers)
        self.writes: WriteDesk | None = None  # at the first write command: see _write_tags
        self.client: PlcClient | None = None
        self.queue: SendQueue | None = None
        self.clock = ClockWatch(settings.poller_clock_step_ms)
        self.epoch = 0
        self.started = time.time()
        #: seconds from the exec of this process to its schedules running (None before; in a test harness, the
        #: age of the test process)
        self.polling_after_s: float | None = None
        self.task_deaths: dict[str, int] = {}
        self.config_digest = config_digest(plc, plant.groups, [t for g in plant.groups for t in plant.tags_of(g)])
        self.group_tasks: dict[str, asyncio.Task[None]] = {}
        self.reloads = PlantReload(self)
        self.control: ControlLink | None = None
        self.commands = PollerCommands(plc.plc_code, self.groups, self._read_and_send, self.reloads.reload,
                                       self._write_tags)

    @classmethod
    def from_store(cls, settings: Settings, plc_code: str,
                   security: curve.SocketSecurity | None = None) -> PollerService:
        """The poller of ``plc_code`` as the config store describes it (waits while the store is busy)."""
        return cls(settings, load_plant(settings, plc_code), security)

    async def _read_and_send(self, reader: GroupReader) -> PollingData:
        assert self.client is not None and self.queue is not None
        data = await reader.cycle(self.client)
        kept = reader.deadband.filter(data.values, data.ts_ms)  # report by exception (deadband.py)
        self.queue.put(dataclasses.replace(data, values=kept.values) if kept.suppressed else data, kept.suppressed)
        return data

    def start_group(self, reader: GroupReader, phase: float | None = None) -> None:
        """Run the group's schedule as a task of its own (restarted if it dies); a reload ends it. ``phase``:
        see group_schedule.first_deadline (None: at once)."""
        assert self.client is not None
        schedule = GroupSchedule(reader, self.client, self._read_and_send)
        self.group_tasks[reader.name] = supervise(functools.partial(schedule.run, phase), f"group {reader.name}",
                                                  deaths=self.task_deaths)

    async def _write_tags(self, items: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        assert self.client is not None
        if self.writes is None:
            # imported at the first write: most pollers never write, and the writes' modules are ~0.3 MiB
            # resident in each (issue 19)
            from services.poller.writes import WriteDesk

            self.writes = WriteDesk(self.plc, self.settings.config_db, self.codec.encoding)
        return await self.writes.write(self.client, items)

    # -- status --------------------------------------------------------------
    def figures(self) -> PollerFigures:
        assert self.client is not None and self.queue is not None
        return {"plc_code": self.plc.plc_code, "host": self.plc.host, "protocol": self.plc.protocol,
                "transport": self.plc.transport, "multi_block_read": self.plc.multi_block_read,
                "deviations": sorted(self.plc.deviations), "config_digest": self.config_digest,
                "started_ms": int(self.started * 1000), "epoch": self.epoch, "clock": self.clock.figures(),
                "groups": [g.figures() for g in self.groups.values()],
                "queue": self.queue.figures(), "connections": self.client.describe(),
                "connected": self.client.connected, "disk": self.queue.disk.figures(),
                "task_deaths": dict(self.task_deaths),
                "process": {"rss_bytes": footprint.rss_bytes(), "cpu_s": round(footprint.cpu_seconds(), 2),
                            "polling_after_s": self.polling_after_s}}

    async def publish_status(self, telemetry: bus.Telemetry) -> None:
        while True:
            self.clock.look()
            telemetry.publish(**self.figures())
            await asyncio.sleep(STATUS_EVERY_S)

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
    def open(self) -> tuple[PlcClient, SendQueue]:
        """The PLC client (it connects on first use) and the send queue (its journal not read yet)."""
        s, code = self.settings, self.plc.plc_code
        self.client = plc_client(self.plc, self.codec, self.timeout)
        self.queue = SendQueue(zmq.Context.instance(), s.ingest_endpoint, s.data_queue_size,
                               s.poller_outbox_file(code),
                               Ledger(s.ledger_dir, f"poller_{code}", s.ledger_keep_days, DiskState()), code,
                               s.poller_ack_timeout, self.security)
        return self.client, self.queue

    async def run(self, stop: asyncio.Event | None = None) -> None:
        s = self.settings
        ctx: zmq.Context[Any] = zmq.Context.instance()
        actx = zmq.asyncio.Context(ctx)  # a shadow: one libzmq context, one I/O thread (~0.5 MB each)
        client, queue = self.open()
        code = self.plc.plc_code
        loaded = queue.load()
        if loaded:
            log.info("queued again %d PollingData the buffer had not confirmed at the last stop", loaded)
        self.epoch = await self._take_epoch()
        for reader in self.groups.values():
            reader.epoch = self.epoch
        self.clock.look()
        confirmations = bus.make_socket(actx, zmq.SUB, connect=s.live_endpoint, linger=0, security=self.security,
                                        name="live")
        confirmations.setsockopt(zmq.SUBSCRIBE, bus.ack_topic(code))
        telemetry = bus.Telemetry(ctx, s.telemetry_endpoint, "poller", code, self.security)
        control = self.control = ControlLink(actx, s.control_endpoint, code, list(self.groups),
                                             self.commands.answer, self.security)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        deaths = self.task_deaths

        def start(run: Callable[[], Awaitable[None]], name: str) -> asyncio.Task[None]:
            return supervise(run, name, deaths=deaths)

        # the queue and its confirmations outlive the rest, to flush at the stop
        delivery = [start(queue.run, "sender"), start(lambda: queue.receive_confirmations(confirmations),
                                                          "confirmations")]
        tasks = [start(lambda: self.publish_status(telemetry), "status"),
                 start(lambda: housekeeping.resend(queue), "resend"),
                 start(lambda: housekeeping.journal(queue), "journal"),
                 start(lambda: housekeeping.keep_alive(client), "keep-alive"),
                 start(housekeeping.memory, "memory"),
                 start(control.run, "control")]
        count = len(self.groups)
        for i, reader in enumerate(self.groups.values()):
            self.start_group(reader, plc_phase(code, self.plant_codes, i, count))
        settle_memory()
        self.polling_after_s = round(footprint.age_s(), 3)
        log.info("%s: %d groups, %d tags, %d connections to %s (%s), epoch %d; polling %.2f s after the process "
                 "started, %.1f MB resident", code, len(self.groups),
                 sum(len(g.tags) for g in self.groups.values()), len(client.connections), self.plc.host,
                 self.plc.protocol, self.epoch, self.polling_after_s, footprint.rss_bytes() / 1e6)
        await stop.wait()
        await cancel_and_wait([*tasks, *self.group_tasks.values()])
        left = await queue.flush(FLUSH_TIMEOUT_S)
        if left:
            log.warning("the buffer has not confirmed %d PollingData; they stay in %s for the next start",
                        left, queue.journal.path)
        await cancel_and_wait(delivery)
        telemetry.publish(**self.figures(), stopped=True)
        client.close()
        queue.close()
        confirmations.close()
        control.close()
        telemetry.close()
