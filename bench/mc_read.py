"""Benchmark: read 1,000 scattered tags from one virtual-plc, our planner + pool vs pymcprotocol.

    .venv/bin/python bench/mc_read.py [--seconds 10] [--ascii]

The tag list is realistic and scattered: clusters of consecutive D, W and ZR
words of mixed types and M and X bits, with gaps between clusters. The PLC is
virtual-plc in its own process on 127.0.0.1. Our client reads each cycle with
the read planner's requests spread over a pool of 5 connections; pymcprotocol
(the reference client) reads each contiguous run on its own, one request at a
time, as a plain client would. Prints requests per cycle, cycles per second,
tags per second for both, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

from pymcprotocol import Type3E

from common.mc.client import PlcClient
from common.mc.commands import Codec
from common.mc.datatypes import parse_data_type
from common.mc.devices import DeviceAddress, parse_address
from common.mc.frames import Encoding
from common.mc.planner import TagRead, plan_reads


def scattered_tags(count: int = 1000, seed: int = 1) -> list[TagRead]:
    rng = random.Random(seed)
    tags: list[TagRead] = []
    shares = [("D", 0.4), ("W", 0.2), ("ZR", 0.1), ("M", 0.2), ("X", 0.1)]
    for device, share in shares:
        want = int(count * share)
        number = rng.randrange(0, 200)
        made = 0
        while made < want:
            cluster = min(want - made, rng.randrange(5, 40))
            for _ in range(cluster):
                if device in ("M", "X"):
                    tags.append(TagRead(parse_address(f"{device}{number:X}" if device == "X" else f"M{number}"),
                                        parse_data_type("BIT")))
                    number += 1
                else:
                    dtype = parse_data_type(rng.choice(["INT16", "UINT16", "INT16", "INT32", "FLOAT32"]))
                    text = f"{device}{number:X}" if device in ("W", "ZR") else f"{device}{number}"
                    tags.append(TagRead(parse_address(text), dtype))
                    number += dtype.words
                made += 1
            number += rng.randrange(20, 400)  # the gap to the next cluster
    return tags


def contiguous_runs(tags: list[TagRead]) -> list[tuple[DeviceAddress, int, bool]]:
    """(head, points, bits) for each run of consecutive points, as a plain client would read them."""
    points: dict[str, set[int]] = defaultdict(set)
    for t in tags:
        for k in range(1 if t.address.is_bit else t.data_type.words):
            points[t.address.device.name].add(t.address.number + k)
    runs = []
    for name, numbers in points.items():
        ordered = sorted(numbers)
        start = prev = ordered[0]
        for n in [*ordered[1:], None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            head = parse_address(f"{name}{start:X}" if parse_address(f"{name}0").device.hexadecimal
                                 else f"{name}{start}")
            runs.append((head, prev - start + 1, head.device.is_bit))
            if n is not None:
                start = prev = n
    return runs


def peer_text(a: DeviceAddress) -> str:
    return f"{a.device.name}0{a.number:X}" if a.device.hexadecimal else f"{a.device.name}{a.number}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def ours(tags: list[TagRead], port: int, encoding: Encoding, seconds: float) -> tuple[int, int, float]:
    plan = plan_reads(tags)
    client = PlcClient("KRBENCH0000001", "127.0.0.1", [port] * 5, Codec(encoding, ascii_hex_numbers=False), 5.0)
    await client.read(plan)  # connect the pool
    cycles = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        values = await client.read(plan)
        assert not any(isinstance(v, BaseException) for v in values)
        cycles += 1
    elapsed = time.perf_counter() - started
    client.close()
    return len(plan.requests), cycles, elapsed


def theirs(tags: list[TagRead], port: int, encoding: Encoding, seconds: float) -> tuple[int, int, float]:
    runs = contiguous_runs(tags)
    peer = Type3E(plctype="Q")
    peer.setaccessopt(commtype=encoding.value)
    peer.connect("127.0.0.1", port)
    cycles = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for head, points, bits in runs:
            if bits:
                peer.batchread_bitunits(peer_text(head), points)
            else:
                peer.batchread_wordunits(peer_text(head), points)
        cycles += 1
    elapsed = time.perf_counter() - started
    peer.close()
    return len(runs), cycles, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--ascii", action="store_true")
    parser.add_argument("--reply-delay", type=float, default=0.0,
                        help="seconds virtual-plc holds every read reply (a real PLC's scan and network time)")
    parser.add_argument("--scan-ms", type=float, nargs="*",
                        help="instead: a PLC serving one request per scan of these lengths (bench/mc_scan.py)")
    parser.add_argument("--cycles", type=int, default=10, help="with --scan-ms: cycles per measurement")
    args = parser.parse_args()
    if args.scan_ms:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script
        from bench.mc_scan import run

        encoding = Encoding.ASCII if args.ascii else Encoding.BINARY
        run(args.scan_ms, args.cycles, max(2, args.cycles // 4), encoding)
        return
    encoding = Encoding.ASCII if args.ascii else Encoding.BINARY
    tags = scattered_tags(args.tags)
    port = free_port()
    command = [sys.executable, "-m", "virtual_plc", "--port", str(port)]
    plan_file = None
    if args.reply_delay:
        delay = {"type": "delay", "seconds": args.reply_delay}
        steps = [{"match": {"command": c}, "times": 2**62, "action": delay} for c in (0x0401, 0x0403)]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as plan_file:
            json.dump({"steps": steps}, plan_file)
        command += ["--fault-plan", plan_file.name]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        server.stderr.readline()  # the banner: listening
        requests, cycles, elapsed = asyncio.run(ours(tags, port, encoding, args.seconds))
        peer_requests, peer_cycles, peer_elapsed = theirs(tags, port, encoding, args.seconds)
    finally:
        server.terminate()
        server.wait(10)
        if plan_file is not None:
            os.unlink(plan_file.name)
    ours_rate = len(tags) * cycles / elapsed
    peer_rate = len(tags) * peer_cycles / peer_elapsed
    print(f"{len(tags)} scattered tags over D, W, ZR, M, X; virtual-plc {virtual_plc_version()} "
          f"in its own process; 3E {encoding.value}; reply delay {1000 * args.reply_delay:.0f} ms; "
          f"{args.seconds:.0f} s each")
    print(f"{'client':<40} {'requests/cycle':>15} {'cycles/s':>10} {'ms/cycle':>10} {'tags/s':>12}")
    print(f"{'planner + pool of 5 (this project)':<40} {requests:>15} {cycles / elapsed:>10.1f} "
          f"{1000 * elapsed / cycles:>10.2f} {ours_rate:>12,.0f}")
    print(f"{'pymcprotocol, one request per run':<40} {peer_requests:>15} {peer_cycles / peer_elapsed:>10.1f} "
          f"{1000 * peer_elapsed / peer_cycles:>10.2f} {peer_rate:>12,.0f}")
    print(f"ratio (this project / pymcprotocol): {ours_rate / peer_rate:.1f}x tags/s, "
          f"{peer_requests / requests:.1f}x fewer requests")


def virtual_plc_version() -> str:
    from virtual_plc import __version__

    return str(__version__)


if __name__ == "__main__":
    main()
