"""The poller's housekeeping: each chore a task of its own, so that none of them delays another.

- resend: once a second, queue again what the buffer has not confirmed
  within POLLER_ACK_TIMEOUT (it may have lost it);
- journal: once a second, rewrite a journal that failed, write the ledger's
  pending records, fsync the send queue's journal and the ledger (in a
  worker thread: on a slow disk that takes tens of milliseconds), compact;
- keep-alive: once a second, an echo on each pooled connection silent for
  KEEPALIVE_IDLE_S (a Q-series built-in port drops a connection after ~45 s
  of silence), borrowing one connection at a time so the groups keep the rest;
- memory: once a minute, a full garbage collection. Everything loaded at the
  start is frozen (``runtime.settle_memory``), so it walks only what was made
  since and takes well under a millisecond; without it CPython runs one
  rarely (its trigger counts the frozen objects), and its free lists keep
  every tuple a burst of cycles left behind, up to 2,000 of each size. A
  poller grew ~1.4 MiB in its first half hour; this takes ~0.4 MiB of that
  away and lets it level off sooner (docs/BENCHMARKS.md, "A poller's footprint").

The status is published by a task of its own too (poller_service.py), so a slow
disk or a slow PLC never makes the poller look dead to the gateway. Each is
started through ``runtime.supervise``: one that raises is logged and started
again, and its deaths are counted in the status.
"""

from __future__ import annotations

import asyncio
import gc

from common.mc.client import PlcClient
from services.poller.sender import SendQueue

EVERY_S = 1.0
KEEPALIVE_IDLE_S = 20.0
MEMORY_EVERY_S = 60.0


async def resend(queue: SendQueue) -> None:
    while True:
        queue.resend_unconfirmed()
        await asyncio.sleep(EVERY_S)


async def journal(queue: SendQueue) -> None:
    while True:
        await queue.sync_to_disk()
        await asyncio.sleep(EVERY_S)


async def keep_alive(client: PlcClient) -> None:
    while True:
        await client.keep_alive(KEEPALIVE_IDLE_S)
        await asyncio.sleep(EVERY_S)


async def memory() -> None:
    while True:
        await asyncio.sleep(MEMORY_EVERY_S)
        gc.collect()
