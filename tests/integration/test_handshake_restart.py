"""A PLC restarted mid-handshake, against virtual-plc: the poller reads the ack state again and serves it.

Before the restart the poller served a request (trigger M900 = 1, ack M901 = 1) and waits for the PLC to
drop its trigger. The PLC restarts: its memory is cleared, and its program raises the trigger again for
the data it still has (trigger = 1, ack = 0). A poller that trusts its memory of the ack waits for the
trigger to drop while the PLC waits for the ack, for ever (issue 13, finding 5).
"""

from __future__ import annotations

import time

import pytest
from pymcprotocol import Type3E
from virtual_plc import Memory, Server

from tests.helpers import free_port, short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, Poller, make_store

pytestmark = pytest.mark.timeout(120)


def peer(server: Server) -> Type3E:
    client = Type3E(plctype="Q")
    client.connect(*server.address)
    return client


def test_a_plc_restarted_mid_handshake_is_served_again() -> None:
    port = free_port()
    settings = make_store(short_tmp(), port, "HS,KRTEST00PLC001,HANDSHAKE,100,M900,M901,1\n",
                          "".join(f"{PLC},HS,HS_D{100 + i},D{100 + i},UINT16,,,,\n" for i in range(3)))
    server = Server(port=port, memory=Memory())
    server.start()
    ingest = Ingest(settings)
    poller = Poller(settings, PLC).start()
    plc = peer(server)
    try:
        plc.batchwrite_wordunits("D100", [1, 2, 3])
        plc.batchwrite_bitunits("M900", [1])
        wait_for(lambda: ingest.drain(0.1) and plc.batchread_bitunits("M901", 1) == [1], 5, what="served once")
        plc.close()
        server.stop()  # the PLC restarts while its trigger is still high and our ack is set
        time.sleep(0.5)  # a few trigger looks fail meanwhile
        server = Server(port=port, memory=Memory())  # memory cleared: ack 0
        server.start()
        plc = peer(server)
        plc.batchwrite_wordunits("D100", [7, 8, 9])
        plc.batchwrite_bitunits("M900", [1])  # its program asks again for the data it has
        # (a read while the pool's other connections are still coming back is BAD, stored, and not
        # acknowledged, so the PLC's request is read again until a read is whole)
        wait_for(lambda: [v.value for v in ingest.drain(0.1)[-1].values] == [7, 8, 9]
                 and plc.batchread_bitunits("M901", 1) == [1], 10,
                 what="the request after the restart read and acknowledged")
        assert all(v.quality == "GOOD" for v in ingest.received[-1].values)
        plc.batchwrite_bitunits("M900", [0])  # and the handshake goes on as before
        wait_for(lambda: plc.batchread_bitunits("M901", 1) == [0], 5, what="the ack dropped")
        served = len(ingest.received)
        assert len(ingest.drain(0.3)) == served  # nothing read without a request
    finally:
        poller.end()
        ingest.close()
        plc.close()
        server.stop()


def test_an_ack_lost_without_a_failed_read_is_read_again() -> None:
    """The PLC restarted between two looks (no read failed, the connection came back at once), or
    someone cleared the ack: while the trigger is high the ack bit on the PLC is what counts."""
    with Server(memory=Memory()) as server:
        settings = make_store(short_tmp(), server.address[1], "HS,KRTEST00PLC001,HANDSHAKE,100,M900,M901,1\n",
                              f"{PLC},HS,HS_D100,D100,UINT16,,,,\n")
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        plc = peer(server)
        try:
            plc.batchwrite_bitunits("M900", [1])
            wait_for(lambda: ingest.drain(0.1) and plc.batchread_bitunits("M901", 1) == [1], 5, what="served")
            time.sleep(0.3)
            assert len(ingest.drain(0.1)) == 1  # the trigger still high: not read twice
            plc.batchwrite_bitunits("M901", [0])  # the ack gone, the request still there
            wait_for(lambda: len(ingest.drain(0.1)) == 2 and plc.batchread_bitunits("M901", 1) == [1], 5,
                     what="the request served again")
        finally:
            poller.end()
            ingest.close()
            plc.close()
