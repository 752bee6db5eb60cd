"""The HTTP side of the client API's gate (causeway.api.authentication), as ASGI middleware
around the gateway: every ``/v1/`` route needs what the gate asks (a bearer token when the node
requires authentication; read roles; the member's rate limit); the operator's routes (health,
metrics, the OpenAPI document) are open but counted against the caller's address.

A refusal is answered as the gateway answers any: the status of its reason and
``{"reason", "message"}``; 401 carries ``WWW-Authenticate: Bearer`` and 429 ``Retry-After``.
Identity on HTTP is always the token: uvicorn does not hand the client's TLS certificate to the
application (a client certificate, when the node asks for one, is checked by the TLS layer only).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from causeway.api.authentication import ApiAccess
from causeway.api.errors import http_status_for_error
from causeway.api.grpc_access import bearer_token
from causeway.errors import AuthenticationError, CausewayError, RateLimitedError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Application = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/v1/"
# (method, path) -> the gRPC operation of the same name; a path under /v1/ not listed is a read.
_WRITES = {
    ("POST", "/v1/transactions"): "Submit",
    ("POST", "/v1/transactions/batch"): "SubmitBatch",
}
_STATUS_PATH = "/v1/status"


def http_operation(method: str, path: str) -> str | None:
    """The operation a request is checked as; None for a route outside the API (open)."""
    if not path.startswith(API_PREFIX):
        return None
    write = _WRITES.get((method, path.rstrip("/")))
    if write is not None:
        return write
    if path.rstrip("/") == _STATUS_PATH:
        return "GetStatus"
    # Every other route reads the chain (and an unknown one will be answered 404 after this).
    return "Query"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class AccessMiddleware:
    """Runs ``access`` before ``application`` sees an HTTP request."""

    def __init__(self, application: Application, access: ApiAccess) -> None:
        self._application = application
        self._access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._application(scope, receive, send)
            return
        client = scope.get("client")
        remote = str(client[0]) if client else "unknown"
        operation = http_operation(str(scope.get("method", "")), str(scope.get("path", "")))
        token: str | None = None
        try:
            if operation is None:
                self._access.admit_public(remote)
            else:
                token = bearer_token(_header(scope, b"authorization"))
                self._access.admit(operation, token=token, certificate_der=None, remote=remote)
        except CausewayError as error:
            await _refuse(send, error)
            return
        if operation is None or not self._access.settings.require_authentication:
            await self._application(scope, receive, send)
            return
        stream = _CheckedStream(
            receive,
            send,
            lambda: self._access.recheck(operation, token=token, certificate_der=None),
        )
        await self._application(scope, stream.receive, stream.send)


class _CheckedStream:
    """Passes a response on, checking before each further piece of a streamed body that the
    caller may still read. When it may not (a member removed meanwhile, a token expired), the
    body ends there and the application is told that the client is gone (``http.disconnect``),
    which is how Starlette stops producing a stream without an error."""

    def __init__(self, receive: Receive, send: Send, recheck: Callable[[], None]) -> None:
        self._receive = receive
        self._send = send
        self._recheck = recheck
        self._ended = asyncio.Event()

    async def receive(self) -> Message:
        if self._ended.is_set():
            return {"type": "http.disconnect"}
        receiving = asyncio.ensure_future(self._receive())
        ending = asyncio.ensure_future(self._ended.wait())
        done, _ = await asyncio.wait({receiving, ending}, return_when=asyncio.FIRST_COMPLETED)
        if receiving in done:
            ending.cancel()
            return receiving.result()
        receiving.cancel()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self._ended.is_set():
            return
        if message.get("type") == "http.response.body" and message.get("more_body"):
            try:
                self._recheck()
            except CausewayError:
                self._ended.set()
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        await self._send(message)


async def _refuse(send: Send, error: CausewayError) -> None:
    status = http_status_for_error(error)
    headers = [(b"content-type", b"application/json")]
    if isinstance(error, AuthenticationError):
        headers.append((b"www-authenticate", b"Bearer"))
    if isinstance(error, RateLimitedError):
        headers.append((b"retry-after", str(max(1, math.ceil(error.retry_after_s))).encode()))
    body = json.dumps({"reason": error.reason, "message": error.message}).encode()
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
