"""HANDSHAKE groups triggered by a PLC bit.

The PLC raises ``trigger_device`` when it has data ready; the poller reads
the group, hands the data on, and raises ``ack_device``; the PLC drops the
trigger, and the poller drops the ack. With an ack device the ack itself
remembers that a request was served, so a poller restarted mid-handshake
neither misses a pending request nor reads one twice. The PLC holds that
state, not the poller: the ack is read again after a failed read or a
reconnect (``forget``), and at every look while the trigger is high, so a PLC
restarted mid-handshake (trigger raised again, ack cleared by the restart) is
served rather than left waiting for an ack the poller thinks it gave. Without one, the
poller reads on each rising edge it sees (the first look only learns the
level, so a restart never reads twice).

Bit I/O: a bit device is read and written in bit units; a bit of a word
(``D100.0``) is read with the word and written by read-modify-write.
"""

from __future__ import annotations

from common.mc.client import PlcClient
from common.mc.commands import BatchRead, BatchWrite, DevicePoint
from common.mc.devices import DeviceAddress, Unit, parse_address


async def read_bit(client: PlcClient, address: DeviceAddress) -> int:
    point = DevicePoint(address.device, address.number)
    if address.device.is_bit:
        reply = await client.execute(BatchRead(point, 1, Unit.BIT))
        assert isinstance(reply, list)
        return reply[0]
    reply = await client.execute(BatchRead(point, 1))
    assert isinstance(reply, list) and address.bit is not None
    return (reply[0] >> address.bit) & 1


async def write_bit(client: PlcClient, address: DeviceAddress, value: int) -> None:
    point = DevicePoint(address.device, address.number)
    if address.device.is_bit:
        await client.execute(BatchWrite(point, (value,), Unit.BIT))
        return
    reply = await client.execute(BatchRead(point, 1))
    assert isinstance(reply, list) and address.bit is not None
    mask = 1 << address.bit
    word = (reply[0] | mask) if value else (reply[0] & ~mask)
    await client.execute(BatchWrite(point, (word,)))


class TriggerWatch:
    """The handshake state of one group; ``step`` is called at the group's interval."""

    def __init__(self, trigger: str, ack: str) -> None:
        self.trigger = parse_address(trigger)
        self.ack = parse_address(ack) if ack else None
        self.acked: bool | None = None  # unknown until read from the PLC
        self.last_trigger: int | None = None

    def forget(self) -> None:
        """The connection failed or was made again: what the PLC holds is read at the next look."""
        self.acked = None

    async def should_read(self, client: PlcClient) -> bool:
        """Look at the trigger (and the ack); True when a request is waiting to be served."""
        level = await read_bit(client, self.trigger)
        if self.ack is not None:
            if self.acked is None or level:
                # While the PLC asks, its ack bit says whether we answered -- not our memory of it.
                self.acked = bool(await read_bit(client, self.ack))
            if not level and self.acked:
                await write_bit(client, self.ack, 0)  # the PLC saw our ack and dropped its trigger
                self.acked = False
            return bool(level) and not self.acked
        rising = self.last_trigger == 0 and level == 1
        self.last_trigger = level
        return rising

    async def served(self, client: PlcClient) -> None:
        """The request was read and handed on: acknowledge it."""
        if self.ack is not None:
            await write_bit(client, self.ack, 1)
            self.acked = True
