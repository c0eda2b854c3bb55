"""The poller's write desk without a PLC: writes of one PLC one at a time, none after its deadline,
the store as it is now, a failing request stopping the rest."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.config_store import model
from common.config_store.schema import open_store
from common.mc.commands import BatchWrite
from common.mc.errors import PlcTimeoutError
from common.mc.frames import Encoding
from common.mc.planner import ReadPlan
from common.writes.values import WriteRefused
from services.poller import writes
from services.poller.writes import WriteDesk, write_tags
from tests.integration.poller_harness import PLC, make_store

TAGS = "".join(f"{PLC},G,SP{k},D{100 + k},INT16,,,,\n" for k in range(3))


class FakePlc:
    """Answers every read with zeros after ``delay``; records writes; fails the write to ``fail_at``."""

    def __init__(self, delay: float = 0.0, fail_at: int | None = None) -> None:
        self.delay, self.fail_at = delay, fail_at
        self.written: list[BatchWrite] = []

    @contextlib.contextmanager
    def deadline(self, at: float) -> Iterator[None]:
        yield

    async def read(self, plan: ReadPlan) -> list[object]:
        await asyncio.sleep(self.delay)
        return [0] * len(plan.tags)

    async def execute(self, request: Any) -> Any:
        if self.fail_at is not None and request.head.number == self.fail_at:
            raise PlcTimeoutError("no complete reply")
        self.written.append(request)
        return None


@pytest.fixture
def desk(tmp_path: Path) -> WriteDesk:
    settings = make_store(tmp_path, 1, f"G,{PLC},FIXED,1000,,,1\n", TAGS)
    conn = open_store(settings.config_db)
    conn.execute("UPDATE tags SET writable = 1 WHERE tag_name != 'SP2'")
    plc = model.load_plc(conn, PLC)
    conn.close()
    assert plc is not None
    return WriteDesk(plc, settings.config_db, Encoding.BINARY)


def test_the_store_as_it_is_now_decides(desk: WriteDesk) -> None:
    plc = FakePlc()
    with pytest.raises(WriteRefused, match="not writable") as refused:
        asyncio.run(desk.write(plc, [("SP0", 1), ("SP2", 1)]))  # type: ignore[arg-type]
    assert refused.value.status == 403 and plc.written == []
    with pytest.raises(WriteRefused, match="no tag NOPE") as unknown:
        asyncio.run(desk.write(plc, [("NOPE", 1)]))  # type: ignore[arg-type]
    assert unknown.value.status == 404
    with pytest.raises(WriteRefused, match="twice"):
        asyncio.run(desk.write(plc, [("SP0", 1), ("SP0", 2)]))  # type: ignore[arg-type]
    conn = sqlite3.connect(desk.config_db)
    conn.execute("UPDATE tags SET writable = 1")
    conn.commit()
    conn.close()
    outcomes = asyncio.run(desk.write(plc, [("SP2", 7)]))  # type: ignore[arg-type]
    assert [o["result"] for o in outcomes] == ["written"] and plc.written[0].values == (7,)


def test_writes_of_one_plc_wait_for_each_other_but_never_past_their_deadline(
        desk: WriteDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writes, "WRITE_DEADLINE_S", 0.4)
    plc = FakePlc(delay=0.25)  # a write takes 0.5 s (old values, read back): longer than the second's deadline

    async def two() -> Any:
        return await asyncio.gather(desk.write(plc, [("SP0", 1)]), desk.write(plc, [("SP1", 2)]),  # type: ignore[arg-type]
                                    return_exceptions=True)

    answers = asyncio.run(two())  # whichever got the PLC first is written, the other refused
    (refused,) = [a for a in answers if isinstance(a, WriteRefused)]
    (written,) = [a for a in answers if not isinstance(a, BaseException)]
    assert refused.status == 503 and "nothing was written" in str(refused)
    assert [o["result"] for o in written] == ["written"]
    assert [w.values for w in plc.written] == [(written[0]["requested"],)]  # the other never reached the PLC


def test_a_failed_request_stops_the_rest_and_says_how(desk: WriteDesk) -> None:
    tags = asyncio.run(desk.check([("SP0", 1), ("SP1", 2)]))
    plc = FakePlc(fail_at=100)  # D100 and D101 in one request, which fails
    outcomes = asyncio.run(write_tags(plc, tags, Encoding.BINARY))  # type: ignore[arg-type]
    assert [(o["result"], o.get("failure")) for o in outcomes] == [("failed", "timeout"), ("failed", "timeout")]
    plc = FakePlc(fail_at=101)
    reversed_order = asyncio.run(write_tags(plc, [tags[1], tags[0]], Encoding.BINARY))  # type: ignore[arg-type]
    assert [(o["tag"], o["result"]) for o in reversed_order] == [("SP1", "failed"), ("SP0", "not_sent")]
    assert "an earlier write failed" in reversed_order[1]["detail"] and plc.written == []
