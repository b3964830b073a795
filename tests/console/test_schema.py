"""Schemathesis (issue: security suite) against the agent console's own OpenAPI document: whatever a client
sends, no 5xx, and without a session nothing but the sign-in answers."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

PUBLIC = {("POST", "/console/api/login")}


@pytest.fixture()
def api_schema(console_app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/console/api/openapi.json", console_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_server_error_and_no_data_without_a_session(case: Any) -> None:
    try:
        response = case.call()
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800") cannot be sent as UTF-8 by any client: no request.
        return
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if (case.method.upper(), case.path) not in PUBLIC:
        # Refused (401/403 without a session or CSRF token, 400/422 for a body that does
        # not fit the public schema, 405 for a method the path does not have): never data.
        assert 400 <= response.status_code < 500, (case.method, case.path,
                                                   response.status_code)
        assert "merchant" not in response.text and "transcript" not in response.text
