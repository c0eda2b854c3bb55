"""The poller's answers to the gateway's commands: a table from each op to its handler.

The commands and their replies are defined in common/wire/control.py; the
control link (control.py) reads them and sends the replies. A new command is
one class there and one handler here, entered in ``PollerCommands.table``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from common.wire.control import (
    Command,
    CommandError,
    ErrorCode,
    GroupCommand,
    Op,
    ReloadPlant,
    StartAll,
    StartGroup,
    StopAll,
    StopGroup,
    TriggerGroup,
    WriteTags,
)
from common.wire.ingest import PollingData
from services.poller.group import GroupReader, GroupState

Result = dict[str, Any]
ReadAndSend = Callable[[GroupReader], Awaitable[PollingData]]
Reload = Callable[[], Awaitable[Result]]
#: writes (tag, value) in order; each tag's outcome (services/poller/writes.py), or WriteRefused
WriteTagsFn = Callable[[list[tuple[str, Any]]], Awaitable[list[dict[str, Any]]]]
#: a write refused before anything was sent, by its HTTP status (common/writes/values.py)
REFUSED_CODES = {403: ErrorCode.NOT_WRITABLE, 404: ErrorCode.UNKNOWN_TAG, 422: ErrorCode.BAD_VALUE}


class PollerCommands:
    def __init__(self, plc_code: str, groups: dict[str, GroupReader], read_and_send: ReadAndSend,
                 reload: Reload | None = None, write_tags: WriteTagsFn | None = None) -> None:
        self.plc_code = plc_code
        self.groups = groups
        self.read_and_send = read_and_send
        self.reload_plant = reload
        self.write_tags = write_tags
        #: each op's handler; it takes that op's command class
        self.table: dict[Op, Callable[[Any], Awaitable[Result]]] = {
            Op.START: self.start, Op.STOP: self.stop, Op.TRIGGER: self.trigger,
            Op.START_ALL: self.start_all, Op.STOP_ALL: self.stop_all, Op.RELOAD: self.reload,
            Op.WRITE: self.write,
        }

    async def answer(self, command: Command) -> Result:
        """The command's result; CommandError (with the reply's code) if it is refused."""
        handler = self.table.get(command.OP)
        if handler is None:
            raise CommandError(ErrorCode.BAD_COMMAND, f"this poller does not handle {command.OP}")
        return await handler(command)

    def _reader(self, command: GroupCommand) -> GroupReader:
        reader = self.groups.get(command.group)
        if reader is None:
            raise CommandError(ErrorCode.UNKNOWN_GROUP, f"no group {command.group} on {self.plc_code}")
        return reader

    async def start(self, command: StartGroup) -> Result:
        return self._set(self._reader(command), GroupState.RUNNING)

    async def stop(self, command: StopGroup) -> Result:
        return self._set(self._reader(command), GroupState.STOPPED)

    async def start_all(self, command: StartAll) -> Result:
        return {"groups": [self._set(r, GroupState.RUNNING) for r in self.groups.values()]}

    async def stop_all(self, command: StopAll) -> Result:
        return {"groups": [self._set(r, GroupState.STOPPED) for r in self.groups.values()]}

    @staticmethod
    def _set(reader: GroupReader, state: GroupState) -> Result:
        reader.state = state
        return {"group": reader.name, "state": state.value}

    async def trigger(self, command: TriggerGroup) -> Result:
        reader = self._reader(command)
        if reader.group.mode != "HANDSHAKE":
            raise CommandError(ErrorCode.NOT_HANDSHAKE,
                               f"{reader.name} is a FIXED group; only HANDSHAKE groups are triggered")
        data = await self.read_and_send(reader)
        if data.error is not None:
            raise CommandError(ErrorCode.READ_FAILED, f"{reader.name} cycle {data.seq}: {data.error}")
        return {"group": reader.name, "plc_code": self.plc_code, "sequence": data.seq, "cycle": data.cycle,
                "values": len(data.values), "duration_ms": data.duration_ms, "ts_ms": data.ts_ms}

    async def reload(self, command: ReloadPlant) -> Result:
        """The PLC's groups and tags read again from the store, between cycles (reload.py)."""
        if self.reload_plant is None:
            raise CommandError(ErrorCode.BAD_COMMAND, f"the poller of {self.plc_code} does not reload")
        return await self.reload_plant()

    async def write(self, command: WriteTags) -> Result:
        if self.write_tags is None:
            raise CommandError(ErrorCode.BAD_COMMAND, f"the poller of {self.plc_code} does not write")
        from common.writes.values import WriteRefused  # with the writes' modules, at the first write (service.py)

        try:
            outcomes = await self.write_tags(list(command.writes))
        except WriteRefused as refused:
            raise CommandError(REFUSED_CODES.get(refused.status, ErrorCode.BUSY), str(refused)) from None
        return {"plc_code": self.plc_code, "outcomes": outcomes}
