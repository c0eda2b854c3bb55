"""The poller's memory chore: a full collection now and then, which empties CPython's free lists."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import sys
import tempfile

import pytest

from services.poller import housekeeping


def free_tuples_of_four() -> int:
    """How many 4-item tuples CPython's free list keeps, from its own statistics (stderr)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = io.StringIO(out.read())
    return next(int(line.split()[0]) for line in text if "free 4-sized PyTupleObjects" in line)


def test_the_chore_runs_a_full_collection_that_empties_the_free_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "MEMORY_EVERY_S", 0.05)
    burst = [tuple([i] * 4) for i in range(1500)]  # a burst of cycles leaves its tuples behind
    del burst
    assert free_tuples_of_four() > 1000
    full_before = gc.get_stats()[2]["collections"]

    async def a_while() -> None:
        chore = asyncio.create_task(housekeeping.memory())
        await asyncio.sleep(0.2)
        chore.cancel()

    asyncio.run(a_while())
    assert gc.get_stats()[2]["collections"] > full_before
    assert free_tuples_of_four() < 100
