"""CURVE across hosts: an edge host (its own network namespace, a veth pair made here) against a buffer
in the root namespace over tcp://.

The edge sends PollingData with an allowed key (values arrive) and with a key
the buffer does not list (refused, counted, nothing of it in the ring); taps
on the edge with no key or an unlisted key see nothing of the live PUB while
an allowed tap does. Where the machine refuses namespaces (not root, no
``ip``), the same runs over 127.0.0.1 and says so in its skip-free output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq

from common import curve
from common.settings import Settings
from services.buffer.buffer_service import BufferService
from tests.helpers import ROOT, free_port, scada, scada_env, short_tmp, wait_for


@dataclass
class EdgeHost:
    address: str  # where the buffer binds, reachable from the edge
    run: list[str]  # prefix that runs a command on the edge


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def edge() -> Iterator[EdgeHost]:
    """A namespace ``jss<pid>`` with veth 10.231.<n>.2/30; the root side 10.231.<n>.1; all removed after."""
    n = os.getpid() % 250 + 1
    ns, root_end, edge_end = f"jss{os.getpid()}", f"vjs{os.getpid()}a", f"vjs{os.getpid()}b"
    if shutil.which("ip") is None or os.geteuid() != 0:
        print("network namespaces not available (needs root and iproute2): edge host on 127.0.0.1")
        yield EdgeHost("127.0.0.1", [])
        return
    try:
        _ip("netns", "add", ns)
    except subprocess.CalledProcessError as error:
        print(f"ip netns refused ({error.stderr.strip()}): edge host on 127.0.0.1")
        yield EdgeHost("127.0.0.1", [])
        return
    try:
        _ip("link", "add", root_end, "type", "veth", "peer", "name", edge_end)
        _ip("link", "set", edge_end, "netns", ns)
        _ip("addr", "add", f"10.231.{n}.1/30", "dev", root_end)
        _ip("link", "set", root_end, "up")
        _ip("netns", "exec", ns, "ip", "addr", "add", f"10.231.{n}.2/30", "dev", edge_end)
        _ip("netns", "exec", ns, "ip", "link", "set", edge_end, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield EdgeHost(f"10.231.{n}.1", ["ip", "netns", "exec", ns])
    finally:
        subprocess.run(["ip", "link", "del", root_end], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def test_edge_host_over_curve(edge: EdgeHost) -> None:
    base = short_tmp()
    central_keys, edge_keys = base / "central-keys", base / "edge-keys"
    ingest, live = f"tcp://{edge.address}:{free_port()}", f"tcp://{edge.address}:{free_port()}"
    # Keys as the README's two-host deployment makes them, with the project's own command.
    central_env = scada_env(base, SCADA_KEYS_DIR=str(central_keys))
    edge_env = scada_env(base, SCADA_KEYS_DIR=str(edge_keys), SCADA_INGEST_ENDPOINT=ingest,
                         SCADA_LIVE_ENDPOINT=live, SCADA_RUN_DIR=str(base / "edge-run"))
    scada(central_env, "keys", "create", "buffer")
    for name in ("poller", "tap", "stranger"):
        scada(edge_env, "keys", "create", name)
    scada(central_env, "keys", "allow", str(edge_keys / "poller.key"))
    scada(central_env, "keys", "allow", str(edge_keys / "tap.key"))
    shutil.copy(central_keys / "buffer.key", edge_keys / "buffer.key")
    assert (central_keys.stat().st_mode & 0o777) == 0o700
    assert (central_keys / "buffer.key_secret").stat().st_mode & 0o777 == 0o600
    listing = scada(central_env, "keys", "list").stdout
    assert "poller" in listing and "buffer" in listing
    secret_text = (central_keys / "buffer.key_secret").read_text()
    assert all(line.split("=", 1)[1].strip().strip('"') not in listing
               for line in secret_text.splitlines() if "secret-key" in line)

    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        scada_keys_dir=central_keys, scada_ingest_endpoint=ingest, scada_live_endpoint=live,
                        _env_file=None)
    settings.make_dirs()
    buffer = BufferService(settings, zmq.Context(), security=curve.for_stage(settings, "buffer"))
    stop = threading.Event()
    thread = threading.Thread(target=buffer.run, args=(stop,), daemon=True)
    thread.start()

    def on_edge(*args: str, key: str, **extra: str) -> subprocess.Popen[str]:
        env = {**edge_env, "ZMQ_KEY_NAME": key, **extra}
        return subprocess.Popen([*edge.run, sys.executable, *args], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    tap_cmd = ["-m", "services.cli.main", "tap", live, "--topic", "data.", "--count", "1", "--timeout", "10"]
    taps = {"allowed": on_edge(*tap_cmd, key="tap"), "unlisted": on_edge(*tap_cmd, key="stranger"),
            "no key": on_edge(*tap_cmd, key="tap", ZMQ_ALLOW_INSECURE_TCP="true")}
    try:
        stranger = on_edge("-m", "tests.integration.curve_pusher", "KRCWO12ELOA999", "20", key="stranger")
        wait_for(lambda: buffer.security.refused().get("ingest", 0) > 0, 15, what="the unlisted key refused")
        assert stranger.wait(30) == 0, stranger.stderr.read() if stranger.stderr else ""
        poller = on_edge("-m", "tests.integration.curve_pusher", "KRCWO12ELOA101", "40", key="poller")
        wait_for(lambda: buffer.ring.received == 400, 20, what="400 values from the allowed poller")
        assert poller.wait(30) == 0
        outputs = {name: tap.communicate(timeout=30) for name, tap in taps.items()}
    finally:
        for proc in taps.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stop.set()
        thread.join(10)
    assert {b.plc_code for b in buffer.ring.blocks} == {"KRCWO12ELOA101"}  # nothing of the stranger's
    assert buffer.figures()["refused_connections"]["ingest"] >= 1
    assert buffer.figures()["refused_connections"]["live"] >= 1  # the unlisted tap
    assert outputs["allowed"][0].count('"topic": "data.KRCWO12ELOA101') == 1, outputs["allowed"]
    assert outputs["unlisted"][0] == "", outputs["unlisted"]
    assert outputs["no key"][0] == "", outputs["no key"]
    assert "ZMQ_ALLOW_INSECURE_TCP=true" in outputs["no key"][1]


def test_a_stage_on_tcp_without_keys_refuses_to_start() -> None:
    base = short_tmp()
    env = scada_env(base, SCADA_INGEST_ENDPOINT=f"tcp://127.0.0.1:{free_port()}")
    done = subprocess.run([sys.executable, "-m", "services.buffer"], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if "refusing to start" in line]
    assert len(lines) == 1 and "scada keys create buffer" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_insecure_tcp_is_allowed_when_asked_and_warned_at_start() -> None:
    base = short_tmp()
    env = scada_env(base, SCADA_INGEST_ENDPOINT=f"tcp://127.0.0.1:{free_port()}", ZMQ_ALLOW_INSECURE_TCP="true")
    proc = subprocess.Popen([sys.executable, "-m", "services.buffer"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        seen: list[str] = []
        for line in proc.stderr:
            seen.append(line)
            if "WARNING" in line and "ZMQ_ALLOW_INSECURE_TCP=true" in line:
                break
        assert any("without CURVE" in line for line in seen), seen
        assert proc.poll() is None  # warned, and going on: not refused
    finally:
        proc.terminate()
        proc.wait(20)


def test_ipc_needs_no_keys(tmp_path: Path) -> None:
    settings = Settings(scada_data_dir=tmp_path, scada_run_dir=tmp_path / "run", _env_file=None)
    for stage in curve.STAGE_SOCKETS:
        assert curve.for_stage(settings, stage).plain
