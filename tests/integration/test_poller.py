"""The poller against virtual-plc: handshake by PLC bit and by command, isolation, PLC loss, buffer loss."""

from __future__ import annotations

import asyncio
import time

import pytest
from pymcprotocol import Type3E
from virtual_plc import Memory, Server

from common.wire.control import Command, CommandError, ErrorCode, StartAll, StopGroup, TriggerGroup
from tests.helpers import free_port, short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, Poller, make_store

pytestmark = pytest.mark.timeout(120)


def tags(group: str, addresses: list[str], dtype: str = "UINT16") -> str:
    return "".join(f"{PLC},{group},{group}_{a},{a},{dtype},,,,\n" for a in addresses)


def peer(server: Server) -> Type3E:
    client = Type3E(plctype="Q")
    client.connect(*server.address)
    return client


def test_plc_bit_handshake_end_to_end() -> None:
    with Server(memory=Memory()) as server:
        settings = make_store(short_tmp(), server.address[1], "HS,KRTEST00PLC001,HANDSHAKE,100,M900,M901,1\n",
                              tags("HS", [f"D{100 + i}" for i in range(5)]))
        plc = peer(server)
        plc.batchwrite_wordunits("D100", [1, 2, 3, 4, 5])
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            time.sleep(0.5)
            assert ingest.drain(0.2) == []  # no trigger, no read
            plc.batchwrite_bitunits("M900", [1])  # the PLC has data ready
            wait_for(lambda: ingest.drain(0.1) and plc.batchread_bitunits("M901", 1) == [1], 5,
                     what="data and the ack bit")
            data = ingest.of("HS")
            assert len(data) == 1 and [v.value for v in data[0].values] == [1, 2, 3, 4, 5]
            time.sleep(0.5)  # the trigger is still high: not read twice
            assert len(ingest.drain(0.1)) == 1
            plc.batchwrite_bitunits("M900", [0])  # the PLC saw the ack
            wait_for(lambda: plc.batchread_bitunits("M901", 1) == [0], 5, what="the ack cleared")
            plc.batchwrite_wordunits("D100", [9, 9, 9, 9, 9])
            plc.batchwrite_bitunits("M900", [1])  # the next request
            wait_for(lambda: len(ingest.drain(0.1)) == 2, 5, what="the second read")
            assert [v.value for v in ingest.of("HS")[1].values] == [9, 9, 9, 9, 9]
            assert ingest.of("HS")[1].seq == 2
        finally:
            poller.end()
            ingest.close()
            plc.close()


def test_trigger_command_and_control_answers() -> None:
    with Server(memory=Memory()) as server:
        settings = make_store(
            short_tmp(), server.address[1],
            "HS,KRTEST00PLC001,HANDSHAKE,100,M900,M901,1\nFIX,KRTEST00PLC001,FIXED,200,,,1\n",
            tags("HS", ["D100", "D101"]) + tags("FIX", ["D0"]))
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            answer = poller.service.commands.answer

            def call(command: Command) -> dict[str, object]:
                assert poller.loop is not None
                return asyncio.run_coroutine_threadsafe(answer(command), poller.loop).result(5)

            result = call(TriggerGroup("HS"))
            assert result["sequence"] == 1 and result["values"] == 2 and float(str(result["duration_ms"])) > 0
            with pytest.raises(CommandError, match="FIXED") as refused:
                call(TriggerGroup("FIX"))
            assert refused.value.code is ErrorCode.NOT_HANDSHAKE
            with pytest.raises(CommandError, match="no group NOPE") as refused:
                call(StopGroup("NOPE"))
            assert refused.value.code is ErrorCode.UNKNOWN_GROUP
            assert call(StopGroup("FIX")) == {"group": "FIX", "state": "STOPPED"}
            before = poller.figures("FIX")["cycles"]
            # a stopped group's schedule goes on: three of its deadlines pass, and none of them reads
            deadlines = poller.service.groups["FIX"].stats.lateness_ms
            passed = len(deadlines)
            wait_for(lambda: len(deadlines) >= passed + 3, 3, what="three deadlines of the stopped group")
            assert poller.figures("FIX")["cycles"] == before
            call(StartAll())
            wait_for(lambda: poller.figures("FIX")["cycles"] > before, 3, what="FIX running again")
            assert all(g["state"] == "RUNNING" for g in [poller.figures("HS"), poller.figures("FIX")])
        finally:
            poller.end()
            ingest.close()


