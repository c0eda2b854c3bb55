"""The key folder: modes, what `allow` refuses, what a stage needs before it may use tcp://."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from common import curve, zmq_keys
from common.settings import Settings
from common.zmq_keys import KeyFolderError
from tests.helpers import free_port


def test_pairs_are_private_and_listing_shows_no_secret(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    _public, secret = zmq_keys.create_pair(folder, "buffer")
    assert folder.stat().st_mode & 0o777 == 0o700 and (folder / "allowed").stat().st_mode & 0o777 == 0o700
    assert secret.stat().st_mode & 0o777 == 0o600
    pair = zmq_keys.key_pair(folder, "buffer")
    assert pair.secret.decode() not in repr(pair)
    listed = zmq_keys.list_keys(folder)
    assert [(k.name, k.has_secret, k.allowed) for k in listed] == [("buffer", True, False)]
    assert all(pair.secret.decode() not in str(k) for k in listed)
    with pytest.raises(KeyFolderError, match="already has keys"):
        zmq_keys.create_pair(folder, "buffer")


def test_allow_takes_a_public_key_and_refuses_a_secret(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    public, secret = zmq_keys.create_pair(tmp_path / "edge", "edge1")
    with pytest.raises(KeyFolderError, match="holds a secret key"):
        zmq_keys.allow(folder, secret)
    zmq_keys.allow(folder, public)
    assert zmq_keys.allowed_keys(folder) == {zmq_keys.key_pair(tmp_path / "edge", "edge1").public}


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(scada_data_dir=tmp_path, scada_run_dir=tmp_path / "run", _env_file=None,
                    **extra)


def test_tcp_needs_every_key_and_says_which(tmp_path: Path) -> None:
    settings = _settings(tmp_path, scada_ingest_endpoint=f"tcp://127.0.0.1:{free_port()}")
    with pytest.raises(KeyFolderError, match="scada keys create poller"):
        curve.for_stage(settings, "poller")
    zmq_keys.create_pair(settings.keys_dir, "poller")
    with pytest.raises(KeyFolderError, match=r"buffer\.key"):
        curve.for_stage(settings, "poller")
    zmq_keys.create_pair(settings.keys_dir, "buffer")
    assert not curve.for_stage(settings, "poller").plain
    assert not curve.for_stage(settings, "buffer").plain
    assert curve.for_stage(settings, "writer").plain  # its endpoints are all ipc://


def test_insecure_tcp_is_plain_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(tmp_path, scada_ingest_endpoint=f"tcp://127.0.0.1:{free_port()}", zmq_allow_insecure_tcp=True)
    assert curve.for_stage(settings, "buffer").plain
    assert any(r.levelname == "WARNING" and "ZMQ_ALLOW_INSECURE_TCP=true" in r.message for r in caplog.records)
