"""What each stage's figures hold: the types of the status a stage publishes (common/wire/status.py).

The stages build their figures as these types (mypy checks every key where
it is written) and the gateway's answers are built from them
(services/gateway/answers.py), so a field renamed in a stage fails the
gateway's tests instead of turning an API answer into null.

typing_extensions' TypedDict: pydantic reads it on Python 3.11. That module
is ~0.5 MiB resident, so the stages import these types only for mypy
(``if TYPE_CHECKING:``); only the gateway, which has pydantic anyway, imports
this module when it runs (issue 19: a poller imports what it uses).
"""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict


class DiskProblem(TypedDict):
    path: str
    error: str
    since_ms: int
    free_bytes: int | None


class JournalDisk(TypedDict):
    """A stage's journals and ledger on their disk (common/disk.py): the buffer and each poller."""

    ok: bool
    failures: int
    problems: list[DiskProblem]


class BackupDisk(TypedDict):
    """The disk the writer's backup files go to (services/writer/disk.py)."""

    path: str
    mount: str
    free_bytes: int | None
    error: str | None
    since_ms: int | None


class LowDisk(TypedDict):
    path: str
    free_bytes: int


class DiskGuardFigures(TypedDict):
    """The writer's disk guard (services/writer/disk_guard.py): free space against HISTORIAN_MIN_FREE_MB."""

    ok: bool
    min_free_bytes: int
    since_ms: int | None
    low: list[LowDisk]
    reason: str | None


class IngestFigures(TypedDict):
    """The buffer's door (services/buffer/door.py): cycles refused and values made BAD, by reason."""

    ingest_refused_cycles: dict[str, int]
    ingest_refused_values: dict[str, int]
    ingest_marked_bad: dict[str, int]


class BufferFigures(IngestFigures):
    current_size: int
    max_size: int
    utilization_pct: float
    overflow_count: int
    overflow_rate_pct: float
    overflow_last_minute: int
    received_values: int
    messages_in: int
    bad_frames: int
    leased_batches: int
    leased_values: int
    acked_values: int
    expired_leases: int
    journal_bytes: int
    journal_ok: bool
    unconfirmed_cycles: int
    resends_held: int
    ledger_pending: int
    disk: JournalDisk
    alert_threshold_pct: float
    alerting: bool
    writers: int
    refused_connections: dict[str, int]
    refused_handshakes: dict[str, int]  # clients refused before any key was checked: no CURVE (common/handshakes.py)


class WriteFigures(TypedDict):
    """The writer's batches over the last ``window_s`` seconds (services/writer/metrics.py)."""

    window_s: float
    batches: int
    successful_writes: int
    failed_writes: int
    success_rate_pct: float
    avg_batch_size: float
    avg_write_latency_ms: float
    commit_age_p50_ms: float | None
    commit_age_p99_ms: float | None
    throughput_items_per_sec: float
    retries: int
    backup_files_written: int
    backup_files_pending: int
    rows_backed_up: int
    rows_replayed: int
    rows_rejected: int
    duplicates: int
    values_written_total: int
    last_error: str | None


class SummaryFigures(TypedDict):
    """The SQLite historian's per-minute summaries, made by a thread of the writer
    (common/historian/summarizer.py)."""

    minutes: int  # summarized and stored since the writer started
    again: int  # written to while being read: summarized again later
    pending: int  # minutes waiting (readers take them from the values meanwhile)
    errors: int
    last_error: str | None


class WriterFigures(WriteFigures):
    is_running: bool
    sink: str
    database_ok: bool | None
    bad_frames: int
    disk: BackupDisk
    disk_guard: DiskGuardFigures
    historian_reopened: int
    #: None for Oracle (no summaries to make)
    summaries: SummaryFigures | None


class GroupFigures(TypedDict):
    """One polling group as its poller runs it (services/poller/group.py)."""

    name: str
    plc_code: str
    mode: str
    interval_ms: int
    state: str
    #: the group's is_active in the config store (a deactivated group is STOPPED and its values are not shown)
    is_active: bool
    tag_count: int
    requests_per_cycle: int
    commands: dict[str, int]
    points_per_cycle: int
    cycles: int
    errors: int
    overruns: int
    deadlines_missed: int
    deadlines_skipped: int
    values_sent: int
    values_suppressed: int  # read and left out by the group's deadband (services/poller/deadband.py)
    max_interval_ms: int | None  # with a deadband: every tag is sent at least this often
    last_start_ms: int | None
    last_duration_ms: float | None
    avg_duration_ms: float | None
    last_error: str | None
    last_error_ms: int | None
    last_good_ms: int | None
    max_lateness_ms: float
    last_sequence: int
    epoch: int
    lateness_p50_ms: float | None
    lateness_p99_ms: float | None


class QueueTotals(TypedDict):
    """The counts of a send queue, which add up over the pollers."""

    size: int
    capacity: int
    dropped: int
    sent: int
    in_flight: int
    resent: int
    confirmed: int


class QueueFigures(QueueTotals):
    """A poller's send queue (services/poller/sender.py)."""

    unjournaled: int
    ledger_pending: int
    utilization_pct: float


class ConnectionFigures(TypedDict):
    """One pooled connection to the PLC (common/mc/client.py; udp.py adds its own three)."""

    index: int
    port: int
    state: str
    requests: int
    failures: int
    connects: int
    last_error: str | None
    transport: NotRequired[str]
    timeouts: NotRequired[int]
    stray: NotRequired[int]


class ClockFigures(TypedDict):
    """Wall-clock steps the poller saw (services/poller/clock.py)."""

    steps: int
    last_step_ms: int | None
    last_step_at_ms: int | None


class ProcessFigures(TypedDict):
    """What the poller's process costs (common/footprint.py)."""

    rss_bytes: int
    cpu_s: float
    #: seconds from the process's start to its first cycle; None until then
    polling_after_s: float | None


class PollerSummary(TypedDict):
    """A poller without its groups: what ``GET /api/polling/status`` lists for each poller."""

    plc_code: str
    protocol: str
    transport: str
    multi_block_read: bool
    deviations: list[str]
    epoch: int
    clock: ClockFigures
    queue: QueueFigures
    connections: list[ConnectionFigures]
    connected: int
    disk: JournalDisk
    task_deaths: dict[str, int]
    process: ProcessFigures


class PollerFigures(PollerSummary):
    host: str
    #: the configuration this poller runs (common/config_store/digest.py); the gateway compares it with the store
    config_digest: str
    started_ms: int
    groups: list[GroupFigures]
    #: in the last status a poller publishes, as it stops
    stopped: NotRequired[bool]
