"""The frames of one polling group the latest values are made of, when a deadband leaves values out.

Strategy: without a deadband every cycle carries every tag of its group, so
the newest frame is all the latest values need (the gateway keeps it as
received and decodes it only when asked). With one, a cycle carries only
what moved; a tag that stood still is in an older frame. So a group keeps
the frames since its last *complete* one, newest last, and the latest value
of each tag is the newest frame holding it. A frame is complete when it
holds as many values as the widest frame seen of that group (a deadband's
full cycle, or any cycle without a deadband), or as many as the group has
tags in the config store. Telling that needs only the values array's length,
read from the msgpack header without decoding a value. At most MAX_FRAMES
are kept: past that they are decoded and merged (rarely: only a group whose
maximum interval is longer than MAX_FRAMES cycles gets there).
"""

from __future__ import annotations

from typing import Any

import msgpack

from common.times import iso_ms
from common.wire.envelope import MessageError, decode
from common.wire.ingest import PollingData, TagValue

MAX_FRAMES = 256


def value_count(frame: bytes) -> int:
    """How many values a PollingData frame carries, read from its header; MessageError if it has none."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True)
    unpacker.feed(frame)
    try:
        for _ in range(unpacker.read_map_header()):
            if unpacker.unpack() == "values":
                return int(unpacker.read_array_header())
            unpacker.skip()
    except Exception as error:  # msgpack raises several unrelated types for bad input
        raise MessageError(f"not a PollingData frame: {type(error).__name__}: {error}") from None
    raise MessageError("a PollingData frame without values")


#: an address's newest value, with the read time (Unix ms) and sequence of its cycle
Latest = tuple[TagValue, int, int]


class GroupFrames:
    """The frames since the last complete one, newest last (and what older frames were merged into)."""

    __slots__ = ("frames", "merged", "widest")

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.merged: dict[str, Latest] = {}
        self.widest = 0

    def add(self, frame: bytes, tag_count: int | None = None) -> None:
        """Keep a frame; ``tag_count``: the group's tags in the config store, when known."""
        count = value_count(frame)
        if count >= self.widest or (tag_count is not None and count >= tag_count):
            self.widest = count
            self.frames, self.merged = [frame], {}
            return
        self.frames.append(frame)
        if len(self.frames) > MAX_FRAMES:
            self.merged, self.frames = self._newest(), []

    def latest(self) -> list[Latest]:
        """Each address's newest value, in the order the addresses first appeared."""
        return list(self._newest().values())

    def _newest(self) -> dict[str, Latest]:
        newest = dict(self.merged)
        for frame in self.frames:
            data = decode(frame, PollingData)
            for value in data.values:
                newest[value.address] = (value, data.ts_ms, data.seq)
        return newest


def as_dicts(plc: str, group: str, values: list[Latest]) -> list[dict[str, Any]]:
    return [{"plc_code": plc, "group": group, "address": v.address, "value": v.value, "quality": v.quality,
             "ts": iso_ms(ts), "seq": seq} for v, ts, seq in values]
