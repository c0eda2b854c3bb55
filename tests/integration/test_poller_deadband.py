"""The deadband in a running poller against virtual-plc, counted independently at the buffer's side.

A value that moves past its deadband is sent in the cycle that read it; one that moves less is not sent
until the group's maximum interval sends the whole cycle; the ledger says what each cycle read and what it
left out, and the values that arrived plus those left out are exactly what was read.
"""

from __future__ import annotations

import pytest
from pymcprotocol import Type3E
from virtual_plc import Memory, Server

from common import ledger
from common.config_store import model
from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.wire.ingest import GOOD, PollingData
from tests.helpers import short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, Poller, make_store

pytestmark = pytest.mark.timeout(60)


def test_a_move_past_the_deadband_is_sent_in_the_same_cycle_and_every_value_is_accounted() -> None:
    with Server(memory=Memory()) as server:
        base = short_tmp()
        settings = make_store(base, server.address[1], "FIX,KRTEST00PLC001,FIXED,100,,,1\n",
                              "".join(f"{PLC},FIX,T{i},D{i},INT16,,,,\n" for i in range(3)))
        plant = base / "deadband"
        plant.mkdir()
        (plant / "polling_groups.csv").write_text(
            "group_name,plc_code,mode,interval_ms,trigger_device,ack_device,is_active,max_interval_ms\n"
            f"FIX,{PLC},FIXED,100,,,1,1500\n")
        (plant / "tags.csv").write_text(  # T0 and T2 with a deadband of 5, T1 (the witness) without
            "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description,deadband\n"
            f"{PLC},FIX,T0,D0,INT16,,,,,5\n{PLC},FIX,T1,D1,INT16,,,,,\n{PLC},FIX,T2,D2,INT16,,,,,5\n")
        conn = open_store(settings.config_db)
        import_csv(conn, [plant])
        assert [t.deadband for t in model.load_tags(conn, PLC)] == [5.0, None, 5.0]
        conn.close()
        plc = Type3E(plctype="Q")
        plc.connect(*server.address)
        plc.batchwrite_wordunits("D0", [100, 1, 100])
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            wait_for(lambda: len(ingest.drain()) >= 5, 10, what="five cycles")
            cycles = ingest.of("FIX")
            first = cycles[0]
            assert [v.address for v in first.values] == ["D0", "D1", "D2"]  # the first cycle: everything

            def after_bad(d: PollingData) -> bool:
                """A cycle right after one the PLC did not answer in time (a busy machine): a change of
                quality, so everything is sent, by rule."""
                earlier = [c for c in ingest.of("FIX") if c.seq < d.seq]
                return bool(earlier) and any(v.quality != GOOD for v in earlier[-1].values)

            assert all([v.address for v in d.values] == ["D1"]  # then only the witness
                       for d in cycles[1:] if all(v.quality == GOOD for v in d.values) and not after_bad(d))
            plc.batchwrite_wordunits("D0", [106, 2, 103])  # T0 +6: past its band; T2 +3: inside it
            wait_for(lambda: any(v.value == 2 for d in ingest.drain() for v in d.values), 5, what="the witness")
            moved = next(d for d in ingest.of("FIX") if any(v.address == "D1" and v.value == 2 for v in d.values))
            sent = {v.address: v.value for v in moved.values}
            assert sent["D0"] == 106  # the same cycle as the witness
            assert "D2" not in sent or after_bad(moved) or moved.ts_ms - first.ts_ms >= 1500
            # T2 moved 3 in all: it arrives with the next whole cycle (maximum interval 1.5 s), not before
            wait_for(lambda: any(v.address == "D2" and v.value == 103 for d in ingest.drain() for v in d.values),
                     5, what="the maximum interval's whole cycle")
            whole = next(d for d in ingest.of("FIX") if any(v.address == "D2" and v.value == 103 for v in d.values))
            assert [v.address for v in whole.values] == ["D0", "D1", "D2"]
            assert whole.ts_ms - first.ts_ms >= 1500 or after_bad(whole)
        finally:
            poller.end()
            ingest.close()
            plc.close()
        figures = poller.figures("FIX")
        arrived = sum(len(d.values) for d in ingest.received)
        polled = suppressed = 0
        for entry in ledger.read(settings.ledger_dir, 0, 2**62):
            polled += entry.values if entry.kind == "polled" else 0
            suppressed += entry.values if entry.kind == "suppressed" else 0
        assert polled == 3 * figures["cycles"]  # every cycle read its three tags
        assert arrived == polled - suppressed == figures["values_sent"]  # the buffer's side agrees
        assert suppressed == figures["values_suppressed"] > 0
