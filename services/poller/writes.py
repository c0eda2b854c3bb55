"""The poller's writes to its PLC: read the old values, write in order, read back -- on the polling pool.

Strategy: a write command names tags and values; the poller checks them
again against the config store as it is now (a gateway's copy may be older
than an import), reads the tags' current values (the audit trail's old
value, and proof the PLC answers: if that read fails nothing is written),
sends the write plan's requests one after another in the order given
(common/writes/plan.py; a bit of a word is a read-modify-write), and reads
every tag back through the same decoding the polling uses, so the value
answered is the value the historian will see. A request that fails stops
the rest: the writes before it stand (``written``), its own are ``failed``
and the later ones ``not_sent``. Writes of one PLC run one at a time, so two
read-modify-writes of one word cannot interleave; the whole command ends by
WRITE_DEADLINE_S. Each outcome says how a failure failed (``failure``:
timeout, connection, end_code, frame) so the gateway answers 504 or 502.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.config_store import model
from common.config_store.schema import connect, migrate
from common.mc.client import PlcClient
from common.mc.errors import McError
from common.mc.frames import Encoding
from common.mc.planner import TagRead, plan_reads
from common.writes import WRITE_DEADLINE_S
from common.writes.plan import WordBits, plan_writes
from common.writes.values import CheckedWrite, WriteRefused, check_write
from services.poller.group import quality_of

log = logging.getLogger("poller.writes")

#: the config store read of a write waits at most this long for a lock (an import committing)
STORE_BUSY_MS = 1000


def failure_of(error: BaseException) -> str:
    """timeout, connection, end_code, frame or error: the poller's BAD quality of the same error."""
    return quality_of(error).removeprefix("BAD_").lower()


async def write_tags(client: PlcClient, writes: Sequence[CheckedWrite], encoding: Encoding) -> list[dict[str, Any]]:
    """Write ``writes`` in order; per write its outcome (see the module's docstring)."""
    outcomes: list[dict[str, Any]] = [
        {"tag": w.tag.tag_name, "address": w.tag.address, "requested": w.requested, "old_value": None,
         "read_back": None, "result": "not_sent", "detail": ""} for w in writes]
    reads = plan_reads([TagRead(w.tag.device_address, w.tag.type, w.tag.scale, w.tag.offset) for w in writes])
    old = await client.read(reads)
    refused = next((v for v in old if isinstance(v, BaseException)), None)
    if refused is not None:
        for o in outcomes:
            o.update(detail=f"nothing written: the PLC did not answer the read before the write: {refused}",
                     failure=failure_of(refused))
        return outcomes
    for o, value in zip(outcomes, old, strict=True):
        o["old_value"] = value
    plan = plan_writes(writes, encoding)
    for step, carried in zip(plan.steps, plan.carries, strict=True):
        try:
            if isinstance(step, WordBits):
                word = await client.execute(step.read)
                assert isinstance(word, list)
                await client.execute(step.write(word[0]))
            else:
                await client.execute(step)
        except McError as error:
            for i in carried:
                outcomes[i].update(result="failed", detail=str(error), failure=failure_of(error))
            for o in outcomes:
                if o["result"] == "not_sent":
                    o["detail"] = f"not sent: an earlier write failed ({error})"
            break
        for i in carried:
            outcomes[i]["result"] = "written"
    back = await client.read(reads)
    for w, o, value in zip(writes, outcomes, back, strict=True):
        if isinstance(value, BaseException):
            if o["result"] == "written":
                o["detail"] = f"written, but the read back failed: {value}"
            continue
        o["read_back"] = value
        if o["result"] == "written" and not _same(value, w.requested):
            o["detail"] = "the value read back is not the one written (the PLC program changed it?)"
    return outcomes


def _same(read: object, written: object) -> bool:
    """Read back as written: numbers to float32's precision (a FLOAT32, or a value through scale and offset)."""
    if isinstance(read, int | float) and isinstance(written, int | float):
        return math.isclose(read, written, rel_tol=1e-6, abs_tol=1e-9)
    return read == written


class WriteDesk:
    """The poller's handler of write commands: checks, one write at a time, the PLC's deadline."""

    def __init__(self, plc: model.Plc, config_db: Path, encoding: Encoding) -> None:
        self.plc = plc
        self.config_db = config_db
        self.encoding = encoding
        self._one_at_a_time = asyncio.Lock()
        self.commands = 0

    def _tags(self, names: list[str]) -> dict[str, model.Tag]:
        conn = connect(self.config_db)
        try:
            conn.execute(f"PRAGMA busy_timeout = {STORE_BUSY_MS}")  # the write's time is bounded: see write()
            migrate(conn)
            return model.load_tags_named(conn, self.plc.plc_code, names)
        finally:
            conn.close()

    async def check(self, items: list[tuple[str, Any]]) -> list[CheckedWrite]:
        """The writes checked against the config store as it is now; raises WriteRefused (the first problem)."""
        names = [name for name, _ in items]
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise WriteRefused(422, twice, "written twice in one command")
        tags = await asyncio.to_thread(self._tags, names)
        checked = []
        for name, value in items:
            tag = tags.get(name)
            if tag is None:
                raise WriteRefused(404, name, f"no tag {name} on {self.plc.plc_code}")
            checked.append(check_write(tag, value))
        return checked

    async def write(self, client: PlcClient, items: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """The outcomes, by WRITE_DEADLINE_S from now: a write never reaches the PLC after its sender gave up."""
        deadline = time.monotonic() + WRITE_DEADLINE_S
        first = items[0][0] if items else "-"
        try:
            checked = await self.check(items)
        except sqlite3.Error as error:
            raise WriteRefused(503, first, f"the config store is busy: {error}") from None
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + deadline - time.monotonic()):
                await self._one_at_a_time.acquire()
        except TimeoutError:
            raise WriteRefused(503, first, "other writes to this PLC took the whole deadline; nothing was "
                               "written") from None
        try:
            self.commands += 1
            with client.deadline(deadline):
                outcomes = await write_tags(client, checked, self.encoding)
        finally:
            self._one_at_a_time.release()
        log.info("%s: wrote %s", self.plc.plc_code,
                 ", ".join(f"{o['tag']}={o['requested']!r} -> {o['result']} ({o['read_back']!r})" for o in outcomes))
        return outcomes
