"""The service a node implements (ChainService), the node's implementation of it (ClientService)
and its two front doors: gRPC and HTTP/JSON (ApiServers serves both).

``create_http_app``, ``ClientService`` and the servers are imported on first use, so that
gRPC-only users (the SDK, the CLI) do not pay for importing the ASGI stack or the node's storage
and execution.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from causeway.api.access_tokens import (
    ACCESS_TOKEN_LIFETIME_MAX_MS,
    ACCESS_TOKEN_LIFETIME_MS_DEFAULT,
    DOMAIN_ACCESS_TOKEN,
    make_access_token,
)
from causeway.api.authentication import AccessSettings, ApiAccess
from causeway.api.errors import (
    INTERNAL_REASON,
    REASON_METADATA_KEY,
    error_class_for_reason,
    error_for_reason,
    grpc_status_for_error,
    http_status_for_error,
)
from causeway.api.grpc_access import (
    AUTHORIZATION_METADATA_KEY,
    RETRY_AFTER_METADATA_KEY,
    grpc_guard,
)
from causeway.api.grpc_server import (
    DEFAULT_GRPC_ADDRESS,
    SERVICE_NAME,
    ChainServicerAdapter,
    create_grpc_server,
    grpc_server_port,
)
from causeway.api.http_access import AccessMiddleware
from causeway.api.light_reads import (
    STATES_PER_REQUEST_MAX,
    check_states_request,
    states_response,
    validator_set_response,
)
from causeway.api.rate_limits import RateLimit, RateLimiter
from causeway.api.requests import (
    SubmittedTransaction,
    submitted_transaction,
    submitted_transactions,
)
from causeway.api.service import ChainService
from causeway.api.transport_security import ApiTlsFiles

if TYPE_CHECKING:
    from causeway.api.client_service import ChainFacts, ClientService
    from causeway.api.http_gateway import MetricsHandler, create_http_app
    from causeway.api.http_server import ApiServers, HttpServer

__all__ = [
    "ACCESS_TOKEN_LIFETIME_MAX_MS",
    "ACCESS_TOKEN_LIFETIME_MS_DEFAULT",
    "AUTHORIZATION_METADATA_KEY",
    "DEFAULT_GRPC_ADDRESS",
    "DOMAIN_ACCESS_TOKEN",
    "INTERNAL_REASON",
    "REASON_METADATA_KEY",
    "RETRY_AFTER_METADATA_KEY",
    "SERVICE_NAME",
    "STATES_PER_REQUEST_MAX",
    "AccessMiddleware",
    "AccessSettings",
    "ApiAccess",
    "ApiServers",
    "ApiTlsFiles",
    "ChainFacts",
    "ChainService",
    "ChainServicerAdapter",
    "ClientService",
    "HttpServer",
    "MetricsHandler",
    "RateLimit",
    "RateLimiter",
    "SubmittedTransaction",
    "check_states_request",
    "create_grpc_server",
    "create_http_app",
    "error_class_for_reason",
    "error_for_reason",
    "grpc_guard",
    "grpc_server_port",
    "grpc_status_for_error",
    "http_status_for_error",
    "make_access_token",
    "states_response",
    "submitted_transaction",
    "submitted_transactions",
    "validator_set_response",
]

# Public name -> the module it is imported from on first use.
_LAZY = {
    "MetricsHandler": "http_gateway",
    "create_http_app": "http_gateway",
    "ChainFacts": "client_service",
    "ClientService": "client_service",
    "ApiServers": "http_server",
    "HttpServer": "http_server",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is not None:
        module = importlib.import_module(f"causeway.api.{module_name}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
