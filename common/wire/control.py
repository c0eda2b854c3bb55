"""The control protocol between the gateway (ROUTER, binds) and each poller (DEALER, connects).

A poller's routing id is its PLC code, so the gateway addresses a poller by
the PLC it polls. The poller says hello once a second so the gateway knows
it is there. Every command carries an id and is answered with it; a reply
with an id nobody waits for is ignored::

    gateway: {"v": 1, "t": "command", "id": 12, "op": "trigger", "group": "BATCH_HS"}
    poller:  {"v": 1, "t": "reply", "id": 12, "ok": true,
              "result": {"group": "BATCH_HS", "sequence": 7, "values": 100, "duration_ms": 8.1}}
    poller:  {"v": 1, "t": "reply", "id": 13, "ok": false, "code": "unknown_group",
              "error": "no group NOPE on KRCWO12ELOA101"}
    poller:  {"v": 1, "t": "hello", "plc": "KRCWO12ELOA101", "groups": ["FAST_1S", ...]}

Each ``op`` is one class below, registered with :func:`command`:

- ``start``, ``stop`` (``group``): :class:`StartGroup`, :class:`StopGroup`;
- ``trigger`` (``group``): :class:`TriggerGroup`, one cycle of a HANDSHAKE group now;
- ``start_all``, ``stop_all``: :class:`StartAll`, :class:`StopAll`.

A new command is one member of :class:`Op`, one class here, and one handler in
the poller's command table (services/poller/commands.py). Error codes are
:class:`ErrorCode`; a command the poller cannot read (an unknown op, a field
missing) is answered ``bad_command``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar, Self, TypeVar

from common.wire.envelope import envelope, field_error


class Op(StrEnum):
    START = "start"
    STOP = "stop"
    TRIGGER = "trigger"
    START_ALL = "start_all"
    STOP_ALL = "stop_all"


class ErrorCode(StrEnum):
    UNKNOWN_GROUP = "unknown_group"
    NOT_HANDSHAKE = "not_handshake"
    READ_FAILED = "read_failed"
    BAD_COMMAND = "bad_command"


class CommandError(Exception):
    """A command the poller refuses, with the code its reply carries."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = code
        super().__init__(message)


class BadCommand(CommandError):
    """A command frame with an id but no command this build knows; answered under that id."""

    def __init__(self, request_id: int, message: str) -> None:
        self.request_id = request_id
        super().__init__(ErrorCode.BAD_COMMAND, message)


@dataclass(frozen=True, slots=True)
class Command:
    """A command's arguments; the subclass names its ``OP`` and reads its fields in ``from_arguments``."""

    OP: ClassVar[Op]

    def arguments(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arguments(cls, m: dict[str, Any]) -> Self:
        return cls()


C = TypeVar("C", bound=type[Command])
#: every command class by its op
COMMANDS: dict[str, type[Command]] = {}


def command(cls: C) -> C:
    """Register a command class under its ``OP``."""
    COMMANDS[cls.OP] = cls
    return cls


@dataclass(frozen=True, slots=True)
class GroupCommand(Command):
    group: str

    @classmethod
    def from_arguments(cls, m: dict[str, Any]) -> Self:
        group = m.get("group")
        if not isinstance(group, str):
            raise ValueError(f"{cls.OP} needs a group name, got {group!r}")
        return cls(group)


@command
@dataclass(frozen=True, slots=True)
class StartGroup(GroupCommand):
    OP = Op.START


@command
@dataclass(frozen=True, slots=True)
class StopGroup(GroupCommand):
    OP = Op.STOP


@command
@dataclass(frozen=True, slots=True)
class TriggerGroup(GroupCommand):
    OP = Op.TRIGGER


@command
@dataclass(frozen=True, slots=True)
class StartAll(Command):
    OP = Op.START_ALL


@command
@dataclass(frozen=True, slots=True)
class StopAll(Command):
    OP = Op.STOP_ALL


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A command with the id its reply will carry."""

    KIND: ClassVar[str] = "command"

    id: int
    command: Command

    def to_wire(self) -> dict[str, Any]:
        return envelope(self.KIND, id=self.id, op=self.command.OP.value, **self.command.arguments())

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> CommandRequest:
        """MessageError without a usable id (nobody to answer), BadCommand with one."""
        try:
            request_id = int(m["id"])
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None
        op = m.get("op")
        kind = COMMANDS.get(op) if isinstance(op, str) else None  # an Op is the str of its value
        if kind is None:
            raise BadCommand(request_id, f"unknown op {op!r}")
        try:
            return cls(request_id, kind.from_arguments(m))
        except (TypeError, ValueError) as error:
            raise BadCommand(request_id, str(error)) from None


@dataclass(frozen=True, slots=True)
class Reply:
    KIND: ClassVar[str] = "reply"

    id: int
    ok: bool
    result: dict[str, Any] | None = None
    code: str | None = None
    error: str | None = None

    @classmethod
    def success(cls, request_id: int, result: dict[str, Any]) -> Reply:
        return cls(request_id, True, result)

    @classmethod
    def failure(cls, request_id: int, error: CommandError) -> Reply:
        return cls(request_id, False, code=error.code.value, error=str(error))

    def to_wire(self) -> dict[str, Any]:
        if self.ok:
            return envelope(self.KIND, id=self.id, ok=True, result=self.result)
        return envelope(self.KIND, id=self.id, ok=False, code=self.code, error=self.error)

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Reply:
        try:
            result, code, error = m.get("result"), m.get("code"), m.get("error")
            if result is not None and not isinstance(result, dict):
                raise TypeError(f"result is a {type(result).__name__}, not a map")
            return cls(int(m["id"]), bool(m["ok"]), result, None if code is None else str(code),
                       None if error is None else str(error))
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None


@dataclass(frozen=True, slots=True)
class Hello:
    KIND: ClassVar[str] = "hello"

    plc_code: str
    groups: list[str]

    def to_wire(self) -> dict[str, Any]:
        return envelope(self.KIND, plc=self.plc_code, groups=self.groups)

    @classmethod
    def from_wire(cls, m: dict[str, Any]) -> Hello:
        try:
            return cls(str(m["plc"]), [str(g) for g in m["groups"]])
        except (KeyError, TypeError, ValueError) as error:
            raise field_error(cls.KIND, error) from None

