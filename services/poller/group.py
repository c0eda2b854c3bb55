"""One polling group: its read plan, its cycle, its figures.

A cycle reads every tag of the group through the PLC client and turns the
result into one PollingData -- GOOD values, or BAD values with no value and
the reason, so a failed cycle still leaves its gap in the historian. Its
identity is the cycle number ``epoch << 32 | seq`` (the poller's start count
and this run's sequence, see epoch.py), not its read time: two cycles of a
group never share one, whatever the wall clock does. 2**32 cycles a run is
13 years at the fastest interval (100 ms).
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from common.config_store.model import PollingGroup, Tag
from common.mc.client import PlcClient
from common.mc.errors import FrameError, McError, PlcConnectionError, PlcEndCodeError, PlcTimeoutError
from common.mc.planner import ReadPlan, TagRead, plan_reads
from common.times import now_ms
from common.wire.cycle import make_cycle
from common.wire.ingest import GOOD, PollingData, TagValue
from services.poller.deadband import Deadband

if TYPE_CHECKING:  # types for mypy only: common/wire/figures.py
    from common.wire.figures import GroupFigures

log = logging.getLogger("poller.group")

LATENESS_WINDOW = 1000


class Window:
    """The last ``size`` samples, oldest first, in one array of doubles.

    8 bytes a sample where a ``deque`` of floats costs ~32 (the float objects and
    their slots): a poller keeps one window a group for its life, so this is
    ~0.1 MiB less in each of a plant's pollers once the windows are full.
    """

    __slots__ = ("_count", "_next", "_values")

    def __init__(self, size: int) -> None:
        self._values = array("d", bytes(8 * size))
        self._next = 0
        self._count = 0

    def append(self, value: float) -> None:
        self._values[self._next] = value
        self._next = (self._next + 1) % len(self._values)
        self._count = min(self._count + 1, len(self._values))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[float]:
        start = self._next - self._count
        if start >= 0:
            return iter(self._values[start:self._next])
        return iter(self._values[start:] + self._values[:self._next])

    def latest(self) -> float:
        if not self._count:
            raise IndexError("no sample yet")
        return self._values[self._next - 1]


class GroupState(StrEnum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


def quality_of(error: BaseException) -> str:
    if isinstance(error, PlcTimeoutError):
        return "BAD_TIMEOUT"
    if isinstance(error, PlcEndCodeError):
        return "BAD_END_CODE"
    if isinstance(error, PlcConnectionError):
        return "BAD_CONNECTION"
    if isinstance(error, FrameError):
        return "BAD_FRAME"
    return "BAD_ERROR"


@dataclass
class GroupStats:
    cycles: int = 0
    errors: int = 0
    overruns: int = 0
    #: deadlines that left no answer from the PLC: its read timed out (a BAD_TIMEOUT row), or no cycle started
    deadlines_missed: int = 0
    deadlines_skipped: int = 0  # no cycle started at all (the previous one overran)
    reads_timed_out: int = 0
    values_sent: int = 0
    last_start_ms: int | None = None
    last_duration_ms: float | None = None
    total_duration_ms: float = 0.0
    last_error: str | None = None
    last_error_ms: int | None = None
    last_good_ms: int | None = None
    max_lateness_ms: float = 0.0
    #: start lateness against the deadline of the last LATENESS_WINDOW cycles, in ms
    lateness_ms: Window = field(default_factory=lambda: Window(LATENESS_WINDOW))

    def late(self, ms: float) -> None:
        self.lateness_ms.append(ms)
        self.max_lateness_ms = max(self.max_lateness_ms, ms)

    def lateness_percentile(self, pct: int) -> float | None:
        if len(self.lateness_ms) < 2:
            return self.lateness_ms.latest() if self.lateness_ms else None
        return round(percentile(self.lateness_ms, pct), 3)


def percentile(values: Iterable[float], pct: int) -> float:
    """``statistics.quantiles(values, n=100, method="inclusive")[pct - 1]`` without the statistics module
    (decimal and fractions come with it: half a megabyte in every poller). ``values``: at least two."""
    data = sorted(values)
    j, delta = divmod(pct * (len(data) - 1), 100)
    return data[j] if delta == 0 else (data[j] * (100 - delta) + data[j + 1] * delta) / 100


class GroupReader:
    def __init__(self, group: PollingGroup, tags: list[Tag], multi_block_read: bool = False) -> None:
        self.group = group
        self.tags = tags
        self.addresses = [t.address for t in tags]
        self.plan: ReadPlan = plan_reads(
            [TagRead(t.device_address, t.type, t.scale, t.offset) for t in tags], multi_block=multi_block_read)
        self.seq = 0
        self.epoch = 0  # this poller's start count, set before the first cycle (PollerService.run)
        self.stats = GroupStats()
        self.deadband = Deadband([t.deadband for t in tags], group.max_interval_ms)
        self.state = GroupState.RUNNING if group.is_active else GroupState.STOPPED
        self.lock = asyncio.Lock()  # one cycle of a group at a time, scheduled or triggered
        #: a reload (reload.py) replaced this runner: its schedule parks at its next idle moment, and a
        #: cycle asked of it meanwhile (a trigger already on its way) is run by the successor
        self.successor: GroupReader | None = None
        self.retire = asyncio.Event()
        self.parked = asyncio.Event()

    @property
    def name(self) -> str:
        return self.group.group_name

    async def cycle(self, client: PlcClient) -> PollingData:
        async with self.lock:
            runner = self
            while runner.successor is not None:
                runner = runner.successor
            return await runner._cycle(client)

    def note_error(self, error: BaseException) -> None:
        """An error outside a cycle (e.g. reading a handshake trigger)."""
        self.stats.errors += 1
        text = str(error)
        if self.stats.last_error != text:
            log.warning("%s: %s", self.name, text)
        self.stats.last_error = text
        self.stats.last_error_ms = now_ms()

    async def _cycle(self, client: PlcClient) -> PollingData:
        self.seq += 1
        cycle = make_cycle(self.epoch, self.seq)  # refuses epoch 0: a cycle never goes without an identity
        ts = now_ms()
        started = time.monotonic()
        first_error: BaseException | None = None
        try:
            results: list[Any] = await client.read(self.plan)
        except McError as error:
            results = [error] * len(self.tags)
        values: list[TagValue] = []
        for address, result in zip(self.addresses, results, strict=True):
            if isinstance(result, BaseException):
                first_error = first_error or result
                values.append(TagValue(address, None, quality_of(result)))
            else:
                values.append(TagValue(address, result, GOOD))
        duration = 1000 * (time.monotonic() - started)
        st = self.stats
        st.cycles += 1
        st.last_start_ms = ts
        st.last_duration_ms = duration
        st.total_duration_ms += duration
        st.values_sent += len(values)
        error_text = None
        if first_error is not None:
            st.errors += 1
            error_text = str(first_error)
            if st.last_error != error_text:
                log.warning("%s: %s", self.name, error_text)
            st.last_error = error_text
            st.last_error_ms = ts
        else:
            st.last_good_ms = ts
        return PollingData(self.group.plc_code, self.name, self.seq, ts, round(duration, 3), values, error_text,
                           cycle)

    def figures(self) -> GroupFigures:
        st = self.stats
        return {
            "name": self.name, "plc_code": self.group.plc_code, "mode": self.group.mode,
            "interval_ms": self.group.interval_ms, "state": self.state.value, "is_active": self.group.is_active,
            "tag_count": len(self.tags),
            "requests_per_cycle": len(self.plan.requests), "commands": self.plan.commands,
            "points_per_cycle": self.plan.points, "cycles": st.cycles, "errors": st.errors,
            "overruns": st.overruns, "deadlines_missed": st.deadlines_missed,
            "deadlines_skipped": st.deadlines_skipped, "values_sent": st.values_sent - self.deadband.suppressed,
            "values_suppressed": self.deadband.suppressed, "max_interval_ms": self.deadband.max_interval_ms,
            "last_start_ms": st.last_start_ms,
            "last_duration_ms": st.last_duration_ms,
            "avg_duration_ms": round(st.total_duration_ms / st.cycles, 3) if st.cycles else None,
            "last_error": st.last_error, "last_error_ms": st.last_error_ms, "last_good_ms": st.last_good_ms,
            "max_lateness_ms": round(st.max_lateness_ms, 3), "last_sequence": self.seq, "epoch": self.epoch,
            "lateness_p50_ms": st.lateness_percentile(50), "lateness_p99_ms": st.lateness_percentile(99),
        }
