"""Settings: a bad knob stops a process with the variable's name and why, before it can misbehave."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.settings import Settings
from services.cli.main import main as scada


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's checkout


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("DATA_QUEUE_SIZE", "0", "greater than 0"),
    ("BUFFER_MAX_SIZE", "-5", "greater than 0"),
    ("BUFFER_ALERT_THRESHOLD", "1.5", "less than or equal to 1"),
    ("BUFFER_WRITE_INTERVAL", "0", "greater than 0"),
    ("POLLER_ACK_TIMEOUT", "soon", "valid number"),
    ("SCADA_API_PORT", "70000", "less than or equal to 65535"),
    ("LEDGER_KEEP_DAYS", "0", "greater than or equal to 1"),
])
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                        reason: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        Settings.load()
    message = str(stopped.value.code)
    assert f"{variable}='{value}'" in message
    assert reason in message
    assert "Traceback" not in message


def test_pool_max_below_min_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_POOL_MIN", "4")
    monkeypatch.setenv("ORACLE_POOL_MAX", "2")
    with pytest.raises(SystemExit, match=r"ORACLE_POOL_MAX \(2\) is below ORACLE_POOL_MIN \(4\)"):
        Settings.load()


def test_a_dotenv_file_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BUFFER_BATCH_SIZE=0\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="BUFFER_BATCH_SIZE='0'"):
        Settings.load()


def test_good_values_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_QUEUE_SIZE", "1")
    monkeypatch.setenv("BUFFER_JOURNAL_SYNC_MS", "0")
    monkeypatch.setenv("ORACLE_POOL_MIN", "3")
    monkeypatch.setenv("ORACLE_POOL_MAX", "3")
    settings = Settings.load()
    assert (settings.data_queue_size, settings.buffer_journal_sync_ms) == (1, 0.0)
    assert (settings.oracle_pool_min, settings.oracle_pool_max) == (3, 3)


def test_the_cli_refuses_before_touching_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SCADA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BUFFER_MAX_SIZE", "0")
    with pytest.raises(SystemExit, match="BUFFER_MAX_SIZE='0'"):
        scada(["db", "init"])
    assert not (tmp_path / "data").exists()


def test_an_empty_api_token_is_no_token() -> None:
    from common.settings import Settings

    assert Settings(scada_api_token="", _env_file=None).scada_api_token is None  # type: ignore[call-arg]
    assert Settings(scada_api_token="  ", _env_file=None).scada_api_token is None  # type: ignore[call-arg]
    token = Settings(scada_api_token="abc", _env_file=None).scada_api_token  # type: ignore[call-arg]
    assert token is not None and token.get_secret_value() == "abc" and "abc" not in repr(token)
