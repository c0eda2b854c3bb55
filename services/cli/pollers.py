"""The pollers under supervisord: ``scada pollers start|stop|restart|status``, and an import applied live.

Strategy: each poller is its own supervisord program (``poller-<PLC code>``,
supervisor_conf.py), so adding or removing a PLC touches that poller only.
This module talks to supervisord over its XML-RPC socket, as supervisorctl
does: after ``scada db import`` it rewrites the include and applies what
``supervisorctl update`` would for the poller programs (the others are left
alone), restarts the pollers whose connection settings changed, and says so.
Groups and tags are not its business: the gateway sees the store change and
tells each poller concerned to reload (services/gateway/config_watch.py).
``scada pollers stop`` stops every poller at once, as ``stop pollers:*`` did
when they were one group.
"""

from __future__ import annotations

import time
import xmlrpc.client
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from common.config_store.plant_changes import PollerChanges
from common.settings import Settings
from services.cli.supervisor_conf import PREFIX, program_name, write_pollers_conf

WAIT_S = 30.0


class SupervisorAway(Exception):
    """supervisord is not running for this run directory."""


def _proxy(settings: Settings) -> Any:
    transport = SupervisorTransport(None, None, f"unix://{settings.supervisor_socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def _rpc(settings: Settings) -> Any:
    """supervisord's XML-RPC interface, or SupervisorAway."""
    if not settings.supervisor_socket.exists():
        raise SupervisorAway(f"no supervisord socket at {settings.supervisor_socket}")
    rpc = _proxy(settings)
    try:
        rpc.getPID()
    except OSError as error:
        raise SupervisorAway(f"supervisord is not answering on {settings.supervisor_socket}: {error}") from None
    return rpc


def _quietly(call: Any, *args: Any) -> None:
    """A stop or start that finds the program already so is not an error."""
    try:
        call(*args)
    except xmlrpc.client.Fault as fault:
        if not fault.faultString.startswith(("NOT_RUNNING", "ALREADY_STARTED")):
            raise


def apply_changes(settings: Settings, changes: PollerChanges) -> list[str]:
    """Rewrite the pollers' include; with supervisord running, start, stop and restart pollers to match."""
    path, codes = write_pollers_conf(settings)
    out = [f"wrote {path}: {len(codes)} poller(s)"]
    try:
        rpc = _rpc(settings)
    except SupervisorAway as away:
        return [*out, f"{away}: the pollers follow at the next start"]
    [[added, changed, removed]] = rpc.reloadConfig()
    for name in (n for n in [*removed, *changed] if n.startswith(PREFIX)):
        _quietly(rpc.stopProcessGroup, name, True)
        rpc.removeProcessGroup(name)
        out.append(f"stopped and removed {name}")
    for name in (n for n in [*changed, *added] if n.startswith(PREFIX)):
        rpc.addProcessGroup(name)  # autostart: supervisord starts it
        out.append(f"added {name}")
    for code in changes.restart:
        name = program_name(code)
        if code in codes and name not in added:
            _quietly(rpc.stopProcess, name, True)
            _quietly(rpc.startProcess, name, False)
            out.append(f"restarted {name} (its connection settings changed)")
    others = [n for n in [*added, *changed, *removed] if not n.startswith(PREFIX)]
    if others:
        out.append(f"supervisord.conf changed too ({' '.join(others)}): apply with supervisorctl update")
    if changes.reload:
        out.append(f"the gateway tells {' '.join(changes.reload)} to reload their groups and tags")
    return out


def poller_programs(rpc: Any, codes: list[str]) -> list[dict[str, Any]]:
    infos = [i for i in rpc.getAllProcessInfo() if i["name"].startswith(PREFIX)]
    if codes:
        infos = [i for i in infos if i["name"][len(PREFIX):] in codes]
    return sorted(infos, key=lambda i: i["name"])


def pollers_command(settings: Settings, action: str, codes: list[str]) -> int:
    """start, stop or restart every poller (or those of ``codes``) at once; status lists them."""
    try:
        rpc = _rpc(settings)
    except SupervisorAway as away:
        print(f"error: {away}")
        return 1
    infos = poller_programs(rpc, codes)
    missing = sorted(set(codes) - {i["name"][len(PREFIX):] for i in infos})
    if missing:
        print(f"error: no poller for {' '.join(missing)} under supervisord")
        return 1
    names = [i["name"] for i in infos]
    if action in ("stop", "restart"):
        for name in names:
            _quietly(rpc.stopProcess, name, False)
        _wait(rpc, names, {"STOPPED", "EXITED", "FATAL"})
    if action in ("start", "restart"):
        for name in names:
            _quietly(rpc.startProcess, name, False)
        _wait(rpc, names, {"RUNNING", "FATAL", "BACKOFF"})
    for info in poller_programs(rpc, codes):
        print(f"{info['name']:<24} {info['statename']:<9} {info['description']}")
    return 0


def _wait(rpc: Any, names: list[str], states: set[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if all(rpc.getProcessInfo(n)["statename"] in states for n in names):
            return
        time.sleep(0.2)
