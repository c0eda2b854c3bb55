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

Phases: a poller's groups start on a grid every process of the host shares
(the monotonic clock, CLOCK_MONOTONIC), each at its phase within the
second (within the interval when it is shorter): the PLC's place among the
plant's PLCs plus the group's place among its PLC's groups (plc_phase). So
100 pollers, whenever each came up, do not wake in the same milliseconds:
with 100 PLCs at 1 s one reads every 10 ms, and a PLC's groups stay spread
over the second as before. A phase only says when a cycle starts; each
cycle's read time (``ts``) is still taken when it reads, and what is read,
kept (deadband) or acknowledged (handshake) does not depend on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
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


def plc_phase(plc_code: str, plant_codes: list[str], group_index: int, group_count: int) -> float:
    """The phase (a fraction of the interval, in [0, 1)) of a PLC's group: the PLC's place among the plant's
    active PLCs (``plant_codes``; a code not among them, a PLC the store no longer lists as active, takes a
    place from its CRC-32) plus the group's place among the PLC's ``group_count`` groups."""
    codes = sorted(set(plant_codes))
    place = (codes.index(plc_code) / len(codes) if plc_code in codes
             else zlib.crc32(plc_code.encode()) / 2**32)
    return (place + group_index / max(1, group_count)) % 1.0


def first_deadline(now: float, interval: float, phase: float | None) -> float:
    """A group's first deadline: ``now`` when ``phase`` is None (a group a reload restarted runs at once),
    else the first instant at or after ``now`` that lies ``phase`` of the period past a whole period of the
    monotonic clock, the period being the interval, at most 1 s (a 10 s group still reads within 1 s)."""
    if phase is None:
        return now
    period = min(interval, 1.0)
    return now + (phase * period - now) % period


class GroupSchedule:
    def __init__(self, reader: GroupReader, client: PlcClient, read_and_send: ReadAndSend) -> None:
        self.reader = reader
        self.client = client
        self.read_and_send = read_and_send
        group = reader.group
        self.watch = TriggerWatch(group.trigger_device, group.ack_device) if group.mode == "HANDSHAKE" else None
        self.schedule: FixedSchedule | None = None  # set when run() starts

    async def run(self, phase: float | None = None) -> None:
        """The group's cycles, for ever, from its first deadline (first_deadline: ``phase`` from plc_phase,
        or None to start at once)."""
        reader, loop = self.reader, asyncio.get_running_loop()
        interval = reader.group.interval_ms / 1000
        schedule = self.schedule = FixedSchedule(first_deadline(loop.time(), interval, phase), interval)
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
