"""A live import under steady polling, the sample plant under supervisord (issue 17, live configuration).

One ``scada db import --prune`` changes a tag's address, removes a tag, changes a group's interval,
adds a PLC and removes one, while every stage runs. Checked with the plant's own processes and an
independent tap on the buffer's live PUB: the removed PLC's poller is gone and no other process was
restarted (same pids); the new PLC is served by the simulator and polled GOOD; the changed group runs
on its new interval within one old interval; the removed PLC leaves /api/values/latest,
/api/polling/status and /metrics within 10 s; the changed and removed tags leave the latest values;
``scada account`` over the window finds nothing lost.
"""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import pytest

from common.times import iso_ms, now_ms
from tests.helpers import free_port, scada, wait_for
from tests.live_plant import CycleTap, alive, copied_group, exported, get, plc_row, rewrite, shown_anywhere
from tests.supervisor_run import running_plant

pytestmark = pytest.mark.timeout(180)

A, B, C, NEW = "KRCWO12ELOA101", "KRCWO12ELOA102", "KRCWO12WELD201", "KRCWO12ELOA103"


def changed_plant(env: dict[str, str]) -> Path:
    """The running store exported, then: A's CNT_001 moved to D1999, A's CNT_002 gone, B's MID_5S every
    1 s, C gone, NEW added (20 of A's FAST_1S tags on a port of its own)."""
    folder = exported(env)
    group, tags = copied_group(folder, (A, "FAST_1S"), NEW)
    rewrite(folder / "plcs.csv", lambda r: None if r["plc_code"] == C else r, [plc_row(NEW, free_port())])
    rewrite(folder / "polling_groups.csv",
            lambda r: None if r["plc_code"] == C else {**r, "interval_ms": "1000"}
            if (r["plc_code"], r["group_name"]) == (B, "MID_5S") else r, [group])
    rewrite(folder / "tags.csv",
            lambda r: None if r["plc_code"] == C or (r["plc_code"], r["tag_name"]) == (A, "CNT_002") else
            {**r, "address": "D1999"} if (r["plc_code"], r["tag_name"]) == (A, "CNT_001") else r, tags)
    return folder


def test_a_live_import_touches_only_what_changed() -> None:
    with running_plant() as (sup, env):
        sup.wait_running(60)
        tap = CycleTap(env)
        try:
            since = now_ms()
            wait_for(lambda: tap.ts(B, "MID_5S") and alive(env) == {A, B, C}, 30,
                     what="steady polling")
            folder = changed_plant(env)
            dry = scada(env, "db", "import", "--prune", "--dry-run", str(folder)).stdout
            assert f"pollers would start: {NEW}" in dry and f"pollers would stop: {C}" in dry, dry
            assert f"pollers would reload: {A} {B}" in dry, dry
            before = sup.pids_by_name()

            t0 = now_ms()
            out = scada(env, "db", "import", "--prune", str(folder)).stdout
            assert f"stopped and removed poller-{C}" in out and f"added poller-{NEW}" in out, out

            wait_for(lambda: not shown_anywhere(env, C), 10 - (now_ms() - t0) / 1000,
                     what=f"{C} gone from the API within 10 s of the import")

            def a_follows() -> bool:
                values = {v["address"]: v for v in get(env, f"/api/values/latest?plc={A}&group=FAST_1S")["values"]}
                return "D1999" in values and "D1" not in values and "D2" not in values
            wait_for(a_follows, 10, what="A's FAST_1S read with the changed tags")
            wait_for(lambda: [v for v in get(env, f"/api/values/latest?plc={NEW}")["values"]
                              if v["quality"] == "GOOD"], 20, what="the new PLC served and polled")
            wait_for(lambda: len(tap.ts(B, "MID_5S", after=t0)) >= 5, 20, what="MID_5S every 1 s")

            after = sup.pids_by_name()
            assert f"poller-{C}" not in after and after[f"poller-{NEW}"]
            assert {n: p for n, p in after.items() if n != f"poller-{NEW}"} == {
                n: p for n, p in before.items() if n != f"poller-{C}"}  # nothing else restarted
            mid = tap.ts(B, "MID_5S", after=t0)
            assert mid[0] - t0 < 5000  # on its new grid within one old interval
            assert 800 <= statistics.median(b - a for a, b in itertools.pairwise(mid)) <= 1200
            for kept_polling in ((A, "FAST_1S"), (B, "FAST_1S")):  # reloaded, and untouched: no deadline missed
                ts = tap.ts(*kept_polling)
                assert max(b - a for a, b in itertools.pairwise(ts)) < 2000, kept_polling

            result = scada(env, "account", "--since", iso_ms(since), "--json", check=False, timeout=120)
            answer = json.loads(result.stdout)
            assert result.returncode == 0 and answer["lost"] == 0 and answer["polled"] > 0, answer
        finally:
            tap.close()