def test_a_group_with_a_bad_address_fails_alone() -> None:
    memory = Memory("Q", {"D": (0, 9999)})  # this PLC has D0-D9999
    with Server(memory=memory) as server:
        settings = make_store(
            short_tmp(), server.address[1],
            "GOOD,KRTEST00PLC001,FIXED,200,,,1\nBAD,KRTEST00PLC001,FIXED,200,,,1\n",
            tags("GOOD", [f"D{i}" for i in range(10)]) + tags("BAD", ["D0", "D1", "D50000"]))
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            time.sleep(2.1)
            ingest.drain(0.2)
            good, bad = ingest.of("GOOD"), ingest.of("BAD")
            assert len(good) >= 9 and len(bad) >= 9  # both kept their 200 ms schedule
            assert all(v.quality == "GOOD" for d in good for v in d.values)
            assert all(d.error and "C056" in d.error for d in bad)
            assert {v.quality for d in bad for v in d.values} == {"BAD_END_CODE"}
            assert all(v.value is None for d in bad for v in d.values)
            figures = poller.figures("BAD")
            assert figures["errors"] == figures["cycles"] and "C056" in str(figures["last_error"])
            assert poller.figures("GOOD")["errors"] == 0
        finally:
            poller.end()
            ingest.close()


def test_plc_stopped_and_restarted_mid_run() -> None:
    port = free_port()
    settings = make_store(short_tmp(), port, "FIX,KRTEST00PLC001,FIXED,200,,,1\n",
                          tags("FIX", [f"D{i}" for i in range(5)]))
    ingest = Ingest(settings)
    server = Server(port=port)
    server.start()
    poller = Poller(settings, PLC).start()
    try:
        wait_for(lambda: any(v.quality == "GOOD" for d in ingest.drain(0.1) for v in d.values), 5,
                 what="good values")
        server.stop()  # the PLC goes away
        stopped = time.monotonic()
        wait_for(lambda: ingest.drain(0.1)[-1].values[0].quality in ("BAD_CONNECTION", "BAD_TIMEOUT"), 5,
                 what="BAD values")
        time.sleep(2.0)
        ingest.drain(0.1)
        during = [d for d in ingest.of("FIX") if d.ts_ms / 1000 > time.time() - 1.5]
        assert during and all(v.value is None and v.quality.startswith("BAD_") for d in during for v in d.values)
        assert len(during) >= 5  # the schedule kept going: gaps are stored, not skipped
        server = Server(port=port)  # the PLC comes back
        server.start()
        back = time.monotonic()
        wait_for(lambda: ingest.drain(0.1)[-1].values[0].quality == "GOOD", 15, what="polling resumed")
        # resumes within one backoff period (the cap of the connection backoff is 30 s; here it is seconds)
        assert time.monotonic() - back < 10, f"resumed {time.monotonic() - back:.1f} s after the PLC came back"
        assert time.monotonic() - stopped > 2
    finally:
        poller.end()
        server.stop()
        ingest.close()


def test_buffer_absent_then_present() -> None:
    with Server(memory=Memory()) as server:
        base = short_tmp()
        settings = make_store(base, server.address[1], "FIX,KRTEST00PLC001,FIXED,100,,,1\n",
                              tags("FIX", ["D0", "D1"]))
        settings.data_queue_size = 15
        poller = Poller(settings, PLC).start()
        try:
            time.sleep(1.0)  # ~10 cycles queued, nobody to take them
            queue = poller.service.queue
            assert queue is not None
            assert 5 <= len(queue.outbox.entries) <= 15 and queue.outbox.dropped == 0
            time.sleep(1.0)  # ~20 cycles: the queue overflows, oldest dropped and counted
            assert len(queue.outbox.entries) == 15 and queue.outbox.dropped > 0
            ingest = Ingest(settings)  # the buffer arrives
            try:
                wait_for(lambda: len(ingest.drain(0.2)) >= 15, 5, what="the queued data")
                seqs = [d.seq for d in ingest.received]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
                assert seqs[0] == queue.outbox.dropped + 1  # exactly the oldest were dropped
                wait_for(lambda: len(queue.outbox.entries) < 3, 2, what="the buffer's confirmations")
            finally:
                ingest.close()
        finally:
            poller.end()


