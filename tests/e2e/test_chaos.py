"""Chaos, short: every stage killed (SIGKILL, SIGTERM) and restarted by supervisord under the sample
plant's steady load, the historian locked past the writer's retries, the PLCs stopped and started, the
buffer away past a poller's queue, the writer away past the ring: ``scada account`` finds nothing lost,
and drops only where the design allows them. The long run is ``python -m bench.chaos`` (make bench)."""

from __future__ import annotations

import pytest

from bench.chaos import chaos, table

pytestmark = pytest.mark.timeout(420)


def test_nothing_is_lost_whatever_is_killed() -> None:
    scenarios, total = chaos(rounds=1, pause=3.0, outage=6.0, retries=1, ring_values=8000, say=lambda _: None)
    print(table(scenarios, total))
    by_name = {s.name: s for s in scenarios}
    assert all(s.ok for s in scenarios), table(scenarios, total)
    assert total["lost"] == 0 and total["in_flight"] == 0 and total["polled"] > 20_000
    assert total["polled"] == total["stored"] + total["queue_dropped"] + total["overflow_dropped"] + total["rejected"]
    # the faults did what they were meant to: backups written and replayed, both kinds of drop seen
    assert total["backup_files_replayed"] > 0
    assert by_name["buffer away past the poller queue"].account["queue_dropped"] > 0
    assert by_name["writer away past the ring"].account["overflow_dropped"] > 0
