"""Read planner: a group's tags into as few MC requests as the protocol allows.

Strategy: every tag becomes a span of words -- a word tag its own words, a
bit tag (``M5``, ``X1F``) the 16-bit word that holds it, since reading bit
devices in word units carries 16 points per word and 960 words per request,
more than any bit-unit request. Per device the spans are sorted and covered
greedily by batch reads of at most 960 words, reading the gaps between
nearby tags because one more request costs far more than a few more words.
Runs that are a single word or double word and stand alone are gathered into
random reads (0403, up to 192 points each) when that means fewer requests;
timer and counter contacts and coils (TS TC SS SC CS CC) never are, since the
manual forbids them there (end code 4032H). When the PLC serves multi-block
reads (0406), a second plan packs the runs into blocks (planner_blocks.py)
and the plan with fewer requests wins.

Cost model, in one unit: a request costs one PLC scan (a Q-series CPU serves
about one MC request per END processing, whatever its size), so the planner
minimises requests; points only break ties. Each tag keeps a slot (request,
word offset, bit), and :meth:`ReadPlan.decode` maps the replies back to
values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from common.mc.commands import MAX_RANDOM_POINTS, MAX_WORD_POINTS, BatchRead, DevicePoint, RandomRead
from common.mc.datatypes import DataType, Kind, Value
from common.mc.devices import Device, DeviceAddress, Unit
from common.mc.multiblock import MultiBlockRead

#: A gap of this many words or fewer is read rather than split into another request.
DEFAULT_MAX_GAP = MAX_WORD_POINTS


@dataclass(frozen=True)
class TagRead:
    """What the planner needs of a tag; ``scale``/``offset`` apply to numeric types."""

    address: DeviceAddress
    data_type: DataType
    scale: float | None = None
    offset: float | None = None


@dataclass(frozen=True)
class Slot:
    request: int
    word: int  # offset into the request's words (random reads: words, then dwords as two words)
    words: int
    bit: int | None


PlanRequest = BatchRead | RandomRead | MultiBlockRead

#: The manual forbids these in random reads and writes (end code 4032H); batch and block reads take them.
NOT_IN_RANDOM_READS = frozenset({"TS", "TC", "SS", "SC", "CS", "CC"})


@dataclass(frozen=True)
class ReadPlan:
    requests: tuple[PlanRequest, ...]
    slots: tuple[Slot, ...]
    tags: tuple[TagRead, ...]

    @property
    def commands(self) -> dict[str, int]:
        """How many requests of each command one cycle sends, e.g. ``{"0401": 2, "0406": 1}``."""
        counts: dict[str, int] = {}
        for r in self.requests:
            key = f"{r.command:04X}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    @property
    def points(self) -> int:
        """Words read per cycle (random-read dwords count two), gaps included."""
        total = 0
        for r in self.requests:
            total += len(r.words) + 2 * len(r.dwords) if isinstance(r, RandomRead) else r.points
        return total

    def words_of(self, index: int, reply: list[int]) -> list[int]:
        """A reply as a flat word list (random-read dwords split low word first)."""
        request = self.requests[index]
        if isinstance(request, RandomRead):
            n = len(request.words)
            flat = list(reply[:n])
            for dword in reply[n:]:
                flat += (dword & 0xFFFF, dword >> 16)
            return flat
        return reply

    @cached_property
    def _decoders(self) -> list[tuple[int, int, Callable[[list[int], int], Value]]]:
        """Per tag: its request, its word in the reply, and the function that reads its value there."""
        return [(slot.request, slot.word, _decoder(slot, tag)) for slot, tag in zip(self.slots, self.tags, strict=True)]

    def decode(self, replies: Sequence[list[int] | BaseException]) -> list[Value | BaseException]:
        """Each tag's value, or the exception of the request that should have carried it."""
        flats: list[list[int] | BaseException] = [
            r if isinstance(r, BaseException) else self.words_of(i, r) for i, r in enumerate(replies)
        ]
        if not any(isinstance(f, BaseException) for f in flats):
            return [fn(flats[request], word) for request, word, fn in self._decoders]  # type: ignore[arg-type]
        out: list[Value | BaseException] = []
        for request, word, fn in self._decoders:
            words = flats[request]
            out.append(words if isinstance(words, BaseException) else fn(words, word))
        return out


def _decoder(slot: Slot, tag: TagRead) -> Callable[[list[int], int], Value]:
    if slot.bit is not None:
        bit = slot.bit
        return lambda w, i: (w[i] >> bit) & 1
    read = tag.data_type.decoder()
    if not tag.data_type.is_numeric or (tag.scale is None and tag.offset is None):
        return read
    scale, offset = (1.0 if tag.scale is None else tag.scale), (tag.offset or 0.0)
    return lambda w, i: float(read(w, i)) * scale + offset


@dataclass
class _Span:
    tag: int
    device: Device
    start: int  # word index: the device number for word devices, number // 16 for bit devices
    words: int
    bit: int | None


