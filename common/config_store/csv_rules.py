"""The five CSV files: their columns, what each field accepts, and the defaults.

Strategy: a table is a list of columns; a column has a parser that turns the
text of a cell into the stored value (csv_fields.py) or raises FieldError with a sentence a
plant engineer can act on. Row rules that need several cells (a HANDSHAKE
group needs a trigger device; a word type cannot sit on a bit device) run
after the cells parsed. The importer and the exporter share this module, so
what export writes is what import reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.config_store.csv_fields import (
    Parser,
    address,
    bit_address,
    choice,
    code,
    data_type,
    data_type_of,
    deviations,
    flag,
    free_text,
    host,
    name,
    number,
    plc_code,
    ports,
    whole,
)
from common.mc.datatypes import Kind
from common.mc.devices import parse_address


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = True
    default: Any = None
    #: Added after the first release: a file without this column still imports, every row taking the default.
    may_be_absent: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    #: Other column sets that must be unique, with the reason shown when they are not.
    unique: tuple[tuple[tuple[str, ...], str], ...] = ()
    #: (column, referenced table, referenced key columns)
    references: tuple[tuple[tuple[str, ...], str], ...] = ()
    row_rules: tuple[Callable[[dict[str, Any]], list[tuple[str, str]]], ...] = field(default=())

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


def _plc_rules(row: dict[str, Any]) -> list[tuple[str, str]]:
    if row["ports"]:
        count = len(row["ports"].split(";"))
        if row["_given"]["pool_size"] and count != row["pool_size"]:
            return [("ports", f"lists {count} ports for a pool of {row['pool_size']}; give one per connection")]
        row["pool_size"] = count
    return []


def _group_rules(row: dict[str, Any]) -> list[tuple[str, str]]:
    if row["mode"] == "HANDSHAKE" and not row["trigger_device"]:
        return [("trigger_device", "a HANDSHAKE group needs the PLC bit that triggers it")]
    if row["mode"] == "FIXED" and (row["trigger_device"] or row["ack_device"]):
        column = "trigger_device" if row["trigger_device"] else "ack_device"
        return [(column, "only HANDSHAKE groups have trigger and ack devices")]
    return []


def _tag_rules(row: dict[str, Any]) -> list[tuple[str, str]]:
    addr = parse_address(row["address"])
    dtype = data_type_of(row["data_type"])
    if dtype.kind is Kind.BIT:
        if not addr.is_bit:
            return [("data_type", f"BIT on word device {row['address']} needs a bit suffix, e.g. {row['address']}.0")]
    else:
        if addr.device.is_bit:
            return [("data_type", f"{dtype} is a word type; {addr.device.name} is a bit device (use BIT)")]
        if addr.bit is not None:
            return [("data_type", f"{row['address']} is one bit; its data type is BIT")]
        last = addr.number + dtype.words - 1
        if last > addr.device.maximum:
            return [("address", f"{dtype} at {row['address']} runs past the end of {addr.device.name}")]
    if not dtype.is_numeric:
        for column in ("scale", "offset"):
            if row[column] is not None:
                return [(column, f"{column} applies to numeric types, not {dtype}")]
    return []


TABLES: tuple[Table, ...] = (
    Table("lines", (Column("line_code", code), Column("line_name", name)), key=("line_code",)),
    Table(
        "processes",
        (Column("process_code", code), Column("line_code", code), Column("process_name", name)),
        key=("process_code",),
        references=((("line_code",), "lines"),),
    ),
    Table(
        "plcs",
        (
            Column("plc_code", plc_code),
            Column("process_code", code),
            Column("host", host),
            Column("port", whole(1, 65535, "port")),
            Column("protocol", choice("MC3E_ASCII", "MC3E_BINARY", "MC4E_ASCII", "MC4E_BINARY"), False,
                   "MC3E_ASCII"),
            Column("pool_size", whole(1, 32, "pool_size"), False, 5),
            Column("ports", ports, False, ""),
            Column("timeout_ms", whole(100, 60_000, "timeout_ms"), False, 3000),
            Column("is_active", flag, False, 1),
            Column("description", free_text, False, ""),
            Column("transport", choice("TCP", "UDP"), False, "TCP", may_be_absent=True),
            Column("multi_block_read", flag, False, 1, may_be_absent=True),
            Column("deviations", deviations, False, "", may_be_absent=True),
        ),
        key=("plc_code",),
        unique=((("host", "port"), "another PLC already uses this host and port"),),
        references=((("process_code",), "processes"),),
        row_rules=(_plc_rules,),
    ),
    Table(
        "polling_groups",
        (
            Column("group_name", name),
            Column("plc_code", plc_code),
            Column("mode", choice("FIXED", "HANDSHAKE")),
            Column("interval_ms", whole(100, 86_400_000, "interval_ms"), False, 1000),
            Column("trigger_device", bit_address, False, ""),
            Column("ack_device", bit_address, False, ""),
            Column("is_active", flag, False, 1),
        ),
        key=("plc_code", "group_name"),
        references=((("plc_code",), "plcs"),),
        row_rules=(_group_rules,),
    ),
    Table(
        "tags",
        (
            Column("plc_code", plc_code),
            Column("group_name", name),
            Column("tag_name", name),
            Column("address", address),
            Column("data_type", data_type),
            Column("scale", number, False, None),
            Column("offset", number, False, None),
            Column("unit", free_text, False, ""),
            Column("description", free_text, False, ""),
        ),
        key=("plc_code", "tag_name"),
        unique=((("plc_code", "group_name", "address"), "this address is already read by this group"),),
        references=((("plc_code", "group_name"), "polling_groups"),),
        row_rules=(_tag_rules,),
    ),
)

TABLES_BY_NAME = {t.name: t for t in TABLES}


def format_cell(value: Any) -> str:
    """The text export writes for a stored value; import reads it back to the same value."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
