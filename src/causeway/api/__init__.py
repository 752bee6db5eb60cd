"""The service a node implements (ChainService) and its two front doors: gRPC and HTTP/JSON.

``create_http_app`` is imported on first use so that gRPC-only users (the SDK, the CLI) do not pay
for importing the ASGI stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from causeway.api.errors import (
    INTERNAL_REASON,
    REASON_METADATA_KEY,
    error_class_for_reason,
    error_for_reason,
    grpc_status_for_error,
    http_status_for_error,
)
from causeway.api.grpc_server import (
    DEFAULT_GRPC_ADDRESS,
    SERVICE_NAME,
    ChainServicerAdapter,
    create_grpc_server,
    grpc_server_port,
)
from causeway.api.requests import (
    SubmittedTransaction,
    submitted_transaction,
    submitted_transactions,
)
from causeway.api.service import ChainService

if TYPE_CHECKING:
    from causeway.api.http_gateway import MetricsHandler, create_http_app

__all__ = [
    "DEFAULT_GRPC_ADDRESS",
    "INTERNAL_REASON",
    "REASON_METADATA_KEY",
    "SERVICE_NAME",
    "ChainService",
    "ChainServicerAdapter",
    "MetricsHandler",
    "SubmittedTransaction",
    "create_grpc_server",
    "create_http_app",
    "error_class_for_reason",
    "error_for_reason",
    "grpc_server_port",
    "grpc_status_for_error",
    "http_status_for_error",
    "submitted_transaction",
    "submitted_transactions",
]

_LAZY = frozenset({"MetricsHandler", "create_http_app"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from causeway.api import http_gateway  # noqa: PLC0415 (deferred on purpose)

        return getattr(http_gateway, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
