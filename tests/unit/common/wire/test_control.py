"""The control protocol: one class per command, replies matched by id, and both ends over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio

from common.wire.control import (
    COMMANDS,
    BadCommand,
    Command,
    CommandError,
    CommandRequest,
    ErrorCode,
    Hello,
    Op,
    Reply,
    StartAll,
    StartGroup,
    StopAll,
    StopGroup,
    TriggerGroup,
)
from common.wire.envelope import MessageError, decode, encode, envelope, pack
from services.gateway.poller_link import PollerLink, PollerTimeout, PollerUnavailable
from services.poller.control import ControlLink
from tests.helpers import short_tmp


def test_every_op_has_one_command_class() -> None:
    assert set(COMMANDS) == set(Op)
    assert all(COMMANDS[op].OP is op for op in Op)


@pytest.mark.parametrize(("command", "wire"), [
    (TriggerGroup("BATCH_HS"), {"op": "trigger", "group": "BATCH_HS"}),
    (StartGroup("FAST_1S"), {"op": "start", "group": "FAST_1S"}),
    (StopGroup("FAST_1S"), {"op": "stop", "group": "FAST_1S"}),
    (StartAll(), {"op": "start_all"}),
    (StopAll(), {"op": "stop_all"}),
])
def test_each_command_is_its_map_and_reads_back(command: Command, wire: dict[str, Any]) -> None:
    request = CommandRequest(12, command)
    assert msgpack.unpackb(encode(request)) == {"v": 1, "t": "command", "id": 12, **wire}
    assert decode(encode(request), CommandRequest) == request


@pytest.mark.parametrize(("fields", "reason"), [
    ({"op": "explode"}, "unknown op 'explode'"),
    ({}, "unknown op None"),
    ({"op": "trigger"}, "trigger needs a group name"),
    ({"op": "start", "group": 7}, "start needs a group name"),
])
def test_a_command_this_build_cannot_read_is_answered_bad_command_under_its_id(fields: dict[str, Any],
                                                                               reason: str) -> None:
    with pytest.raises(BadCommand, match=reason) as refused:
        decode(pack(envelope("command", id=13, **fields)), CommandRequest)
    assert refused.value.request_id == 13 and refused.value.code is ErrorCode.BAD_COMMAND


def test_a_command_without_an_id_has_nobody_to_answer() -> None:
    with pytest.raises(MessageError, match="command of the wrong shape"):
        decode(pack(envelope("command", op="start_all")), CommandRequest)


def test_replies_and_hello_are_their_maps() -> None:
    ok = Reply.success(12, {"group": "BATCH_HS", "sequence": 7})
    refused = Reply.failure(13, CommandError(ErrorCode.UNKNOWN_GROUP, "no group NOPE on KRCWO12ELOA101"))
    assert msgpack.unpackb(encode(ok)) == {"v": 1, "t": "reply", "id": 12, "ok": True,
                                           "result": {"group": "BATCH_HS", "sequence": 7}}
    assert msgpack.unpackb(encode(refused)) == {"v": 1, "t": "reply", "id": 13, "ok": False,
                                                "code": "unknown_group", "error": "no group NOPE on KRCWO12ELOA101"}
    assert decode(encode(ok), Reply) == ok and decode(encode(refused), Reply) == refused
    hello = Hello("KRCWO12ELOA101", ["FAST_1S"])
    assert msgpack.unpackb(encode(hello)) == {"v": 1, "t": "hello", "plc": "KRCWO12ELOA101", "groups": ["FAST_1S"]}
    assert decode(encode(hello), Hello) == hello


async def _link_and_poller(handler: Any) -> tuple[PollerLink, ControlLink, list[asyncio.Task[None]]]:
    endpoint = f"ipc://{short_tmp()}/control"
    ctx = zmq.asyncio.Context.instance()
    link = PollerLink(ctx, endpoint, timeout_s=0.5)
    link.start()
    poller = ControlLink(ctx, endpoint, "KRCWO12ELOA101", ["FAST_1S"], handler)
    tasks = [asyncio.create_task(poller.run())]
    for _ in range(200):  # the hello says the poller is there
        if link.connected("KRCWO12ELOA101"):
            break
        await asyncio.sleep(0.01)
    assert link.connected("KRCWO12ELOA101")
    return link, poller, tasks


async def _close(link: PollerLink, poller: ControlLink, tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    poller.close()
    await link.close()


def test_a_command_crosses_the_socket_and_its_reply_comes_back() -> None:
    seen: list[Command] = []

    async def handler(command: Command) -> dict[str, Any]:
        seen.append(command)
        if isinstance(command, StopGroup) and command.group == "NOPE":
            raise CommandError(ErrorCode.UNKNOWN_GROUP, "no group NOPE")
        if isinstance(command, TriggerGroup):
            await asyncio.sleep(5)  # a poller that never answers in time
        return {"group": getattr(command, "group", None)}

    async def scenario() -> None:
        link, poller, tasks = await _link_and_poller(handler)
        try:
            assert await link.command("KRCWO12ELOA101", StartGroup("FAST_1S")) == Reply(1, True, {"group": "FAST_1S"})
            refused = await link.command("KRCWO12ELOA101", StopGroup("NOPE"))
            assert (refused.ok, refused.code, refused.error) == (False, "unknown_group", "no group NOPE")
            with pytest.raises(PollerTimeout, match="did not answer trigger"):
                await link.command("KRCWO12ELOA101", TriggerGroup("FAST_1S"))
            with pytest.raises(PollerUnavailable):
                await link.command("KRCWO12ELOA999", StartAll())
            assert seen == [StartGroup("FAST_1S"), StopGroup("NOPE"), TriggerGroup("FAST_1S")]
            assert link.bad_frames == 0 and poller.bad_frames == 0
        finally:
            await _close(link, poller, tasks)

    asyncio.run(scenario())
