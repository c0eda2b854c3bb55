"""The floor under a poller: what any process of asyncio, pyzmq and msgpack costs before the product's own code.

    .venv/bin/python -m bench.poller_floor [--seconds 20]

A bare process, no project module in it: asyncio (without TLS, as a poller),
pyzmq and msgpack imported; an event loop, a ZeroMQ context, a PUSH and a PULL
socket on ipc://, and 5 TCP connections to a local server; four msgpack
messages of 120 values pushed and pulled a second. Its resident memory (VmRSS)
after the imports and at the end: what a poller (bench/poller_footprint.py)
adds on top of this is what the product costs.
"""

from __future__ import annotations

import sys

sys.modules["ssl"] = None  # type: ignore[assignment]  # as common/footprint.leave_out_tls

import asyncio  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import msgpack  # noqa: E402
import zmq  # noqa: E402
import zmq.asyncio  # noqa: E402

MIB = 2**20


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


async def run(seconds: float) -> None:
    ctx = zmq.asyncio.Context()
    endpoint = f"/tmp/poller-floor-{os.getpid()}.ipc"  # not tempfile: it brings shutil and random
    try:
        push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
        push.bind(f"ipc://{endpoint}")
        pull.connect(f"ipc://{endpoint}")
        server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            for i in range(4):
                await push.send(msgpack.packb({"values": [[f"D{i}", 1.5, 0]] * 120}))
                await pull.recv()
            await asyncio.sleep(1)
        print(f"running {seconds:.0f} s: {rss_bytes() / MIB:.2f} MiB")
        for _, writer in connections:
            writer.close()
        server.close()
        push.close(linger=0)
        pull.close(linger=0)
    finally:
        if os.path.exists(endpoint):
            os.unlink(endpoint)
    ctx.term()


def main() -> None:
    # not argparse: it brings gettext, locale and shutil, ~1 MB a floor has no use for
    seconds = float(sys.argv[2]) if sys.argv[1:2] == ["--seconds"] and len(sys.argv) == 3 else 20.0
    print(f"imported: {rss_bytes() / MIB:.2f} MiB ({len(sys.modules)} modules)")
    asyncio.run(run(seconds))


if __name__ == "__main__":
    main()
