"""WebSocket clients that never read cannot hold up the others, and leave no memory behind.

The gateway runs in its own process (its memory is measured); the test plays
the buffer, publishing a ~200 KB snapshot of latest values, 200 raw sockets
complete the WebSocket handshake and then never read (with small receive
buffers, so the gateway's sends really block), and 10 clients read.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import zmq
from websockets.sync.client import connect

from common import bus
from common.times import now_ms
from common.wire.envelope import encode
from common.wire.ingest import PollingData, TagValue
from tests.gateway_run import GatewayProcess, gateway_settings
from tests.helpers import short_tmp, wait_for

pytestmark = pytest.mark.timeout(180)

PLC = "KRTEST00PLC001"
TAGS = 2000  # ~200 KB of JSON per message
HOLD_S = 30.0


class Publisher:
    """The buffer's live PUB: a snapshot of one group every half second."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pub: zmq.Socket[bytes] = bus.make_socket(zmq.Context.instance(), zmq.PUB, bind=self.endpoint, linger=0)
        seq = 0
        while not self.stop.is_set():
            seq += 1
            values = [TagValue(f"D{i}", seq * 1000 + i, "GOOD") for i in range(TAGS)]
            data = PollingData(PLC, "BIG", seq, now_ms(), 1.0, values)
            pub.send_multipart([bus.data_topic(PLC, "BIG"), encode(data)])
            self.stop.wait(0.5)
        pub.close(linger=0)


class Reader:
    """A dashboard that reads: records (arrival ms, sent_ms) of every message."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.got: list[tuple[int, int]] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with connect(f"ws://127.0.0.1:{self.port}/ws/values", max_size=None, open_timeout=10) as ws:
                while not self.stop.is_set():
                    try:
                        text = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    body: dict[str, Any] = json.loads(text)
                    self.got.append((int(time.time() * 1000), int(body["sent_ms"])))
        except BaseException as error:  # reported by the test
            self.error = error


def silent_client(port: int) -> socket.socket:
    """A socket that completes the WebSocket handshake, then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window stays small
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/values HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:  # one byte at a time: nothing after the headers is read
        chunk = sock.recv(1)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Drain what the server sent; True once it has closed (EOF or reset)."""
    sock.setblocking(False)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_silent_clients_hold_up_nobody_and_leave_no_memory() -> None:
    settings = gateway_settings(short_tmp())
    publisher = Publisher(settings.live_endpoint)
    silent: list[socket.socket] = []
    readers: list[Reader] = []
    try:
        with GatewayProcess(settings) as gateway:
            readers = [Reader(gateway.port) for _ in range(10)]
            wait_for(lambda: all(len(r.got) >= 5 for r in readers), 30, what="5 messages to every reader")
            baseline = gateway.rss_kb()

            silent = [silent_client(gateway.port) for _ in range(200)]
            start_ms = int(time.time() * 1000)
            time.sleep(HOLD_S)
            end_ms = int(time.time() * 1000)
            peak = gateway.rss_kb()

            for reader in readers:
                assert reader.error is None, reader.error
                window = [(arrived, sent) for arrived, sent in reader.got if start_ms <= sent <= end_ms - 1500]
                late = [arrived - sent for arrived, sent in window if arrived - sent > 1500]
                assert not late, f"messages more than 1.5 s after their time: {late}"
                sent_times = [sent for _, sent in window]
                gaps = [b - a for a, b in itertools.pairwise(sent_times)]
                assert len(window) >= HOLD_S - 3, f"only {len(window)} messages in {HOLD_S} s"
                assert max(gaps) < 1500, f"a second without a message: gaps {gaps}"

            # every silent client was closed by the gateway, not left holding its sends
            wait_for(lambda: all(closed_by_server(s) for s in silent), 20, what="every silent client closed")
            metrics = httpx.get(f"{gateway.url}/metrics", timeout=10).text
            assert 'scada_ws_slow_clients_closed_total{endpoint="values"} 200.0' in metrics, metrics[-400:]
            for sock in silent:
                sock.close()
            silent.clear()
            settled = wait_for(lambda: (rss := gateway.rss_kb()) <= baseline * 1.10 and rss, 30,
                               what=f"memory back within 10% of the baseline {baseline} kB (peak {peak} kB)")
            print(f"gateway RSS: baseline {baseline} kB, with 200 silent clients {peak} kB, after {settled} kB")
            assert all(r.thread.is_alive() and r.error is None for r in readers)
    finally:
        for reader in readers:
            reader.stop.set()
        for reader in readers:
            reader.thread.join(5)
        for sock in silent:
            sock.close()
        publisher.stop.set()
        publisher.thread.join(5)
