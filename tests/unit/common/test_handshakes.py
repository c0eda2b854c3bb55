"""Clients refused before any key is checked (no CURVE offered) are counted per socket, apart from the
unlisted keys the ZAP handler counts; an allowed client is neither, and its messages arrive."""

from __future__ import annotations

import zmq

from common import bus, curve, zmq_keys
from common.settings import Settings
from tests.helpers import free_port, short_tmp, wait_for


def test_a_keyless_client_is_refused_and_counted_apart_from_an_unlisted_key() -> None:
    base = short_tmp()
    pairs = {name: zmq_keys.create_pair(base / "keys", name)[0] for name in ("buffer", "poller", "stranger")}
    zmq_keys.allow(base / "keys", pairs["poller"])
    endpoint = f"tcp://127.0.0.1:{free_port()}"

    def settings(key: str, insecure: bool = False) -> Settings:
        """The buffer's (key "buffer") or a pusher's; "keyless" runs tcp:// without CURVE."""
        return Settings(scada_data_dir=base, scada_run_dir=base / "run", scada_keys_dir=base / "keys",
                        scada_ingest_endpoint=endpoint, zmq_key_name=key, zmq_allow_insecure_tcp=insecure,
                        _env_file=None)

    door = curve.for_stage(settings("buffer"), "buffer")
    ctx = zmq.Context()
    pull = bus.make_socket(ctx, zmq.PULL, bind=endpoint, linger=0, security=door, name="ingest")
    pushers = [bus.make_socket(ctx, zmq.PUSH, connect=endpoint, linger=0, name="ingest",
                               security=curve.for_stage(settings(key, insecure=key == "keyless"), "poller"))
               for key in ("keyless", "stranger", "poller")]
    try:
        for i, push in enumerate(pushers):
            push.send(f"from pusher {i}".encode(), zmq.NOBLOCK)
        wait_for(lambda: door.refused_handshakes().get("ingest", 0) >= 1, 10, what="the keyless client counted")
        wait_for(lambda: door.refused().get("ingest", 0) >= 1, 10, what="the unlisted key counted")
        assert pull.poll(5000) and pull.recv() == b"from pusher 2"
        assert not pull.poll(300), "nothing of the refused clients arrives"
    finally:
        for sock in (*pushers, pull):
            sock.close(linger=0)
        door.close()
        ctx.term()
    # counts survive the close, for the status a stopping stage publishes last
    assert door.refused_handshakes()["ingest"] >= 1 and door.refused()["ingest"] >= 1
