"""Benchmark: requests per cycle and cycle time against a PLC that serves one request per scan.

    .venv/bin/python bench/mc_read.py --scan-ms 10 20 [--cycles 10]

The PLC: aslmp's simulator (target PEDANTIC, 3E binary, TCP) behind
:class:`bench.scan_relay.ScanRelay`, which serves one request per scan
across all connections. Workloads: the 1,000 scattered tags of
``bench/mc_read.py`` and each polling group of the sample plant
(``data/sample``). For each: this project with 0406 (the planner's choice
when the PLC serves it), this project without it (batch and random reads,
as before), the same with 0406 but each cycle starting at a random point of
the scan (as a poller's cycle does), ``pymcprotocol`` reading each contiguous
run with its own request, and the lower bound: the words to read over the protocol's 960 points per
request, one scan each.
"""

from __future__ import annotations

import asyncio
import csv
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

from pymcprotocol import Type3E

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.aslmp_peer, when run as a script

from bench.mc_read import contiguous_runs, peer_text, scattered_tags  # noqa: E402
from bench.scan_relay import ScanRelay  # noqa: E402
from common.mc.client import PlcClient  # noqa: E402
from common.mc.commands import Codec  # noqa: E402
from common.mc.datatypes import parse_data_type  # noqa: E402
from common.mc.devices import parse_address  # noqa: E402
from common.mc.frames import Encoding, Frame  # noqa: E402
from common.mc.multiblock import MAX_BLOCK_POINTS  # noqa: E402
from common.mc.planner import TagRead, plan_reads  # noqa: E402
from tests.aslmp_peer import Link, aslmp_peer  # noqa: E402


def sample_groups() -> list[tuple[str, list[TagRead]]]:
    groups: dict[str, list[TagRead]] = defaultdict(list)
    with (ROOT / "data" / "sample" / "tags.csv").open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            groups[f"{row['plc_code'][-6:]}/{row['group_name']}"].append(
                TagRead(parse_address(row["address"]), parse_data_type(row["data_type"])))
    return list(groups.items())


def words_to_read(tags: list[TagRead]) -> int:
    """Distinct words the tags occupy (bit devices: the 16-bit words holding them)."""
    words = set()
    for t in tags:
        a = t.address
        if a.device.is_bit:
            words.add((a.device.name, a.number // 16))
        else:
            words.update((a.device.name, a.number + k) for k in range(1 if a.bit is not None else t.data_type.words))
    return len(words)


async def ours(address: tuple[str, int], tags: list[TagRead], multi_block: bool, cycles: int,
               start_anywhere_s: float = 0.0, encoding: Encoding = Encoding.BINARY) -> tuple[int, float]:
    """Requests per cycle and seconds per cycle; with ``start_anywhere_s`` each cycle starts after a random
    pause of up to that long (a poller's cycle starts anywhere in the PLC's scan) and only the read is timed."""
    plan = plan_reads(tags, multi_block=multi_block)
    rng = random.Random(5)
    client = PlcClient("KRBENCH0000001", address[0], [address[1]] * 5, Codec(encoding), 10.0)
    try:
        values = await client.read(plan)  # connect the pool
        errors = [v for v in values if isinstance(v, BaseException)]
        assert not errors, errors[:1]
        spent = 0.0
        for _ in range(cycles):
            if start_anywhere_s:
                await asyncio.sleep(rng.uniform(0, start_anywhere_s))
            started = time.perf_counter()
            await client.read(plan)
            spent += time.perf_counter() - started
        return len(plan.requests), spent / cycles
    finally:
        client.close()


def theirs(address: tuple[str, int], tags: list[TagRead], cycles: int,
           encoding: Encoding = Encoding.BINARY) -> tuple[int, float]:
    runs = contiguous_runs(tags)
    peer = Type3E(plctype="Q")
    peer.setaccessopt(commtype=encoding.value)
    peer.connect(*address)
    try:
        started = time.perf_counter()
        for _ in range(cycles):
            for head, points, bits in runs:
                if bits:
                    peer.batchread_bitunits(peer_text(head), points)
                else:
                    peer.batchread_wordunits(peer_text(head), points)
        return len(runs), (time.perf_counter() - started) / cycles
    finally:
        peer.close()


def run(scans_ms: list[float], cycles: int, peer_cycles: int, encoding: Encoding = Encoding.BINARY) -> None:
    workloads = [("1000 scattered tags", scattered_tags(1000)), *sample_groups()]
    link = Link("TCP", encoding, Frame.E3)
    with aslmp_peer((link,)) as peer:
        for scan_ms in scans_ms:
            relay = ScanRelay(peer.address(link), scan_ms / 1000)
            address = asyncio.run_coroutine_threadsafe(relay.start(), peer.loop).result(5)
            print(f"\nPLC: aslmp {aslmp_version()} simulator (PEDANTIC, 3E {encoding.value}, TCP) behind a relay "
                  f"serving one request per {scan_ms:g} ms scan across all connections; {cycles} cycles each "
                  f"(pymcprotocol {peer_cycles}); requests per cycle / ms per cycle")
            print(f"{'workload':<22} {'tags':>5} {'with 0406':>14} {'any phase':>14} {'without 0406':>14} "
                  f"{'pymcprotocol':>14} {'lower bound':>14} {'phase / bound':>13}")
            for name, tags in workloads:
                bound = -(-words_to_read(tags) // MAX_BLOCK_POINTS)
                with_blocks = asyncio.run(ours(address, tags, True, cycles, encoding=encoding))
                any_phase = asyncio.run(ours(address, tags, True, cycles, scan_ms / 1000, encoding))
                without = asyncio.run(ours(address, tags, False, cycles, encoding=encoding))
                pymc = theirs(address, tags, peer_cycles, encoding)
                cells = [f"{r:>3} / {1000 * s:7.1f}" for r, s in (with_blocks, any_phase, without, pymc)]
                print(f"{name:<22} {len(tags):>5} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} {cells[3]:>14} "
                      f"{bound:>3} / {bound * scan_ms:7.1f} {any_phase[1] * 1000 / (bound * scan_ms):>12.2f}x")
            asyncio.run_coroutine_threadsafe(relay.close(), peer.loop).result(5)


def aslmp_version() -> str:
    from importlib.metadata import version

    return version("aslmp")
