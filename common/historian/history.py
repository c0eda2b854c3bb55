"""What the history API answers, whichever historian holds the values: parsing, raw or buckets, the answer.

Strategy: the request is parsed here (times, tags, points) into a
:class:`HistoryQuery`; a historian's reader (sqlite_history.py,
oracle_history.py) answers three questions about one tag over [from, to) --
how many values at most, the raw values, the buckets -- and
:func:`series` shapes one series of the answer. The answer is columnar, so a
chart (uPlot) takes it as is::

    {"from_ms": 1764720000000, "to_ms": 1764723600000, "points": 1000,
     "series": [{"plc_code": "KRCWO12ELOA101", "tag_name": "LINE_SPEED", "address": "D100",
                 "data_type": "INT16", "unit": "m/min", "description": "...",
                 "mode": "raw", "bucket_ms": null,
                 "ts": [1764720000000, ...], "value": [12, null, ...], "quality": ["GOOD", "BAD_TIMEOUT", ...]}]}

A bucketed series (the range holds more than ``points`` values) carries
``first last min max avg count good_share`` instead of ``value quality``: one
entry per bucket of ``bucket_ms``, starting at ``from_ms`` (buckets of a
minute or more: whole minutes, from the minute ``from_ms`` falls in); an empty bucket is
there with count 0 and nulls, so a gap stays a gap. BAD values count in
``count`` and lower ``good_share`` but are in none of first, last, min, max,
avg (first and last are the bucket's first and last GOOD values). Strings
are not aggregated: only first and last.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

MAX_TAGS = 20
MAX_POINTS = 10_000
DEFAULT_POINTS = 1000
RELATIVE = re.compile(r"^-(\d{1,6})(ms|s|m|h|d)$")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MINUTE_MS = 60_000


class HistoryError(ValueError):
    """A request the history cannot answer (a 422 in the API, exit 2 in the CLI), with the reason."""


class UnknownTag(LookupError):
    """A tag no PLC of the config store has (a 404 in the API)."""


@dataclass(frozen=True)
class TagInfo:
    plc_code: str
    tag_name: str
    address: str
    data_type: str
    unit: str
    description: str

    @property
    def is_text(self) -> bool:
        return self.data_type.upper().startswith("STRING")


@dataclass(frozen=True)
class HistoryQuery:
    tags: list[str]
    from_ms: int
    to_ms: int
    points: int


#: (bucket index, count, good count, min, max, sum of numbers, count of numbers,
#:  ts of the first GOOD value, that value, ts of the last GOOD value, that value)
Bucket = tuple[int, int, int, Any, Any, Any, int, int | None, Any, int | None, Any]


class Reader(Protocol):
    def most(self, tag: TagInfo, from_ms: int, to_ms: int) -> int:
        """At least as many as the values stored of ``tag`` in [from_ms, to_ms) (cheap: an upper bound)."""
        ...

    def raw(self, tag: TagInfo, from_ms: int, to_ms: int) -> list[tuple[int, Any, str]]:
        """(ts_ms, value, quality) in time order."""
        ...

    def buckets(self, tag: TagInfo, from_ms: int, to_ms: int, bucket_ms: int) -> list[Bucket]:
        """One tuple per non-empty bucket (index = (ts - from_ms) // bucket_ms), in any order."""
        ...


def parse_time(text: str, now_ms: int, name: str) -> int:
    """ISO-8601 (a time without a zone is UTC), ``now``, or relative to now: -10m, -1h, -8h, -24h, -7d, -30s."""
    text = text.strip()
    if text == "now":
        return now_ms
    match = RELATIVE.match(text)
    if match:
        return now_ms - int(match[1]) * UNIT_MS[match[2]]
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError(f"{name}={text!r} is neither ISO-8601 (2026-12-03T08:00:00Z), 'now', nor relative "
                           "(-10m, -1h, -8h, -24h)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


def parse_query(tags: list[str], from_text: str | None, to_text: str | None, points: int | None,
                now_ms: int) -> HistoryQuery:
    if not tags:
        raise HistoryError("name at least one tag: tag=<plc_code>/<tag name or address>")
    if len(tags) > MAX_TAGS:
        raise HistoryError(f"{len(tags)} tags asked, at most {MAX_TAGS} at once")
    for tag in tags:
        if "/" not in tag or not all(tag.split("/", 1)):
            raise HistoryError(f"tag={tag!r} is not <plc_code>/<tag name or address>")
    if from_text is None:
        raise HistoryError("from is required (ISO-8601 or -10m, -1h, -8h, -24h)")
    to_ms = parse_time(to_text or "now", now_ms, "to")
    from_ms = parse_time(from_text, now_ms, "from")
    if from_ms >= to_ms:
        raise HistoryError(f"from ({from_text}) is not before to ({to_text or 'now'})")
    points = DEFAULT_POINTS if points is None else points
    if not 1 <= points <= MAX_POINTS:
        raise HistoryError(f"points={points}: between 1 and {MAX_POINTS}")
    return HistoryQuery(tags, from_ms, to_ms, points)


def resolve(spec: str, tags_of_plc: list[TagInfo]) -> TagInfo:
    """``plc/name`` or ``plc/address`` among a PLC's tags: the name first, then the address."""
    plc, key = spec.split("/", 1)
    for tag in tags_of_plc:
        if tag.tag_name == key:
            return tag
    for tag in tags_of_plc:
        if tag.address.upper() == key.upper():
            return tag
    raise UnknownTag(f"no tag {key!r} on PLC {plc!r}" if tags_of_plc else f"no PLC {plc!r} with tags")


def bucket_plan(from_ms: int, to_ms: int, points: int) -> tuple[int, int]:
    """(first bucket's start, bucket_ms): at most ``points`` buckets over [from_ms, to_ms). Buckets of a minute
    or more are whole minutes starting on a whole minute (the one ``from`` falls in), so that they are made of
    the historian's per-minute summaries."""
    bucket_ms = max(1, math.ceil((to_ms - from_ms) / points))
    if bucket_ms < MINUTE_MS:
        return from_ms, bucket_ms
    start = from_ms - from_ms % MINUTE_MS
    bucket_ms = math.ceil(bucket_ms / MINUTE_MS) * MINUTE_MS
    while math.ceil((to_ms - start) / bucket_ms) > points:
        bucket_ms += MINUTE_MS
    return start, bucket_ms


def _header(tag: TagInfo) -> dict[str, Any]:
    return {"plc_code": tag.plc_code, "tag_name": tag.tag_name, "address": tag.address,
            "data_type": tag.data_type, "unit": tag.unit, "description": tag.description}


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) or value is None else None


def series(reader: Reader, tag: TagInfo, q: HistoryQuery) -> dict[str, Any]:
    """One series of the answer: raw when the range holds at most ``points`` values, else buckets."""
    out = _header(tag)
    if reader.most(tag, q.from_ms, q.to_ms) <= q.points:
        return {**out, **_raw(reader.raw(tag, q.from_ms, q.to_ms))}
    start, bucket_ms = bucket_plan(q.from_ms, q.to_ms, q.points)
    found = reader.buckets(tag, start, q.to_ms, bucket_ms)
    if sum(b[1] for b in found) <= q.points:  # the bound was loose (a deadband, a stopped group)
        return {**out, **_raw(reader.raw(tag, q.from_ms, q.to_ms))}
    return {**out, **_buckets(found, start, q.to_ms, bucket_ms, tag.is_text)}


def _raw(rows: list[tuple[int, Any, str]]) -> dict[str, Any]:
    return {"mode": "raw", "bucket_ms": None, "ts": [r[0] for r in rows],
            "value": [r[1] if r[2] == "GOOD" else None for r in rows], "quality": [r[2] for r in rows]}


def _buckets(found: list[Bucket], start: int, to_ms: int, bucket_ms: int, text: bool) -> dict[str, Any]:
    n = math.ceil((to_ms - start) / bucket_ms)
    by_index = {b[0]: b for b in found if 0 <= b[0] < n}
    cols: dict[str, list[Any]] = {k: [] for k in ("first", "last", "min", "max", "avg", "count", "good_share")}
    for i in range(n):
        b = by_index.get(i)
        count, good = (b[1], b[2]) if b else (0, 0)
        numeric = b is not None and not text and b[6] > 0
        cols["first"].append(b[8] if b else None)
        cols["last"].append(b[10] if b else None)
        cols["min"].append(_number(b[3]) if numeric and b else None)
        cols["max"].append(_number(b[4]) if numeric and b else None)
        cols["avg"].append(b[5] / b[6] if numeric and b and b[5] is not None else None)
        cols["count"].append(count)
        cols["good_share"].append(good / count if count else None)
    return {"mode": "buckets", "bucket_ms": bucket_ms, "ts": [start + i * bucket_ms for i in range(n)], **cols}


def merge_buckets(parts: list[Bucket]) -> list[Bucket]:
    """Buckets of one tag found in several places (day tables, groups) as one per index."""
    merged: dict[int, Bucket] = {}
    for b in parts:
        m = merged.get(b[0])
        if m is None:
            merged[b[0]] = b
            continue
        lo = [x for x in (m[3], b[3]) if x is not None]
        hi = [x for x in (m[4], b[4]) if x is not None]
        sums = [x for x in (m[5], b[5]) if x is not None]
        first = b if m[7] is None or (b[7] is not None and b[7] < m[7]) else m
        last = b if m[9] is None or (b[9] is not None and b[9] > m[9]) else m
        merged[b[0]] = (b[0], m[1] + b[1], m[2] + b[2], min(lo) if lo else None, max(hi) if hi else None,
                        sum(sums) if sums else None, m[6] + b[6], first[7], first[8], last[9], last[10])
    return list(merged.values())


def answer(reader: Reader, tags: list[TagInfo], q: HistoryQuery) -> dict[str, Any]:
    return {"from_ms": q.from_ms, "to_ms": q.to_ms, "points": q.points,
            "series": [series(reader, tag, q) for tag in tags]}
