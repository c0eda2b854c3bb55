"""/metrics: the plant in Prometheus' text format, made by prometheus_client at each scrape.

The figures are the stages' last status (the gateway's telemetry) and the
gateway's own; nothing is counted here. A collector of the app's own
registry (not the process-wide one) builds them when Prometheus asks, so
two apps in one process (tests) never share a metric.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from starlette.datastructures import State

from services.gateway.broadcast import Broadcaster
from services.gateway.telemetry import TelemetryStore

router = APIRouter(tags=["live"])


class PlantCollector:
    """Builds every metric when the registry is scraped."""

    def __init__(self, state: State) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        security = getattr(state, "security", None)
        yield from plant_metrics(state.telemetry, security.refused() if security is not None else None,
                                 [state.ws_polling, state.ws_values],
                                 security.refused_handshakes() if security is not None else None)


def registry_of(request: Request) -> CollectorRegistry:
    state = request.app.state
    registry: CollectorRegistry | None = getattr(state, "metrics_registry", None)
    if registry is None:
        registry = state.metrics_registry = CollectorRegistry(auto_describe=False)
        registry.register(PlantCollector(state))
    return registry


@router.get("/metrics", response_class=Response, summary="Prometheus text format",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    return Response(generate_latest(registry_of(request)), media_type=CONTENT_TYPE_LATEST)


def plant_metrics(telemetry: TelemetryStore, gateway_refused: dict[str, int] | None,
                  broadcasters: list[Broadcaster], gateway_handshakes: dict[str, int] | None = None) -> list[Metric]:
    """Every metric of the plant, from the stages' last status and the gateway's own figures."""
    families: dict[str, Metric] = {}

    def metric(name: str, kind: str, help_text: str, value: object, **labels: object) -> None:
        if value is None:
            return
        family = families.get(name)
        if family is None:  # a counter's family is named without _total; its samples with it
            family = families[name] = Metric(name.removesuffix("_total") if kind == "counter" else name,
                                              help_text, kind)
        family.add_sample(name, {k: str(v) for k, v in labels.items()}, float(value))  # type: ignore[arg-type]

    now = time.monotonic()
    for topic, status in sorted(telemetry.latest.items()):
        stage = status.body.get("stage", topic)
        plc = status.body.get("plc_code")
        stage_labels = {"stage": stage, **({"plc": plc} if plc else {})}
        metric("scada_stage_up", "gauge", "1 if the stage reported within API_POLLER_TIMEOUT_S", int(status.fresh),
               **stage_labels)
        metric("scada_stage_last_report_age_seconds", "gauge", "seconds since the stage last reported",
               round(now - status.received, 3), **stage_labels)
        disk = status.body.get("disk")
        if isinstance(disk, dict) and "problems" in disk:  # common/disk.py's shape (buffer, pollers)
            metric("scada_stage_disk_ok", "gauge", "1 if the stage writes its journals and ledger",
                   int(bool(disk.get("ok"))), **stage_labels)
            metric("scada_stage_disk_write_failures_total", "counter", "journal or ledger writes the disk refused",
                   disk.get("failures"), **stage_labels)
        deaths = status.body.get("task_deaths")
        if isinstance(deaths, dict):
            metric("scada_stage_task_deaths_total", "counter", "long-lived tasks that died and were started again",
                   sum(deaths.values()), **stage_labels)
    for status in telemetry.prefixed("status.poller."):
        body = status.body
        plc = body.get("plc_code")
        queue = body.get("queue", {})
        metric("scada_poller_queue_size", "gauge", "PollingData waiting in the send queue", queue.get("size"), plc=plc)
        metric("scada_poller_queue_dropped_total", "counter", "PollingData dropped from a full send queue",
               queue.get("dropped"), plc=plc)
        metric("scada_poller_connections_up", "gauge", "pooled PLC connections connected", body.get("connected"),
               plc=plc)
        for g in body.get("groups", []):
            labels = {"plc": plc, "group": g.get("name")}
            metric("scada_group_cycles_total", "counter", "polling cycles run", g.get("cycles"), **labels)
            metric("scada_group_errors_total", "counter", "polling cycles with an error", g.get("errors"), **labels)
            metric("scada_group_overruns_total", "counter", "cycles that ended after the next deadline",
                   g.get("overruns"), **labels)
            metric("scada_group_deadlines_missed_total", "counter",
                   "deadlines that left no answer from the PLC (read timed out, or no cycle started)",
                   g.get("deadlines_missed"), **labels)
            metric("scada_group_deadlines_skipped_total", "counter", "deadlines at which no cycle started",
                   g.get("deadlines_skipped"), **labels)
            metric("scada_group_values_total", "counter", "values sent", g.get("values_sent"), **labels)
            metric("scada_group_values_suppressed_total", "counter", "values read and left out by a deadband",
                   g.get("values_suppressed"), **labels)
            metric("scada_group_requests_per_cycle", "gauge", "MC requests per cycle (each costs the PLC a scan)",
                   g.get("requests_per_cycle"), **labels)
            metric("scada_group_last_duration_ms", "gauge", "duration of the last read", g.get("last_duration_ms"),
                   **labels)
            metric("scada_group_avg_duration_ms", "gauge", "average read duration", g.get("avg_duration_ms"), **labels)
            metric("scada_group_lateness_p99_ms", "gauge", "p99 start lateness against the deadline that was due",
                   g.get("lateness_p99_ms"), **labels)
    buffer = telemetry.stage("status.buffer")
    if buffer is not None:
        b = buffer.body
        metric("scada_buffer_values", "gauge", "values in the ring", b.get("current_size"))
        metric("scada_buffer_capacity", "gauge", "BUFFER_MAX_SIZE", b.get("max_size"))
        metric("scada_buffer_overflow_total", "counter", "values dropped from a full ring", b.get("overflow_count"))
        metric("scada_buffer_received_total", "counter", "values received", b.get("received_values"))
        metric("scada_buffer_leased_values", "gauge", "values leased to writers, not yet acknowledged",
               b.get("leased_values"))
        metric("scada_buffer_overflow_last_minute", "gauge", "values dropped from a full ring this minute and the last",
               b.get("overflow_last_minute"))
        metric("scada_buffer_bad_frames_total", "counter", "frames that did not decode", b.get("bad_frames"))
        for reason, n in sorted((b.get("ingest_refused_cycles") or {}).items()):
            metric("scada_buffer_ingest_refused_cycles_total", "counter", "cycles refused at ingest, per reason", n,
                   reason=reason)
        for reason, n in sorted((b.get("ingest_refused_values") or {}).items()):
            metric("scada_buffer_ingest_refused_values_total", "counter", "values of cycles refused at ingest",
                   n, reason=reason)
        for quality, n in sorted((b.get("ingest_marked_bad") or {}).items()):
            metric("scada_buffer_ingest_bad_values_total", "counter", "values stored BAD because the historian "
                   "cannot hold them as read", n, quality=quality)
    refused = {"buffer": (buffer.body.get("refused_connections") or {}) if buffer is not None else {},
               "gateway": gateway_refused or {}}
    for stage, counts in refused.items():
        for socket_name, n in sorted(counts.items()):
            metric("scada_refused_connections_total", "counter", "CURVE clients refused (key not allowed), per "
                   "socket", n, stage=stage, socket=socket_name)
    handshakes = {"buffer": (buffer.body.get("refused_handshakes") or {}) if buffer is not None else {},
                  "gateway": gateway_handshakes or {}}
    for stage, counts in handshakes.items():
        for socket_name, n in sorted(counts.items()):
            metric("scada_refused_handshakes_total", "counter", "clients refused at a CURVE socket before any key "
                   "was checked (no CURVE offered: no key, or a plain socket), per socket", n, stage=stage,
                   socket=socket_name)
    writer = telemetry.stage("status.writer")
    if writer is not None:
        w = writer.body
        metric("scada_writer_values_written_total", "counter", "values stored", w.get("values_written_total"))
        metric("scada_writer_failed_writes", "gauge", "failed writes in the last 5 minutes", w.get("failed_writes"))
        metric("scada_writer_throughput_values_per_second", "gauge", "values stored per second, 5-minute average",
               w.get("throughput_items_per_sec"))
        metric("scada_writer_avg_write_latency_ms", "gauge", "average batch write latency, 5 minutes",
               w.get("avg_write_latency_ms"))
        metric("scada_writer_backup_files_pending", "gauge", "backup files waiting to be replayed",
               w.get("backup_files_pending"))
        metric("scada_writer_rows_rejected_total", "counter", "rows the database refused", w.get("rows_rejected"))
        disk = w.get("disk") or {}
        metric("scada_writer_disk_free_bytes", "gauge", "free bytes where backups go", disk.get("free_bytes"),
               path=disk.get("path"))
        if disk:
            metric("scada_writer_disk_error", "gauge", "1 while the backup disk refuses writes",
                   int(bool(disk.get("error"))), path=disk.get("path"))
        metric("scada_writer_historian_reopened_total", "counter", "times the historian file was found replaced",
               w.get("historian_reopened"))
    for ws in broadcasters:
        metric("scada_ws_clients", "gauge", "WebSocket clients connected", len(ws.clients), endpoint=ws.name)
    for ws in broadcasters:
        metric("scada_ws_slow_clients_closed_total", "counter", "WebSocket clients closed for taking no message "
               "for 3 s", ws.dropped_clients, endpoint=ws.name)
    return list(families.values())
