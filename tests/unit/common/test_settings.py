"""Settings: a bad knob stops a process with the variable's name and why, before it can misbehave."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.settings import Settings
from services.cli.main import main as scada


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's checkout
    for name in [n for n in os.environ if n.startswith(("SCADA_", "ORACLE_", "BUFFER_", "ZMQ_"))]:
        monkeypatch.delenv(name)  # nor the locations `make test` exports (Makefile: SCADA_RUN_DIR, ...)


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

    assert Settings(scada_api_token="", _env_file=None).scada_api_token is None
    assert Settings(scada_api_token="  ", _env_file=None).scada_api_token is None
    token = Settings(scada_api_token="abc", _env_file=None).scada_api_token
    assert token is not None and token.get_secret_value() == "abc" and "abc" not in repr(token)


# -- the loader itself (common/settings_loader.py, settings_types.py): a class of every field type ------------------
from typing import Literal  # noqa: E402

from common.settings_loader import EnvSettings, Field, SettingsError, read_dotenv  # noqa: E402
from common.settings_types import SecretStr  # noqa: E402


class Knobs(EnvSettings):
    knob_text: str = "plain"
    knob_count: int = Field(default=3, ge=1, le=10, description="a bounded integer")
    knob_ratio: float = Field(default=0.5, gt=0, lt=1)
    knob_flag: bool = False
    knob_dir: Path = Path("here")
    knob_maybe_dir: Path | None = None
    knob_pin: SecretStr = Field(default=SecretStr("0000"), min_length=4)
    knob_mode: Literal["FIXED", "HANDSHAKE"] = "FIXED"


def test_defaults_are_typed_and_checked() -> None:
    knobs = Knobs(_env_file=None)
    assert knobs.model_dump() == {"knob_text": "plain", "knob_count": 3, "knob_ratio": 0.5, "knob_flag": False,
                                  "knob_dir": Path("here"), "knob_maybe_dir": None, "knob_pin": SecretStr("0000"),
                                  "knob_mode": "FIXED"}
    assert Knobs(**knobs.model_dump(), _env_file=None) == knobs  # a copy with changes, as tests make them


@pytest.mark.parametrize(("variable", "value", "field", "expected"), [
    ("KNOB_TEXT", " spaced ", "knob_text", " spaced "),
    ("KNOB_COUNT", " 7 ", "knob_count", 7),
    ("KNOB_RATIO", "1e-3", "knob_ratio", 0.001),
    ("KNOB_FLAG", "Yes", "knob_flag", True),
    ("KNOB_FLAG", "off", "knob_flag", False),
    ("KNOB_FLAG", "0", "knob_flag", False),
    ("KNOB_DIR", "/var/lib/scada", "knob_dir", Path("/var/lib/scada")),
    ("KNOB_MAYBE_DIR", "", "knob_maybe_dir", None),
    ("KNOB_MAYBE_DIR", "backup", "knob_maybe_dir", Path("backup")),
    ("KNOB_MODE", "HANDSHAKE", "knob_mode", "HANDSHAKE"),
    ("knob_count", "9", "knob_count", 9),  # names are not case-sensitive, as in pydantic-settings
])
def test_every_type_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                                 field: str, expected: object) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(Knobs(_env_file=None), field) == expected


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("KNOB_COUNT", "3.5", "valid integer"),
    ("KNOB_COUNT", "", "valid integer"),
    ("KNOB_COUNT", "11", "less than or equal to 10"),
    ("KNOB_COUNT", "0", "greater than or equal to 1"),
    ("KNOB_RATIO", "1", "less than 1"),
    ("KNOB_RATIO", "nan", "finite number"),
    ("KNOB_RATIO", "inf", "finite number"),
    ("KNOB_FLAG", "maybe", "valid boolean"),
    ("KNOB_DIR", " ", "not empty"),
    ("KNOB_MODE", "fixed", "'FIXED' or 'HANDSHAKE'"),
])
def test_a_bad_value_is_named_with_what_was_given(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                                  reason: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        Knobs(_env_file=None)
    assert f"{variable}={value!r}: " in str(refused.value)
    assert reason in str(refused.value)


def test_every_bad_value_is_named_at_once_and_a_secret_never(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOB_COUNT", "zero")
    monkeypatch.setenv("KNOB_PIN", "123")
    with pytest.raises(SettingsError) as refused:
        Knobs(_env_file=None)
    assert [p.variable for p in refused.value.problems] == ["KNOB_COUNT", "KNOB_PIN"]
    assert "123" not in str(refused.value) and "KNOB_PIN: String should have at least 4 characters" in str(
        refused.value)
    monkeypatch.setenv("KNOB_PIN", "secret-pin")
    monkeypatch.delenv("KNOB_COUNT")
    knobs = Knobs(_env_file=None)
    assert knobs.knob_pin.get_secret_value() == "secret-pin"
    assert "secret-pin" not in repr(knobs) and "secret-pin" not in str(knobs.knob_pin)


def test_a_dotenv_file_is_read_as_python_dotenv_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCADA_TEST_BASE", "/srv")
    dotenv = tmp_path / "custom.env"
    dotenv.write_text("# a comment\n\nexport KNOB_TEXT='kept # as is'\nKNOB_COUNT = 4   # inline comment\n"
                      'KNOB_DIR="${SCADA_TEST_BASE}/scada"\nKNOB_RATIO=0.25\nNOT_A_KNOB=whatever\nno equals sign\n'
                      "KNOB_FLAG=true\n", encoding="utf-8")
    monkeypatch.setenv("KNOB_RATIO", "0.75")  # the environment wins over the file
    knobs = Knobs(_env_file=dotenv, knob_flag=False)  # and an argument over both
    assert (knobs.knob_text, knobs.knob_count, knobs.knob_dir) == ("kept # as is", 4, Path("/srv/scada"))
    assert (knobs.knob_ratio, knobs.knob_flag) == (0.75, False)
    assert read_dotenv(tmp_path / "absent.env") == {}


def test_a_bad_dotenv_value_names_the_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("KNOB_COUNT=many\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=rf"KNOB_COUNT='many': .* \(in {dotenv}\)"):
        Knobs(_env_file=dotenv)
    dotenv.write_bytes(b"KNOB_TEXT=\xff\n")
    with pytest.raises(SettingsError, match="cannot read"):
        Knobs(_env_file=dotenv)


def test_a_mistake_in_the_declarations_fails_at_once() -> None:
    with pytest.raises(TypeError, match="not one the settings loader reads"):
        class Unreadable(EnvSettings):
            knob_list: list[str] = Field(default_factory=list)
    with pytest.raises(TypeError, match="has no setting knob_typo"):
        Knobs(knob_typo=1)


def test_the_token_and_paths_are_as_the_stages_expect(tmp_path: Path) -> None:
    # every value given (the environment, e.g. `make test`'s SCADA_RUN_DIR, must not decide this test)
    settings = Settings(scada_data_dir="data", scada_run_dir="run", scada_api_token=" ", backup_file_path=None,
                        _env_file=None)
    assert settings.scada_data_dir == tmp_path / "data"  # resolved against the working directory, once
    assert settings.scada_api_token is None and settings.backup_dir == tmp_path / "data" / "backup"
    assert settings.ingest_endpoint == f"ipc://{tmp_path / 'run' / 'ingest.sock'}"


def test_oracle_retry_max_is_checked_not_silently_capped(tmp_path: Path) -> None:
    from common.settings import Settings
    from services.writer.writer_service import WriterService

    with pytest.raises(SettingsError, match="ORACLE_RETRY_MAX=11: Input should be less than or equal to 10"):
        Settings(oracle_retry_max=11, _env_file=None)
    settings = Settings(scada_data_dir=tmp_path, oracle_retry_max=7, _env_file=None)
    writer = WriterService(settings)
    try:
        assert writer.retry_delays == (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    finally:
        writer.sink.close()
