"""The gateway's control ROUTER over tcp:// with CURVE: an allowed poller is heard, an unlisted one is refused
and counted under ``control``; on loopback (the namespace test covers the buffer across hosts)."""

from __future__ import annotations

import contextlib

import zmq

from common import bus, curve, zmq_keys
from common.settings import Settings
from common.wire.control import Hello
from common.wire.envelope import encode
from tests.helpers import free_port, short_tmp, wait_for


def test_control_router_hears_only_allowed_pollers() -> None:
    base = short_tmp()
    keys = base / "keys"
    for name in ("gateway", "poller", "stranger"):
        zmq_keys.create_pair(keys, name)
    zmq_keys.allow(keys, keys / "poller.key")
    endpoint = f"tcp://127.0.0.1:{free_port()}"

    def settings(key: str) -> Settings:
        return Settings(scada_data_dir=base, scada_run_dir=base / "run", scada_keys_dir=keys,
                        scada_control_endpoint=endpoint, zmq_key_name=key, _env_file=None)

    gateway = curve.for_stage(settings("gateway"), "gateway")
    ctx = zmq.Context()
    router = bus.make_socket(ctx, zmq.ROUTER, bind=endpoint, linger=0, security=gateway, name="control")
    dealers = {}
    for key, plc in (("stranger", "KRCWO12ELOA999"), ("poller", "KRCWO12ELOA101")):
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IDENTITY, plc.encode())
        curve.for_stage(settings(key), "poller").connected(sock, "control", endpoint)
        sock.connect(endpoint)
        # NOBLOCK: the stranger's connection may already be refused, leaving its DEALER no peer to queue for
        with contextlib.suppress(zmq.Again):
            sock.send(encode(Hello(plc, [])), zmq.NOBLOCK)
        dealers[key] = sock
    try:
        heard: list[bytes] = []

        def hello_arrived() -> bool:
            while router.poll(0):
                heard.append(router.recv_multipart()[0])
            return bool(heard)

        wait_for(hello_arrived, 10, interval=0.05, what="the allowed poller's hello")
        wait_for(lambda: gateway.refused().get("control", 0) > 0, 10, what="the stranger refused")
        hello_arrived()
        assert heard == [b"KRCWO12ELOA101"]
        # Allowed now, while the gateway runs: its next connection is let in, no restart.
        zmq_keys.allow(keys, keys / "stranger.key")
        late = ctx.socket(zmq.DEALER)
        late.setsockopt(zmq.LINGER, 0)
        late.setsockopt(zmq.IDENTITY, b"KRCWO12ELOA999")
        curve.for_stage(settings("stranger"), "poller").connected(late, "control", endpoint)
        late.connect(endpoint)
        late.send(encode(Hello("KRCWO12ELOA999", [])))
        dealers["late"] = late
        wait_for(lambda: hello_arrived() and b"KRCWO12ELOA999" in heard, 10, interval=0.05,
                 what="the newly allowed key")
    finally:
        for sock in dealers.values():
            sock.close()
        router.close()
        gateway.close()
        ctx.term()


def test_gateway_telemetry_over_curve_hears_allowed_stages_and_counts_the_rest() -> None:
    from fastapi.testclient import TestClient

    from services.gateway.app import create_app

    base = short_tmp()
    keys = base / "keys"
    for name in ("gateway", "buffer", "stranger"):
        zmq_keys.create_pair(keys, name)
    zmq_keys.allow(keys, keys / "buffer.key")
    telemetry = f"tcp://127.0.0.1:{free_port()}"

    def settings(key: str = "") -> Settings:
        return Settings(scada_data_dir=base, scada_run_dir=base / "run", scada_keys_dir=keys,
                        scada_telemetry_endpoint=telemetry, scada_control_endpoint=f"tcp://127.0.0.1:{free_port()}",
                        zmq_key_name=key, _env_file=None)

    app = create_app(settings())
    with TestClient(app) as client:
        ctx = zmq.Context()
        buffer = bus.Telemetry(ctx, telemetry, "buffer", security=curve.for_stage(settings(), "buffer"))
        impostor = bus.Telemetry(ctx, telemetry, "writer", security=curve.for_stage(settings("stranger"), "writer"))
        try:
            def heard_and_refused() -> bool:
                buffer.publish(current_size=5)
                impostor.publish(is_running=True)
                return (app.state.telemetry.stage("status.buffer") is not None
                        and app.state.security.refused().get("telemetry", 0) > 0)

            wait_for(heard_and_refused, 10, interval=0.1, what="the buffer heard, the impostor refused")
            assert "status.writer" not in app.state.telemetry.latest
            assert 'scada_refused_connections_total{socket="telemetry",stage="gateway"}' in client.get("/metrics").text
        finally:
            buffer.close()
            impostor.close()
            ctx.term()
