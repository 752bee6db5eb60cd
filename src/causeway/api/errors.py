"""How the error tree of ``causeway.errors`` appears on the wire: gRPC status codes, HTTP statuses.

Both tables are keyed by class and looked up along the method resolution order, so a subclass added
later inherits its parent's status until it is given its own.
"""

from __future__ import annotations

import grpc

from causeway.errors import (
    AuthenticationError,
    CausewayError,
    DecodeError,
    DuplicateError,
    ExpiredError,
    HeightUnavailableError,
    LimitExceededError,
    MempoolFullError,
    NodeUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    ProofError,
    RateLimitedError,
    RequestError,
    SignatureError,
    UnknownMemberError,
    WrongChainError,
)

# Trailing metadata key that carries the machine-readable reason of a failed call.
REASON_METADATA_KEY = "causeway-reason"

# The reason reported for failures that are not the caller's fault and carry no detail.
INTERNAL_REASON = "internal"

_GRPC_STATUS: dict[type[CausewayError], grpc.StatusCode] = {
    RequestError: grpc.StatusCode.INVALID_ARGUMENT,
    DecodeError: grpc.StatusCode.INVALID_ARGUMENT,
    LimitExceededError: grpc.StatusCode.INVALID_ARGUMENT,
    WrongChainError: grpc.StatusCode.INVALID_ARGUMENT,
    SignatureError: grpc.StatusCode.INVALID_ARGUMENT,
    ExpiredError: grpc.StatusCode.INVALID_ARGUMENT,
    ProofError: grpc.StatusCode.INVALID_ARGUMENT,
    DuplicateError: grpc.StatusCode.ALREADY_EXISTS,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    HeightUnavailableError: grpc.StatusCode.OUT_OF_RANGE,
    PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    UnknownMemberError: grpc.StatusCode.PERMISSION_DENIED,
    MempoolFullError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    AuthenticationError: grpc.StatusCode.UNAUTHENTICATED,
    RateLimitedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    NodeUnavailableError: grpc.StatusCode.UNAVAILABLE,
}

_HTTP_STATUS: dict[type[CausewayError], int] = {
    RequestError: 400,
    DecodeError: 400,
    WrongChainError: 400,
    SignatureError: 400,
    ExpiredError: 400,
    ProofError: 400,
    LimitExceededError: 413,
    DuplicateError: 409,
    NotFoundError: 404,
    HeightUnavailableError: 416,
    PermissionDeniedError: 403,
    UnknownMemberError: 403,
    MempoolFullError: 429,
    AuthenticationError: 401,
    RateLimitedError: 429,
    NodeUnavailableError: 503,
}


def grpc_status_for_error(error: CausewayError) -> grpc.StatusCode:
    """The gRPC status a refused request is answered with; INTERNAL for anything unlisted."""
    for cls in type(error).__mro__:
        status = _GRPC_STATUS.get(cls)
        if status is not None:
            return status
    return grpc.StatusCode.INTERNAL


def http_status_for_error(error: CausewayError) -> int:
    """The HTTP status a refused request is answered with; 500 for anything unlisted."""
    for cls in type(error).__mro__:
        status = _HTTP_STATUS.get(cls)
        if status is not None:
            return status
    return 500


def is_client_visible(error: CausewayError) -> bool:
    """Whether the error's message is meant for the caller (as opposed to an internal failure)."""
    return isinstance(error, RequestError | NodeUnavailableError)


def _error_classes() -> dict[str, type[CausewayError]]:
    classes: dict[str, type[CausewayError]] = {}
    pending: list[type[CausewayError]] = [CausewayError]
    while pending:
        cls = pending.pop()
        # Only the tree of causeway.errors names reasons; subclasses elsewhere do not redefine them.
        if cls.__module__ == CausewayError.__module__:
            classes.setdefault(cls.reason, cls)
        pending.extend(cls.__subclasses__())
    return classes


_ERROR_CLASSES = _error_classes()


def error_class_for_reason(reason: str) -> type[CausewayError] | None:
    """The class of ``causeway.errors`` whose ``reason`` this is, if any."""
    return _ERROR_CLASSES.get(reason)


def error_for_reason(reason: str, message: str) -> CausewayError:
    """Rebuilds an error from its wire form; an unknown reason becomes a RequestError with it."""
    cls = _ERROR_CLASSES.get(reason)
    if cls is None:
        if reason == INTERNAL_REASON:
            return CausewayError(message, reason=reason)
        return RequestError(message, reason=reason)
    return cls(message)
