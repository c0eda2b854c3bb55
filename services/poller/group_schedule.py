"""Each polling group on its own schedule: the task that runs one group's cycles.

Strategy: one task per group sleeping until its next absolute deadline
(schedule.py), so a slow or failing group delays nobody else; the PLC
client's pool lets the groups' requests run side by side. A FIXED group
reads at every deadline; a HANDSHAKE group looks at its trigger bit at every
deadline and reads when the PLC asks (handshake.py). A stopped group keeps
its schedule and reads nothing. A group changed or removed by a reload
(reload.py) parks at its next idle moment. Every cycle ends just before the next
deadline: a silent PLC gives a BAD row per deadline, not a pile of cycles
queued behind each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from common.mc.client import PlcClient
from common.mc.errors import McError, PlcTimeoutError
from common.times import now_ms
from common.wire.ingest import PollingData
from services.poller.group import GroupReader, GroupState
from services.poller.handshake import TriggerWatch
from services.poller.schedule import FixedSchedule

CYCLE_MARGIN_S = 0.05  # a cycle ends this long before the next deadline (at most a tenth of the interval)

ReadAndSend = Callable[[GroupReader], Awaitable[PollingData]]


class GroupSchedule:
    def __init__(self, reader: GroupReader, client: PlcClient, read_and_send: ReadAndSend) -> None:
        self.reader = reader
        self.client = client
        self.read_and_send = read_and_send
        group = reader.group
        self.watch = TriggerWatch(group.trigger_device, group.ack_device) if group.mode == "HANDSHAKE" else None

    async def run(self, phase: float = 0.0) -> None:
        """The group's cycles, for ever. ``phase`` (a fraction of the interval) staggers the groups of a
        PLC, so they do not all ask the PLC at the same instant."""
        reader, loop = self.reader, asyncio.get_running_loop()
        interval = reader.group.interval_ms / 1000
        schedule = FixedSchedule(loop.time() + phase * min(interval, 1.0), interval)
        connects = self._connects()
        margin = min(CYCLE_MARGIN_S, interval / 10)
        while True:
            delay = schedule.deadline - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await reader.retire.wait()
            if reader.retire.is_set():  # replaced by a reload (reload.py): park between cycles until cancelled
                reader.parked.set()
                await asyncio.Future()
            reader.stats.late(1000 * (loop.time() - schedule.deadline))
            if reader.state is GroupState.RUNNING:
                if self.watch is not None:
                    now_connects = self._connects()
                    if now_connects != connects:
                        connects = now_connects
                        self.watch.forget()  # reconnected: the PLC may have restarted and lost the handshake
                with self.client.deadline(schedule.next_deadline - margin):
                    await self._cycle()
            schedule.advance(loop.time())
            st = reader.stats
            st.overruns, st.deadlines_skipped = schedule.overruns, schedule.missed
            st.deadlines_missed = st.deadlines_skipped + st.reads_timed_out

    async def _cycle(self) -> None:
        reader, watch = self.reader, self.watch
        if watch is None:
            data = await self.read_and_send(reader)
            if any(v.quality == "BAD_TIMEOUT" for v in data.values):
                reader.stats.reads_timed_out += 1
            return
        try:
            waiting = await watch.should_read(self.client)
            reader.stats.last_good_ms = now_ms()  # the PLC answered the trigger look
            if waiting:
                data = await self.read_and_send(reader)
                if data.error is None:
                    await watch.served(self.client)
        except McError as error:
            watch.forget()  # a failed read: whatever the PLC holds now is read again
            if isinstance(error, PlcTimeoutError):
                reader.stats.reads_timed_out += 1
            reader.note_error(error)

    def _connects(self) -> int:
        """Connections made to the PLC so far; a change means a reconnect."""
        return sum(c.connects for c in self.client.connections)
