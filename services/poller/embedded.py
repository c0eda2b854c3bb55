"""A poller in a thread of another process: for tests and benchmarks, not for production."""

from __future__ import annotations

import asyncio
import threading
import time

from common.settings import Settings
from common.wire.status import GroupFigures
from services.poller.poller_service import PollerService


class EmbeddedPoller:
    def __init__(self, settings: Settings, plc_code: str) -> None:
        self.service = PollerService.from_store(settings, plc_code)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"poller-{plc_code}")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            self._ready.set()
            await self.service.run(self.stop)

        asyncio.run(main())

    def start(self) -> EmbeddedPoller:
        self._thread.start()
        self._ready.wait(5)
        return self

    def end(self, timeout: float = 5.0) -> float:
        """Stop as SIGTERM would; returns how long it took."""
        assert self.loop is not None and self.stop is not None
        started = time.monotonic()
        self.loop.call_soon_threadsafe(self.stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the poller did not stop")
        return time.monotonic() - started

    def figures(self, group: str) -> GroupFigures:
        return self.service.groups[group].figures()
