"""The checks a transaction passes before it may enter the mempool: the one transaction verifier's,
and duplicates and bounds."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from causeway.crypto import BatchVerifier, CryptoProfile, PublicKey, VerifiedTransactionCache
from causeway.errors import (
    DuplicateError,
    InvariantError,
    LimitExceededError,
    RequestError,
)
from causeway.execution import (
    TIMESTAMP_FUTURE_MAX_MS,
    Sender,
    TransactionInput,
    TransactionRules,
    TransactionVerifier,
)
from causeway.mempool.pool import Mempool
from causeway.types import DecodedTransaction
from causeway.types.v1 import types_pb2

# The most transactions one check() call takes.
ADMISSION_BATCH_ITEMS_MAX = 10_000

AdmissionOutcome = DecodedTransaction | RequestError


class Admission:
    """Decides, for a batch of submitted transactions, which may enter the mempool.

    The rules are the one transaction verifier's (causeway.execution.TransactionVerifier: decoding
    and size, version, chain id, timestamp, expiry, membership, role, algorithm, signature), with
    what only admission adds between them: the endorsement count after the body's rules,
    duplicates in the mempool before the sender is looked up, and, before any signature is
    checked, duplicates already committed; after verification, duplicates within the batch. The
    signatures of the whole batch are verified in one BatchVerifier call (those in the
    VerifiedTransactionCache are not verified again). Endorsement signatures are left to the
    executor, which checks them against the state the block runs on.

    check() changes nothing but the cache: it returns, in input order, each item's
    DecodedTransaction or the RequestError that refuses it.
    """

    def __init__(  # noqa: PLR0917 (the ADR 0001 signature)
        self,
        chain_id: str,
        profile: CryptoProfile,
        verifier: BatchVerifier,
        member_lookup: Callable[[str], types_pb2.Member | None],
        committed: Callable[[Sequence[bytes]], list[bool]],
        transaction_bytes_max: int,
        expiry_max_ms: int,
        *,
        mempool: Mempool | None = None,
        endorsements_max: int | None = None,
        timestamp_future_max_ms: int = TIMESTAMP_FUTURE_MAX_MS,
        batch_items_max: int = ADMISSION_BATCH_ITEMS_MAX,
        verified: VerifiedTransactionCache | None = None,
    ) -> None:
        if transaction_bytes_max <= 0 or expiry_max_ms <= 0 or batch_items_max <= 0:
            raise InvariantError("admission limits must be positive")
        self._verifier = TransactionVerifier(chain_id, profile, verifier, verified)
        self._rules = TransactionRules(
            transaction_bytes_max=transaction_bytes_max,
            expiry_max_ms=expiry_max_ms,
            timestamp_future_max_ms=timestamp_future_max_ms,
        )
        self._member_lookup = member_lookup
        self._committed = committed
        self._mempool = mempool
        self._endorsements_max = endorsements_max
        self._batch_items_max = batch_items_max

    def check(self, items: Sequence[TransactionInput], now_ms: int) -> list[AdmissionOutcome]:
        """LimitExceededError (for the whole call) when the batch has too many items."""
        if len(items) > self._batch_items_max:
            raise LimitExceededError(
                f"a batch of {len(items)} transactions is above the limit of "
                f"{self._batch_items_max}"
            )
        verifier = self._verifier
        outcomes: list[AdmissionOutcome | None] = [None] * len(items)
        # Items that passed every check but the committed lookup and the signature: their
        # places in items, and what verify_signatures takes (built once, not re-packed).
        indexes: list[int] = []
        pending: list[tuple[DecodedTransaction, PublicKey]] = []
        senders: dict[str, Sender | RequestError] = {}
        for index, item in enumerate(items):
            try:
                transaction = verifier.check_envelope(item, now_ms, self._rules)
                self._check_admission(transaction)
                key = verifier.check_sender(transaction, senders, self._member_lookup)
            except RequestError as error:
                outcomes[index] = error
                continue
            indexes.append(index)
            pending.append((transaction, key))
        # The store is asked which ids are committed while the worker processes verify the
        # signatures: each id read there waits for the GIL (py-lmdb lets go of it on every
        # read), and admission's latency bounds a client's throughput. A committed copy is
        # verified too (its signature is usually still in the verified cache, so not again).
        committed: list[bool] = []

        def look_up_committed() -> None:
            committed.extend(self._committed([transaction.id for transaction, _ in pending]))

        valid = verifier.verify_signatures(
            pending, meanwhile=look_up_committed if pending else None
        )
        if len(committed) != len(pending):
            raise InvariantError("the committed lookup answered for a different batch")
        accepted: set[bytes] = set()
        for index, (transaction, _), is_valid, is_committed in zip(
            indexes, pending, valid, committed, strict=True
        ):
            if is_committed:
                outcomes[index] = DuplicateError(
                    f"transaction {transaction.id.hex()} is already committed"
                )
            elif not is_valid:
                outcomes[index] = verifier.signature_error(transaction)
            elif transaction.id in accepted:
                # Checked after verification, so that a copy with a bad signature cannot
                # shadow a good one later in the same batch.
                outcomes[index] = DuplicateError(
                    f"transaction {transaction.id.hex()} appears more than once in the batch"
                )
            else:
                accepted.add(transaction.id)
                outcomes[index] = transaction
        return [outcome for outcome in outcomes if outcome is not None]

    def _check_admission(self, transaction: DecodedTransaction) -> None:
        """What admission checks beyond the verifier's rules, before the sender is looked up."""
        endorsements = len(transaction.transaction.endorsements)
        if self._endorsements_max is not None and endorsements > self._endorsements_max:
            raise LimitExceededError(
                f"{endorsements} endorsements, above the limit of {self._endorsements_max}"
            )
        if self._mempool is not None and transaction.id in self._mempool:
            raise DuplicateError(f"transaction {transaction.id.hex()} is already pending")
