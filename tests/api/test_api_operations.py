"""The operations surface of both front doors: /healthz and /readyz answer what the probes
decide (503 with a JSON reason), and every request of either door, refused or not, is told to
the request observer with its route template (never the raw path) and its status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from chain_double import ChainDouble

from causeway.api import create_grpc_server, create_http_app, grpc_server_port
from causeway.api.probes import ProbeAnswer, Probes
from causeway.api.v1 import api_pb2, api_pb2_grpc
from causeway.sdk import Identity, build_transaction

REQUEST_BYTES_MAX = 4096
SERVICE = "/causeway.api.v1.Chain"

Observation = tuple[str, str, str, str]


class Observed:
    def __init__(self) -> None:
        self.requests: list[Observation] = []

    def __call__(self, protocol: str, method: str, route: str, status: str, seconds: float) -> None:
        assert seconds >= 0
        self.requests.append((protocol, method, route, status))


class Verdicts:
    """Probes whose answers a test sets."""

    def __init__(self) -> None:
        self.alive = ProbeAnswer(True, details={"loop_silent_ms": 1.0})
        self.ready = ProbeAnswer(False, "syncing", "block sync is fetching blocks", {"height": 3})

    def probes(self) -> Probes:
        return Probes(liveness=lambda: self.alive, readiness=lambda: self.ready)


@pytest.fixture
def observed() -> Observed:
    return Observed()


@pytest.fixture
def verdicts() -> Verdicts:
    return Verdicts()


@pytest.fixture
async def http(
    double: ChainDouble, observed: Observed, verdicts: Verdicts
) -> AsyncIterator[httpx.AsyncClient]:
    application = create_http_app(
        double,
        request_bytes_max=REQUEST_BYTES_MAX,
        probes=verdicts.probes(),
        on_request=observed,
    )
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        yield client


async def test_the_probes_answer_200_or_503_with_a_reason(
    http: httpx.AsyncClient, verdicts: Verdicts
) -> None:
    alive = await http.get("/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok", "loop_silent_ms": 1.0})
    ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "reason": "syncing",
        "message": "block sync is fetching blocks",
        "height": 3,
    }
    assert ready.headers["cache-control"] == "no-store"
    verdicts.ready = ProbeAnswer(True, details={"height": 4})
    assert (await http.get("/readyz")).json() == {"status": "ok", "height": 4}
    verdicts.alive = ProbeAnswer(False, "event_loop_stalled", "silent for 6000 ms")
    assert (await http.get("/healthz")).status_code == 503
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert {"/healthz", "/readyz"} <= set(paths)


async def test_a_gateway_without_probes_has_no_probe_routes(double: ChainDouble) -> None:
    application = create_http_app(double, request_bytes_max=REQUEST_BYTES_MAX)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        assert (await client.get("/readyz")).status_code == 404


async def test_http_requests_are_observed_by_route_template_and_status(
    http: httpx.AsyncClient, observed: Observed
) -> None:
    await http.get("/v1/status")
    await http.get("/v1/blocks/7")
    await http.get("/v1/blocks/not-a-height")
    await http.get("/no/such/path/123")
    await http.post("/v1/transactions", content=b"x" * (REQUEST_BYTES_MAX + 1))
    await http.get("/readyz")
    assert observed.requests == [
        ("http", "GET", "/v1/status", "200"),
        ("http", "GET", "/v1/blocks/{height}", "404"),
        ("http", "GET", "/v1/blocks/{height}", "400"),
        ("http", "GET", "unmatched", "404"),
        ("http", "POST", "unmatched", "413"),  # refused before routing
        ("http", "GET", "/readyz", "503"),
    ]


@pytest.fixture
async def grpc_stub(
    double: ChainDouble, observed: Observed
) -> AsyncIterator[api_pb2_grpc.ChainAsyncStub]:
    server = create_grpc_server(
        double, "127.0.0.1:0", message_bytes_max=1 << 20, on_request=observed
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_server_port(server)}")
    try:
        yield api_pb2_grpc.ChainStub(channel)
    finally:
        await channel.close(None)
        await server.stop(None)


async def test_grpc_calls_are_observed_with_their_status(
    grpc_stub: api_pb2_grpc.ChainAsyncStub,
    observed: Observed,
    double: ChainDouble,
    identity: Identity,
) -> None:
    double.commit([build_transaction(identity, identity.chain_id, "ledger", "transfer", b"1")])
    await grpc_stub.GetStatus(api_pb2.GetStatusRequest())
    with pytest.raises(grpc.aio.AioRpcError):
        await grpc_stub.GetBlock(api_pb2.GetBlockRequest(height=99))
    stream = grpc_stub.StreamBlocks(api_pb2.StreamBlocksRequest(from_height=1))
    first = await stream.read()
    assert isinstance(first, api_pb2.BlockEvent)
    stream.cancel()
    assert observed.requests == [
        ("grpc", "POST", f"{SERVICE}/GetStatus", "OK"),
        ("grpc", "POST", f"{SERVICE}/GetBlock", "NOT_FOUND"),
        # A stream is observed once, at its first item.
        ("grpc", "POST", f"{SERVICE}/StreamBlocks", "OK"),
    ]
