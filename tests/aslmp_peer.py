"""aslmp's conformance simulator (PEDANTIC: the reference manual as written) as a second MC peer.

Used only for its simulator, in tests and benches; the project's client stays
its own. One simulator is one CPU: every entry (TCP/UDP x binary/ASCII x
3E/4E) shares its device memory, shaped here like a Q-series CPU (every
device family the project knows, up to 65,536 points each), and it runs on
an event loop of its own in a thread so that synchronous tests and other
event loops can use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aslmp.profile import Encoding as PeerEncoding
from aslmp.testing import PEDANTIC, DeviceMemory, Entry, MemoryRange, Pathology, PlcSimulator
from aslmp.wire.frames import FrameType

from common.mc.commands import Codec
from common.mc.devices import DEVICES
from common.mc.frames import Encoding, Frame

#: The peer's names for the retentive timer devices.
PEER_NAMES = {"SS": "STS", "SC": "STC", "SN": "STN"}
POINTS = 65536


@dataclass(frozen=True)
class Link:
    """One way to reach the peer: transport, encoding, frame."""

    transport: str  # TCP or UDP
    encoding: Encoding
    frame: Frame

    @property
    def name(self) -> str:
        return f"{self.transport}-{self.encoding.value}-{self.frame.value}".lower()

    def codec(self, **options: Any) -> Codec:
        return Codec(self.encoding, frame=self.frame, **options)

    def entry(self) -> Entry:
        return Entry(name=self.name, protocol="tcp" if self.transport == "TCP" else "udp",
                     encoding=PeerEncoding.BINARY if self.encoding is Encoding.BINARY else PeerEncoding.ASCII_XY_HEX,
                     frame=FrameType.THREE_E if self.frame is Frame.E3 else FrameType.FOUR_E, max_connections=8)


LINKS = tuple(Link(t, e, f) for t in ("TCP", "UDP") for e in (Encoding.BINARY, Encoding.ASCII) for f in Frame)


def peer_name(device: str) -> str:
    return PEER_NAMES.get(device, device)


def q_series_memory() -> DeviceMemory:
    return DeviceMemory(MemoryRange(peer_name(d.name), 0, min(d.maximum, POINTS - 1)) for d in DEVICES.values())


class Peer:
    """A running simulator; ``memory`` is its device memory (touch it only between requests)."""

    def __init__(self, simulator: PlcSimulator, memory: DeviceMemory, loop: asyncio.AbstractEventLoop) -> None:
        self.simulator, self.memory, self.loop = simulator, memory, loop

    def address(self, link: Link) -> tuple[str, int]:
        return self.simulator.address(link.name)


@contextmanager
def aslmp_peer(links: tuple[Link, ...] = LINKS, pathology: Pathology | None = None) -> Iterator[Peer]:
    memory = q_series_memory()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="aslmp-peer")
    thread.start()
    simulator = PlcSimulator(target=PEDANTIC, entries=[link.entry() for link in links], memory=memory,
                             pathology=pathology)
    try:
        asyncio.run_coroutine_threadsafe(simulator.start(), loop).result(10)
        yield Peer(simulator, memory, loop)
    finally:
        asyncio.run_coroutine_threadsafe(simulator.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
