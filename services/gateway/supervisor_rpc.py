"""Stage control through supervisord's XML-RPC interface on its unix socket."""

from __future__ import annotations

import asyncio
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport


class SupervisorUnavailable(Exception):
    """supervisord is not running (or its socket is elsewhere)."""


class StageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class Supervisor:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def _proxy(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._proxy().supervisor, method)(*args)
        except xmlrpc.client.Fault as fault:
            name = fault.faultString.split(":")[0]
            status = {"BAD_NAME": 404, "ALREADY_STARTED": 409, "NOT_RUNNING": 409}.get(name, 502)
            raise StageError(status, fault.faultString) from None
        except OSError as error:
            raise SupervisorUnavailable(f"supervisord is not answering on {self.socket}: {error}") from None

    async def stages(self) -> list[dict[str, Any]]:
        infos = await asyncio.to_thread(self._call, "getAllProcessInfo")
        return [{"name": f"{i['group']}:{i['name']}" if i["group"] != i["name"] else i["name"],
                 "group": i["group"], "state": i["statename"], "pid": i["pid"] or None,
                 "uptime_s": max(0, i["now"] - i["start"]) if i["statename"] == "RUNNING" else 0,
                 "description": i["description"], "exit_status": i["exitstatus"]} for i in infos]

    async def control(self, name: str, action: str) -> dict[str, Any]:
        if action in ("stop", "restart"):
            try:
                await asyncio.to_thread(self._call, "stopProcess", name, True)
            except StageError as error:
                if not (action == "restart" and error.status == 409):
                    raise
        if action in ("start", "restart"):
            await asyncio.to_thread(self._call, "startProcess", name, True)
        info = await asyncio.to_thread(self._call, "getProcessInfo", name)
        return {"name": name, "state": info["statename"], "pid": info["pid"] or None}
