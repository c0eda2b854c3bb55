"""The planner with 0406: fewest requests within the manual's limits, chosen only when it means fewer,
and never a timer or counter contact or coil in a random read."""

from __future__ import annotations

import random

from bench.mc_read import scattered_tags
from common.mc.commands import RandomRead
from common.mc.multiblock import MAX_BLOCK_POINTS, MAX_BLOCKS, MultiBlockRead
from common.mc.planner import NOT_IN_RANDOM_READS, plan_reads
from common.mc.planner_blocks import plan_multi_block
from tests.unit.common.mc.test_planner import fake_plc, tag


def block_replies(requests: tuple[object, ...], memory: dict[tuple[str, int], int]) -> list[list[int]]:
    """Answer 0406 requests from ``memory`` (device, word index): word blocks, then bit blocks."""
    out = []
    for r in requests:
        assert isinstance(r, MultiBlockRead)
        words = []
        for b in (*r.word_blocks, *r.bit_blocks):
            first = b.head.number // 16 if b.head.device.is_bit else b.head.number
            words += [memory.get((b.head.device.name, first + i), 0) for i in range(b.points)]
        out.append(words)
    return out


def scattered(count: int, seed: int = 3) -> list:
    rng = random.Random(seed)
    tags, number = [], 0
    for _ in range(count):
        number += rng.randrange(1, 40)
        kind = rng.choice(["D", "D", "W", "M"])
        if kind == "M":
            tags.append(tag(f"M{number}", "BIT"))
        elif kind == "W":
            tags.append(tag(f"W{number:X}", rng.choice(["UINT16", "INT32"])))
        else:
            tags.append(tag(f"D{number}", rng.choice(["UINT16", "INT32", "FLOAT64"])))
    return tags


def test_scattered_tags_in_the_fewest_0406_requests_within_the_manuals_limits() -> None:
    tags = scattered_tags(1000)  # the benchmark's clusters of D W ZR words and M X bits
    plan = plan_reads(tags, multi_block=True)
    assert plan.commands == {"0406": len(plan.requests)}
    needed = {(t.address.device.name, t.address.number // 16 if t.address.device.is_bit else t.address.number + k)
              for t in tags for k in range(1 if t.address.is_bit else t.data_type.words)}
    lower_bound = -(-len(needed) // MAX_BLOCK_POINTS)
    assert len(plan.requests) <= lower_bound + 1 < len(plan_reads(tags).requests)
    for r in plan.requests:
        assert isinstance(r, MultiBlockRead)
        assert len(r.word_blocks) + len(r.bit_blocks) <= MAX_BLOCKS and r.points <= MAX_BLOCK_POINTS


def test_0406_plan_maps_every_tag_back() -> None:
    tags = scattered(400, seed=7)
    rng = random.Random(1)
    memory = {}
    for t in tags:
        a = t.address
        first = a.number // 16 if a.device.is_bit else a.number
        for k in range(1 if a.is_bit else t.data_type.words):
            memory[(a.device.name, first + k)] = rng.randrange(0, 65536)
    plan = plan_multi_block(tags, max_points=200)  # small requests: many blocks split between requests
    assert len(plan.requests) > 3
    baseline = plan_reads(tags)
    assert plan.decode(block_replies(plan.requests, memory)) == baseline.decode(fake_plc(baseline.requests, memory))


def test_0406_only_when_it_means_fewer_requests() -> None:
    contiguous = [tag(f"D{i}") for i in range(100)]
    assert plan_reads(contiguous, multi_block=True).commands == {"0401": 1}
    two_runs = [tag("D0"), tag("D5000"), tag("M0", "BIT")]
    assert len(plan_reads(two_runs, multi_block=True).requests) == 1
    assert plan_reads(two_runs, multi_block=False).commands != {"0406": 1}


def test_timer_and_counter_contacts_and_coils_never_in_random_reads() -> None:
    tags = [tag(f"{name}{100 * k}", "BIT") for name in sorted(NOT_IN_RANDOM_READS) for k in range(0, 300, 7)]
    tags += [tag(f"D{1000 * k}") for k in range(50)]  # enough scattered words that random reads pay
    plan = plan_reads(tags)
    assert "0403" in plan.commands
    for r in plan.requests:
        if isinstance(r, RandomRead):
            assert not {p.device.name for p in (*r.words, *r.dwords)} & NOT_IN_RANDOM_READS
