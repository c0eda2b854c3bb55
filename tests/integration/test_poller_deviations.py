"""The poller against virtual-plc in ASCII, with the PLC's deviations set on its row of plcs.csv,
and against aslmp's simulator over 4E, UDP and 0406 as set on the PLC's row.

virtual-plc, as it ships, reads hexadecimal device numbers as decimal and
sends a random read's double words low word first in ASCII; a PLC whose row
lists ``ascii_decimal_numbers;ascii_dwords_low_first`` stores its 32-bit
constants right, a PLC without them (a real one, as the manual says) does
not, against this peer.
"""

from __future__ import annotations

import pytest
from virtual_plc import Memory, Server

from common.mc.datatypes import parse_data_type
from common.mc.frames import Encoding, Frame
from tests.helpers import short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, Poller, make_store

pytestmark = pytest.mark.timeout(60)

# Scattered 32-bit constants (and W words: a hex device), far enough apart that the planner puts
# them in one random read rather than in batch reads.
CONSTANTS = [("D9000", "INT32", -123456), ("D12000", "UINT32", 0xDEADBEEF), ("D15000", "FLOAT32", 1.5),
             ("W1A00", "INT32", 70000), ("W3B00", "UINT16", 0x3B00), ("D18000", "INT16", -2)]


def seeded_memory() -> Memory:
    memory = Memory()
    for address, dtype, value in CONSTANTS:
        device, number = address[0], int(address[1:], 16 if address[0] == "W" else 10)
        memory.write_words(device, number, parse_data_type(dtype).encode(value))
    return memory


def poll_once(deviations: str) -> list[object]:
    with Server(memory=seeded_memory()) as server:  # virtual-plc's defaults: its ASCII deviations
        rows = "".join(f"{PLC},CONST,C_{a},{a},{t},,,,\n" for a, t, _ in CONSTANTS)
        settings = make_store(short_tmp(), server.address[1], "CONST,KRTEST00PLC001,FIXED,100,,,1\n", rows,
                              protocol="MC3E_ASCII", deviations=deviations)
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            data = wait_for(lambda: ingest.of("CONST"), 10, what="a cycle of CONST")
        finally:
            poller.end()
            ingest.close()
    return [v.value if v.quality == "GOOD" else v.quality for v in data[0].values]


def test_ascii_plc_with_virtual_plc_deviations_stores_32_bit_constants_right() -> None:
    from common.mc.devices import parse_address
    from common.mc.planner import TagRead, plan_reads

    plan = plan_reads([TagRead(parse_address(a), parse_data_type(t)) for a, t, _ in CONSTANTS])
    assert plan.commands == {"0403": 1}  # the path under test: dwords in a random read
    assert poll_once("ascii_decimal_numbers;ascii_dwords_low_first") == [v for _, _, v in CONSTANTS]


def test_without_the_deviations_the_manual_order_is_read_and_virtual_plc_disagrees() -> None:
    values = poll_once("ascii_decimal_numbers")
    assert values[0] != -123456 and values[1] == 0xBEEFDEAD  # words swapped, as a manual-following PLC would not


@pytest.mark.parametrize(("protocol", "transport"), [("MC4E_BINARY", "UDP"), ("MC4E_ASCII", "TCP"),
                                                     ("MC3E_ASCII", "UDP")])
def test_poller_reads_a_scattered_group_in_one_0406_request_over_its_plcs_frame_and_transport(
        protocol: str, transport: str) -> None:
    from tests.aslmp_peer import Link, aslmp_peer

    encoding = Encoding.ASCII if protocol.endswith("ASCII") else Encoding.BINARY
    link = Link(transport, encoding, Frame.E4 if protocol.startswith("MC4E") else Frame.E3)
    with aslmp_peer((link,)) as peer:  # the manual as written: no deviations on this PLC's row
        for address, dtype, value in CONSTANTS:
            device, number = address[0], int(address[1:], 16 if address[0] == "W" else 10)
            peer.memory.write_words(device, number, parse_data_type(dtype).encode(value))
        peer.memory.write_bits("X", 0x1A3, [True])
        # a run too long for a random read: without 0406 the group takes a batch read and a random read
        peer.memory.write_words("D", 20000, parse_data_type("STRING[10]").encode("LOT-2026-11-23"))
        rows = "".join(f"{PLC},CONST,C_{a},{a},{t},,,,\n" for a, t, _ in CONSTANTS)
        rows += f"{PLC},CONST,C_X,X1A3,BIT,,,,\n{PLC},CONST,C_LOT,D20000,STRING[10],,,,\n"
        settings = make_store(short_tmp(), peer.address(link)[1], "CONST,KRTEST00PLC001,FIXED,100,,,1\n", rows,
                              protocol=protocol, transport=transport, multi_block_read=1)
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            data = wait_for(lambda: ingest.of("CONST"), 10, what="a cycle of CONST")
            figures = poller.figures("CONST")
        finally:
            poller.end()
            ingest.close()
    assert [v.value for v in data[0].values] == [v for _, _, v in CONSTANTS] + [1, "LOT-2026-11-23"]
    assert figures["commands"] == {"0406": 1} and figures["requests_per_cycle"] == 1
