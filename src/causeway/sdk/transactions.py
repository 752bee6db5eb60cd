"""Building and signing transactions (from causeway.types), and reading submit answers: shared by
both clients."""

from __future__ import annotations

import time
from dataclasses import dataclass

from causeway.api import error_for_reason
from causeway.api.v1 import api_pb2
from causeway.errors import CausewayError, ConfigurationError, RequestError
from causeway.types import EXPIRY_S_DEFAULT, build_transaction, endorse
from causeway.types.v1 import types_pb2

# Re-exported: the SDK's clients build transactions with causeway.types' functions.
__all__ = [
    "BAD_RESPONSE_REASON",
    "EXPIRY_S_DEFAULT",
    "SubmitResult",
    "batch_results",
    "build_transaction",
    "endorse",
    "now_ms",
    "rejection_error",
    "submit_result",
    "wait_timeout_ms",
]

# The reason of errors about answers that break the API's own contract.
BAD_RESPONSE_REASON = "bad_response"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What became of a submitted transaction.

    ``committed`` is set when the submit waited and the transaction committed in time; then
    ``height`` and ``result`` tell where and how (a committed transaction may still have failed:
    see ``result.status`` and ``succeeded``). ``error`` is only ever set in the answers of
    ``submit_batch``, for transactions the node refused; ``submit`` raises instead.

    Example:

        result = client.invoke("kv", "put", KvPutArguments(key=b"colour", value=b"blue"))
        if result.succeeded:
            print(result.transaction_id.hex(), "committed at", result.height)
    """

    transaction_id: bytes
    height: int
    result: types_pb2.TransactionResult | None
    committed: bool
    error: CausewayError | None = None

    @property
    def succeeded(self) -> bool:
        """True when the transaction committed in time with status OK.

        Example:

            result = client.submit(transaction)
            assert result.succeeded, result.result
        """
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
