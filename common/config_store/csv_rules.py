"""The five CSV files: their columns, what each field accepts, and the defaults.

Strategy: a table is a list of columns; a column has a parser that turns the
text of a cell into the stored value or raises FieldError with a sentence a
plant engineer can act on. Row rules that need several cells (a HANDSHAKE
group needs a trigger device; a word type cannot sit on a bit device) run
after the cells parsed. The importer and the exporter share this module, so
what export writes is what import reads.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.mc.datatypes import DataType, Kind, parse_data_type
from common.mc.devices import parse_address
from common.mc.errors import McLocalError


class FieldError(ValueError):
    """A cell that cannot be stored; the message says why."""


Parser = Callable[[str], Any]


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = True
    default: Any = None
    #: Added after the first release: a file without this column still imports, every row taking the default.
    may_be_absent: bool = False
    #: Export writes it only when a row holds something other than the default, so a plant that does not
    #: use the feature exports the same files as before the column existed.
    export_if_used: bool = False


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


_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
_PLC_CODE = re.compile(r"^[A-Z0-9]{14}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_NAME = re.compile(r"^[^\x00-\x1f]{1,64}$")


def code(text: str) -> str:
    if not _CODE.match(text):
        raise FieldError(f"{text!r}: codes are 1-32 upper-case letters, digits, '_' or '-'")
    return text


def plc_code(text: str) -> str:
    if not _PLC_CODE.match(text):
        raise FieldError(
            f"{text!r}: an equipment code is exactly 14 upper-case letters and digits, e.g. KRCWO12ELOA101 "
            f"(this one has {len(text)} characters)"
        )
    return text


def name(text: str) -> str:
    if not _NAME.match(text):
        raise FieldError(f"{text!r}: a name is 1-64 printable characters")
    return text


def free_text(text: str) -> str:
    if len(text) > 512:
        raise FieldError("longer than 512 characters")
    return text


def host(text: str) -> str:
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if re.match(r"^[0-9.]+$", text) or not _HOSTNAME.match(text):
        raise FieldError(f"{text!r} is neither an IP address nor a host name")
    return text


def whole(low: int, high: int, what: str) -> Parser:
    def parse(text: str) -> int:
        if not re.match(r"^[0-9]+$", text):
            raise FieldError(f"{text!r}: {what} must be a whole number")
        value = int(text)
        if not low <= value <= high:
            raise FieldError(f"{value}: {what} must be {low} to {high}")
        return value

    return parse


def choice(*options: str) -> Parser:
    def parse(text: str) -> str:
        value = text.upper()
        if value not in options:
            raise FieldError(f"{text!r}: must be one of {', '.join(options)}")
        return value

    return parse


#: How a peer departs from the reference manual; a PLC lists the ones its peer has (plcs.csv ``deviations``).
DEVIATIONS = {
    "ascii_decimal_numbers": "ASCII frames write every device number in decimal, X Y B W SB SW DX DY ZR too",
    "ascii_dwords_low_first": "ASCII random reads (0403) return double words low word first",
}


def deviations(text: str) -> str:
    names = [n.strip().lower() for n in text.replace(",", ";").split(";") if n.strip()]
    for n in names:
        if n not in DEVIATIONS:
            raise FieldError(f"{n!r}: known deviations are {', '.join(DEVIATIONS)}")
    return ";".join(sorted(set(names)))


def flag(text: str) -> int:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y"):
        return 1
    if value in ("0", "false", "no", "n"):
        return 0
    raise FieldError(f"{text!r}: must be 1 or 0")


def ports(text: str) -> str:
    parts = text.replace(";", " ").split()
    port = whole(1, 65535, "a port")
    return ";".join(str(port(p)) for p in parts)


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FieldError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldError(f"{text!r} is not a finite number")
    return value


def deadband(text: str) -> float:
    value = number(text)
    if value < 0:
        raise FieldError(f"{text!r}: a deadband is a change in engineering units, 0 or more (empty: every value "
                         "is stored)")
    return value


def address(text: str) -> str:
    try:
        return str(parse_address(text))
    except McLocalError as error:
        raise FieldError(str(error)) from None


def bit_address(text: str) -> str:
    try:
        parsed = parse_address(text)
    except McLocalError as error:
        raise FieldError(str(error)) from None
    if not parsed.is_bit:
        raise FieldError(f"{text!r}: a handshake device must be a bit (M100, or D100.0)")
    return str(parsed)


@functools.lru_cache(maxsize=256)
def _data_type_of(text: str) -> DataType:
    """A plant has a handful of data types over a million tags: each text is parsed once."""
    return parse_data_type(text)


def data_type(text: str) -> str:
    try:
        return str(_data_type_of(text))
    except McLocalError as error:
        raise FieldError(str(error)) from None


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
    if row["max_interval_ms"] is not None and row["max_interval_ms"] < row["interval_ms"]:
        return [("max_interval_ms", f"{row['max_interval_ms']} is shorter than the interval ({row['interval_ms']} ms): "
                 "every cycle would be stored whole; leave it empty or make it a multiple of the interval")]
    return []


def _tag_rules(row: dict[str, Any]) -> list[tuple[str, str]]:
    addr = parse_address(row["address"])
    dtype = _data_type_of(row["data_type"])
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
            # deadband: the longest time a tag with a deadband goes unstored (empty: model.DEFAULT_MAX_INTERVAL_MS)
            Column("max_interval_ms", whole(100, 86_400_000, "max_interval_ms"), False, None, may_be_absent=True,
                   export_if_used=True),
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
            Column("deadband", deadband, False, None, may_be_absent=True, export_if_used=True),  # empty: all stored
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
