"""/metrics from real stages' status, in Prometheus' text format as prometheus_client writes it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.poller_harness import PLC
from tests.unit.services.gateway.conftest import Stages


def test_metrics_parse_and_count_what_the_stages_report(stages: Stages, client: TestClient) -> None:
    stages.publish_all(client)
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(answer.text) for s in family.samples}
    assert samples[("scada_buffer_capacity", ())] == stages.settings.buffer_max_size
    assert samples[("scada_stage_up", (("stage", "buffer"),))] == 1
    assert samples[("scada_stage_up", (("plc", PLC), ("stage", "poller")))] == 1
    assert samples[("scada_group_cycles_total", (("group", "FAST"), ("plc", PLC)))] == 0
    assert samples[("scada_writer_values_written_total", ())] == 0
    assert samples[("scada_ws_clients", (("endpoint", "polling"),))] == 0
    assert "# TYPE scada_writer_values_written_total counter" in answer.text
