"""Benchmark: the gateway under dashboards -- status latency and WebSocket broadcast.

    .venv/bin/python -m bench.gateway_load [--seconds 20]   (from the project directory)

Starts the sample plant under supervisord on temporary directories and free
ports (simulator, 3 pollers, buffer, writer, gateway), then from this process:

- 50 concurrent clients call GET /api/polling/status back to back: p50, p99
  and max latency, and requests per second -- with ``wrk`` (Debian package
  wrk) when it is installed, and with a Python client (httpx) in this
  process, which is slower than the gateway and shares its 2 cores;
- 100 WebSocket clients hold /ws/polling: how late each message arrives
  against its ``sent_ms`` (p50, p99, max) and how many of the once-a-second
  messages were missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import time

import httpx
import websockets

from tests.helpers import wait_for
from tests.supervisor_run import running_plant


async def status_load(base: str, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=httpx.Limits(max_connections=clients)) as http:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.get("/api/polling/status")
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def ws_load(url: str, clients: int, seconds: float) -> tuple[list[float], int, int]:
    late: list[float] = []
    missed = 0
    received = 0

    async def client() -> None:
        nonlocal missed, received
        async with websockets.connect(url, open_timeout=10, max_size=2**24) as ws:
            last: int | None = None
            deadline = time.time() + seconds
            while time.time() < deadline:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 3))
                except TimeoutError:
                    missed += 1
                    continue
                received += 1
                late.append(time.time() - message["sent_ms"] / 1000)
                if last is not None:
                    missed += max(0, round((message["sent_ms"] - last) / 1000) - 1)
                last = message["sent_ms"]

    await asyncio.gather(*(client() for _ in range(clients)))
    return late, missed, received


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with running_plant() as (sup, env):
        sup.wait_running()
        port = env["SCADA_API_PORT"]
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{base}/api/polling/status").json()["total_groups"] == 12, 30,
                 what="telemetry")
        wrk = shutil.which("wrk")
        wrk_out = ""
        if wrk:
            wrk_out = subprocess.run([wrk, "-t2", "-c50", f"-d{int(args.seconds)}s", "--latency",
                                      f"{base}/api/polling/status"], capture_output=True, text=True).stdout
        latencies = asyncio.run(status_load(base, 50, args.seconds))
        late, missed, received = asyncio.run(ws_load(f"ws://127.0.0.1:{port}/ws/polling", 100, args.seconds))
    ms = [1000 * x for x in latencies]
    print(f"gateway on the sample plant (3 PLCs, 12 groups, 1,410 tags), {args.seconds:.0f} s each, "
          "clients in one process on the same 2 cores")
    if wrk_out:
        print("GET /api/polling/status, 50 connections, wrk:")
        print("\n".join("    " + line for line in wrk_out.strip().splitlines()))
    print(f"GET /api/polling/status, 50 concurrent Python clients: {len(ms) / args.seconds:,.0f} requests/s, "
          f"p50 {pct(ms, 50):.1f} ms, p99 {pct(ms, 99):.1f} ms, max {max(ms):.1f} ms")
    late_ms = [1000 * x for x in late]
    print(f"WS /ws/polling, 100 clients: {received} messages, {missed} missed, late p50 {pct(late_ms, 50):.1f} ms, "
          f"p99 {pct(late_ms, 99):.1f} ms, max {max(late_ms):.1f} ms")


if __name__ == "__main__":
    main()
