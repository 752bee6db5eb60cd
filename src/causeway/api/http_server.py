"""The servers of a node's front doors: uvicorn on the node's event loop (on a socket bound early)
for HTTP/JSON, beside the gRPC server (ApiServers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from pathlib import Path
from typing import Any

import uvicorn

from causeway.api.authentication import ApiAccess
from causeway.api.grpc_access import grpc_guard
from causeway.api.grpc_server import create_grpc_server, grpc_server_port
from causeway.api.http_access import AccessMiddleware
from causeway.api.http_gateway import MetricsHandler, create_http_app
from causeway.api.operations import RequestObserver
from causeway.api.probes import Probes
from causeway.api.service import ChainService
from causeway.api.snapshot_routes import add_snapshot_routes
from causeway.api.transport_security import ApiTlsFiles
from causeway.errors import ConfigurationError

# Connections the kernel queues before the server accepts them.
LISTEN_BACKLOG = 2048


def _uvicorn_tls(tls: ApiTlsFiles | None) -> dict[str, Any]:
    if tls is None:
        return {}
    tls.check()
    options: dict[str, Any] = {
        "ssl_certfile": str(tls.certificate_file),
        "ssl_keyfile": str(tls.key_file),
    }
    if tls.client_ca_bundle_file is not None:
        options |= {
            "ssl_ca_certs": str(tls.client_ca_bundle_file),
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }
    return options


class HttpServer:
    """uvicorn on our event loop, without its own signal handling (the node owns the signals).

    The listening socket is bound here, at construction, so that a taken or invalid address is
    a ConfigurationError before the node announces itself, not an exit deep inside uvicorn.
    """

    def __init__(self, app: object, address: str, tls: ApiTlsFiles | None = None) -> None:
        # Before binding: a bad TLS file must not leave a socket behind.
        tls_options = _uvicorn_tls(tls)
        host, _, port_text = address.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port_text)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._socket = socket.socket(family, socket.SOCK_STREAM)
        except (ValueError, OSError) as error:
            raise ConfigurationError(f"invalid HTTP address {address!r}: {error}") from None
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
            self._socket.listen(LISTEN_BACKLOG)
        except OSError as error:
            self._socket.close()
            raise ConfigurationError(
                f"cannot listen on {address} for HTTP: {error.strerror or error}"
            ) from None
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_level="warning",
            lifespan="off",
            access_log=False,
            **tls_options,
        )
        self._server = uvicorn.Server(config)
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[assignment]

    @property
    def port(self) -> int:
        """The port listened on (the one the kernel chose for port 0)."""
        return int(self._socket.getsockname()[1])

    @property
    def should_exit(self) -> bool:
        return bool(self._server.should_exit)

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._server.should_exit = value

    async def serve(self) -> None:
        try:
            await self._server.serve(sockets=[self._socket])
        except SystemExit:
            # uvicorn exits the process on start-up failures; a node reports and stops instead.
            raise ConfigurationError("the HTTP server could not start") from None
        finally:
            self._socket.close()


class ApiServers:
    """The node's two front doors over one ChainService: gRPC and HTTP/JSON.

    Both are bound at construction, so that a taken or invalid address is one clear
    ConfigurationError before the node announces itself; `start` serves, `stop` stops both.
    """

    def __init__(
        self,
        service: ChainService,
        *,
        grpc_address: str,
        http_address: str,
        message_bytes_max: int,
        request_bytes_max: int,
        metrics_handler: MetricsHandler,
        probes: Probes | None = None,
        on_request: RequestObserver | None = None,
        snapshot_folder: Path | None = None,
        tls: ApiTlsFiles | None = None,
        access: ApiAccess | None = None,
    ) -> None:
        """snapshot_folder: the snapshot files served to joining nodes (api.snapshot_routes);
        tls: both ports speak TLS (plaintext without); access: the gate every call passes
        (causeway.api.authentication), none without."""
        if tls is not None:
            tls.check()  # before either port is bound
        self._grpc = create_grpc_server(
            service,
            grpc_address,
            message_bytes_max=message_bytes_max,
            on_request=on_request,
            credentials=None if tls is None else tls.grpc_credentials(),
            guard=None if access is None else grpc_guard(access),
        )
        http_application = create_http_app(
            service,
            request_bytes_max=request_bytes_max,
            metrics_handler=metrics_handler,
            probes=probes,
            on_request=on_request,
        )
        if snapshot_folder is not None:
            add_snapshot_routes(http_application, snapshot_folder)
        application: object = http_application
        if access is not None:
            application = AccessMiddleware(http_application, access)
        self._http = HttpServer(application, http_address, tls)
        self._serving: asyncio.Task[None] | None = None

    @property
    def ports(self) -> tuple[int, int]:
        """The gRPC and HTTP ports listened on (port 0 in an address picks a free one)."""
        return grpc_server_port(self._grpc), self._http.port

    async def start(self) -> asyncio.Task[None]:
        """Starts both; the task returned ends when the HTTP server does."""
        await self._grpc.start()
        self._serving = asyncio.create_task(self._http.serve())
        return self._serving

    async def stop(self, grace_s: float) -> None:
        """Stops both: calls in flight get grace_s to finish."""
        self._http.should_exit = True
        await self._grpc.stop(grace=grace_s)

    async def stopped(self) -> None:
        """Waits for the HTTP server to have closed its socket."""
        if self._serving is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
