"""The writer's disk guard on a real small filesystem (a tmpfs the test mounts; skipped, saying why, where
mounting is refused): below HISTORIAN_MIN_FREE_MB the writer stops writing and holds its batch, the buffer
keeps it, health says why; once space is freed every value is stored once -- counted independently, cycle
by cycle, against what was pushed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from common.settings import Settings
from services.buffer.buffer_service import BufferService
from services.writer import writer_service
from services.writer.writer_service import WriterService
from tests.disk_full import MountRefused, mounted_tmpfs
from tests.helpers import short_tmp, wait_for
from tests.integration.test_buffer_writer import Stage, cycle, push, stored

pytestmark = pytest.mark.timeout(90)
MB = 1 << 20


@pytest.fixture
def small_data_disk() -> Iterator[Path]:
    base = short_tmp()
    try:
        with mounted_tmpfs(base / "data", 24) as folder:
            yield folder
    except MountRefused as error:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {error}")


def test_below_the_threshold_the_batch_is_held_and_stored_once_space_returns(
        small_data_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_service, "HELD_RETRY_S", 0.2)
    base = small_data_disk.parent
    settings = Settings(scada_data_dir=small_data_disk, scada_run_dir=base / "run", scada_log_dir=base / "logs",
                        buffer_lease_timeout=60.0, buffer_write_interval=0.05, historian_min_free_mb=8,
                        _env_file=None)
    settings.make_dirs()
    buffer = BufferService(settings, zmq.Context())
    buffer_stage = Stage(buffer.run)
    writer = WriterService(settings, ctx=zmq.Context())
    writer_stage = Stage(writer.run)
    filler = small_data_disk / "filler.bin"
    try:
        push(settings, [cycle(s) for s in range(1, 5)])
        wait_for(lambda: len(stored(settings)) == 200, 15, what="the first cycles stored")
        # fill the disk to 4 MB free: below the 8 MB the writer keeps
        st = os.statvfs(small_data_disk)
        with filler.open("wb") as handle:
            handle.truncate(0)
            handle.write(b"\1" * (st.f_bavail * st.f_frsize - 4 * MB))
        wait_for(lambda: not writer.figures()["disk_guard"]["ok"], 10, what="the guard to see the low disk")
        push(settings, [cycle(s) for s in range(5, 11)])
        wait_for(lambda: buffer.ring.received == 500, 10, what="the new cycles in the buffer")
        acked = buffer.acked_values
        held = writer.guard.held_checks
        wait_for(lambda: writer.guard.held_checks >= held + 2, 10, what="two more looks at the low disk")
        assert buffer.acked_values == acked  # held: nothing written, nothing acknowledged
        assert len(stored(settings)) == 200 and not writer.backups.pending()
        assert "HISTORIAN_MIN_FREE_MB (8 MB)" in str(writer.figures()["disk_guard"]["reason"])
        filler.unlink()
        wait_for(lambda: buffer.acked_values == 500, 20, what="every value stored and acknowledged")
    finally:
        writer_stage.end()
        buffer_stage.end()
    rows = stored(settings)
    assert sorted((r[1], r[2]) for r in rows) == sorted({(r[1], r[2]) for r in rows})  # each once
    expected = {(f"D{i}", seq) for seq in range(1, 11) for i in range(50)}
    assert {(r[1], r[2] & 0xFFFFFFFF) for r in rows} == expected
    assert writer.figures()["disk_guard"]["ok"]
