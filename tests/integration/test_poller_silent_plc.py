"""A PLC that accepts connections and never answers (virtual-plc's silent_hold) leaves a BAD row at
every deadline of every group, the gateway's status and /metrics count the missed deadlines, and
GOOD rows come back within one interval of the PLC answering again.

The test holds the PLC silent for HOLD_S (20 s, so the suite stays short); bench/silent_plc.py
runs the same scenario for 60 s and prints its figures.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from virtual_plc import FaultPlan, Memory, Server

from common.wire.ingest import PollingData
from services.poller.embedded import EmbeddedPoller
from tests.gateway_run import GatewayThread
from tests.helpers import short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, make_store

pytestmark = pytest.mark.timeout(180)

HOLD_S = 20.0
GROUPS = {"FAST_1S": 1000, "SLOW_5S": 5000}


class SilentWhenAsked(FaultPlan):
    """virtual-plc's fault plan, switched on and off by the test: while on, every request is held unanswered."""

    def __init__(self) -> None:
        super().__init__([])
        self.silent = False

    def select(self, command: int, *, nth: int, connection: int) -> dict[str, Any] | None:
        return {"type": "silent_hold"} if self.silent else None


@dataclass
class SilentRun:
    silent_from_ms: int
    silent_until_ms: int
    cycles: dict[str, list[PollingData]] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: str = ""


def run_silent_plc(hold_s: float) -> SilentRun:
    """Two groups (1 s, 5 s) polling virtual-plc, which goes silent for ``hold_s`` and then answers again."""
    plan = SilentWhenAsked()
    memory = Memory()
    memory.load({"D": {"0": [1, 2, 3, 4]}})
    with Server(memory=memory, fault_plan=plan) as plc_server:
        groups = "".join(f"{name},{PLC},FIXED,{ms},,,1\n" for name, ms in GROUPS.items())
        tags = "".join(f"{PLC},{name},{name}_{a},{a},UINT16,,,,\n" for name in GROUPS for a in ("D0", "D1"))
        settings = make_store(short_tmp(), plc_server.address[1], groups, tags, timeout_ms=3000, pool_size=3)
        ingest = Ingest(settings)
        with GatewayThread(settings) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as client:
            poller = EmbeddedPoller(settings, PLC).start()
            try:
                wait_for(lambda: all(any(v.quality == "GOOD" for d in ingest.of(g) for v in d.values)
                                     for g in GROUPS), 15, what="GOOD rows from both groups")
                plan.silent = True
                run = SilentRun(int(time.time() * 1000), 0)
                time.sleep(hold_s)
                run.status = {g["name"]: g for g in client.get("/api/polling/status").json()["groups"]}
                run.metrics = client.get("/metrics").text
                plan.silent = False
                run.silent_until_ms = int(time.time() * 1000)
                slowest = max(GROUPS.values()) / 1000
                wait_for(lambda: all(d.ts_ms > run.silent_until_ms and d.error is None for g in GROUPS
                                     for d in ingest.of(g)[-1:]), slowest + 10, what="GOOD rows again")
                time.sleep(slowest)  # one more interval of the slowest group, to see GOOD follow
                run.cycles = {g: sorted(ingest.of(g), key=lambda d: d.ts_ms) for g in GROUPS}
            finally:
                poller.end()
                ingest.close()
    return run


def check(run: SilentRun) -> dict[str, dict[str, Any]]:
    """Assert what the issue asks; returns figures per group."""
    figures: dict[str, dict[str, Any]] = {}
    for name, interval_ms in GROUPS.items():
        cycles = run.cycles[name]
        # cycles that started while the PLC was silent, and could not have been answered before it was
        silent = [d for d in cycles if run.silent_from_ms + 50 <= d.ts_ms <= run.silent_until_ms - interval_ms]
        expected = (run.silent_until_ms - interval_ms - run.silent_from_ms) // interval_ms
        assert len(silent) >= expected - 1, f"{name}: {len(silent)} rows for ~{expected} deadlines"
        assert all(v.quality in ("BAD_TIMEOUT", "BAD_CONNECTION") for d in silent for v in d.values), \
            f"{name}: {[d.values for d in silent]}"
        gaps = [b.ts_ms - a.ts_ms for a, b in itertools.pairwise(silent)]
        assert max(gaps) < 1.5 * interval_ms, f"{name}: a deadline without a row: gaps {gaps}"
        assert [d.seq for d in silent] == list(range(silent[0].seq, silent[0].seq + len(silent)))
        status = run.status[name]
        assert status["deadlines_missed"] >= len(silent) - 1, (name, status)
        assert status["overruns"] == 0 and status["deadlines_skipped"] == 0, (name, status)
        line = f'scada_group_deadlines_missed_total{{group="{name}",plc="{PLC}"}} '
        counted = [float(m.split()[-1]) for m in run.metrics.splitlines() if m.startswith(line)]
        assert counted and counted[0] >= len(silent) - 1, (line, run.metrics)
        first_good = next(d for d in cycles if d.ts_ms > run.silent_until_ms and d.error is None)
        recovery_ms = first_good.ts_ms - run.silent_until_ms
        assert recovery_ms <= interval_ms + 300, f"{name}: GOOD again after {recovery_ms} ms"
        figures[name] = {"deadlines": expected, "bad_rows": len(silent), "max_gap_ms": max(gaps),
                         "deadlines_missed": status["deadlines_missed"], "overruns": status["overruns"],
                         "lateness_p99_ms": status["lateness_p99_ms"], "good_again_after_ms": recovery_ms}
    return figures


def test_silent_plc_leaves_a_bad_row_per_deadline_and_recovers() -> None:
    figures = check(run_silent_plc(HOLD_S))
    print(figures)
