"""A group's phase: PLCs spread over the second on the host's shared clock; a cycle's read time stays its own."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterator

import pytest

from common.config_store.model import PollingGroup, Tag
from common.mc.planner import ReadPlan
from common.wire.ingest import PollingData
from services.poller.group import GroupReader
from services.poller.group_schedule import GroupSchedule, first_deadline, plc_phase

CODES = [f"KRSCALE{n:03d}PLCA" for n in range(100)]


def test_a_hundred_plcs_take_a_hundred_places_ten_ms_apart() -> None:
    phases = sorted(plc_phase(code, list(reversed(CODES)), 0, 1) for code in CODES)
    assert phases == pytest.approx([n / 100 for n in range(100)])


def test_a_plcs_groups_stay_spread_over_the_second_from_the_plcs_place() -> None:
    assert [plc_phase(CODES[25], CODES, i, 4) for i in range(4)] == pytest.approx([0.25, 0.5, 0.75, 0.0])
    assert plc_phase("KRCWO12ELOA101", ["KRCWO12ELOA101"], 1, 3) == pytest.approx(1 / 3)


def test_a_plc_missing_from_the_plant_list_still_gets_a_stable_place() -> None:
    first = plc_phase("KRCWO12ELOA101", [], 0, 1)
    assert 0 <= first < 1
    assert plc_phase("KRCWO12ELOA101", ["KRCWO12ELOA102"], 0, 1) == first
    assert plc_phase("KRCWO12ELOA103", [], 0, 1) != first


@pytest.mark.parametrize(("now", "interval", "phase", "first"), [
    (1000.2, 1.0, 0.5, 1000.5),   # later in this second
    (1000.7, 1.0, 0.5, 1001.5),   # this second's place has passed: the next second's
    (1000.5, 1.0, 0.5, 1000.5),   # exactly on it: at once
    (1000.2, 10.0, 0.25, 1000.25),  # a 10 s group still starts within a second
    (1000.04, 0.1, 0.3, 1000.03 + 0.1),  # a 100 ms group within its 100 ms
    (1000.7, 1.0, None, 1000.7),  # no phase (a reloaded group): at once
])
def test_first_deadline(now: float, interval: float, phase: float | None, first: float) -> None:
    assert first_deadline(now, interval, phase) == pytest.approx(first)


class Pool:
    """What GroupSchedule and GroupReader use of the PLC client: a deadline, the connections, a read."""

    def __init__(self) -> None:
        self.connections: list[object] = []

    @contextlib.contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        yield

    async def read(self, plan: ReadPlan) -> list[object]:
        await asyncio.sleep(0.003)  # the PLC takes a moment: the read time is when it was asked
        return [7] * len(plan.tags)


def test_with_a_phase_each_cycle_starts_on_its_deadline_and_keeps_its_own_read_time() -> None:
    group = PollingGroup("KRSCALE042PLCA", "G", "FIXED", 100, "", "", True)
    tags = [Tag("KRSCALE042PLCA", "G", f"T{i}", f"D{i}", "INT16", None, None, "", "") for i in range(3)]
    reader = GroupReader(group, tags)
    reader.epoch = 1
    seen: list[tuple[float, int, int, PollingData]] = []  # deadline, wall clock before and after, the cycle

    async def read_and_send(r: GroupReader) -> PollingData:
        assert schedule.schedule is not None
        deadline, before = schedule.schedule.deadline, time.time_ns() // 1_000_000
        data = await r.cycle(Pool())  # type: ignore[arg-type]
        seen.append((deadline, before, time.time_ns() // 1_000_000, data))
        return data

    schedule = GroupSchedule(reader, Pool(), read_and_send)  # type: ignore[arg-type]
    phase = plc_phase("KRSCALE042PLCA", CODES, 0, 1)

    async def main() -> None:
        task = asyncio.create_task(schedule.run(phase))
        async with asyncio.timeout(30):
            while len(seen) < 5 and not task.done():
                await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(seen) >= 5
    assert schedule.schedule is not None
    assert (schedule.schedule.start % 0.1) == pytest.approx(0.042, abs=1e-6)  # the PLC's place within 100 ms
    deadlines = [d for d, *_ in seen]
    steps = [(b - a) / 0.1 for a, b in itertools.pairwise(deadlines)]  # on the grid: whole intervals apart
    assert all(step >= 0.999 and step == pytest.approx(round(step)) for step in steps)
    assert list(reader.stats.lateness_ms) and min(reader.stats.lateness_ms) >= 0  # never before its deadline
    for _, before, after, data in seen:
        assert before <= data.ts_ms <= after  # ts is when the cycle read, as before: not its deadline
        assert [v.value for v in data.values] == [7, 7, 7]
    assert [d.seq for *_, d in seen] == [1, 2, 3, 4, 5]
