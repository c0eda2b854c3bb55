"""The buffer's door: each poison frame refused or made BAD, counted per reason; good values untouched."""

from __future__ import annotations

import math
import time
from pathlib import Path

import msgpack
import pytest

from common.config_store.schema import open_store
from common.historian.sqlite_sink import SqliteSink
from common.ledger import Ledger, read
from common.settings import Settings
from common.value_checks import CycleRefused, IngestLimits, check_values, value_problem
from common.wire.block import Block
from common.wire.envelope import MessageError, envelope, pack
from common.wire.ingest import checked_block
from services.buffer.buffer_service import BufferService
from services.buffer.door import IngestDoor
from services.buffer.ring import Ring
from services.cli.account import account

PLC = "KRCWO12ELOA101"
NOW = 1_800_000_000_000


def frame(values: list[object], ts: object = NOW, plc: str = PLC, group: str = "G") -> bytes:
    return pack(envelope("polling_data", plc=plc, group=group, seq=1, ts=ts, dur=1.0, err=None, values=values))


LIMITS = IngestLimits(plc_codes={PLC}, max_values=1000)


@pytest.mark.parametrize(("ts", "reason"), [(-1, "ts_out_of_window"), (10**15, "ts_out_of_window"),
                                            (NOW - 8 * 86_400_000, "ts_out_of_window"),
                                            (NOW + 2 * 3_600_000, "ts_out_of_window")])
def test_a_cycle_read_outside_the_window_is_refused(ts: int, reason: str) -> None:
    with pytest.raises(CycleRefused) as caught:
        checked_block(frame([["D0", 1, "GOOD"]], ts=ts), LIMITS, NOW)
    assert caught.value.reason == reason
    assert caught.value.cycle == (PLC, "G", 1, ts, 1, -ts)  # a frame without a cycle number: -ts


@pytest.mark.parametrize("ts", [math.inf, -math.inf, math.nan, "x", None])
def test_a_ts_that_is_no_integer_is_a_bad_frame_not_a_crash(ts: object) -> None:
    with pytest.raises(MessageError):
        checked_block(frame([["D0", 1, "GOOD"]], ts=ts), LIMITS, NOW)


def test_unknown_plc_and_a_cycle_larger_than_the_ring_are_refused() -> None:
    with pytest.raises(CycleRefused) as caught:
        checked_block(frame([["D0", 1, "GOOD"]], plc="KRXXXX99XXXX99"), LIMITS, NOW)
    assert caught.value.reason == "unknown_plc"
    with pytest.raises(CycleRefused) as caught:
        checked_block(frame([[f"D{i}", i, "GOOD"] for i in range(1001)]), LIMITS, NOW)
    assert caught.value.reason == "cycle_larger_than_ring"


def test_unstorable_values_are_stored_bad_with_the_reason_and_the_rest_as_read() -> None:
    values = [["D0", math.nan, "GOOD"], ["D1", math.inf, "GOOD"], ["D2", -math.inf, "GOOD"], ["D3", 2**63, "GOOD"],
              ["D4", -(2**63), "GOOD"], ["D5", "x" * 961, "GOOD"], ["D6", "가" * 320, "GOOD"],
              ["D7", b"raw", "GOOD"], ["D8", [1, 2], "GOOD"], ["D9", 1.5, "GOOD"], ["D10", None, "BAD_TIMEOUT"],
              ["D11", True, "GOOD"], ["D12", "가" * 321, "GOOD"]]
    block, marked = checked_block(frame(values), LIMITS, NOW)
    got = block.values()
    assert [v[2] for v in got] == ["BAD_NOT_FINITE"] * 3 + ["BAD_INT_RANGE", "GOOD", "BAD_STRING_TOO_LONG", "GOOD",
                                                               "BAD_TYPE", "BAD_TYPE", "GOOD", "BAD_TIMEOUT", "GOOD",
                                                               "BAD_STRING_TOO_LONG"]
    assert all(v[1] is None for v in got if v[2].startswith("BAD"))
    assert got[4][1] == -(2**63) and got[9][1] == 1.5
    assert marked == {"BAD_NOT_FINITE": 3, "BAD_INT_RANGE": 1, "BAD_STRING_TOO_LONG": 2, "BAD_TYPE": 2}
    assert block.count == len(values)


def test_a_map_with_bytes_keys_is_stored_bad() -> None:
    data = pack(envelope("polling_data", plc=PLC, group="G", seq=1, ts=NOW, dur=1.0,
                         values=[["D0", {b"k": 1}, "GOOD"], ["D1", 7, "GOOD"]]))
    block, marked = checked_block(data, LIMITS, NOW)
    assert block.values() == [["D0", None, "BAD_TYPE"], ["D1", 7, "GOOD"]] and marked == {"BAD_TYPE": 1}


def test_a_value_of_the_wrong_shape_refuses_the_cycle() -> None:
    with pytest.raises(CycleRefused):
        check_values([["D0", 1]], LIMITS)
    with pytest.raises(CycleRefused):
        check_values([["D" * 17, 1, "GOOD"]], LIMITS)
    assert value_problem("short", 1) == "BAD_STRING_TOO_LONG"


