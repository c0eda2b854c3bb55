"""python -m services.simulator: one virtual-plc server per active PLC of the config store.

Each PLC gets a ``virtual-plc`` server (the third-party MC protocol
implementation from PyPI) on 127.0.0.1 at every port its connections use, and
a driver that rewrites its tags' values every 0.5 s through the project's own
MC client. The simulator follows the store: a PLC added (or activated) while
it runs is served within a second, a removed one is no longer served, and a
PLC's changed tags are driven from the next tick. For demos and tests, not
for production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
from dataclasses import replace

from virtual_plc import Memory, Server

from common import stage_lock
from common.config_store import model
from common.config_store.watch import StoreWatch
from common.mc.client import PlcClient
from common.mc.errors import McError
from common.mc.frames import Frame
from common.runtime import setup_logging
from common.settings import Settings
from services.poller.link import plc_codec
from services.simulator.driver import drive_once, layout

log = logging.getLogger("simulator")
TICK_S = 0.5
WATCH_S = 1.0


class SimulatedPlc:
    """One PLC of the store: its memory, a virtual-plc server at each port, the task driving its values."""

    def __init__(self, plc: model.Plc, tags: list[model.Tag], stop: asyncio.Event) -> None:
        self.plc = plc
        self.tags = tags  # replaced when the store's tags of this PLC change: the driver reads them each tick
        self.servers: list[Server] = []
        memory = Memory()  # one PLC, one memory, whichever port a connection uses
        seed(memory, tags)
        for port in sorted(set(plc.connection_ports)):
            # virtual-plc in ASCII reads hex device numbers as decimal, always, and sends a random read's
            # double words low word first unless told otherwise: the simulated PLC is the one the row
            # describes (the sample plant's rows list both deviations, virtual-plc as it ships).
            order = "swapped" if "ascii_dwords_low_first" in plc.deviations else "client"
            server = Server("127.0.0.1", port, memory=memory, ascii_dword_order=order)
            server.start()
            self.servers.append(server)
            log.info("%s: virtual-plc listening on 127.0.0.1:%d (%s)", plc.plc_code, port, plc.protocol)
        self.stop = asyncio.Event()
        self._all_stop = stop
        self.task = asyncio.create_task(self.drive())

    async def drive(self) -> None:
        # The driver is a client like the poller, with the PLC's own deviations (virtual-plc reads
        # hex device numbers as decimal in ASCII); it writes through port one, always over TCP.
        plc = self.plc
        codec = plc_codec(plc, 2.0)
        encoding = codec.encoding
        client = PlcClient(plc.plc_code, "127.0.0.1", [plc.connection_ports[0]], replace(codec, frame=Frame.E3), 2.0)
        tick = 0
        while not (self.stop.is_set() or self._all_stop.is_set()):
            try:
                await drive_once(client, self.tags, tick, encoding)
                tick += 1
            except McError as error:
                log.warning("%s: driver write failed: %s", plc.plc_code, error)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self.stop.wait()
        client.close()

    async def close(self) -> None:
        self.stop.set()
        await self.task
        for server in self.servers:
            server.stop()
        log.info("%s: stopped", self.plc.plc_code)


def seed(memory: Memory, tags: list[model.Tag]) -> None:
    """Every tag's first value, before the server listens: no client ever sees an unwritten PLC."""
    words, bits = layout(tags, 0, constants=True)
    for name, cells in words.items():
        for number, value in cells.items():
            memory.write_words(name, number, [value])
    for name, cells in bits.items():
        for number, value in cells.items():
            memory.write_bits(name, number, [value])


def read_plant(store: StoreWatch) -> tuple[list[model.Plc], dict[str, list[model.Tag]]] | None:
    """The active PLCs and their tags, if the store changed since the last look (blocking)."""
    if not store.changed():
        return None
    try:
        plcs = model.load_plcs(store.conn, active_only=True)
        return plcs, {p.plc_code: model.load_tags(store.conn, p.plc_code) for p in plcs}
    except BaseException:
        store.forget()
        raise


async def follow(store: StoreWatch, running: dict[str, SimulatedPlc], stop: asyncio.Event) -> None:
    """Serve the store's active PLCs: one added while the simulator runs is served within WATCH_S."""
    while not stop.is_set():
        try:
            plant = await asyncio.to_thread(read_plant, store)
        except sqlite3.Error as error:
            log.warning("config store not read (%s); serving what it held", error)
            plant = None
        if plant is not None:
            plcs, tags = plant
            wanted = {p.plc_code: p for p in plcs}
            for code in [c for c, sim in running.items() if wanted.get(c) != sim.plc]:
                await running.pop(code).close()  # removed, deactivated, or its row changed (ports, deviations)
            for code, plc in wanted.items():
                if code in running:
                    running[code].tags = tags[code]
                else:
                    try:
                        running[code] = SimulatedPlc(plc, tags[code], stop)
                    except OSError as error:  # a port taken: the others are served all the same
                        log.warning("%s: not served: %s", code, error)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WATCH_S):
                await stop.wait()


async def main_async(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    store = StoreWatch(settings.config_db)
    running: dict[str, SimulatedPlc] = {}
    try:
        await follow(store, running, stop)
    finally:
        for sim in running.values():
            await sim.close()
        store.close()
        log.info("stopped")


def main() -> None:
    setup_logging("simulator")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, "simulator")
    asyncio.run(main_async(settings))


if __name__ == "__main__":
    main()
