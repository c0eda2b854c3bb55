"""The plant model as the processes read it from the config store."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from common.mc.datatypes import DataType, parse_data_type
from common.mc.devices import DeviceAddress, parse_address

if TYPE_CHECKING:  # the queries take a connection; the objects need no SQLite (a poller has none loaded)
    import sqlite3


@dataclass(frozen=True)
class Line:
    line_code: str
    line_name: str


@dataclass(frozen=True)
class Process:
    process_code: str
    line_code: str
    process_name: str


@dataclass(frozen=True)
class Plc:
    plc_code: str
    process_code: str
    host: str
    port: int
    protocol: str
    pool_size: int
    ports: tuple[int, ...]
    timeout_ms: int
    is_active: bool
    description: str
    transport: str = "TCP"
    multi_block_read: bool = True
    deviations: frozenset[str] = frozenset()

    @property
    def frame(self) -> str:
        """``3E`` or ``4E``, from the protocol (``MC4E_ASCII``)."""
        return self.protocol[2:4]

    @property
    def encoding(self) -> str:
        """``ASCII`` or ``BINARY``, from the protocol."""
        return self.protocol.split("_", 1)[1]

    @property
    def connection_ports(self) -> list[int]:
        """One port per pooled connection: ``ports`` when given, else ``port`` for all."""
        return list(self.ports) if self.ports else [self.port] * self.pool_size


#: the maximum interval of a group that has a deadbanded tag but no ``max_interval_ms`` of its own
DEFAULT_MAX_INTERVAL_MS = 60_000


@dataclass(frozen=True)
class PollingGroup:
    plc_code: str
    group_name: str
    mode: str
    interval_ms: int
    trigger_device: str
    ack_device: str
    is_active: bool
    #: deadband: every tag is stored at least this often (None: DEFAULT_MAX_INTERVAL_MS)
    max_interval_ms: int | None = None


@dataclass(frozen=True)
class Tag:
    plc_code: str
    group_name: str
    tag_name: str
    address: str
    data_type: str
    scale: float | None
    offset: float | None
    unit: str
    description: str
    #: written only when True (tags.csv ``writable``), within ``min``..``max`` in engineering units
    writable: bool = False
    min: float | None = None
    max: float | None = None
    #: report by exception: stored when it moves by more than this (engineering units); None: every value
    deadband: float | None = None

    @property
    def device_address(self) -> DeviceAddress:
        return parse_address(self.address)

    @property
    def type(self) -> DataType:
        return parse_data_type(self.data_type)


def parse_ports(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.replace(";", " ").split())


#: a row as the store gives it: an sqlite3.Row, or a dict of the same columns (services/poller/store_read.py)
Row = Mapping[str, Any]


def plc_from_row(row: Row) -> Plc:
    plc = Plc(row["plc_code"], row["process_code"], row["host"], row["port"], row["protocol"], row["pool_size"],
              parse_ports(row["ports"]), row["timeout_ms"], bool(row["is_active"]), row["description"])
    # a schema-1 store read without migrating (read-only readers); Row.__contains__ looks at values, not names
    if "transport" not in row.keys():  # noqa: SIM118
        return plc
    return replace(plc, transport=row["transport"], multi_block_read=bool(row["multi_block_read"]),
                   deviations=frozenset(n for n in row["deviations"].split(";") if n))


def load_plcs(conn: sqlite3.Connection, *, active_only: bool = False) -> list[Plc]:
    where = " WHERE is_active = 1" if active_only else ""
    return [plc_from_row(r) for r in conn.execute(f"SELECT * FROM plcs{where} ORDER BY plc_code")]


def load_plc(conn: sqlite3.Connection, plc_code: str) -> Plc | None:
    row = conn.execute("SELECT * FROM plcs WHERE plc_code = ?", (plc_code,)).fetchone()
    return None if row is None else plc_from_row(row)


def load_groups(conn: sqlite3.Connection, plc_code: str | None = None) -> list[PollingGroup]:
    sql = "SELECT * FROM polling_groups"
    args: tuple[str, ...] = ()
    if plc_code is not None:
        sql += " WHERE plc_code = ?"
        args = (plc_code,)
    return [group_from_row(r) for r in conn.execute(sql + " ORDER BY plc_code, group_name", args)]


def group_from_row(row: Row) -> PollingGroup:
    return PollingGroup(row["plc_code"], row["group_name"], row["mode"], row["interval_ms"], row["trigger_device"],
                        row["ack_device"], bool(row["is_active"]), _optional(row, "max_interval_ms"))


def _optional(row: Row, column: str) -> Any:
    """A column a store of an older schema lacks (read without migrating): None there."""
    return row[column] if column in row.keys() else None  # noqa: SIM118  # Row's `in` looks at values


def load_tags(conn: sqlite3.Connection, plc_code: str | None = None, group_name: str | None = None) -> list[Tag]:
    sql = "SELECT * FROM tags WHERE 1=1"
    args: list[str] = []
    if plc_code is not None:
        sql += " AND plc_code = ?"
        args.append(plc_code)
    if group_name is not None:
        sql += " AND group_name = ?"
        args.append(group_name)
    return [tag_from_row(r) for r in conn.execute(sql + " ORDER BY plc_code, group_name, rowid", args)]


def tag_from_row(row: Row) -> Tag:
    # the columns tags share (their PLC, group, type, unit) as one string each rather than one per tag: a
    # poller keeps its tags for its life, and these were ~0.1 MiB of a poller of 470 tags (issue 19)
    shared = sys.intern
    return Tag(shared(row["plc_code"]), shared(row["group_name"]), row["tag_name"], row["address"],
               shared(row["data_type"]), row["scale"], row["offset"], shared(row["unit"]), row["description"],
               writable=bool(_optional(row, "writable")),
               min=_optional(row, "min"), max=_optional(row, "max"), deadband=_optional(row, "deadband"))


def load_tags_named(conn: sqlite3.Connection, plc_code: str, tag_names: list[str]) -> dict[str, Tag]:
    """The tags of ``plc_code`` among ``tag_names``, by name (names not found are absent)."""
    found: dict[str, Tag] = {}
    for start in range(0, len(tag_names), 500):  # SQLite's bound parameters per statement
        chunk = tag_names[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for r in conn.execute(f"SELECT * FROM tags WHERE plc_code = ? AND tag_name IN ({marks})", [plc_code, *chunk]):
            found[r["tag_name"]] = tag_from_row(r)
    return found
