"""python -m services.gateway: uvicorn on SCADA_API_HOST:SCADA_API_PORT (127.0.0.1:8000)."""

from __future__ import annotations

import ipaddress
import sys

import uvicorn

from common import stage_lock
from common.runtime import setup_logging
from common.settings import Settings
from services.gateway.app import create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    log = setup_logging("gateway")
    settings = Settings.load()
    settings.make_dirs()
    stage_lock.hold(settings.scada_run_dir, "gateway")
    if not is_loopback(settings.scada_api_host) and settings.scada_api_token is None:
        log.error("refusing to listen on %s without SCADA_API_TOKEN: set a token or use 127.0.0.1",
                  settings.scada_api_host)
        sys.exit(2)
    uvicorn.run(create_app(settings), host=settings.scada_api_host, port=settings.scada_api_port,
                log_level="info", access_log=False)


if __name__ == "__main__":
    main()
