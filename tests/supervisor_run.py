"""A real supervisord in the foreground on a temporary config, for tests."""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from tests.disk_full import mounted_tmpfs
from tests.helpers import ROOT, sample_on_free_ports, scada, scada_env, short_tmp, wait_for


class Supervisor:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.socket = Path(env["SCADA_RUN_DIR"]) / "supervisor.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pollers_conf: str | None = None

    def start(self) -> None:
        """With ``pollers_conf`` set, the pollers' include is that text instead of what ``scada supervisor-conf``
        writes."""
        for key in ("SCADA_DATA_DIR", "SCADA_RUN_DIR", "SCADA_LOG_DIR"):
            Path(self.env[key]).mkdir(parents=True, exist_ok=True, mode=0o700)
        scada(self.env, "supervisor-conf")
        if self.pollers_conf is not None:
            (Path(self.env["SCADA_RUN_DIR"]) / "pollers.conf").write_text(self.pollers_conf, encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(ROOT / "supervisord.conf")],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.socket.exists, 15, what="supervisor socket")

    @property
    def rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def states(self) -> dict[str, str]:
        return {(f"{p['group']}:{p['name']}" if p["group"] != p["name"] else p["name"]): p["statename"]
                for p in self.rpc.supervisor.getAllProcessInfo()}

    def pids(self) -> list[int]:
        return [p["pid"] for p in self.rpc.supervisor.getAllProcessInfo() if p["pid"]]

    def pids_by_name(self) -> dict[str, int]:
        return {(f"{p['group']}:{p['name']}" if p["group"] != p["name"] else p["name"]): p["pid"]
                for p in self.rpc.supervisor.getAllProcessInfo()}

    def pollers(self) -> list[str]:
        """The poller programs (``poller-<PLC code>``, one per active PLC)."""
        return sorted(n for n in self.states() if n.startswith("poller-"))

    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(ROOT / "supervisord.conf"),
             "-s", f"unix://{self.socket}", *args],
            cwd=ROOT, env=self.env, text=True, capture_output=True, timeout=60)
        return result.stdout + result.stderr

    def wait_running(self, timeout: float = 30) -> dict[str, str]:
        def all_running() -> dict[str, str] | None:
            try:
                states = self.states()
            except (OSError, xmlrpc.client.Fault):
                return None
            return states if states and all(s == "RUNNING" for s in states.values()) else None

        result: dict[str, str] = wait_for(all_running, timeout, what="every program RUNNING")
        return result

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        time.sleep(0.2)


def _gone(pid: int) -> bool:
    return not _alive(pid)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def running_prepared_plant(prepare: Callable[[Path], object],
                           **extra_env: str) -> Iterator[tuple[Supervisor, dict[str, str]]]:
    """As running_plant; ``prepare`` is called with the folder of the plant's CSV files before they are
    imported (to change them)."""
    with running_plant(_prepare=prepare, **extra_env) as running:  # type: ignore[arg-type]
        yield running


@contextmanager
def running_plant(data_tmpfs_mb: int | None = None, **extra_env: str) -> Iterator[tuple[Supervisor, dict[str, str]]]:
    """The sample plant on free ports, every stage under a foreground supervisord; all stopped after.

    ``data_tmpfs_mb``: SCADA_DATA_DIR (journals, ledger, historian, config store) on a tmpfs of that
    size, so that a test can fill it (raises tests.disk_full.MountRefused where mounting is refused).
    """
    prepare: Callable[[Path], object] | None = extra_env.pop("_prepare", None)  # type: ignore[assignment]
    base = short_tmp()
    env = scada_env(base, **extra_env)
    with contextlib.ExitStack() as stack:
        if data_tmpfs_mb is not None:
            stack.enter_context(mounted_tmpfs(Path(env["SCADA_DATA_DIR"]), data_tmpfs_mb))
        sample_on_free_ports(base / "csv")
        if prepare is not None:
            prepare(base / "csv")
        scada(env, "db", "init")
        scada(env, "db", "import", str(base / "csv"))
        sup = Supervisor(env)
        sup.start()
        try:
            yield sup, env
        finally:
            pids: list[int] = []
            with contextlib.suppress(OSError):
                pids = sup.pids()
            sup.stop()
            for pid in pids:  # every process supervisord started has ended
                wait_for(functools.partial(_gone, pid), 15, what=f"pid {pid} to exit")
