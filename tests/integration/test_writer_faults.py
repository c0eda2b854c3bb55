"""The writer under faults of the data itself and of the disk: never a crash loop, nothing lost."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from common.historian import sqlite_sink
from common.historian.rows import Row
from common.historian.sink import WriteResult
from common.historian.sqlite_sink import SqliteSink
from common.settings import Settings
from common.wire.block import Block
from services.buffer.buffer_service import BufferService
from services.gateway.routes import buffer as buffer_routes
from services.gateway.telemetry import StageStatus
from services.writer import writer_service
from services.writer.writer_service import WriterService
from tests.helpers import short_tmp, wait_for
from tests.integration.test_buffer_writer import Stage, cycle, push, stored

TS = "2026-11-23T03:36:00.000Z"
PLC = "KRCWO12ELOA101"


def row(address: str, value: Any) -> Row:
    return Row(TS, PLC, address, value, "GOOD", "G", 1)


@pytest.fixture
def settings() -> Settings:
    base = short_tmp()
    return Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                    buffer_lease_timeout=60.0, buffer_write_interval=0.05, oracle_retry_max=0,
                    _env_file=None)


class Picky:
    """A sink that raises what no sink is expected to raise for one address (a driver's bug, say)."""

    name = "picky"

    def __init__(self, inner: SqliteSink, poison: str) -> None:
        self.inner, self.poison = inner, poison

    def write(self, rows: list[Row]) -> WriteResult:
        if any(r.tag_address == self.poison for r in rows):
            raise RuntimeError(f"driver cannot take {self.poison}")
        return self.inner.write(rows)

    def close(self) -> None:
        self.inner.close()


def test_a_batch_the_database_refuses_goes_to_rejected_row_by_row_and_the_writer_goes_on(settings: Settings) -> None:
    writer = WriterService(settings, sink=Picky(SqliteSink(settings.historian_db), "D9"),  # type: ignore[arg-type]
                           ctx=zmq.Context())
    batch = [row(f"D{i}", i) for i in range(8)] + [row("D8", 2**63), row("D9", 9), row("D10", {b"k": 1})]
    assert writer.store(batch, threading.Event()) == "committed"
    assert sorted(r[1] for r in stored(settings)) == sorted(f"D{i}" for i in range(8))
    rejected = "".join(p.read_text() for p in writer.backups.rejected.iterdir())
    assert "OverflowError" in rejected and "driver cannot take D9" in rejected and "ProgrammingError" in rejected
    assert writer.metrics.rows_rejected == 3
    # ...and the next batch is stored as usual
    assert writer.store([row("D20", 20)], threading.Event()) == "committed"
    assert len(stored(settings)) == 9
    writer.sink.close()


def test_a_cycle_time_no_calendar_holds_is_rejected_not_a_crash(settings: Settings) -> None:

    writer = WriterService(settings, ctx=zmq.Context())
    blocks = [Block.of_values(PLC, "G", 1, 10**15, [["D0", 1, "GOOD"]]),
              Block.of_values(PLC, "G", 2, 1_795_000_000_000, [["D1", 2, "GOOD"]])]
    assert writer.write_batch(blocks) == "committed"
    assert [r[1] for r in stored(settings)] == ["D1"]
    assert writer.metrics.rows_rejected == 1
    writer.sink.close()


def test_historian_file_replaced_under_a_running_writer_is_noticed(settings: Settings,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_sink, "FILE_CHECK_S", 0.0)
    writer = WriterService(settings, ctx=zmq.Context())
    assert writer.store([row("D0", 0)], threading.Event()) == "committed"
    moved = settings.historian_db.with_name("moved_aside.db")
    settings.historian_db.rename(moved)  # an operator moves the file aside; a new one must be made
    assert writer.store([row("D1", 1)], threading.Event()) == "committed"
    assert [r[1] for r in stored(settings)] == ["D1"]
    assert writer.figures()["historian_reopened"] == 1
    writer.sink.close()


def test_status_is_published_while_a_batch_is_retried(settings: Settings) -> None:
    from common.historian.sink import SinkUnavailable

    class Away:
        name = "away"

        def write(self, rows: list[Row]) -> WriteResult:
            raise SinkUnavailable("historian away")

        def close(self) -> None:
            pass

    published: list[float] = []

    class Recorder:
        def publish(self, **figures: Any) -> None:
            published.append(time.monotonic())

    writer = WriterService(settings, sink=Away(), ctx=zmq.Context())  # type: ignore[arg-type]
    writer.retry_delays = (1.0, 1.5)
    writer.telemetry = Recorder()  # type: ignore[assignment]
    started = time.monotonic()
    assert writer.store([row("D0", 0)], threading.Event()) == "backed_up"
    assert time.monotonic() - started >= 2.5
    assert len(published) >= 3 and max(b - a for a, b in itertools.pairwise(published)) < 1.5


class FakeTelemetry:
    def __init__(self, **bodies: dict[str, Any]) -> None:
        self.bodies = bodies

    def stage(self, topic: str) -> StageStatus | None:
        body = self.bodies.get(topic.removeprefix("status."))
        return None if body is None else StageStatus(topic, time.monotonic(), body)

    def prefixed(self, prefix: str) -> list[StageStatus]:
        found = (self.stage(f"status.{name}") for name in self.bodies if f"status.{name}".startswith(prefix))
        return [s for s in found if s is not None]


@pytest.fixture
def small_disk() -> Iterator[Path]:
    where = short_tmp("disk-")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_backups_on_a_full_disk_keep_the_batch_and_health_names_the_disk(
        small_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_service, "HELD_RETRY_S", 0.3)
    base = short_tmp()
    settings = Settings(scada_data_dir=base / "data", scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        buffer_lease_timeout=60.0, buffer_write_interval=0.05, oracle_retry_max=1,
                        backup_file_path=small_disk / "backup", historian_min_free_mb=0,  # the disk fills up
                        _env_file=None)
    settings.make_dirs()
    buffer = BufferService(settings, zmq.Context())
    buffer_stage = Stage(buffer.run)
    # The historian lives on the same small disk: full, it cannot take the batch past its retries either.
    writer = WriterService(settings, sink=SqliteSink(small_disk / "tag_data.db", timeout=0.1), ctx=zmq.Context())
    writer.retry_delays = (0.1,)
    filler = fill(small_disk)
    stage = Stage(writer.run)
    try:
        push(settings, [cycle(s) for s in range(1, 5)])
        wait_for(lambda: writer.disk.error, 20, what="the writer to report the full disk")
        assert not list(small_disk.rglob("*.tmp"))  # no torn backup left behind
        assert buffer.acked_values == 0 and buffer.leases  # the buffer still holds the batch
        figures = writer.figures()
        assert figures["disk"]["path"] == str(small_disk / "backup") and figures["disk"]["mount"] == str(small_disk)
        assert "No space left" in str(figures["disk"]["error"])
        reply = buffer_routes.health(FakeTelemetry(buffer=buffer.figures(), writer=figures))  # type: ignore[arg-type]
        assert reply.status_code == 503
        reasons = json.loads(bytes(reply.body))["reasons"]
        assert any(str(small_disk) in r and "No space left" in r for r in reasons), reasons
        assert stage.thread.is_alive()
        filler.unlink()  # space comes back
        wait_for(lambda: buffer.acked_values == 200, 30, what="every value stored and acknowledged")
        assert writer.disk.error is None
    finally:
        stage.end()
        buffer_stage.end()
    assert not writer.backups.pending()
    with sqlite3.connect(small_disk / "tag_data.db") as db:
        assert db.execute("SELECT COUNT(*) FROM TAG_DATA").fetchone()[0] == 200
