"""`make run ROLE=edge` on the edge host: supervisord starts the simulator and the pollers there, and leaves the
buffer, writer and gateway (the central host's) stopped; ROLE=central is the mirror image."""

from __future__ import annotations

import shutil

from tests.helpers import sample_on_free_ports, scada, scada_env, short_tmp, wait_for
from tests.supervisor_run import Supervisor


def test_the_edge_role_starts_only_the_edge_stages() -> None:
    base = short_tmp()
    env = scada_env(base, SCADA_CENTRAL="false", SCADA_POLLERS="true")  # what ROLE=edge exports
    sample_on_free_ports(base / "csv")
    scada(env, "db", "init")
    scada(env, "db", "import", str(base / "csv"))
    sup = Supervisor(env)
    sup.start()

    def settled() -> dict[str, str] | None:
        states = sup.states()
        started = [s for n, s in states.items() if n == "simulator" or n.startswith("poller-")]
        return states if started and all(s == "RUNNING" for s in started) else None

    try:
        states = wait_for(settled, 30, what="the edge stages running")
    finally:
        sup.stop()
        shutil.rmtree(base, ignore_errors=True)
    assert {n: s for n, s in states.items() if not n.startswith("poller-")} == {
        "simulator": "RUNNING", "buffer": "STOPPED", "writer": "STOPPED", "gateway": "STOPPED"}
    pollers = {s for n, s in states.items() if n.startswith("poller-")}
    assert len([n for n in states if n.startswith("poller-")]) == 3 and pollers == {"RUNNING"}
