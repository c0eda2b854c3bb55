"""The 0406 plan: a group's tags packed into multi-block reads.

Strategy: one 0406 request carries up to 120 blocks and 960 points (a bit
block's points counted in words), anywhere in the device memory, so the
fewest requests is about ceil(words read / 960) -- as long as the blocks do
not run out first. Reading a small gap between two tags costs points but
saves a block; which gap pays depends on the group, so the packer tries a
ladder of gap sizes and keeps the plan with the fewest requests (then the
fewest points). Packing is next-fit in address order: a run that does not
fit the request being filled is split between two tags, so a request is
full before the next one starts and no tag straddles two requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from common.mc.devices import Device
from common.mc.multiblock import MAX_BLOCK_POINTS, MAX_BLOCKS, Block, MultiBlockRead
from common.mc.planner import ReadPlan, Slot, Span, TagRead, head_of, span_of

#: Gaps (in words) the packer tries reading through rather than starting another block.
GAP_LADDER = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass
class _Request:
    word_blocks: list[tuple[Device, int, int, list[Span]]] = field(default_factory=list)
    bit_blocks: list[tuple[Device, int, int, list[Span]]] = field(default_factory=list)
    points: int = 0

    @property
    def blocks(self) -> int:
        return len(self.word_blocks) + len(self.bit_blocks)


def _runs(by_device: dict[str, list[Span]], gap: int) -> list[list[Span]]:
    """Spans of each device merged into runs wherever the gap between them is at most ``gap`` words."""
    runs: list[list[Span]] = []
    for spans in by_device.values():
        current: list[Span] = []
        end = 0
        for s in spans:
            if current and s.start - end <= gap:
                current.append(s)
                end = max(end, s.start + s.words)
                continue
            if current:
                runs.append(current)
            current, end = [s], s.start + s.words
        if current:
            runs.append(current)
    return runs


def _pack(runs: list[list[Span]], max_blocks: int, max_points: int) -> list[_Request]:
    requests = [_Request()]
    for run in runs:
        rest = run
        while rest:
            current = requests[-1]
            room = max_points - current.points
            first = rest[0].start
            end = first
            taken = 0
            for s in rest:  # the longest prefix of the run that fits the room left
                s_end = max(end, s.start + s.words)
                if s_end - first > room:
                    break
                end, taken = s_end, taken + 1
            if taken == 0 or current.blocks >= max_blocks:
                requests.append(_Request())
                continue
            device = rest[0].device
            block = (device, first, end - first, rest[:taken])
            (current.bit_blocks if device.is_bit else current.word_blocks).append(block)
            current.points += end - first
            rest = rest[taken:]
    return [r for r in requests if r.blocks]


def _plan(tags: Sequence[TagRead], packed: list[_Request]) -> ReadPlan:
    requests: list[MultiBlockRead] = []
    slots: dict[int, Slot] = {}
    for index, r in enumerate(packed):
        offset = 0
        for _device, first, count, spans in (*r.word_blocks, *r.bit_blocks):  # the reply's order
            for s in spans:
                slots[s.tag] = Slot(index, offset + s.start - first, s.words, s.bit)
            offset += count
        requests.append(MultiBlockRead(
            tuple(Block(head_of(d, first), count) for d, first, count, _ in r.word_blocks),
            tuple(Block(head_of(d, first), count) for d, first, count, _ in r.bit_blocks),
        ))
    return ReadPlan(tuple(requests), tuple(slots[i] for i in range(len(tags))), tuple(tags))


def plan_multi_block(tags: Sequence[TagRead], *, max_blocks: int = MAX_BLOCKS,
                     max_points: int = MAX_BLOCK_POINTS) -> ReadPlan:
    """Every tag in 0406 requests: the fewest requests over the gap ladder, then the fewest points."""
    by_device: dict[str, list[Span]] = defaultdict(list)
    for i, tag in enumerate(tags):
        span = span_of(i, tag)
        by_device[span.device.name].append(span)
    for spans in by_device.values():
        spans.sort(key=lambda s: (s.start, s.words))
    best: tuple[int, int, list[_Request]] | None = None
    for gap in GAP_LADDER:
        packed = _pack(_runs(by_device, gap), max_blocks, max_points)
        key = (len(packed), sum(r.points for r in packed))
        if best is None or key < best[:2]:
            best = (*key, packed)
    assert best is not None
    return _plan(tags, best[2])
