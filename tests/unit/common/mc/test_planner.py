"""The read planner: few requests within the limits, and every tag mapped back."""

from __future__ import annotations

import random

from common.mc.commands import MAX_RANDOM_POINTS, MAX_WORD_POINTS, BatchRead, RandomRead
from common.mc.datatypes import parse_data_type
from common.mc.devices import Unit, parse_address
from common.mc.planner import TagRead, plan_reads


def tag(address: str, dtype: str = "UINT16", scale: float | None = None, offset: float | None = None) -> TagRead:
    return TagRead(parse_address(address), parse_data_type(dtype), scale, offset)


def fake_plc(plan_requests: tuple[object, ...], memory: dict[tuple[str, int], int]) -> list[list[int]]:
    """Answer each request from ``memory`` (device, word index) like a PLC would."""
    replies = []
    for r in plan_requests:
        if isinstance(r, BatchRead):
            assert r.unit is Unit.WORD
            word = r.head.number // 16 if r.head.device.is_bit else r.head.number
            replies.append([memory.get((r.head.device.name, word + i), 0) for i in range(r.points)])
        else:
            assert isinstance(r, RandomRead)
            out = []
            for p in r.words:
                out.append(memory.get((p.device.name, p.number // 16 if p.device.is_bit else p.number), 0))
            for p in r.dwords:
                low = memory.get((p.device.name, p.number), 0)
                high = memory.get((p.device.name, p.number + 1), 0)
                out.append(low | high << 16)
            replies.append(out)
    return replies


def test_contiguous_words_are_one_request() -> None:
    plan = plan_reads([tag(f"D{i}") for i in range(100)])
    assert len(plan.requests) == 1
    request = plan.requests[0]
    assert isinstance(request, BatchRead) and request.points == 100


def test_long_ranges_split_at_960_words() -> None:
    plan = plan_reads([tag(f"D{i}") for i in range(2000)])
    assert [r.points for r in plan.requests if isinstance(r, BatchRead)] == [960, 960, 80]


def test_bits_are_read_in_word_units() -> None:
    plan = plan_reads([tag(f"M{i}", "BIT") for i in range(0, 4000, 3)])
    assert all(isinstance(r, BatchRead) and r.unit is Unit.WORD for r in plan.requests)
    assert len(plan.requests) == 1  # 4000 bits = 250 words


def test_scattered_singletons_become_random_reads() -> None:
    tags = [tag(f"D{i * 5000}") for i in range(150)] + [tag(f"W{i * 0x2000:X}", "INT32") for i in range(100)]
    plan = plan_reads(tags)
    assert all(isinstance(r, RandomRead) for r in plan.requests)
    assert len(plan.requests) == 2  # 250 points / 192 per request
    assert sum(len(r.words) + len(r.dwords) for r in plan.requests if isinstance(r, RandomRead)) == 250
    assert all(len(r.words) + len(r.dwords) <= MAX_RANDOM_POINTS for r in plan.requests if isinstance(r, RandomRead))


def test_values_map_back_to_their_tags() -> None:
    rng = random.Random(7)
    memory: dict[tuple[str, int], int] = {}
    tags: list[TagRead] = []
    expected: list[object] = []
    used: set[tuple[str, int]] = set()
    for _ in range(400):
        kind = rng.choice(["D", "W", "M", "X", "ZR", "bitword"])
        if kind in ("M", "X"):
            number = rng.randrange(0, 0x1000)
            word_key = (kind, number // 16)
            value = rng.randrange(2)
            cell = memory.get(word_key, 0)
            if (kind, number) in used:
                continue
            used.add((kind, number))
            memory[word_key] = (cell & ~(1 << number % 16)) | (value << number % 16)
            tags.append(tag(f"{kind}{number:X}" if kind == "X" else f"M{number}", "BIT"))
            expected.append(value)
            continue
        device = "D" if kind == "bitword" else kind
        number = rng.randrange(0, 50_000, 2)
        if (device, number) in used or (device, number + 1) in used:
            continue
        used |= {(device, number), (device, number + 1)}
        if kind == "bitword":
            word = rng.randrange(0x10000)
            memory[(device, number)] = word
            bit = rng.randrange(16)
            tags.append(tag(f"D{number}.{bit:X}", "BIT"))
            expected.append(word >> bit & 1)
            continue
        value = rng.randrange(-(2**31), 2**31)
        dtype = parse_data_type("INT32")
        low, high = dtype.encode(value)
        memory[(device, number)], memory[(device, number + 1)] = low, high
        text = f"{device}{number:X}" if device in ("W", "ZR") else f"{device}{number}"
        tags.append(tag(text, "INT32"))
        expected.append(value)
    plan = plan_reads(tags)
    assert len(plan.requests) < len(tags) / 4
    assert all(r.points <= MAX_WORD_POINTS for r in plan.requests if isinstance(r, BatchRead))
    assert plan.decode(fake_plc(plan.requests, memory)) == expected


def test_scale_and_offset_apply_to_numbers() -> None:
    plan = plan_reads([tag("D0", "INT16", scale=0.1, offset=-5.0), tag("D1", "INT16")])
    assert plan.decode([[250, 7]]) == [20.0, 7]


def test_a_failed_request_fails_only_its_tags() -> None:
    plan = plan_reads([tag("D0"), tag("D20"), tag("D100000"), tag("D100020")])
    assert len(plan.requests) == 2
    error = TimeoutError("late")
    values = plan.decode([[5] + [0] * 19 + [6], error])
    assert values[:2] == [5, 6] and values[2] is error and values[3] is error


def test_short_runs_ride_in_random_reads_as_double_words() -> None:
    # 30 runs of 3 words, far apart: one random read of 60 double words instead of 30 batch reads
    tags = [tag(f"D{i * 2000 + k}") for i in range(30) for k in range(3)]
    plan = plan_reads(tags)
    assert len(plan.requests) == 1
    request = plan.requests[0]
    assert isinstance(request, RandomRead) and len(request.dwords) == 60 and not request.words
    memory = {("D", i * 2000 + k): i * 10 + k for i in range(30) for k in range(4)}
    assert plan.decode(fake_plc(plan.requests, memory)) == [i * 10 + k for i in range(30) for k in range(3)]


def test_one_short_run_stays_a_batch_read() -> None:
    plan = plan_reads([tag("D0"), tag("D1"), tag("D2")])
    assert [type(r).__name__ for r in plan.requests] == ["BatchRead"]