def test_sigterm_path_flushes_and_stops_within_two_seconds() -> None:
    with Server(memory=Memory()) as server:
        settings = make_store(short_tmp(), server.address[1], "FIX,KRTEST00PLC001,FIXED,100,,,1\n",
                              tags("FIX", ["D0"]))
        poller = Poller(settings, PLC).start()
        time.sleep(0.5)
        ingest = Ingest(settings)
        took = poller.end()
        assert took < 2.0
        ingest.drain(0.5)
        assert ingest.received and poller.service.queue is not None and not poller.service.queue.outbox.entries
        ingest.close()


def test_what_the_buffer_did_not_take_survives_a_restart() -> None:
    with Server(memory=Memory()) as server:
        settings = make_store(short_tmp(), server.address[1], "FIX,KRTEST00PLC001,FIXED,100,,,1\n",
                              tags("FIX", ["D0"]))
        poller = Poller(settings, PLC).start()
        time.sleep(0.8)  # no buffer: cycles queue up
        poller.end()
        queue = poller.service.queue
        assert queue is not None and queue.outbox.entries
        saved = len(queue.outbox.entries)
        assert settings.poller_outbox_file(PLC).stat().st_size > 0
        ingest = Ingest(settings)
        again = Poller(settings, PLC).start()  # the next start sends the saved ones first
        try:
            wait_for(lambda: len(ingest.drain(0.2)) >= saved + 2, 5, what="saved and new data")
            seqs = [d.seq for d in ingest.received]
            assert seqs[:saved] == list(range(1, saved + 1))  # the first run's cycles, in order
            assert seqs[saved] == 1  # then the new run's
            queue = again.service.queue
            assert queue is not None
            wait_for(lambda: len(queue.outbox.entries) <= 1, 2, what="the confirmations")
        finally:
            again.end()
            ingest.close()


def test_a_cycle_the_buffer_does_not_confirm_is_sent_again_until_it_is() -> None:
    with Server(memory=Memory()) as server:
        settings = make_store(short_tmp(), server.address[1], "FIX,KRTEST00PLC001,FIXED,200,,,1\n",
                              tags("FIX", ["D0"]))
        settings.poller_ack_timeout = 0.5
        ingest = Ingest(settings, confirm=False)  # receives, journals nothing, confirms nothing
        poller = Poller(settings, PLC).start()
        try:
            wait_for(lambda: poller.service.queue is not None, 5, what="the poller's queue")
            queue = poller.service.queue
            assert queue is not None
            wait_for(lambda: queue.outbox.resent > 0
                     and len(ingest.drain(0.1)) > len({d.ts_ms for d in ingest.received}), 5, what="a cycle sent twice")
            ingest.confirm = True
            wait_for(lambda: not ingest.drain(0.1) or len(queue.outbox.entries) <= 1, 5, what="everything confirmed")
            assert queue.outbox.dropped == 0
            # what the buffer received covers every cycle the poller made, in order of first arrival
            first_seen = list(dict.fromkeys(d.seq for d in ingest.received))
            assert first_seen == sorted(first_seen) and first_seen[0] == 1
        finally:
            poller.end()
            ingest.close()


def test_a_group_task_that_raises_is_logged_and_started_again(caplog: pytest.LogCaptureFixture) -> None:
    with Server(memory=Memory()) as server:
        settings = make_store(short_tmp(), server.address[1], "FIX,KRTEST00PLC001,FIXED,100,,,1\n",
                              tags("FIX", ["D0"]))
        ingest = Ingest(settings)
        poller = Poller(settings, PLC)
        reader = poller.service.groups["FIX"]
        real_cycle = reader.cycle
        calls = 0

        async def cycle_failing_once(client: object) -> object:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise RuntimeError("a bug in a cycle")
            return await real_cycle(client)  # type: ignore[arg-type]

        reader.cycle = cycle_failing_once  # type: ignore[method-assign,assignment]
        poller.start()
        try:
            wait_for(lambda: calls > 8 and len(ingest.drain(0.1)) >= 6, 10, what="cycles after the failure")
            assert poller.service.task_deaths == {"group FIX": 1}
            died = [r for r in caplog.records if "task group FIX died" in r.getMessage()]
            assert len(died) == 1 and died[0].exc_info is not None and "a bug in a cycle" in caplog.text
            assert poller.service.figures()["task_deaths"] == {"group FIX": 1}
        finally:
            poller.end()
            ingest.close()
