"""The one error tree of Causeway.

Two kinds of failure, kept apart on purpose:

* ``RequestError`` and its children: the caller sent something we refuse. It carries a stable
  machine-readable ``reason`` (used by the APIs and the CLI) and a human message. The node keeps
  running and nothing has changed.
* ``InvariantError`` and ``StorageCorruptionError``: our own state is wrong. The node must stop
  loudly rather than serve or extend something broken.

Beside them, ``ToolchainError``: a contract toolchain on the developer's machine (npm, a
compiler) is missing or failed, or a contract does not compile. No chain is involved.
"""

from __future__ import annotations


class CausewayError(Exception):
    """Root of every error Causeway raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class ConfigurationError(CausewayError):
    """A configuration, genesis or key file is missing, unreadable or inconsistent."""

    reason = "bad_configuration"


class RequestError(CausewayError):
    """Input from a client or peer was refused; nothing was changed."""

    reason = "bad_request"


class DecodeError(RequestError):
    """Bytes that are not a canonical encoding of the expected message."""

    reason = "malformed"


class NotCanonicalError(DecodeError):
    """Bytes that parse as the message but are not its one canonical encoding (the same reason
    for callers; the node's peer statistics count it apart from garbage)."""


class LimitExceededError(RequestError):
    """A message, batch or queue bound was exceeded."""

    reason = "too_large"


class WrongChainError(RequestError):
    reason = "wrong_chain"


class SignatureError(RequestError):
    """A signature does not verify, or is not of the expected form."""

    reason = "bad_signature"


class UnknownMemberError(RequestError):
    reason = "unknown_member"


class PermissionDeniedError(RequestError):
    reason = "permission_denied"


class ExpiredError(RequestError):
    reason = "expired"


class DuplicateError(RequestError):
    reason = "duplicate"


class MempoolFullError(RequestError):
    reason = "mempool_full"


class AuthenticationError(RequestError):
    """The client API needs to know who is calling, and the call proved no member: no token, a
    token that does not verify or has expired, or a member that was removed (docs/api.md)."""

    reason = "unauthenticated"


class RateLimitedError(RequestError):
    """A client called the API faster than its node allows; ``retry_after_s`` says when the
    next call will be accepted."""

    reason = "rate_limited"

    def __init__(
        self, message: str, *, retry_after_s: float = 1.0, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


class NotFoundError(RequestError):
    reason = "not_found"


class ProofError(RequestError):
    """A Merkle proof does not prove what it claims."""

    reason = "bad_proof"


class HeightUnavailableError(RequestError):
    """The requested height is pruned or not yet committed."""

    reason = "height_unavailable"


class TransactionFailedError(RequestError):
    """A transaction committed, but its contract refused it: ``result`` holds its status and
    message (the SDK's interchain operations raise it; nothing the call wrote was kept)."""

    reason = "transaction_failed"

    def __init__(
        self, message: str, *, result: object | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.result = result


class ModuleRefusedError(RequestError):
    """A WebAssembly module fails a deployment check (causeway.vm): nothing was stored."""

    reason = "bad_module"


class ContractInterruptedError(CausewayError):
    """A contract call was stopped by this node's own limits, not by a consensus rule: its
    watchdog (a call that ran too long in wall-clock time) or its pool of instances. The node
    does not build or vote for that block; the others decide without it."""

    reason = "interrupted"


class CryptoError(CausewayError):
    """A key or certificate cannot be loaded, or an algorithm is not allowed for the profile."""

    reason = "crypto"


class CertificateError(CryptoError):
    reason = "bad_certificate"


class InvariantError(CausewayError):
    """A broken internal invariant: stop the node, do not continue."""

    reason = "invariant"


class StorageCorruptionError(InvariantError):
    """A record's checksum or structure does not match: never serve it."""

    reason = "storage_corrupt"


class ToolchainError(CausewayError):
    """A contract toolchain is missing, could not be installed or failed, or a contract does not
    compile (the message then holds the compiler's own)."""

    reason = "toolchain"


class NodeUnavailableError(CausewayError):
    """The client could not reach a node, or the node is shutting down."""

    reason = "unavailable"
