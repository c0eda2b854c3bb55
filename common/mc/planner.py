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
class Span:
    """The words one tag occupies on its device."""

    tag: int  # the tag's index in the group
    device: Device
    start: int  # word index: the device number for word devices, number // 16 for bit devices
    words: int
    bit: int | None

    @property
    def end(self) -> int:
        return self.start + self.words  # exclusive


def span_of(index: int, tag: TagRead) -> Span:
    a = tag.address
    if a.device.is_bit:
        return Span(index, a.device, a.number // 16, 1, a.number % 16)
    if tag.data_type.kind is Kind.BIT:
        return Span(index, a.device, a.number, 1, a.bit if a.bit is not None else 0)
    return Span(index, a.device, a.number, tag.data_type.words, None)


def head_of(device: Device, word: int) -> DevicePoint:
    """The device point of a word index (a bit device's word k starts at point 16 k)."""
    return DevicePoint(device, word * 16 if device.is_bit else word)


#: Runs up to this many words may be read as double words by a random read.
RANDOM_RUN_WORDS = 8


@dataclass
class Run:
    """Consecutive words of one device, read together, and the tags' spans in them."""

    device: Device
    first: int
    words: int
    spans: list[Span]

    @cached_property
    def random_points(self) -> tuple[DevicePoint, ...] | None:
        """The random-read points that cover the run: one word, or double words (rounded up), or None."""
        if self.device.name in NOT_IN_RANDOM_READS:
            return None
        if self.words == 1:
            return (head_of(self.device, self.first),)
        if self.words > RANDOM_RUN_WORDS:
            return None
        dwords = -(-self.words // 2)
        last_word = self.first + 2 * dwords - 1
        if (last_word * 16 + 15 if self.device.is_bit else last_word) > self.device.maximum:
            return None  # rounding up would read past the end of the device
        return tuple(head_of(self.device, self.first + 2 * k) for k in range(dwords))

    def slots(self, request: int, base: int) -> dict[int, Slot]:
        """Each of the run's tags in ``request``, the run starting at word ``base`` of its reply."""
        return {s.tag: Slot(request, base + s.start - self.first, s.words, s.bit) for s in self.spans}


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


def runs_of(tags: Sequence[TagRead], max_gap: int, max_words: int) -> list[Run]:
    """Per device, the tags' spans covered greedily by runs of at most ``max_words`` words, reading
    gaps of up to ``max_gap`` words rather than starting another run."""
    by_device: dict[str, list[Span]] = defaultdict(list)
    for i, tag in enumerate(tags):
        span = span_of(i, tag)
        by_device[span.device.name].append(span)
    runs: list[Run] = []
    for spans in by_device.values():
        spans.sort(key=lambda s: (s.start, s.words))
        run: Run | None = None
        for s in spans:
            if run is not None and s.start - (run.first + run.words) <= max_gap \
                    and max(run.first + run.words, s.end) - run.first <= max_words:
                run.words = max(run.first + run.words, s.end) - run.first
                run.spans.append(s)
                continue
            run = Run(s.device, s.start, s.words, [s])
            runs.append(run)
    return runs


def _batch_or_random(runs: list[Run], random_reads: bool) -> tuple[list[Run], list[Run]]:
    """The runs for batch reads, and the short ones to gather into random reads when that means fewer
    requests than a batch read each (every request costs a round trip, which dwarfs a few more points)."""
    small = [r for r in runs if r.random_points is not None] if random_reads else []
    points = sum(len(r.random_points or ()) for r in small)
    if len(small) <= -(-points // MAX_RANDOM_POINTS):
        return runs, []
    return [r for r in runs if r.random_points is None], small


def _packs(small: list[Run]) -> list[list[Run]]:
    """The short runs in random reads of at most MAX_RANDOM_POINTS; a run never straddles two requests,
    so its words stay contiguous."""
    packs: list[list[Run]] = []
    used = MAX_RANDOM_POINTS
    for run in small:
        n = len(run.random_points or ())
        if used + n > MAX_RANDOM_POINTS:
            packs.append([])
            used = 0
        packs[-1].append(run)
        used += n
    return packs


def _random_read(pack: list[Run], index: int) -> tuple[RandomRead, dict[int, Slot]]:
    """One random read for ``pack``: single words first, then the double words; and its tags' slots."""
    words = [r for r in pack if r.words == 1]
    dword_runs = [r for r in pack if r.words > 1]
    slots: dict[int, Slot] = {}
    for position, run in enumerate(words):
        slots |= run.slots(index, position)
    base = len(words)
    dwords: list[DevicePoint] = []
    for run in dword_runs:
        slots |= run.slots(index, base)
        heads = run.random_points or ()
        dwords.extend(heads)
        base += 2 * len(heads)
    return RandomRead(tuple(head_of(r.device, r.first) for r in words), tuple(dwords)), slots


def _batch_and_random_plan(tags: Sequence[TagRead], *, max_gap: int, max_words: int,
                           random_reads: bool) -> ReadPlan:
    batch, small = _batch_or_random(runs_of(tags, max_gap, max_words), random_reads)
    requests: list[PlanRequest] = []
    slots: dict[int, Slot] = {}
    for run in batch:
        slots |= run.slots(len(requests), 0)
        requests.append(BatchRead(head_of(run.device, run.first), run.words, Unit.WORD))
    for pack in _packs(small):
        request, pack_slots = _random_read(pack, len(requests))
        requests.append(request)
        slots |= pack_slots
    return ReadPlan(tuple(requests), tuple(slots[i] for i in range(len(tags))), tuple(tags))
