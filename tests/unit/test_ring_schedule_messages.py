"""The buffer's ring, the FIXED schedule and the wire messages."""

from __future__ import annotations

import msgpack
import pytest

from common.times import iso_ms
from common.wire.block import Block
from common.wire.envelope import MessageError, decode, encode, envelope, pack
from common.wire.ingest import PollingData, TagValue, block_from_frame
from services.buffer.ring import Ring
from services.poller.schedule import FixedSchedule


def block(seq: int, n: int) -> Block:
    return Block.of_values("KRCWO12ELOA101", "G", seq, 1000 * seq, [[f"D{i}", i, "GOOD"] for i in range(n)])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ring_keeps_order_and_leases_slices() -> None:
    ring = Ring(100)
    ring.append(block(1, 30))
    ring.append(block(2, 30))
    taken = ring.take(40)
    assert [(b.seq, b.count) for b in taken] == [(1, 30)]  # whole cycles, up to the lease size
    assert ring.size == 30
    ring.put_back(taken)
    assert ring.size == 60
    first = ring.take(20)  # a cycle larger than the lease is split
    assert [(b.seq, b.count, b.first_value) for b in first] == [(1, 20, 0)]
    assert ring.size == 40 and ring.blocks[0].values()[0][0] == "D20" and ring.blocks[0].first_value == 20
    ring.put_back(first)
    assert [(b.seq, b.count) for b in ring.take(100)] == [(1, 20), (1, 10), (2, 30)]


def test_ring_drops_oldest_values_when_full_and_counts_them() -> None:
    ring = Ring(100)
    dropped = [ring.append(block(seq, 30)) for seq in range(1, 5)]
    assert ring.size == 90 and ring.overflow_count == 30  # the oldest cycle went, whole
    assert [[b.seq for b in d] for d in dropped] == [[], [], [], [1]]
    assert ring.blocks[0].seq == 2
    assert ring.received == 120


def test_overflow_rate_over_a_rolling_hour() -> None:
    clock = FakeClock()
    ring = Ring(100, clock)
    for seq in range(10):
        ring.append(block(seq, 50))  # 500 in, 400 dropped
    assert ring.window.rate_pct() == pytest.approx(80.0)
    clock.now += 30 * 60
    ring.take(100)
    for seq in range(10):
        ring.append(block(seq, 10))  # 100 in, none dropped
    assert ring.window.rate_pct() == pytest.approx(400 / 600 * 100)
    clock.now += 31 * 60  # the first burst is now over an hour old
    assert ring.window.rate_pct() == pytest.approx(0.0)


def test_schedule_deadlines_do_not_drift() -> None:
    s = FixedSchedule(start=100.0, interval=1.0)
    now = 100.0
    for n in range(1, 1001):
        now = s.deadline + 0.3  # every cycle starts late and takes 0.3 s
        s.advance(now)
        assert s.deadline == pytest.approx(100.0 + n)
    assert s.overruns == 0


def test_schedule_overrun_runs_the_latest_due_deadline_at_once_and_counts_the_missed() -> None:
    s = FixedSchedule(start=0.0, interval=1.0)
    # the cycle due at 0 ended at 3.5: the one due at 3 runs at once (0.5 s late), 1 and 2 had no cycle
    assert s.advance(3.5) == 3.0
    assert (s.overruns, s.missed) == (1, 2)
    assert s.advance(3.6) == 4.0  # the late cycle ended in time: back on the grid
    assert s.advance(4.2) == 5.0
    assert s.advance(5.0) == 6.0  # the cycle due at 5 took no time
    assert (s.overruns, s.missed) == (1, 2)
    assert s.advance(7.0) == 7.0  # the cycle due at 6 ended exactly on the next deadline: not an overrun
    assert (s.overruns, s.missed) == (1, 2)
    assert s.advance(8.01) == 8.0  # 10 ms past the next deadline: it runs 10 ms late, none missed
    assert (s.overruns, s.missed) == (2, 2)


def test_schedule_sub_second_intervals() -> None:
    s = FixedSchedule(start=10.0, interval=0.1)
    for _ in range(10_000):
        s.advance(s.deadline + 0.05)
    assert s.deadline == pytest.approx(10.0 + 1000.0)


def test_polling_data_round_trip() -> None:
    data = PollingData("KRCWO12ELOA101", "FAST_1S", 7, 1_763_868_000_123, 12.5,
                       [TagValue("D100", 1234, "GOOD"), TagValue("M0", None, "BAD_TIMEOUT"),
                        TagValue("D200", "텍스트", "GOOD"), TagValue("D300", 1.5, "GOOD")], None)
    assert decode(encode(data), PollingData) == data


@pytest.mark.parametrize("frame", [
    b"\xc1",  # not msgpack
    msgpack.packb([1, 2, 3]),  # not a map
    msgpack.packb({"v": 2, "t": "polling_data"}),  # another version
    pack(envelope("status")),  # another type
    pack(envelope("polling_data", plc="X")),  # missing fields
    pack(envelope("polling_data", plc="X", group="G", seq="a", ts=0, dur=0, values=[])),
    pack(envelope("polling_data", plc="X", group="G", seq=1, ts=0, dur=0, values=[[1, 2]])),
])
def test_bad_frames_raise_message_error(frame: bytes) -> None:
    with pytest.raises(MessageError):
        decode(frame, PollingData)
    with pytest.raises(MessageError):
        block_from_frame(frame)


def test_block_from_frame_keeps_every_value() -> None:
    data = PollingData("KRCWO12ELOA101", "G", 3, 5, 1.0, [TagValue("D1", 1, "GOOD"), TagValue("D2", None, "BAD_X")])
    block = block_from_frame(encode(data))
    assert (block.plc_code, block.group, block.seq, block.ts_ms, block.count) == ("KRCWO12ELOA101", "G", 3, 5, 2)
    assert block.values() == [["D1", 1, "GOOD"], ["D2", None, "BAD_X"]]
    assert Block.from_wire(block.to_wire()) == block
    with pytest.raises(MessageError):
        Block.from_wire([*block.to_wire()[:4], 3, block.packed])  # count does not match


def test_iso_timestamps_have_milliseconds() -> None:
    assert iso_ms(1_763_868_000_123) == "2025-11-23T03:20:00.123Z"
    assert iso_ms(5) == "1970-01-01T00:00:00.005Z"


def test_an_empty_api_token_is_no_token() -> None:
    from common.settings import Settings

    assert Settings(scada_api_token="", _env_file=None).scada_api_token is None  # type: ignore[call-arg]
    assert Settings(scada_api_token="  ", _env_file=None).scada_api_token is None  # type: ignore[call-arg]
    token = Settings(scada_api_token="abc", _env_file=None).scada_api_token  # type: ignore[call-arg]
    assert token is not None and token.get_secret_value() == "abc" and "abc" not in repr(token)
