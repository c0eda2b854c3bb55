"""The gateway in-process: create_app with a TestClient on temporary ipc endpoints, and real stages' status.

The stages are real objects (BufferService, WriterService, PollerService)
whose figures are published through a real ``bus.Telemetry`` PUB to the
gateway's SUB, as the processes do; nothing of the plant runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import zmq
from fastapi.testclient import TestClient

from common import bus
from common.settings import Settings
from services.buffer.buffer_service import BufferService
from services.gateway.app import create_app
from services.poller.poller_service import PollerService
from services.writer.writer_service import WriterService
from tests.helpers import short_tmp, wait_for
from tests.integration.poller_harness import PLC, make_store

GROUPS = "FAST,KRTEST00PLC001,FIXED,1000,,,1\nHS,KRTEST00PLC001,HANDSHAKE,500,M900,M901,1\n"
TAGS = "".join(f"KRTEST00PLC001,{g},{g}_T{i},D{i},INT16,1,0,,\n" for g in ("FAST", "HS") for i in range(3))


@dataclass
class Stages:
    """Real stages, each with the Telemetry PUB it publishes its status on."""

    settings: Settings
    buffer: BufferService
    writer: WriterService
    poller: PollerService
    ctx: zmq.Context[Any]

    def publish(self, client: TestClient, stage: str, figures: Callable[[], Any], plc: str | None = None) -> None:
        """Publish ``figures()`` as ``stage`` until the gateway has it (a SUB misses what precedes its join)."""
        telemetry = bus.Telemetry(self.ctx, self.settings.telemetry_endpoint, stage, plc)
        topic = bus.status_topic(stage, plc).decode()
        store = client.app.state.telemetry  # type: ignore[attr-defined]
        before = store.stage(topic)

        def arrived() -> bool:
            telemetry.publish(**figures())
            now = store.stage(topic)
            return now is not None and now is not before

        try:
            wait_for(arrived, 5, interval=0.02, what=f"the {stage} status at the gateway")
        finally:
            telemetry.close()

    def publish_all(self, client: TestClient) -> None:
        self.publish(client, "buffer", self.buffer.figures)
        self.publish(client, "writer", self.writer.figures)
        self.publish(client, "poller", self.poller.figures, PLC)


@pytest.fixture
def stages() -> Iterator[Stages]:
    settings = make_store(short_tmp(), 1, GROUPS, TAGS)
    ctx: zmq.Context[Any] = zmq.Context()
    poller = PollerService.from_store(settings, PLC)
    poller.open()
    found = Stages(settings, BufferService(settings, ctx), WriterService(settings, ctx=ctx), poller, ctx)
    try:
        yield found
    finally:
        assert poller.queue is not None
        poller.queue.close()
        found.buffer.journal.close()
        found.buffer.ledger.close()
        found.writer.sink.close()
        ctx.destroy(linger=0)


@pytest.fixture
def client(stages: Stages) -> Iterator[TestClient]:
    with TestClient(create_app(stages.settings)) as test_client:
        yield test_client
