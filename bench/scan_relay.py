"""A PLC that serves one MC request per scan: a delaying TCP relay in front of a simulator.

A Q-series CPU serves MC requests in its END processing, about one per scan
with the default service setting, whatever the request's size and however
many connections are open. The relay models that in front of any MC server
(here aslmp's simulator, which serves 0406): every request, from any
connection, waits for the next END that no other request has taken (ENDs
fall every ``scan_s`` on a fixed clock), then goes to the simulator, and its
reply comes back. It frames requests only to know where one ends (3E/4E,
binary or ASCII); it never answers anything itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from common.mc.frames import Encoding, Frame, ReplySplitter


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One whole request frame: subheader, (4E serial), route, length, then ``length`` bytes."""
    first = await reader.readexactly(1)
    encoding = Encoding.ASCII if first == b"5" else Encoding.BINARY
    rest = await reader.readexactly(2 * encoding.scale - 1)
    head = first + rest
    frame = Frame.E4 if head in (b"\x54\x00", b"5400") else Frame.E3
    header = (9 + frame.serial_bytes) * encoding.scale
    head += await reader.readexactly(header - len(head))
    length = encoding.read_number(head, header - 2 * encoding.scale, 2)  # in bytes on the wire, either encoding
    return head + await reader.readexactly(length)


class ScanRelay:
    def __init__(self, target: tuple[str, int], scan_s: float) -> None:
        self.target, self.scan_s = target, scan_s
        self.served = 0
        self._next_end = 0.0
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, host, 0)
        return host, int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _end_of_scan(self) -> None:
        """Wait for the next END processing no other request has taken (one request per scan)."""
        now = asyncio.get_running_loop().time()
        end = max(math.ceil(now / self.scan_s) * self.scan_s, self._next_end)
        self._next_end = end + self.scan_s  # taken before the await: one loop, no lock needed
        await asyncio.sleep(end - now)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        splitter: ReplySplitter | None = None
        try:
            while True:
                request = await read_request(reader)
                if splitter is None:
                    encoding = Encoding.ASCII if request[:1] == b"5" else Encoding.BINARY
                    e4 = request[:2 * encoding.scale] in (b"\x54\x00", b"5400")
                    splitter = ReplySplitter(encoding, Frame.E4 if e4 else Frame.E3)
                await self._end_of_scan()
                up_writer.write(request)
                replies: list[bytes] = []
                while not replies:
                    chunk = await up_reader.read(65536)
                    if not chunk:
                        raise ConnectionError("simulator closed")
                    replies = splitter.feed(chunk)
                self.served += 1
                writer.write(b"".join(replies))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()
