"""What a process costs, read from /proc: figures of this test process, and of a process that is gone."""

from __future__ import annotations

import os
import subprocess
import sys

from common import footprint


def test_the_figures_of_this_process() -> None:
    assert footprint.rss_bytes() > 10 * 2**20  # an interpreter with pytest in it
    assert footprint.rss_bytes(os.getpid()) > 10 * 2**20
    assert footprint.cpu_seconds() > 0
    assert 0 < footprint.age_s() < 24 * 3600


def test_a_process_that_is_gone_has_no_resident_memory() -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    assert footprint.rss_bytes(int(done.stdout)) == 0


def test_tls_is_left_out_only_where_it_was_not_loaded() -> None:
    import ssl  # this process has it: leaving it out now would break whoever imported it

    footprint.leave_out_tls()
    assert sys.modules["ssl"] is ssl
    probe = "from common.footprint import leave_out_tls; leave_out_tls(); import asyncio, sys; " \
            "print(sys.modules['ssl'] is None, asyncio.new_event_loop() is not None)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]
