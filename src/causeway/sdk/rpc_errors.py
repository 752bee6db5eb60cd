"""gRPC failures turned back into the error tree of ``causeway.errors``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc

from causeway.api import (
    INTERNAL_REASON,
    REASON_METADATA_KEY,
    RETRY_AFTER_METADATA_KEY,
    error_for_reason,
)
from causeway.errors import (
    AuthenticationError,
    CausewayError,
    HeightUnavailableError,
    LimitExceededError,
    NodeUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestError,
)

# Statuses that come from the transport or a failing node, not from a refused request: the
# request may be retried, and streams reconnect.
_UNAVAILABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)

# Without a causeway-reason (a proxy, or gRPC itself refusing, e.g. a message above its limit).
_ERROR_FOR_CODE: dict[grpc.StatusCode, type[CausewayError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: RequestError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: LimitExceededError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.OUT_OF_RANGE: HeightUnavailableError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    # A proxy in front of a node may refuse without a causeway-reason.
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
}


def _reason(metadata: Iterable[Any] | None) -> str | None:
    for key, value in metadata or ():
        if key == REASON_METADATA_KEY:
            return value.decode() if isinstance(value, bytes) else value
    return None


def _retry_after_s(metadata: Iterable[Any] | None, default_s: float) -> float:
    for key, value in metadata or ():
        if key == RETRY_AFTER_METADATA_KEY:
            text = value.decode() if isinstance(value, bytes) else value
            return int(text) / 1000 if text.isdigit() else default_s
    return default_s


def error_from_rpc(error: grpc.RpcError) -> CausewayError:
    """The Causeway error a failed call stands for: by its causeway-reason when it has one, by
    its status code otherwise; connection failures become NodeUnavailableError.

    Example:

        try:
            stub.GetStatus(api_pb2.GetStatusRequest())
        except grpc.RpcError as error:
            raise error_from_rpc(error) from error
    """
    code = error.code() if callable(getattr(error, "code", None)) else None
    details = error.details() if callable(getattr(error, "details", None)) else None
    details = details or ""
    metadata = None
    if callable(getattr(error, "trailing_metadata", None)):
        metadata = error.trailing_metadata()
    reason = _reason(metadata)
    if reason is not None and reason != INTERNAL_REASON:
        message = details.removeprefix(f"{reason}: ")
        rebuilt = error_for_reason(reason, message)
        if isinstance(rebuilt, RateLimitedError):
            rebuilt.retry_after_s = _retry_after_s(metadata, rebuilt.retry_after_s)
        return rebuilt
    if reason is None and code in _ERROR_FOR_CODE:
        return _ERROR_FOR_CODE[code](details or str(code))
    if reason is None and code in _UNAVAILABLE_CODES:
        suffix = f": {details}" if details else ""
        return NodeUnavailableError(f"the node cannot be reached ({code.name}){suffix}")
    if reason == INTERNAL_REASON:
        return error_for_reason(reason, details.removeprefix(f"{reason}: "))
    name = code.name if code is not None else "unknown"
    return CausewayError(f"the call failed with {name}: {details}", reason=name.lower())
