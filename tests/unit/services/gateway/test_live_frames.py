"""The latest values of a group whose deadband leaves values out: each tag's newest value, from whichever
cycle last carried it; a complete cycle starts again; the frames kept stay bounded."""

from __future__ import annotations

import msgpack
import pytest

from common.wire.cycle import make_cycle
from common.wire.envelope import MessageError, encode
from common.wire.ingest import GOOD, PollingData, TagValue
from services.gateway import live_frames
from services.gateway.live_frames import GroupFrames, value_count

PLC = "KRCWO12ELOA101"


def frame(seq: int, values: dict[str, int]) -> bytes:
    data = PollingData(PLC, "G", seq, 1_800_000_000_000 + 1000 * seq, 1.0,
                       [TagValue(a, v, GOOD) for a, v in values.items()], None, make_cycle(1, seq))
    return encode(data)


def latest(frames: GroupFrames) -> dict[str, tuple[object, int]]:
    return {v.address: (v.value, seq) for v, _, seq in frames.latest()}


def test_value_count_reads_the_header_only_and_refuses_what_is_not_a_polling_data() -> None:
    assert value_count(frame(1, {"D0": 1, "D1": 2, "D2": 3})) == 3
    assert value_count(frame(1, {})) == 0
    for bad in (b"\xc1", msgpack.packb({"v": 1, "t": "polling_data"}), msgpack.packb([1, 2])):
        with pytest.raises(MessageError):
            value_count(bad)


def test_each_tag_keeps_its_newest_value_until_a_complete_cycle() -> None:
    frames = GroupFrames()
    frames.add(frame(1, {"D0": 10, "D1": 20, "D2": 30}))  # complete (the first)
    frames.add(frame(2, {"D1": 21}))  # deadband: only D1 moved
    frames.add(frame(3, {"D2": 32}))
    assert latest(frames) == {"D0": (10, 1), "D1": (21, 2), "D2": (32, 3)}
    assert len(frames.frames) == 3
    frames.add(frame(4, {"D0": 10, "D1": 21, "D2": 32}))  # the maximum interval: a complete cycle
    assert len(frames.frames) == 1 and latest(frames) == {"D0": (10, 4), "D1": (21, 4), "D2": (32, 4)}


def test_the_store_tells_a_complete_cycle_after_a_group_lost_tags() -> None:
    frames = GroupFrames()
    frames.add(frame(1, {"D0": 1, "D1": 2, "D2": 3}))
    frames.add(frame(2, {"D0": 1, "D1": 2}), tag_count=2)  # D2 removed from the group: complete at 2
    assert latest(frames) == {"D0": (1, 2), "D1": (2, 2)}


def test_the_frames_kept_are_bounded_and_nothing_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_frames, "MAX_FRAMES", 4)
    frames = GroupFrames()
    frames.add(frame(1, {f"D{i}": 0 for i in range(10)}))
    for seq in range(2, 30):
        frames.add(frame(seq, {f"D{seq % 10}": seq}))
        assert len(frames.frames) <= 4
    expected = {f"D{i}": (0, 1) for i in range(10)} | {f"D{s % 10}": (s, s) for s in range(2, 30)}
    assert latest(frames) == expected
