"""A poller told to reload takes changed groups and tags between cycles, against virtual-plc.

Checked against the cycles the test (playing the buffer) received: no cycle number twice, every
group's sequence without a gap, the changed tag read at its new address from the first cycle after
the reload, the removed group silent, the added group running, the changed interval applied at
once, and the send queue neither dropping nor resending anything.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from virtual_plc import Memory, Server

from common.config_store import model
from common.config_store.csv_import import import_csv
from common.config_store.digest import config_digest
from common.config_store.schema import open_store
from common.wire.control import Command, CommandError, ErrorCode, ReloadPlant, StartGroup
from services.poller.group import GroupState
from tests.helpers import short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, Poller, make_store

pytestmark = pytest.mark.timeout(120)

GROUPS = {"FAST": "FAST,{plc},FIXED,200,,,1\n", "SLOW": "SLOW,{plc},FIXED,1000,,,1\n",
          "GONE": "GONE,{plc},FIXED,200,,,1\n"}
TAGS = {"FAST": ["D0", "D1"], "SLOW": ["D10"], "GONE": ["D20"]}


def rows(groups: dict[str, str], tags: dict[str, list[str]]) -> tuple[str, str]:
    return ("".join(g.format(plc=PLC) for g in groups.values()),
            "".join(f"{PLC},{g},T{a},{a},UINT16,,,,\n" for g, addresses in tags.items() for a in addresses))


def reimport(base: Path, settings: Any, groups: dict[str, str], tags: dict[str, list[str]]) -> None:
    group_rows, tag_rows = rows(groups, tags)
    csv_dir = base / "csv"
    (csv_dir / "polling_groups.csv").write_text(
        "group_name,plc_code,mode,interval_ms,trigger_device,ack_device,is_active\n" + group_rows)
    (csv_dir / "tags.csv").write_text(
        "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description\n" + tag_rows)
    conn = open_store(settings.config_db)
    try:
        import_csv(conn, [csv_dir / "polling_groups.csv", csv_dir / "tags.csv"], prune=True)
    finally:
        conn.close()


def store_digest(settings: Any) -> str:
    conn = open_store(settings.config_db)
    try:
        plc = model.load_plc(conn, PLC)
        assert plc is not None
        return config_digest(plc, model.load_groups(conn, PLC), model.load_tags(conn, PLC))
    finally:
        conn.close()


def test_reload_between_cycles_loses_and_repeats_nothing() -> None:
    base = short_tmp()
    memory = Memory()
    with Server(memory=memory) as server:
        settings = make_store(base, server.address[1], *rows(GROUPS, TAGS))
        memory.write_words("D", 5, [55])
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()

        def call(command: Command) -> dict[str, Any]:
            assert poller.loop is not None
            result: dict[str, Any] = asyncio.run_coroutine_threadsafe(
                poller.service.commands.answer(command), poller.loop).result(10)
            return result

        try:
            wait_for(lambda: len(ingest.of("SLOW")) >= 2 and len(ingest.of("GONE")) >= 5, 10,
                     what="every group polling")
            assert poller.service.figures()["config_digest"] == store_digest(settings)
            poller.service.groups["FAST"].state = GroupState.STOPPED  # an operator's start stands across a reload
            call(StartGroup("FAST"))
            groups = {**GROUPS, "SLOW": "SLOW,{plc},FIXED,300,,,1\n", "NEW": "NEW,{plc},FIXED,200,,,1\n"}
            del groups["GONE"]
            tags = {"FAST": ["D0", "D5"], "SLOW": ["D10"], "NEW": ["D30"]}
            reimport(base, settings, groups, tags)
            asked = time.time() * 1000
            reply = call(ReloadPlant())
            done = time.time() * 1000
            assert (reply["kept"], reply["changed"], reply["added"], reply["removed"]) == (
                [], ["FAST", "SLOW"], ["NEW"], ["GONE"])
            assert reply["config_digest"] == store_digest(settings) == poller.service.figures()["config_digest"]
            assert call(ReloadPlant())["kept"] == ["FAST", "NEW", "SLOW"]  # nothing changed since: nothing moves
            wait_for(lambda: len([d for d in ingest.of("SLOW") if d.ts_ms > done]) >= 5, 10,
                     what="SLOW on its new interval")
            wait_for(lambda: len([d for d in ingest.of("NEW")]) >= 3, 10, what="the new group")

            slow_after = [d.ts_ms for d in ingest.of("SLOW") if d.ts_ms >= asked]
            assert slow_after[0] - asked < 1000  # within one old interval
            assert 200 <= statistics.median(b - a for a, b in itertools.pairwise(slow_after)) <= 400
            fast = ingest.of("FAST")
            after = [d for d in fast if d.ts_ms > done]
            assert after and all([v.address for v in d.values] == ["D0", "D5"] for d in after)
            assert after[0].values[1].value == 55
            assert all([v.address for v in d.values] == ["D0", "D1"] for d in fast if d.ts_ms < asked)
            assert not [d for d in ingest.of("GONE") if d.ts_ms > done]
            assert [d.seq for d in ingest.of("NEW")][:3] == [1, 2, 3]

            # a group removed and added again goes on from its last sequence: no cycle number twice
            last_gone = ingest.of("GONE")[-1].seq
            reimport(base, settings, {**groups, "GONE": GROUPS["GONE"]}, {**tags, "GONE": ["D20"]})
            assert call(ReloadPlant())["added"] == ["GONE"]
            wait_for(lambda: ingest.of("GONE")[-1].seq > last_gone + 2, 10, what="GONE again")

            received = ingest.drain(0.3)
            identities = Counter((d.group, d.identity) for d in received)
            assert [k for k, n in identities.items() if n > 1] == []
            for group in ("FAST", "SLOW", "GONE", "NEW"):
                seqs = sorted(d.seq for d in ingest.of(group))
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), group  # no gap, none twice
            queue = poller.service.figures()["queue"]
            assert queue["dropped"] == 0 and queue["resent"] == 0
            assert poller.service.groups["FAST"].state == "RUNNING"

            # a changed connection cannot be reloaded: the import restarts that poller instead
            conn = open_store(settings.config_db)
            with conn:
                conn.execute("UPDATE plcs SET timeout_ms = 400")
            conn.close()
            with pytest.raises(CommandError, match="restart its poller") as refused:
                call(ReloadPlant())
            assert refused.value.code is ErrorCode.RESTART_NEEDED
        finally:
            poller.end()
            ingest.close()