def _span(index: int, tag: TagRead) -> _Span:
    a = tag.address
    if a.device.is_bit:
        return _Span(index, a.device, a.number // 16, 1, a.number % 16)
    if tag.data_type.kind is Kind.BIT:
        return _Span(index, a.device, a.number, 1, a.bit if a.bit is not None else 0)
    return _Span(index, a.device, a.number, tag.data_type.words, None)


def _head(device: Device, word: int) -> DevicePoint:
    return DevicePoint(device, word * 16 if device.is_bit else word)


#: Runs up to this many words may be read as double words by a random read.
RANDOM_RUN_WORDS = 8


def _random_points(device: Device, first: int, count: int) -> tuple[DevicePoint, ...] | None:
    """The random-read points that cover a run: one word, or double words (rounded up), or None."""
    if count == 1:
        return (_head(device, first),)
    if count > RANDOM_RUN_WORDS:
        return None
    dwords = -(-count // 2)
    last_word = first + 2 * dwords - 1
    if (last_word * 16 + 15 if device.is_bit else last_word) > device.maximum:
        return None  # rounding up would read past the end of the device
    return tuple(_head(device, first + 2 * k) for k in range(dwords))


def plan_reads(tags: Sequence[TagRead], *, max_gap: int = DEFAULT_MAX_GAP,
               max_words: int = MAX_WORD_POINTS, random_reads: bool = True,
               multi_block: bool = False) -> ReadPlan:
    """The plan with the fewest requests; ``multi_block`` lets it use 0406 when that means fewer."""
    plan = _batch_and_random_plan(tags, max_gap=max_gap, max_words=max_words, random_reads=random_reads)
    if not multi_block or len(plan.requests) <= 1:
        return plan
    from common.mc.planner_blocks import plan_multi_block  # the 0406 packer builds on this module's spans

    blocks = plan_multi_block(tags)
    # Fewer requests wins; a tie keeps batch and random reads, which every MC server serves.
    return blocks if len(blocks.requests) < len(plan.requests) else plan


def _batch_and_random_plan(tags: Sequence[TagRead], *, max_gap: int, max_words: int,
                           random_reads: bool) -> ReadPlan:
    by_device: dict[str, list[_Span]] = defaultdict(list)
    for i, tag in enumerate(tags):
        span = _span(i, tag)
        by_device[span.device.name].append(span)

    runs: list[tuple[Device, int, int, list[_Span]]] = []  # device, first word, word count, spans
    for spans in by_device.values():
        spans.sort(key=lambda s: (s.start, s.words))
        current: list[_Span] = []
        first = end = 0
        for s in spans:
            s_end = s.start + s.words  # exclusive
            if current and s.start - end <= max_gap and max(end, s_end) - first <= max_words:
                end = max(end, s_end)
                current.append(s)
                continue
            if current:
                runs.append((current[0].device, first, end - first, current))
            current, first, end = [s], s.start, s_end
        if current:
            runs.append((current[0].device, first, end - first, current))

    # Cost model: every request costs one round trip, which dwarfs the bytes of a few
    # more points. Short runs (up to RANDOM_RUN_WORDS words) can ride in random reads
    # as double words; do that only when it means fewer requests than one batch read each.
    small = [r for r in runs if r[0].name not in NOT_IN_RANDOM_READS
             and _random_points(r[0], r[1], r[2]) is not None] if random_reads else []
    points = sum(len(_random_points(*r[:3]) or ()) for r in small)
    if len(small) <= -(-points // MAX_RANDOM_POINTS):
        small = []
    small_ids = {id(r) for r in small}

    requests: list[PlanRequest] = []
    slots: dict[int, Slot] = {}
    for run in runs:
        if id(run) in small_ids:
            continue
        device, first, count, spans = run
        index = len(requests)
        requests.append(BatchRead(_head(device, first), count, Unit.WORD))
        for s in spans:
            slots[s.tag] = Slot(index, s.start - first, s.words, s.bit)

    # Pack the short runs: a run never straddles two requests, so its words stay contiguous.
    packs: list[list[tuple[Device, int, int, list[_Span]]]] = [[]]
    used = 0
    for run in small:
        n = len(_random_points(*run[:3]) or ())
        if used + n > MAX_RANDOM_POINTS:
            packs.append([])
            used = 0
        packs[-1].append(run)
        used += n
    for pack in packs if small else []:
        index = len(requests)
        words = [r for r in pack if r[2] == 1]
        dword_runs = [r for r in pack if r[2] > 1]
        dwords: list[DevicePoint] = []
        base: dict[int, int] = {}
        for position, run in enumerate(words):
            base[id(run)] = position
        offset = len(words)
        for run in dword_runs:
            base[id(run)] = offset
            heads = _random_points(*run[:3]) or ()
            dwords.extend(heads)
            offset += 2 * len(heads)
        requests.append(RandomRead(tuple(_head(r[0], r[1]) for r in words), tuple(dwords)))
        for run in pack:
            for s in run[3]:
                slots[s.tag] = Slot(index, base[id(run)] + s.start - run[1], s.words, s.bit)

    return ReadPlan(tuple(requests), tuple(slots[i] for i in range(len(tags))), tuple(tags))
