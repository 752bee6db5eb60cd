"""The checks a transaction passes before it may enter the mempool, with batched signatures."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from causeway.crypto import BatchVerifier, CryptoProfile, PublicKey, load_public_key
from causeway.errors import (
    CryptoError,
    DecodeError,
    DuplicateError,
    ExpiredError,
    InvariantError,
    LimitExceededError,
    PermissionDeniedError,
    RequestError,
    SignatureError,
    UnknownMemberError,
    WrongChainError,
)
from causeway.execution import may_send
from causeway.mempool.pool import Mempool
from causeway.types import (
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    DecodedTransaction,
    decode_transaction,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

# How far a transaction's timestamp may run ahead of the node's clock (clock skew between clients
# and nodes); a later one is refused rather than kept around.
TIMESTAMP_FUTURE_MAX_MS = 60_000
# The most transactions one check() call takes.
ADMISSION_BATCH_ITEMS_MAX = 10_000

AdmissionOutcome = DecodedTransaction | RequestError
# A sender's public key and roles, looked up once per batch.
_Sender = tuple[PublicKey, frozenset[int]]
# Roles that may send some transaction (which ones: causeway.execution.may_send).
_SENDING_ROLES = frozenset({types_pb2.ROLE_CLIENT, types_pb2.ROLE_ADMIN, types_pb2.ROLE_CONSENSUS})


class Admission:
    """Decides, for a batch of submitted transactions, which may enter the mempool.

    Checks, in order: canonical decoding and size, body version, chain id, expiry (not past, not
    more than expiry_max_ms ahead), timestamp (not more than timestamp_future_max_ms ahead),
    endorsement count, duplicates (in the mempool, committed, within the batch), the sender's
    membership and role (CLIENT or ADMIN for anything; CONSENSUS for evidence.submit only, the
    executor's rule `causeway.execution.may_send`), and the sender's signature. Signatures of the
    whole batch are verified in one BatchVerifier call. Endorsement signatures are left to the
    executor, which checks them against the state the block runs on.

    check() changes nothing: it returns, in input order, each item's DecodedTransaction or the
    RequestError that refuses it.
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
    ) -> None:
        if transaction_bytes_max <= 0 or expiry_max_ms <= 0 or batch_items_max <= 0:
            raise InvariantError("admission limits must be positive")
        self._chain_id = chain_id
        self._profile = profile
        self._verifier = verifier
        self._member_lookup = member_lookup
        self._committed = committed
        self._transaction_bytes_max = transaction_bytes_max
        self._expiry_max_ms = expiry_max_ms
        self._mempool = mempool
        self._endorsements_max = endorsements_max
        self._timestamp_future_max_ms = timestamp_future_max_ms
        self._batch_items_max = batch_items_max

    def check(
        self, items: Sequence[bytes | types_pb2.Transaction], now_ms: int
    ) -> list[AdmissionOutcome]:
        """LimitExceededError (for the whole call) when the batch has too many items."""
        if len(items) > self._batch_items_max:
            raise LimitExceededError(
                f"a batch of {len(items)} transactions is above the limit of "
                f"{self._batch_items_max}"
            )
        outcomes: list[AdmissionOutcome | None] = [None] * len(items)
        # Items that passed every check but the committed lookup and the signature.
        pending: list[tuple[int, DecodedTransaction, PublicKey]] = []
        senders: dict[str, _Sender | RequestError] = {}
        for index, item in enumerate(items):
            try:
                transaction = self._check_one(item, now_ms)
            except RequestError as error:
                outcomes[index] = error
                continue
            sender = transaction.body.sender
            known = senders.get(sender)
            if known is None:
                known = senders[sender] = self._sender(sender)
            if isinstance(known, RequestError):
                # A fresh error per item: one sender's refusal is each of its transactions' own.
                outcomes[index] = type(known)(known.message)
                continue
            key, roles = known
            body = transaction.body
            if not may_send(roles, body.contract, body.method):
                message = f"sender {sender} has neither the CLIENT nor the ADMIN role"
                if types_pb2.ROLE_CONSENSUS in roles:
                    message += "; a CONSENSUS member may only send evidence.submit"
                outcomes[index] = PermissionDeniedError(message)
                continue
            if not transaction.transaction.signature:
                outcomes[index] = SignatureError("the transaction is not signed")
                continue
            pending.append((index, transaction, key))
        if pending:
            committed = self._committed([transaction.id for _, transaction, _ in pending])
            if len(committed) != len(pending):
                raise InvariantError("the committed lookup answered for a different batch")
            still_pending = []
            for (index, transaction, key), is_committed in zip(pending, committed, strict=True):
                if is_committed:
                    outcomes[index] = DuplicateError(
                        f"transaction {transaction.id.hex()} is already committed"
                    )
                else:
                    still_pending.append((index, transaction, key))
            pending = still_pending
        if pending:
            chain_id = self._chain_id
            valid = self._verifier.verify_many(
                [
                    (
                        key,
                        sign_bytes(DOMAIN_TRANSACTION, chain_id, transaction.transaction.body),
                        transaction.transaction.signature,
                    )
                    for _, transaction, key in pending
                ]
            )
            if len(valid) != len(pending):
                raise InvariantError("the batch verifier answered for a different batch")
            accepted: set[bytes] = set()
            for (index, transaction, _), is_valid in zip(pending, valid, strict=True):
                if not is_valid:
                    outcomes[index] = SignatureError(
                        f"the signature of transaction {transaction.id.hex()} does not verify "
                        f"with the key of {transaction.body.sender}"
                    )
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

    def _check_one(self, item: bytes | types_pb2.Transaction, now_ms: int) -> DecodedTransaction:
        transaction = decode_transaction(
            item, hash_function=self._profile.hash, bytes_max=self._transaction_bytes_max
        )
        body = transaction.body
        if body.version != TRANSACTION_VERSION:
            raise DecodeError(
                f"transaction version {body.version} is not the supported version "
                f"{TRANSACTION_VERSION}"
            )
        if body.chain_id != self._chain_id:
            raise WrongChainError(
                f"transaction is for chain {body.chain_id!r}, this is {self._chain_id!r}"
            )
        if body.expiry_ms < now_ms:
            raise ExpiredError(f"transaction expired at {body.expiry_ms} ms, now is {now_ms} ms")
        if body.expiry_ms - now_ms > self._expiry_max_ms:
            raise ExpiredError(
                f"transaction expiry {body.expiry_ms} ms is more than {self._expiry_max_ms} ms "
                f"ahead of now ({now_ms} ms)"
            )
        if body.timestamp_ms - now_ms > self._timestamp_future_max_ms:
            raise RequestError(
                f"transaction timestamp {body.timestamp_ms} ms is more than "
                f"{self._timestamp_future_max_ms} ms ahead of now ({now_ms} ms)",
                reason="future_timestamp",
            )
        endorsements = len(transaction.transaction.endorsements)
        if self._endorsements_max is not None and endorsements > self._endorsements_max:
            raise LimitExceededError(
                f"{endorsements} endorsements, above the limit of {self._endorsements_max}"
            )
        if self._mempool is not None and transaction.id in self._mempool:
            raise DuplicateError(f"transaction {transaction.id.hex()} is already pending")
        return transaction

    def _sender(self, sender: str) -> _Sender | RequestError:
        """The sender's public key and roles from its member record, or why it may not send
        anything (what it may send is checked per transaction)."""
        member = self._member_lookup(sender)
        if member is None:
            return UnknownMemberError(f"sender {sender!r} is not a member of the chain")
        roles = frozenset(member.roles)
        if roles.isdisjoint(_SENDING_ROLES):
            return PermissionDeniedError(
                f"sender {sender} has neither the CLIENT nor the ADMIN role"
            )
        if member.algorithm not in self._profile.algorithms:
            return SignatureError(
                f"sender {sender} has a {member.algorithm!r} key, which the "
                f"{self._profile.name} profile does not allow"
            )
        try:
            return load_public_key(member.algorithm, member.public_key), roles
        except CryptoError as error:
            return SignatureError(f"the public key of {sender} cannot be loaded: {error.message}")
