"""Historian rows, shared by every sink: one TAG_DATA row per tag value.

Columns, the same names in SQLite and Oracle::

    ts           text/timestamp  the cycle's read start, UTC, milliseconds
    plc_code     the 14-character equipment code
    tag_address  the device address as the config store holds it (D100, W1A, M0)
    tag_value    the value (NULL when quality is BAD)
    quality      GOOD or BAD_<reason>
    group_name   the polling group that read it
    cycle        the cycle number (with plc_code and group_name: which PollingData); no clock step or
                 restart repeats it (common/wire/cycle.py); rows of the previous release have -ts

Unique on the value's identity (plc_code, group_name, cycle, tag_address): a
batch written twice is stored once, and two different reads -- two cycles of
a group whose clock stepped back, two groups reading one address in the same
millisecond -- are never merged. Each sink's key also holds ``ts`` (a
function of the identity), for the B-tree's order (SQLite) or the partition
(Oracle).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from common.times import iso_ms
from common.wire.block import Block

COLUMNS = ("ts", "plc_code", "tag_address", "tag_value", "quality", "group_name", "cycle")


class Row(NamedTuple):
    ts: str
    plc_code: str
    tag_address: str
    tag_value: Any
    quality: str
    group_name: str
    cycle: int


CYCLE_COUNTS = ("SELECT plc_code, group_name, cycle, COUNT(*) FROM TAG_DATA WHERE ts >= {a} AND ts < {b} "
                "GROUP BY plc_code, group_name, cycle")
ADDRESSES = "SELECT tag_address FROM TAG_DATA WHERE ts = {a} AND plc_code = {b} AND group_name = {c} AND cycle = {d}"


def insert_statement(columns: tuple[str, ...], placeholder: str, verb: str = "INSERT") -> str:
    """The insert both sinks use; ``placeholder`` is ``?`` (SQLite) or ``:{n}`` (Oracle)."""
    marks = ", ".join(placeholder.format(n=i + 1) for i in range(len(columns)))
    return f"{verb} INTO TAG_DATA ({', '.join(columns)}) VALUES ({marks})"


def rows_of(blocks: list[Block]) -> list[Row]:
    out: list[Row] = []
    for b in blocks:
        ts = iso_ms(b.ts_ms)
        out.extend(Row(ts, b.plc_code, address, value, quality, b.group, b.identity)
                   for address, value, quality in b.values())
    return out
