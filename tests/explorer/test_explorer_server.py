"""`causeway explorer`'s server without a browser: its files, and what it passes on to the node."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from typer.testing import CliRunner

from causeway.cli.explorer_command import check_node_url
from causeway.cli.main import app
from causeway.errors import ConfigurationError
from causeway.explorer import STATIC_DIRECTORY, create_explorer_app
from causeway.explorer.server import REQUEST_BYTES_MAX

STATUS = {"chainId": "explorer-test", "height": "7"}


class FakeNode:
    """The node's side of the pass-through: records what reached it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/status":
            return httpx.Response(200, json=STATUS)
        if request.url.path == "/v1/state/busy":
            return httpx.Response(
                429,
                json={"reason": "rate_limited", "message": "over the rate limit"},
                headers={"retry-after": "2"},
            )
        if request.url.path == "/v1/states":
            return httpx.Response(200, json={"echo": json.loads(request.content)})
        return httpx.Response(
            404, json={"reason": "not_found", "message": f"no {request.url.path}"}
        )


@pytest.fixture
def node() -> FakeNode:
    return FakeNode()


@pytest.fixture
async def explorer(node: FakeNode) -> AsyncIterator[httpx.AsyncClient]:
    application = create_explorer_app("http://node:8050/", transport=httpx.MockTransport(node))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://explorer") as client:
        yield client


async def test_serves_the_pages_and_redirects_to_them(explorer: httpx.AsyncClient) -> None:
    for path in ("/", "/explorer"):
        answer = await explorer.get(path)
        assert answer.status_code == 307 and answer.headers["location"] == "/explorer/"
    index = await explorer.get("/explorer/")
    assert index.status_code == 200
    assert index.text == (STATIC_DIRECTORY / "index.html").read_text(encoding="utf-8")
    # Module scripts run only when served as JavaScript.
    module = await explorer.get("/explorer/verify.js")
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]


async def test_files_outside_the_folder_are_not_served(explorer: httpx.AsyncClient) -> None:
    for path in ("/explorer/../files.py", "/explorer/%2e%2e/files.py", "/explorer/nothing.js"):
        answer = await explorer.get(path)
        assert answer.status_code == 404, path


async def test_reads_are_passed_on(explorer: httpx.AsyncClient, node: FakeNode) -> None:
    status = await explorer.get("/v1/status")
    assert status.status_code == 200 and status.json() == STATUS
    missing = await explorer.get("/v1/blocks/99", params={"header_only": "true"})
    assert missing.status_code == 404 and missing.json()["reason"] == "not_found"
    assert str(node.requests[-1].url) == "http://node:8050/v1/blocks/99?header_only=true"
    states = await explorer.post("/v1/states", json={"keys": ["AA=="]})
    assert states.json() == {"echo": {"keys": ["AA=="]}}


@pytest.mark.parametrize("path", ["/v1/transactions", "/v1/transactions/batch", "/v1/query"])
async def test_writes_are_refused_and_never_reach_the_node(
    explorer: httpx.AsyncClient, node: FakeNode, path: str
) -> None:
    answer = await explorer.post(path, json={})
    assert answer.status_code == 405
    assert answer.json()["reason"] == "method_not_allowed"
    assert node.requests == []


async def test_a_large_read_is_refused_before_the_node(
    explorer: httpx.AsyncClient, node: FakeNode
) -> None:
    keys = ["A" * 4] * (REQUEST_BYTES_MAX // 4)
    answer = await explorer.post("/v1/states", json={"keys": keys})
    assert answer.status_code == 413 and answer.json()["reason"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * (REQUEST_BYTES_MAX // 2)

    undeclared = await explorer.post("/v1/states", content=chunks())
    assert undeclared.status_code == 413
    assert node.requests == []


async def test_an_unreachable_node_is_a_clear_502() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    application = create_explorer_app("http://node:8050", transport=httpx.MockTransport(refuse))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://explorer") as client:
        answer = await client.get("/v1/status")
    assert answer.status_code == 502
    assert answer.json()["reason"] == "unavailable"
    assert "http://node:8050" in answer.json()["message"]


def test_node_url_is_checked() -> None:
    assert check_node_url("http://127.0.0.1:8050/") == "http://127.0.0.1:8050"
    for bad in ("127.0.0.1:8050", "ftp://host", "http://host/v1", "http://host:8050?x=1", ""):
        with pytest.raises(ConfigurationError):
            check_node_url(bad)


def test_command_refuses_a_bad_node_url_before_serving() -> None:
    result = CliRunner().invoke(app, ["explorer", "--node", "ftp://host", "--port", "0"])
    assert result.exit_code == 2
    assert "is not a node's HTTP address" in result.output


def test_command_refuses_a_node_that_does_not_answer() -> None:
    # Port 9 (discard) on loopback: nothing listens there in a test machine.
    result = CliRunner().invoke(app, ["explorer", "--node", "http://127.0.0.1:9", "--port", "0"])
    assert result.exit_code == 1
    assert "does not answer" in result.output


async def test_a_rate_limit_is_passed_on_with_when_to_ask_again(
    explorer: httpx.AsyncClient,
) -> None:
    answer = await explorer.get("/v1/state/busy")
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["reason"] == "rate_limited"
