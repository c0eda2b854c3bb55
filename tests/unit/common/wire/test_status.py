"""Status: the envelope beside a stage's own figures, and back."""

from __future__ import annotations

import os

import msgpack

from common.wire.envelope import decode, encode
from common.wire.status import Status


def test_status_is_flat_and_reads_back() -> None:
    status = Status("buffer", 1763868000123, 4242, {"current_size": 1200, "disk": {"ok": True}})
    assert msgpack.unpackb(encode(status)) == {"v": 1, "t": "status", "stage": "buffer", "ts": 1763868000123,
                                               "pid": 4242, "current_size": 1200, "disk": {"ok": True}}
    back = decode(encode(status), Status)
    assert back == status
    assert back.body() == {"stage": "buffer", "ts": 1763868000123, "pid": 4242, "current_size": 1200,
                           "disk": {"ok": True}}


def test_now_stamps_this_process() -> None:
    status = Status.now("writer", {"is_running": True})
    assert status.pid == os.getpid() and status.ts_ms > 1_700_000_000_000 and status.figures == {"is_running": True}
