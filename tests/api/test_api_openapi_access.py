"""The OpenAPI document declares the access gate (docs/api.md, "Access"): the bearer scheme and
the gate's answers (401, 429, and 403 where read roles apply) on every /v1/ route, and nothing
of it on the routes outside /v1/, which stay open."""

from __future__ import annotations

from typing import Any

from chain_double import ChainDouble

from causeway.api import create_http_app

READS_OPEN_TO_EVERY_MEMBER = {
    ("/v1/transactions", "post"),
    ("/v1/transactions/batch", "post"),
    ("/v1/status", "get"),
}


def _document() -> dict[str, Any]:
    app = create_http_app(ChainDouble(), request_bytes_max=1 << 20)
    document: dict[str, Any] = app.openapi()
    return document


def test_the_bearer_scheme_is_declared() -> None:
    scheme = _document()["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def test_every_v1_route_may_take_a_token_and_answers_401_and_429() -> None:
    paths = _document()["paths"]
    v1_operations = [
        (path, method, operation)
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
    ]
    assert len(v1_operations) >= 11
    for path, method, operation in v1_operations:
        # The token, or none at all: nodes that do not authenticate answer without one.
        assert operation["security"] == [{"bearerAuth": []}, {}], (path, method)
        responses = operation["responses"]
        assert responses["401"]["headers"]["WWW-Authenticate"]
        assert "Retry-After" in responses["429"]["headers"]
        assert responses["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
        # Read roles govern every read but the status; submissions answer to the transaction.
        if (path, method) in READS_OPEN_TO_EVERY_MEMBER:
            assert "read_roles" not in responses.get("403", {}).get("description", "")
        else:
            assert "read_roles" in responses["403"]["description"], (path, method)


def test_routes_outside_v1_stay_open_in_the_document() -> None:
    metrics = _document()["paths"]["/metrics"]["get"]
    assert "security" not in metrics
    assert "401" not in metrics["responses"]
    assert "429" not in metrics["responses"]
