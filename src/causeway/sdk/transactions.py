"""Building and signing transactions, and reading submit answers: shared by both clients."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from causeway.api import error_for_reason
from causeway.api.v1 import api_pb2
from causeway.errors import CausewayError, ConfigurationError, RequestError
from causeway.sdk.identity import Identity
from causeway.types import (
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    encode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

NONCE_BYTES = 16
# The reason of errors about answers that break the API's own contract.
BAD_RESPONSE_REASON = "bad_response"
EXPIRY_S_DEFAULT = 60.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode_arguments(arguments: Message | bytes) -> bytes:
    """A contract's argument message in its canonical encoding; bytes pass through unchanged."""
    if isinstance(arguments, bytes | bytearray | memoryview):
        return bytes(arguments)
    return encode(arguments)


def build_transaction(
    identity: Identity,
    chain_id: str,
    contract: str,
    method: str,
    arguments: Message | bytes,
    *,
    expiry_s: float = EXPIRY_S_DEFAULT,
    endorsers: Sequence[Identity] = (),
    timestamp_ms: int | None = None,
) -> types_pb2.Transaction:
    """A transaction of ``identity`` calling ``contract.method``, signed, with endorsements.

    The body carries 16 random nonce bytes (two identical calls are two transactions), the
    current time and an expiry ``expiry_s`` later. The sender signs
    ``sign_bytes("transaction", chain_id, body)``, each endorser
    ``sign_bytes("endorsement", chain_id, body)``.
    """
    if not chain_id:
        raise ConfigurationError("a transaction needs the chain id")
    if not contract or not method:
        raise ConfigurationError("a transaction needs a contract and a method")
    if expiry_s <= 0:
        raise ConfigurationError(f"expiry_s must be positive, not {expiry_s}")
    issued_ms = now_ms() if timestamp_ms is None else timestamp_ms
    body = encode(
        types_pb2.TransactionBody(
            version=TRANSACTION_VERSION,
            chain_id=chain_id,
            nonce=secrets.token_bytes(NONCE_BYTES),
            timestamp_ms=issued_ms,
            expiry_ms=issued_ms + round(expiry_s * 1000),
            contract=contract,
            method=method,
            arguments=encode_arguments(arguments),
            sender=identity.member_id,
        )
    )
    transaction = types_pb2.Transaction(
        body=body,
        signature=identity.key.sign(sign_bytes(DOMAIN_TRANSACTION, chain_id, body)),
    )
    for endorser in endorsers:
        endorse(transaction, endorser, chain_id)
    return transaction


def endorse(transaction: types_pb2.Transaction, endorser: Identity, chain_id: str) -> None:
    """Adds ``endorser``'s endorsement to ``transaction`` (for endorsers who sign elsewhere)."""
    if any(existing.endorser == endorser.member_id for existing in transaction.endorsements):
        raise ConfigurationError(f"{endorser.member_id} has already endorsed this transaction")
    transaction.endorsements.append(
        types_pb2.Endorsement(
            endorser=endorser.member_id,
            signature=endorser.key.sign(sign_bytes(DOMAIN_ENDORSEMENT, chain_id, transaction.body)),
        )
    )


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What became of a submitted transaction.

    ``committed`` is set when the submit waited and the transaction committed in time; then
    ``height`` and ``result`` tell where and how (a committed transaction may still have failed:
    see ``result.status`` and ``succeeded``). ``error`` is only ever set in the answers of
    ``submit_batch``, for transactions the node refused; ``submit`` raises instead.
    """

    transaction_id: bytes
    height: int
    result: types_pb2.TransactionResult | None
    committed: bool
    error: CausewayError | None = None

    @property
    def succeeded(self) -> bool:
        return (
            self.committed
            and self.result is not None
            and self.result.status == types_pb2.RESULT_STATUS_OK
        )


def rejection_error(response: api_pb2.SubmitResponse) -> CausewayError:
    reason = response.rejection.reason or RequestError.reason
    return error_for_reason(reason, response.rejection.message or "transaction refused")


def submit_result(response: api_pb2.SubmitResponse) -> SubmitResult:
    """The result of an accepted transaction; the mapped error of a refused one is raised."""
    if not response.accepted:
        raise rejection_error(response)
    return SubmitResult(
        transaction_id=response.transaction_id,
        height=response.height,
        result=response.result if response.HasField("result") else None,
        committed=response.committed,
    )


def batch_results(response: api_pb2.SubmitBatchResponse, expected: int) -> list[SubmitResult]:
    if len(response.responses) != expected:
        raise CausewayError(
            f"the node answered {len(response.responses)} results for {expected} transactions",
            reason=BAD_RESPONSE_REASON,
        )
    results: list[SubmitResult] = []
    for item in response.responses:
        if item.accepted:
            results.append(submit_result(item))
        else:
            results.append(
                SubmitResult(
                    transaction_id=item.transaction_id,
                    height=0,
                    result=None,
                    committed=False,
                    error=rejection_error(item),
                )
            )
    return results


def wait_timeout_ms(timeout_s: float) -> int:
    if timeout_s < 0:
        raise ConfigurationError(f"timeout_s must not be negative, not {timeout_s}")
    return min(round(timeout_s * 1000), (1 << 32) - 1)
