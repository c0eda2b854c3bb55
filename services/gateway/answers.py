"""What each route answers, built from the stages' status types (common/wire/figures.py).

Each route declares one of these as its response model, so ``/docs`` shows
every field of every answer, and FastAPI checks each answer against it: a
field renamed in a stage fails the gateway's tests (tests/unit/services/gateway/)
instead of turning an answer into null. typing_extensions' TypedDict, which
pydantic reads on Python 3.11; the answers stay plain dicts in the code.
"""

from __future__ import annotations

from typing import Any, NotRequired, get_type_hints

from pydantic import BaseModel, create_model
from typing_extensions import TypedDict

from common.wire.figures import (
    BufferFigures,
    DiskProblem,
    GroupFigures,
    PollerSummary,
    QueueFigures,
    QueueTotals,
    WriterFigures,
)
from services.gateway.tag_names import TagName


class Seen(TypedDict):
    #: when the stage last reported (Unix ms), as its status said
    last_seen_ms: int


class BufferStatusAnswer(BufferFigures, Seen):
    pass


class WriterMetricsAnswer(WriterFigures, Seen):
    pass


def _all_optional(name: str, figures: type[Any]) -> type[BaseModel]:
    """The figures of a stage with every field null while the stage is not reporting, and ``is_running``."""
    fields: dict[str, Any] = {k: (t | None, None) for k, t in get_type_hints(figures).items()}
    fields["is_running"] = (bool, ...)
    model: type[BaseModel] = create_model(name, **fields)
    return model


PipelineBuffer = _all_optional("PipelineBuffer", BufferFigures)
PipelineWriter = _all_optional("PipelineWriter", WriterFigures)


class BackupSummary(TypedDict):
    file_count: int | None
    files_written: int | None
    rows_replayed: int | None


class PipelineHealth(TypedDict):
    #: as GET /api/buffer/health says them; empty when healthy
    reasons: list[str]


class PipelineAnswer(TypedDict):
    buffer: PipelineBuffer  # type: ignore[valid-type]
    writer: PipelineWriter  # type: ignore[valid-type]
    backup: BackupSummary
    health: PipelineHealth


class StageDiskProblem(DiskProblem):
    stage: str


class HealthDetails(TypedDict):
    buffer_utilization_pct: float | None
    backup_file_count: int
    disk_problems: list[StageDiskProblem]


class HealthAnswer(TypedDict):
    status: str
    buffer_ok: bool
    writer_ok: bool
    oracle_connection_ok: bool
    database: str | None
    reasons: list[str]
    disk_ok: bool
    details: HealthDetails


class PollerAnswer(PollerSummary, Seen):
    alive: bool
    pid: int


class PollingStatusAnswer(TypedDict):
    is_running: bool
    total_groups: int
    running_groups: int
    pollers: list[PollerAnswer]
    #: each group's figures; ``state`` is DOWN while its poller is not reporting
    groups: list[GroupFigures]
    queue: QueueTotals


class PollerQueue(QueueFigures):
    plc_code: str
    alive: bool


class QueueStatusAnswer(QueueTotals):
    pollers: list[PollerQueue]


class GroupState(TypedDict):
    group: str
    state: str


class GroupStateAnswer(GroupState):
    plc_code: str


class TriggerAnswer(TypedDict):
    group: str
    plc_code: str
    sequence: int
    cycle: int | None
    values: int
    duration_ms: float
    ts_ms: int


class PlcResult(TypedDict):
    """One PLC's part of a start-all or stop-all: its groups, or why it could not be reached."""

    plc_code: str
    ok: bool
    groups: NotRequired[list[GroupState]]
    status: NotRequired[int]
    error: NotRequired[Any]


class AllAnswer(TypedDict):
    results: list[PlcResult]


class StageAnswer(TypedDict):
    name: str
    group: str
    state: str
    pid: int | None
    uptime_s: int
    description: str
    exit_status: int


class GatewayDoorAnswer(TypedDict, total=False):
    """Clients the gateway's CURVE sockets (telemetry, control) refused, per socket; empty without CURVE."""

    refused_connections: dict[str, int]  # key not in allowed/
    refused_handshakes: dict[str, int]  # no CURVE offered


class StagesAnswer(TypedDict):
    stages: list[StageAnswer]
    gateway: GatewayDoorAnswer


class StageStateAnswer(TypedDict):
    name: str
    state: str
    pid: int | None


class LatestValue(TypedDict):
    plc_code: str
    group: str
    address: str
    value: int | float | str | None
    quality: str
    ts: str
    seq: int
    #: from the config store; None for an address the store no longer has (services/gateway/tag_names.py)
    tag_name: str | None
    unit: str | None
    description: str | None


class LatestValuesAnswer(TypedDict):
    count: int
    values: list[LatestValue]


class TagsAnswer(TypedDict):
    count: int
    matched: int
    tags: list[TagName]
