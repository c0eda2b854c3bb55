"""python -m services.gateway: uvicorn on SCADA_API_HOST:SCADA_API_PORT (127.0.0.1:8000)."""

from __future__ import annotations

import ipaddress
import sys

import uvicorn

from common import curve, stage_lock
from common.runtime import setup_logging
from common.settings import Settings
from services.gateway.app import create_app
from services.gateway.server import uvicorn_config


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
    security = curve.for_stage_or_exit(settings, "gateway")
    uvicorn.Server(uvicorn_config(create_app(settings, security), host=settings.scada_api_host,
                                  port=settings.scada_api_port)).run()


if __name__ == "__main__":
    main()
