"""The one transaction verifier, on its own: bounds from both sides, the cache, its contract."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from causeway.crypto import (
    BatchVerifier,
    PrivateKey,
    PublicKey,
    VerifiedTransactionCache,
    get_profile,
)
from causeway.errors import InvariantError, LimitExceededError, PermissionDeniedError
from causeway.execution import TransactionRules, TransactionVerifier
from causeway.types import (
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    DecodedTransaction,
    decode_transaction,
    encode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

CHAIN_ID = "verifier-chain"
NOW_MS = 1_800_000_000_000
PROFILE = get_profile("intl")
KEY = PrivateKey.generate("ecdsa-p256")
MEMBERS = {
    "org1/alice": types_pb2.Member(
        id="org1/alice",
        organisation="org1",
        name="alice",
        roles=[types_pb2.ROLE_CLIENT],
        algorithm=KEY.algorithm,
        public_key=KEY.public_key().raw,
    ),
    "org1/reader": types_pb2.Member(
        id="org1/reader",
        organisation="org1",
        name="reader",
        roles=[],
        algorithm=KEY.algorithm,
        public_key=KEY.public_key().raw,
    ),
}


class CountingVerifier:
    def __init__(self, inner: BatchVerifier, drop_one: bool = False) -> None:
        self.inner = inner
        self.verified = 0
        self.drop_one = drop_one

    def verify_many(self, items: Sequence[tuple[PublicKey, bytes, bytes]]) -> list[bool]:
        self.verified += len(items)
        answers = self.inner.verify_many(items)
        return answers[:-1] if self.drop_one else answers


@pytest.fixture(scope="module")
def batch_verifier() -> Iterator[BatchVerifier]:
    with BatchVerifier(threads=1) as verifier:
        yield verifier


def signed(sender: str = "org1/alice", arguments: bytes = b"", nonce: int = 1) -> bytes:
    body = encode(
        types_pb2.TransactionBody(
            version=TRANSACTION_VERSION,
            chain_id=CHAIN_ID,
            nonce=nonce.to_bytes(8, "big"),
            timestamp_ms=NOW_MS,
            expiry_ms=NOW_MS + 1000,
            contract="kv",
            method="get",
            arguments=arguments,
            sender=sender,
        )
    )
    signature = KEY.sign(sign_bytes(DOMAIN_TRANSACTION, CHAIN_ID, body))
    return encode(types_pb2.Transaction(body=body, signature=signature))


def test_the_size_bound_holds_at_the_limit_and_one_past_in_every_form(
    batch_verifier: BatchVerifier,
) -> None:
    data = signed(arguments=b"x" * 100)
    verifier = TransactionVerifier(CHAIN_ID, PROFILE, batch_verifier)
    decoded = decode_transaction(data, hash_function=PROFILE.hash, bytes_max=len(data))
    at_limit = TransactionRules(transaction_bytes_max=len(data), expiry_max_ms=60_000)
    one_less = TransactionRules(transaction_bytes_max=len(data) - 1, expiry_max_ms=60_000)
    for item in (data, types_pb2.Transaction.FromString(data), decoded):
        assert isinstance(verifier.check_envelope(item, NOW_MS, at_limit), DecodedTransaction)
        with pytest.raises(LimitExceededError) as refused:
            verifier.check_envelope(item, NOW_MS, one_less)
        assert refused.value.message == (
            f"Transaction is {len(data)} bytes, above the limit of {len(data) - 1}"
        )


def test_a_verified_signature_is_taken_from_the_cache_and_a_query_is_not_remembered(
    batch_verifier: BatchVerifier,
) -> None:
    counting = CountingVerifier(batch_verifier)
    cache = VerifiedTransactionCache()
    verifier = TransactionVerifier(CHAIN_ID, PROFILE, counting, cache)  # type: ignore[arg-type]
    rules = TransactionRules(transaction_bytes_max=4096, expiry_max_ms=60_000)
    first, second = signed(nonce=1), signed(nonce=2)
    [queried] = verifier.verify([first], NOW_MS, rules, MEMBERS.get, query=True)
    assert isinstance(queried, DecodedTransaction)
    assert len(cache) == 0  # a query never enters a block: nothing to remember
    outcomes = verifier.verify([first, second], NOW_MS, rules, MEMBERS.get)
    assert all(isinstance(o, DecodedTransaction) for o in outcomes)
    assert counting.verified == 3
    assert verifier.verify([first, second], NOW_MS, rules, MEMBERS.get) == outcomes
    assert counting.verified == 3  # both from the cache


def test_a_member_without_a_sending_role_may_query_only(batch_verifier: BatchVerifier) -> None:
    verifier = TransactionVerifier(CHAIN_ID, PROFILE, batch_verifier)
    rules = TransactionRules(transaction_bytes_max=4096, expiry_max_ms=60_000)
    data = signed(sender="org1/reader")
    [sent] = verifier.verify([data], NOW_MS, rules, MEMBERS.get)
    assert isinstance(sent, PermissionDeniedError)
    assert sent.message == "sender org1/reader has neither the CLIENT nor the ADMIN role"
    [queried] = verifier.verify([data], NOW_MS, rules, MEMBERS.get, query=True)
    assert isinstance(queried, DecodedTransaction)


def test_a_batch_verifier_answering_for_another_batch_is_an_invariant_error(
    batch_verifier: BatchVerifier,
) -> None:
    verifier = TransactionVerifier(
        CHAIN_ID,
        PROFILE,
        CountingVerifier(batch_verifier, drop_one=True),  # type: ignore[arg-type]
    )
    rules = TransactionRules(transaction_bytes_max=4096, expiry_max_ms=60_000)
    with pytest.raises(InvariantError, match="answered for a different batch"):
        verifier.verify([signed(nonce=1), signed(nonce=2)], NOW_MS, rules, MEMBERS.get)


@pytest.mark.parametrize(
    ("bytes_max", "expiry_max_ms", "future_max_ms"), [(0, 1, 0), (1, 0, 0), (1, 1, -1)]
)
def test_rules_must_be_positive(bytes_max: int, expiry_max_ms: int, future_max_ms: int) -> None:
    with pytest.raises(InvariantError, match="transaction rules must be positive"):
        TransactionRules(bytes_max, expiry_max_ms, future_max_ms)
    TransactionRules(1, 1, 0)  # the smallest allowed
