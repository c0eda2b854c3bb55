"""One copy of a stage per run directory; strays found by proof, not by name; live ipc endpoints kept."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

from common import bus, stage_lock
from tests.helpers import ROOT, short_tmp

HOLDER = "import sys, time; from pathlib import Path; from common import stage_lock; " \
         "stage_lock.hold(Path(sys.argv[1]), sys.argv[2]); print('held', flush=True); time.sleep(60)"


def holder(run_dir: Path, stage: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), stage], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_copy_exits_with_a_line_naming_the_holder(tmp_path: Path) -> None:
    first = holder(tmp_path, "buffer")
    try:
        second = subprocess.run([sys.executable, "-c", HOLDER, str(tmp_path), "buffer"], cwd=ROOT, text=True,
                                capture_output=True, timeout=30)
        assert second.returncode == stage_lock.EXIT_ALREADY_RUNNING
        assert f"another buffer is already running for {tmp_path} (pid {first.pid} holds" in second.stderr
        other = holder(tmp_path, "writer")  # another stage of the same run directory is no conflict
        other.kill()
        other.wait()
    finally:
        first.kill()
        first.wait()
    again = holder(tmp_path, "buffer")  # the kernel let the lock go with its holder: no stale lock
    again.kill()
    again.wait()


def test_strays_are_the_lock_holders_proved_by_proc_locks_and_are_stopped(tmp_path: Path) -> None:
    procs = [holder(tmp_path, "buffer"), holder(tmp_path, "poller_KRCWO12ELOA101")]
    (tmp_path / "writer.lock").write_text(f"{procs[0].pid}\n")  # a pid in a lock nobody holds proves nothing
    try:
        strays = stage_lock.stray_stages(tmp_path)
        assert sorted((s.stage, s.pid) for s in strays) == sorted(
            [("buffer", procs[0].pid), ("poller_KRCWO12ELOA101", procs[1].pid)])
        assert stage_lock.stop_strays(strays, grace_s=10) == []  # SIGTERM was enough
        for proc in procs:
            assert proc.wait(5) != 0
        assert stage_lock.stray_stages(tmp_path) == []
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_a_live_ipc_endpoint_is_never_taken_over() -> None:
    ctx = zmq.Context()
    endpoint = f"ipc://{short_tmp()}/lease.sock"
    first = bus.make_socket(ctx, zmq.ROUTER, bind=endpoint)
    try:
        with pytest.raises(bus.EndpointInUse):
            bus.make_socket(ctx, zmq.ROUTER, bind=endpoint)
    finally:
        first.close(linger=0)
        ctx.term()
    stale = f"ipc://{short_tmp()}/ingest.sock"
    gone = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    gone.bind(stale[len("ipc://"):])
    gone.close()  # the file stays, nobody listens: what a killed process leaves
    ctx = zmq.Context()
    second = bus.make_socket(ctx, zmq.PULL, bind=stale)
    second.close(linger=0)
    ctx.term()


def test_scada_strays_leaves_the_stages_of_a_live_supervisord_alone(tmp_path: Path) -> None:
    from tests.helpers import scada, scada_env

    env = scada_env(tmp_path)
    run_dir = Path(env["SCADA_RUN_DIR"])
    proc = holder(run_dir, "buffer")
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(run_dir / "supervisor.sock"))
    listening.listen(1)  # a supervisord answers on the run directory's socket
    try:
        result = scada(env, "strays", "--stop", check=False)
        assert result.returncode == 0 and "supervisord is running" in result.stdout
        assert proc.poll() is None
        listening.close()  # ...and once it is gone, the same stage is a stray
        result = scada(env, "strays", check=False)
        assert result.returncode == 1 and f"buffer (pid {proc.pid})" in result.stdout
        assert scada(env, "strays", "--stop", check=False).returncode == 0
        assert proc.wait(10) != 0
    finally:
        listening.close()
        proc.kill()
        proc.wait()
