"""What the HTTP port offers the people who run the node: liveness and readiness probes, and the
count and latency of every request for the metrics.

``GET /healthz`` answers 200 while the process serves and its event loop is responsive; ``GET
/readyz`` answers 200 when the node is fit to serve clients (its store open, caught up, connected,
its consensus making progress). Either answers 503 with ``{"status": ..., "reason": ...,
"message": ...}`` otherwise. The node decides (node/health.py); this module only serves its
answers, so that the gateway knows nothing of stores or engines.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from causeway.api.probes import ProbeAnswer, Probes

# The route label of a request no route matched (a 404): one value, whatever the path was.
UNMATCHED_ROUTE = "unmatched"


# protocol, method, route template, status, seconds
RequestObserver = Callable[[str, str, str, str, float], None]


def probe_response(answer: ProbeAnswer) -> Response:
    return JSONResponse(
        answer.body(),
        status_code=200 if answer.ok else 503,
        headers={"Cache-Control": "no-store"},
    )


def add_probe_routes(app: FastAPI, probes: Probes) -> None:
    """``GET /healthz`` and ``GET /readyz`` on `app`."""

    @app.get(
        "/healthz",
        summary="Liveness",
        description=(
            "200 while the node's process serves and its event loop is responsive; 503 with "
            "{status, reason, message} when the loop stalled beyond its bound."
        ),
        tags=["node"],
        responses={200: {"description": "alive"}, 503: {"description": "stalled"}},
    )
    async def healthz() -> Response:
        return probe_response(probes.liveness())

    @app.get(
        "/readyz",
        summary="Readiness",
        description=(
            "200 when the node can serve clients: its store open, not syncing, enough peers "
            "connected (replicated chains), consensus committing within its bound; else 503 "
            "with {status, reason, message} naming the first check that failed."
        ),
        tags=["node"],
        responses={200: {"description": "ready"}, 503: {"description": "not ready"}},
    )
    async def readyz() -> Response:
        return probe_response(probes.readiness())


class RequestMetrics:
    """ASGI middleware: tells `observe` of every HTTP request once its answer starts, with the
    route template it matched (never the raw path: the labels stay bounded) and its status.
    A stream's time is its time to the first byte."""

    def __init__(self, app: ASGIApp, observe: RequestObserver) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        async def observing_send(message: AsgiMessage) -> None:
            nonlocal observed
            if message["type"] == "http.response.start" and not observed:
                observed = True
                self._observe(scope, str(message["status"]), time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            if not observed:
                # The client went away, or the application failed before answering.
                self._observe(scope, "none", time.perf_counter() - started)

    def _observe(self, scope: Scope, status: str, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        self.observe(
            "http",
            str(scope.get("method", "")),
            template if isinstance(template, str) else UNMATCHED_ROUTE,
            status,
            seconds,
        )
