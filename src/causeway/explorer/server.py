"""`causeway explorer`: the explorer's pages on a port of their own, reading a node through it.

The browser sees one origin: the pages at /explorer/ and the node's read operations at /v1/...,
which this server passes on to the node (so the node needs no CORS and its port can stay
private). Only reads pass: GET of the read routes, and POST /v1/states (a read of many keys).
Submitting or querying transactions is not what an explorer does, and is refused here with 405.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from causeway.errors import ConfigurationError
from causeway.explorer.files import EXPLORER_PATH, explorer_files_app

PROXIED_PREFIX = "/v1/"
# POST routes that only read; every other POST (submit, query) is refused.
READ_ONLY_POSTS = frozenset({"/v1/states"})
# Bound on a passed-on request body (a GetStates of 256 keys is far below it).
REQUEST_BYTES_MAX = 1 << 20
# Headers of the node's answer that describe the body as this server sends it on, and when to
# ask again after a rate limit (429) of a secured node.
_PASSED_HEADERS = ("content-type", "cache-control", "allow", "retry-after")
NODE_TIMEOUT_S = 30.0


def _refusal(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"reason": reason, "message": message}, status_code=status)


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None once it is known to be above REQUEST_BYTES_MAX (by its declared length,
    or by counting as it arrives): never more than the bound is held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > REQUEST_BYTES_MAX:
        return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > REQUEST_BYTES_MAX:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_explorer_app(
    node_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    tls_ca_file: Path | None = None,
    access_token: Callable[[], str] | None = None,
) -> Starlette:
    """The explorer's pages and a read-only pass-through to the node at ``node_url``
    (``http://host:port``); ``transport`` replaces the network in tests.

    A secured node (``https://``): its certificate is checked against ``tls_ca_file``, and every
    read passed on carries a token from ``access_token`` (called per read, so that a token
    source renews them): this process reads with that member's rights, and the browser needs
    no token. Any Authorization the browser sends is not passed on. Tokens over plaintext are a
    ConfigurationError, as is a CA file that cannot be read."""
    base_url = node_url.rstrip("/")
    if access_token is not None and not base_url.startswith("https://"):
        raise ConfigurationError(f"access tokens are sent only over TLS: {base_url} is not https")
    verify: ssl.SSLContext | bool = True
    if tls_ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(tls_ca_file))
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(f"cannot read TLS CA file {tls_ca_file}: {error}") from None
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(NODE_TIMEOUT_S, read=None),
        transport=transport,
        verify=verify,
    )

    async def pass_on(request: Request) -> Response:
        path = request.url.path
        if request.method == "POST" and path not in READ_ONLY_POSTS:
            return _refusal(405, "method_not_allowed", "the explorer passes on reads only")
        body = b""
        if request.method == "POST":
            bounded = await _bounded_body(request)
            if bounded is None:
                return _refusal(
                    413, "too_large", f"request body is above {REQUEST_BYTES_MAX} bytes"
                )
            body = bounded
        forwarded = client.build_request(
            request.method,
            path,
            params=httpx.QueryParams(request.url.query),
            content=body or None,
            headers={
                # Asked uncompressed; should it come compressed anyway, aiter_bytes decodes it.
                "accept-encoding": "identity",
                **{
                    key: value
                    for key, value in request.headers.items()
                    if key in ("accept", "content-type", "last-event-id")
                },
                **({"authorization": f"Bearer {access_token()}"} if access_token else {}),
            },
        )
        try:
            answer = await client.send(forwarded, stream=True)
        except httpx.HTTPError as error:
            return _refusal(502, "unavailable", f"the node at {base_url} did not answer: {error}")

        async def body_chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_bytes():
                    yield chunk
            finally:
                await answer.aclose()

        headers = {key: answer.headers[key] for key in _PASSED_HEADERS if key in answer.headers}
        return StreamingResponse(body_chunks(), status_code=answer.status_code, headers=headers)

    async def to_explorer(request: Request) -> Response:
        return RedirectResponse(f"{EXPLORER_PATH}/")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    return Starlette(
        routes=[
            Route("/", to_explorer),
            Route(EXPLORER_PATH, to_explorer),
            Route("/v1/{rest:path}", pass_on, methods=["GET", "POST"]),
            Mount(EXPLORER_PATH, app=explorer_files_app()),
        ],
        lifespan=lifespan,
    )
