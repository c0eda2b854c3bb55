"""runtime.supervise: a long-lived task that dies is logged with its traceback and started again,
or stops the process when it cannot be restarted in place."""

from __future__ import annotations

import asyncio
import logging

import pytest

from common.runtime import cancel_and_wait, supervise


def test_a_task_that_raises_is_logged_with_its_traceback_and_started_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    deaths: dict[str, int] = {}

    async def flaky() -> None:
        runs.append(1)
        if len(runs) <= 2:
            raise OSError(28, "No space left on device")
        await asyncio.sleep(3600)

    async def main() -> None:
        task = supervise(flaky, "group FAST", deaths=deaths, backoff_first=0.01)
        while len(runs) < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.ERROR, logger="runtime"):
        asyncio.run(asyncio.wait_for(main(), 5))
    assert len(runs) == 3 and deaths == {"group FAST": 2}
    died = [r for r in caplog.records if "task group FAST died" in r.getMessage()]
    assert len(died) == 2 and all(r.exc_info and "No space left" in str(r.exc_info[1]) for r in died)
    assert "Traceback" in caplog.text


def test_a_task_that_returns_counts_as_dead() -> None:
    runs: list[int] = []

    async def returns() -> None:
        runs.append(1)

    async def main() -> None:
        task = supervise(returns, "status", backoff_first=0.01)
        while len(runs) < 2:
            await asyncio.sleep(0.005)
        task.cancel()

    asyncio.run(asyncio.wait_for(main(), 5))
    assert len(runs) >= 2


def test_a_task_that_cannot_be_restarted_stops_the_process(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> bool:
        stop = asyncio.Event()

        async def broken() -> None:
            raise RuntimeError("socket gone")

        task = supervise(broken, "ingest", restart=False, stop=stop.set)
        await asyncio.wait_for(stop.wait(), 5)
        await task
        return task.done()

    assert asyncio.run(main())
    assert "stopping the process" in caplog.text and "socket gone" in caplog.text


def test_a_task_that_swallows_its_cancel_is_cancelled_again(caplog: pytest.LogCaptureFixture) -> None:
    """Python 3.11's wait_for can lose a cancel; the stop must not hang on the task that lost it."""
    swallowed: list[int] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            swallowed.append(1)  # lost on the way, as wait_for loses it
        await asyncio.sleep(30)

    async def main() -> float:
        task = asyncio.create_task(stubborn(), name="group HS")
        await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        await cancel_and_wait([task], again_after=0.05)
        assert task.cancelled()
        return asyncio.get_running_loop().time() - started

    with caplog.at_level(logging.WARNING, logger="runtime"):
        took = asyncio.run(main())
    assert swallowed == [1] and took < 5
    assert "task group HS goes on after its cancel; cancelled again" in caplog.text
