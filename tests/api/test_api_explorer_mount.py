"""The node's HTTP gateway serves the explorer's pages at /explorer/ (causeway.explorer)."""

from __future__ import annotations

import httpx
from chain_double import ChainDouble

from causeway.api import create_http_app
from causeway.explorer import STATIC_DIRECTORY


async def _get(double: ChainDouble, path: str) -> httpx.Response:
    application = create_http_app(double, request_bytes_max=4096)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        return await client.get(path)


async def test_the_explorer_is_served_beside_the_api(double: ChainDouble) -> None:
    folder = await _get(double, "/explorer")
    assert folder.status_code == 307 and folder.headers["location"] == "/explorer/"
    index = await _get(double, "/explorer/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert index.text == (STATIC_DIRECTORY / "index.html").read_text(encoding="utf-8")
    for module in sorted(STATIC_DIRECTORY.glob("*.js")):
        answer = await _get(double, f"/explorer/{module.name}")
        assert answer.status_code == 200, module.name
        assert "javascript" in answer.headers["content-type"], module.name


async def test_unknown_files_are_the_gateway_s_not_found(double: ChainDouble) -> None:
    for path in ("/explorer/nothing.js", "/explorer/../http_gateway.py"):
        answer = await _get(double, path)
        assert answer.status_code == 404, path
    assert (await _get(double, "/explorer/nothing.js")).json()["reason"] == "not_found"


async def test_the_explorer_is_not_an_api_operation(double: ChainDouble) -> None:
    document = (await _get(double, "/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/explorer")]
