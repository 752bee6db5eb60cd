"""The gRPC side of the client API's gate (causeway.api.authentication): reads the caller's token
from the ``authorization`` metadata, its certificate from the TLS session and its address from the
peer, and refuses calls the gate refuses with the usual status, details and ``causeway-reason``
(plus ``retry-after-ms`` when over the rate limit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from causeway.api.authentication import ApiAccess
from causeway.api.errors import REASON_METADATA_KEY
from causeway.api.grpc_server import abort_with_error
from causeway.errors import AuthenticationError, CausewayError, RateLimitedError

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = Any

AUTHORIZATION_METADATA_KEY = "authorization"
RETRY_AFTER_METADATA_KEY = "retry-after-ms"
BEARER_PREFIX = "Bearer "


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value; AuthenticationError for any other
    scheme (a client that sends something must learn that it was not understood)."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    # The scheme is case-insensitive (RFC 9110, section 11.1).
    if scheme.lower() != BEARER_PREFIX.strip().lower() or not token.strip():
        raise AuthenticationError("authorization must be 'Bearer <access token>'")
    return token.strip()


def peer_host(peer: str) -> str:
    """The host of a gRPC peer string (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``), without its
    port: rate limits count per address, not per connection."""
    _, _, address = peer.partition(":")
    host, separator, _ = address.rpartition(":")
    return host if separator else address


def _certificate(context: Context) -> bytes | None:
    pems = list(context.auth_context().get("x509_pem_cert", ()))
    if not pems:
        return None
    return x509.load_pem_x509_certificate(pems[0]).public_bytes(serialization.Encoding.DER)


def _token(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == AUTHORIZATION_METADATA_KEY:
            return bearer_token(value if isinstance(value, str) else value.decode("latin-1"))
    return None


def grpc_guard(
    access: ApiAccess,
) -> Callable[[str, Context], Awaitable[Callable[[], Awaitable[None]] | None]]:
    """The guard create_grpc_server runs before every call; for streams, the check it answers
    runs before each item (access.recheck)."""

    async def guard(method: str, context: Context) -> Callable[[], Awaitable[None]] | None:
        token = certificate = None
        try:
            token = _token(context)
            certificate = _certificate(context)
            access.admit(
                method, token=token, certificate_der=certificate, remote=peer_host(context.peer())
            )
        except RateLimitedError as error:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{error.reason}: {error.message}",
                (
                    (REASON_METADATA_KEY, error.reason),
                    (RETRY_AFTER_METADATA_KEY, str(max(1, round(error.retry_after_s * 1000)))),
                ),
            )
        except CausewayError as error:
            await abort_with_error(context, error, method)

        async def recheck() -> None:
            try:
                access.recheck(method, token=token, certificate_der=certificate)
            except CausewayError as error:
                await abort_with_error(context, error, method)

        return recheck

    return guard
