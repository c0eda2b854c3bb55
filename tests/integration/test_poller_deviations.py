"""The poller against virtual-plc in ASCII, with the PLC's deviations set on its row of plcs.csv.

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
