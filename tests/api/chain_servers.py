"""gRPC servers for tests: on 127.0.0.1 only, stoppable and restartable on the same port."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import grpc

from causeway.api import ChainService, create_grpc_server, grpc_server_port

MESSAGE_BYTES_MAX = 256 * 1024
T = TypeVar("T")


class AsyncServer:
    """A gRPC server on the current event loop."""

    def __init__(self, service: ChainService, *, message_bytes_max: int = MESSAGE_BYTES_MAX):
        self.service = service
        self.message_bytes_max = message_bytes_max
        self.port = 0
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Starts on a free port the first time, on the same port after a stop."""
        server = create_grpc_server(
            self.service,
            f"127.0.0.1:{self.port}",
            message_bytes_max=self.message_bytes_max,
        )
        self.port = grpc_server_port(server)
        await server.start()
        self._server = server

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(None)


class ThreadServer:
    """A gRPC server on an event loop of its own thread, for the blocking client."""

    def __init__(self, service: ChainService, *, message_bytes_max: int = MESSAGE_BYTES_MAX):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = AsyncServer(service, message_bytes_max=message_bytes_max)

    @property
    def address(self) -> str:
        return self._server.address

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def start(self) -> None:
        self.run(self._server.start())

    def stop(self) -> None:
        self.run(self._server.stop())

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