def test_the_door_reads_plc_codes_from_the_config_store_and_counts_per_reason(tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path, buffer_max_size=100)
    conn = open_store(settings.config_db)
    conn.close()
    door = IngestDoor(settings, wall_ms=lambda: NOW)
    assert door.plc_codes() is not None and PLC not in (door.plc_codes() or ())
    with pytest.raises(CycleRefused):
        door.take(frame([["D0", 1, "GOOD"]]))
    with pytest.raises(MessageError):
        door.take(b"\xc1")
    assert door.figures()["ingest_refused_cycles"] == {"unknown_plc": 1, "undecodable": 1}
    assert door.figures()["ingest_refused_values"]["unknown_plc"] == 1


def test_the_buffer_records_a_refused_cycle_and_confirms_it(tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path, buffer_max_size=10)
    buffer = BufferService(settings)
    buffer.load_state()
    buffer.door.wall_ms = lambda: NOW

    class Live:
        def __init__(self) -> None:
            self.sent: list[list[bytes]] = []

        def send_multipart(self, parts: list[bytes], flags: int = 0) -> None:
            self.sent.append(parts)

    live = Live()
    good = frame([["D0", 1, "GOOD"]], ts=NOW)
    buffer.on_ingest(frame([[f"D{i}", i, "GOOD"] for i in range(11)], ts=NOW + 1), live)
    buffer.on_ingest(good, live)
    buffer.confirmations.confirm(live, force=True)
    assert buffer.ring.size == 1 and buffer.ring.overflow_count == 0  # the huge cycle never emptied the ring
    confirmed = [msgpack.unpackb(p[1])["keys"] for p in live.sent if p[0].startswith(b"ack.")]
    assert [["G", -(NOW + 1)], ["G", -NOW]] in confirmed  # [group, cycle]; frames with no cycle number: -ts
    figures = buffer.figures()
    assert figures["ingest_refused_values"] == {"cycle_larger_than_ring": 11}
    buffer.ledger.close()
    assert [r[0] for r in read(settings.ledger_dir, NOW, NOW + 2)] == ["rejected_at_ingest"]

    poller = Ledger(settings.ledger_dir, "poller")
    poller.record(["polled", PLC, "G", 1, NOW + 1, 11])
    poller.close()
    result = account(settings.ledger_dir, SqliteSink(tmp_path / "h.db"), tmp_path / "backup", NOW, NOW + 2)
    assert (result.polled, result.rejected_at_ingest, result.lost) == (11, 11, 0)
    assert "refused at the buffer's door" in result.table()


def test_ring_drops_are_counted_in_the_last_minutes() -> None:
    ring = Ring(5, clock=lambda: 1000.0)

    ring.append(Block.of_values(PLC, "G", 1, NOW, [["D0", 1, "GOOD"]] * 4))
    ring.append(Block.of_values(PLC, "G", 2, NOW, [["D0", 1, "GOOD"]] * 4))
    assert ring.window.dropped_lately() == 4


def test_a_cycle_with_values_made_bad_is_republished_as_checked(tmp_path: Path) -> None:
    door = IngestDoor(Settings(scada_data_dir=tmp_path), wall_ms=lambda: NOW)
    original = frame([["D0", math.nan, "GOOD"], ["D1", "x" * 2000, "GOOD"], ["D2", 3, "GOOD"]])
    _block, republished = door.take(original)
    assert republished != original
    assert msgpack.unpackb(republished)["values"] == [["D0", None, "BAD_NOT_FINITE"],
                                                      ["D1", None, "BAD_STRING_TOO_LONG"], ["D2", 3, "GOOD"]]
    fine = frame([["D0", 1, "GOOD"]])
    assert door.take(fine)[1] is fine  # the common case republishes the frame as it came


def test_a_flood_is_logged_once_per_interval_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from common.loglimit import RateLimitedLog

    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("test.flood"), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(1000):
            limited.warning("overflow", 5, "dropped %d", 5)
        now[0] = 10.5
        limited.warning("overflow", 5, "dropped %d", 5)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["dropped 5", "dropped 5 (1000 times, 5,000 in all since the last such line)"]


def test_ring_drops_are_logged_at_warning_and_raise_the_health_reason(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from services.gateway.routes.buffer import health
    from services.gateway.telemetry import StageStatus

    settings = Settings(scada_data_dir=tmp_path, buffer_max_size=10)
    buffer = BufferService(settings)
    buffer.load_state()
    buffer.door.wall_ms = lambda: NOW

    class Live:
        def send_multipart(self, parts: list[bytes], flags: int = 0) -> None:
            pass

    with caplog.at_level(logging.WARNING, logger="buffer"):
        for n in range(3):
            buffer.on_ingest(frame([[f"D{i}", i, "GOOD"] for i in range(5)], ts=NOW + n), Live())
    assert any(r.levelno == logging.WARNING and "ring full" in r.getMessage() and "dropped the 5 oldest" in
               r.getMessage() for r in caplog.records)
    figures = buffer.figures()
    assert figures["overflow_last_minute"] == 5

    class Telemetry:
        def stage(self, topic: str) -> StageStatus | None:
            body = {"status.buffer": figures, "status.writer": {"database_ok": True}}.get(topic)
            return None if body is None else StageStatus(topic, time.monotonic(), dict(body))

        def prefixed(self, prefix: str) -> list[StageStatus]:
            found = (self.stage(t) for t in ("status.buffer", "status.writer") if t.startswith(prefix))
            return [s for s in found if s is not None]

    reply = health(Telemetry())  # type: ignore[arg-type]
    assert reply.status_code == 503 and b"buffer overflow: 5 values dropped" in bytes(reply.body)
    buffer.journal.close()
    buffer.ledger.close()
