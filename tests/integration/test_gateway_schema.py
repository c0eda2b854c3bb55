"""Property-based test of the gateway's OpenAPI schema (schemathesis): no request gets a 500.

Runs against the real gateway of a running plant. Changing requests are sent
with the API token, except ``/api/stages/...`` ones (which would stop the
stages this test needs): those go without it and must be refused, not crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.helpers import wait_for
from tests.integration.test_gateway import TOKEN, get
from tests.supervisor_run import running_plant

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    with running_plant(SCADA_API_TOKEN=TOKEN) as (sup, env):
        sup.wait_running()
        wait_for(lambda: get(env, "/api/buffer/status")[0] == 200, 30, what="telemetry")
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{env['SCADA_API_PORT']}/openapi.json")
        yield schema


def test_no_request_makes_the_gateway_answer_500(api: Any) -> None:
    tested = []
    for result in api.get_all_operations():
        operation = result.ok()

        @settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            headers = {}
            if case.method.upper() == "POST" and not case.path.startswith("/api/stages"):
                headers["Authorization"] = f"Bearer {TOKEN}"
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) == 24, tested  # every endpoint of the schema was exercised
