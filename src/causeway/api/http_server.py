"""The HTTP/JSON front door's server: uvicorn on the node's event loop, on a socket bound early."""

from __future__ import annotations

import contextlib
import socket

import uvicorn

from causeway.errors import ConfigurationError

# Connections the kernel queues before the server accepts them.
LISTEN_BACKLOG = 2048


class HttpServer:
    """uvicorn on our event loop, without its own signal handling (the node owns the signals).

    The listening socket is bound here, at construction, so that a taken or invalid address is
    a ConfigurationError before the node announces itself, not an exit deep inside uvicorn.
    """

    def __init__(self, app: object, address: str) -> None:
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
        )
        self._server = uvicorn.Server(config)
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[assignment]

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
