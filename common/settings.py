"""One settings class: every knob, its environment name and its default.

Read from the environment and from a ``.env`` file in the working directory.
Relative directories are resolved against the working directory once, so a
process started by supervisord (``directory=%(here)s``) and the operator's
shell agree on where things are.

Strategy: the fields are declared as they would be for pydantic-settings
(``name: type = Field(default=..., description=..., ge=..., gt=...)``), but
read by the small loader in :mod:`common.settings_loader`, which needs only
the standard library: pydantic and pydantic-settings cost a poller about
20 MB and half its start time, and only the gateway needs them (for FastAPI).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from common.settings_loader import (
    EnvSettings,
    Field,
    SettingsConfigDict,
    SettingsError,
    field_validator,
    model_validator,
)
from common.settings_types import SecretStr


class Settings(EnvSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Working locations
    scada_data_dir: Path = Path("data")
    scada_run_dir: Path = Path("run")
    scada_log_dir: Path = Path("logs")
    scada_api_host: str = "127.0.0.1"
    scada_api_port: int = Field(default=8000, ge=1, le=65535)
    scada_api_token: SecretStr | None = None
    scada_api_token_name: str = Field(default="api", min_length=1, max_length=64, description="the name the audit "
                                      "trail of writes gives the holder of SCADA_API_TOKEN")
    scada_cors_origins: str = ""  # comma-separated, e.g. http://dashboard.plant.local:3000

    # ZeroMQ endpoints; empty means the ipc:// default under the run directory.
    scada_ingest_endpoint: str = ""
    scada_live_endpoint: str = ""
    scada_lease_endpoint: str = ""
    scada_telemetry_endpoint: str = ""
    scada_control_endpoint: str = ""
    # CURVE on tcp:// endpoints (see common/curve.py and common/zmq_keys.py)
    scada_keys_dir: Path | None = Field(default=None, description="key folder (mode 0700); default "
                                        "$SCADA_DATA_DIR/keys")
    zmq_key_name: str = Field(default="", description="the key pair this process presents when it connects over "
                              "tcp://; empty: its stage's own (poller, writer, buffer, gateway, tap)")
    zmq_allow_insecure_tcp: bool = Field(default=False, description="run tcp:// endpoints without CURVE, open to any "
                                         "host (a WARNING at every start)")

    # MC protocol
    mc_ascii_hex_numbers: bool = Field(
        default=True,
        description="ASCII frames: hex device numbers for hex devices (the manual); false = decimal "
        "(virtual-plc, pymcprotocol)",
    )
    plc_timeout_ms: int = Field(default=3000, gt=0)

    # Pipeline figures (names from the seeds)
    buffer_max_size: int = Field(default=100_000, gt=0)
    buffer_alert_threshold: float = Field(default=0.8, gt=0, le=1)
    buffer_batch_size: int = Field(default=500, gt=0)
    buffer_catchup_size: int = Field(
        default=5000, gt=0, description="while the buffer holds more than a batch, the writer takes up to this many "
        "values at once, so it catches up instead of falling further behind")
    buffer_write_interval: float = Field(default=0.5, gt=0)
    buffer_lease_timeout: float = Field(default=30.0, gt=0)
    buffer_journal_sync: bool = Field(
        default=True,
        description="fsync the buffer's journal (grouped, see BUFFER_JOURNAL_SYNC_MS) before pollers hear their cycles "
        "are in (off: a killed buffer still loses nothing, a power cut may lose the last moments)",
    )
    buffer_journal_sync_ms: float = Field(
        default=20.0, ge=0, description="the longest a confirmation waits for the journal's next fsync (one fsync for "
        "every cycle taken in meanwhile)")
    buffer_ingest_burst: int = Field(
        default=1000, gt=0, description="frames the buffer takes in at most in one turn of its loop before it "
        "answers the writers' lease requests")
    buffer_lease_burst: int = Field(
        default=100, gt=0, description="lease requests the buffer answers at most in one turn of its loop")
    data_queue_size: int = Field(default=10_000, gt=0)
    poller_ack_timeout: float = Field(
        default=5.0, gt=0, description="a PollingData the buffer has not confirmed in this many seconds is sent again")
    ledger_keep_days: int = Field(default=14, ge=1)
    poller_clock_step_ms: int = Field(
        default=2000, ge=100, le=3_600_000, description="the wall clock moving back, or forward by more than this "
        "against the monotonic clock, is a clock step: logged at WARNING, counted in the poller's status")
    api_poller_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="a command a poller does not answer in this many seconds answers 504; "
        "a poller (or any stage) not heard from for this long is down")
    api_trigger_min_interval_ms: int = Field(
        default=200, ge=0, le=60_000, description="the shortest time between two POST .../trigger of one group; a "
        "faster one answers 429 with Retry-After (0: no limit)")
    # What the buffer lets in (see common/value_checks.py)
    ingest_ts_past_s: int = Field(
        default=7 * 86_400, ge=60, le=366 * 86_400,
        description="a cycle read longer ago than this is refused at the buffer (counted, in the ledger)")
    ingest_ts_future_s: int = Field(
        default=3600, ge=1, le=7 * 86_400,
        description="a cycle stamped further ahead of the buffer's clock than this is refused")
    ingest_max_string_bytes: int = Field(
        default=960, ge=1, le=32_767,
        description="a string value longer than this (UTF-8 bytes; Oracle's tag_text holds 960) is stored BAD")
    oracle_retry_max: int = Field(
        default=3, ge=0, le=10, description="a batch the database will not take is tried again this many times, "
        "after 1, 2, 4 ... s (doubling), then written to a backup file")
    # The historian (see common/historian/)
    historian_keep_days: int = Field(
        default=30, ge=1, le=36_600, description="the SQLite historian removes each UTC day once all of it is older "
        "than this many days (Oracle: drop old partitions, see sql/oracle/tag_data.sql)")
    historian_min_free_mb: int = Field(
        default=1024, ge=0, description="below this much free disk where the historian, backups or journals live, "
        "the writer stops writing and holds its batch (the buffer keeps it), health answers 503 (0: no guard)")
    backup_file_path: Path | None = None

    # Oracle (used when ORACLE_HOST is set)
    oracle_host: str = ""
    oracle_port: int = Field(default=1521, ge=1, le=65535)
    oracle_service_name: str = ""
    oracle_username: str = ""
    oracle_password: SecretStr = SecretStr("")
    oracle_pool_min: int = Field(default=2, ge=1)
    oracle_pool_max: int = Field(default=5, ge=1)

    @field_validator("scada_api_token", mode="before")
    @classmethod
    def _no_empty_token(cls, value: object) -> object:
        # SCADA_API_TOKEN= (empty, as in a copied .env) means no token, never "the empty token".
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    @model_validator(mode="after")
    def _pool_sizes(self) -> Settings:
        if self.oracle_pool_max < self.oracle_pool_min:
            raise ValueError(f"ORACLE_POOL_MAX ({self.oracle_pool_max}) is below ORACLE_POOL_MIN "
                             f"({self.oracle_pool_min})")
        return self

    @classmethod
    def load(cls) -> Settings:
        """The settings of this process; a bad value stops it with one line per variable, no traceback."""
        try:
            return cls()
        except SettingsError as error:
            raise SystemExit(str(error)) from None

    @field_validator("scada_data_dir", "scada_run_dir", "scada_log_dir", "backup_file_path", "scada_keys_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().resolve()

    # -- derived locations ----------------------------------------------------
    @property
    def config_db(self) -> Path:
        return self.scada_data_dir / "scada.db"

    @property
    def historian_db(self) -> Path:
        return self.scada_data_dir / "tag_data.db"

    @property
    def audit_db(self) -> Path:
        """The audit trail of writes to the PLC (common/writes/audit.py); nothing deletes from it."""
        return self.scada_data_dir / "audit.db"

    @property
    def backup_dir(self) -> Path:
        return self.backup_file_path or self.scada_data_dir / "backup"

    @property
    def keys_dir(self) -> Path:
        return self.scada_keys_dir or self.scada_data_dir / "keys"

    @property
    def buffer_journal_file(self) -> Path:
        return self.scada_data_dir / "buffer.journal"

    def poller_outbox_file(self, plc_code: str) -> Path:
        return self.scada_data_dir / f"poller_{plc_code}.outbox"

    def poller_epoch_file(self, plc_code: str) -> Path:
        return self.scada_data_dir / f"poller_{plc_code}.epoch"

    @property
    def ledger_dir(self) -> Path:
        return self.scada_data_dir / "ledger"

    @property
    def supervisor_socket(self) -> Path:
        return self.scada_run_dir / "supervisor.sock"

    @property
    def pollers_conf(self) -> Path:
        return self.scada_run_dir / "pollers.conf"

    def _ipc(self, explicit: str, name: str) -> str:
        return explicit or f"ipc://{self.scada_run_dir / name}"

    @cached_property
    def ingest_endpoint(self) -> str:
        return self._ipc(self.scada_ingest_endpoint, "ingest.sock")

    @cached_property
    def live_endpoint(self) -> str:
        return self._ipc(self.scada_live_endpoint, "live.sock")

    @cached_property
    def lease_endpoint(self) -> str:
        return self._ipc(self.scada_lease_endpoint, "lease.sock")

    @cached_property
    def telemetry_endpoint(self) -> str:
        return self._ipc(self.scada_telemetry_endpoint, "telemetry.sock")

    @cached_property
    def control_endpoint(self) -> str:
        return self._ipc(self.scada_control_endpoint, "control.sock")

    @property
    def oracle_configured(self) -> bool:
        return bool(self.oracle_host and self.oracle_service_name)

    def make_dirs(self) -> None:
        """Create the working directories; the run directory only its owner may open."""
        for path in (self.scada_data_dir, self.scada_log_dir, self.backup_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.scada_run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.scada_run_dir.chmod(0o700)
