"""python -m services.simulator: one virtual-plc server per active PLC of the config store.

Each PLC gets a ``virtual-plc`` server (the third-party MC protocol
implementation from PyPI) on 127.0.0.1 at every port its connections use, and
a driver that rewrites its tags' values every 0.5 s through the project's own
MC client. For demos and tests, not for production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import replace

from virtual_plc import Memory, Server

from common import stage_lock
from common.config_store import model, open_store
from common.mc.client import PlcClient
from common.mc.errors import McError
from common.mc.frames import Frame
from common.runtime import setup_logging
from common.settings import Settings
from services.poller.link import plc_codec
from services.simulator.driver import drive_once, layout

log = logging.getLogger("simulator")
TICK_S = 0.5


async def drive(plc: model.Plc, tags: list[model.Tag], stop: asyncio.Event) -> None:
    # The driver is a client like the poller, with the PLC's own deviations (virtual-plc reads
    # hex device numbers as decimal in ASCII); it writes through port one, always over TCP.
    codec = plc_codec(plc, 2.0)
    encoding = codec.encoding
    client = PlcClient(plc.plc_code, "127.0.0.1", [plc.connection_ports[0]], replace(codec, frame=Frame.E3), 2.0)
    tick = 0
    while not stop.is_set():
        try:
            await drive_once(client, tags, tick, encoding)
            tick += 1
        except McError as error:
            log.warning("%s: driver write failed: %s", plc.plc_code, error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TICK_S)
    client.close()


def seed(memory: Memory, tags: list[model.Tag]) -> None:
    """Every tag's first value, before the server listens: no client ever sees an unwritten PLC."""
    words, bits = layout(tags, 0, constants=True)
    for name, cells in words.items():
        for number, value in cells.items():
            memory.write_words(name, number, [value])
    for name, cells in bits.items():
        for number, value in cells.items():
            memory.write_bits(name, number, [value])


async def main_async(settings: Settings) -> None:
    conn = open_store(settings.config_db)
    plcs = model.load_plcs(conn, active_only=True)
    tags = {p.plc_code: model.load_tags(conn, p.plc_code) for p in plcs}
    conn.close()
    servers: list[Server] = []
    for plc in plcs:
        memory = Memory()  # one PLC, one memory, whichever port a connection uses
        seed(memory, tags[plc.plc_code])
        for port in sorted(set(plc.connection_ports)):
            # virtual-plc in ASCII reads hex device numbers as decimal, always, and sends a random read's
            # double words low word first unless told otherwise: the simulated PLC is the one the row
            # describes (the sample plant's rows list both deviations, virtual-plc as it ships).
            order = "swapped" if "ascii_dwords_low_first" in plc.deviations else "client"
            server = Server("127.0.0.1", port, memory=memory, ascii_dword_order=order)
            server.start()
            servers.append(server)
            log.info("%s: virtual-plc listening on 127.0.0.1:%d (%s)", plc.plc_code, port, plc.protocol)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.gather(*(drive(p, tags[p.plc_code], stop) for p in plcs))
    finally:
        for server in servers:
            server.stop()
        log.info("stopped")


def main() -> None:
    setup_logging("simulator")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, "simulator")
    asyncio.run(main_async(settings))


if __name__ == "__main__":
    main()
