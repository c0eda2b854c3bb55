"""The gateway alone, on port 0 and temporary ipc endpoints: in a thread, or in its own process
(when the test measures its memory). The test plays the other stages on those endpoints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from common.settings import Settings
from services.gateway.app import create_app
from services.gateway.server import PROCESS_ENV, uvicorn_config
from tests.helpers import ROOT


def gateway_settings(base: Path, **extra: Any) -> Settings:
    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        _env_file=None, **extra)
    settings.make_dirs()
    return settings


def _listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class GatewayThread:
    """create_app under uvicorn (the gateway's own settings) in a thread of the test process."""

    def __init__(self, settings: Settings) -> None:
        self.sock = _listening_socket()
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn_config(create_app(settings)))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> GatewayThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the gateway did not start within 15 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


_SERVE = """
import socket, sys, uvicorn
from common.settings import Settings
from services.gateway.app import create_app
from services.gateway.server import uvicorn_config
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn_config(create_app(Settings.load()))).run(sockets=[sock])
"""


class GatewayProcess:
    """The gateway in its own process (so its memory is its own), with the settings' directories."""

    def __init__(self, settings: Settings) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCADA_", "ORACLE_", "BUFFER_"))}
        env.update({"SCADA_DATA_DIR": str(settings.scada_data_dir), "SCADA_RUN_DIR": str(settings.scada_run_dir),
                    "SCADA_LOG_DIR": str(settings.scada_log_dir), "PYTHONUNBUFFERED": "1",
                    **PROCESS_ENV})  # as supervisord.conf runs it
        self.log = (settings.scada_log_dir / "gateway.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVE], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=self.log)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        deadline = time.monotonic() + 30
        while True:  # the port is bound before uvicorn listens on it
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise AssertionError("the gateway did not listen within 30 s") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
