"""The one transaction verifier, on its own: bounds from both sides, the cache, its contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from causeway.crypto import (
    BatchVerifier,
    PrivateKey,
    PublicKey,
    VerifiedTransactionCache,
    get_profile,
)
from causeway.errors import (
    InvariantError,
    LimitExceededError,
    NotCanonicalError,
    PermissionDeniedError,
)
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

    def verify_signed(
        self,
        domain: str,
        chain_id: str,
        items: Sequence[tuple[PublicKey, bytes, bytes]],
        *,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[bool]:
        self.verified += len(items)
        answers = self.inner.verify_signed(domain, chain_id, items, meanwhile=meanwhile)
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


def test_a_blocks_transactions_use_up_their_cache_entries(batch_verifier: BatchVerifier) -> None:
    """Admission remembers what it verified; building a block (verify_admitted) or checking one
    (verify with block) takes its transactions' entries out and adds none, so the cache holds
    what waits for a block. A transaction whose entry a block took (a block that did not
    commit) is verified again when it goes into the next one, and passes."""
    counting = CountingVerifier(batch_verifier)
    cache = VerifiedTransactionCache()
    verifier = TransactionVerifier(CHAIN_ID, PROFILE, counting, cache)  # type: ignore[arg-type]
    rules = TransactionRules(transaction_bytes_max=4096, expiry_max_ms=60_000)
    first, second, third = signed(nonce=1), signed(nonce=2), signed(nonce=3)
    admitted = verifier.verify([first, second, third], NOW_MS, rules, MEMBERS.get)
    assert counting.verified == 3
    assert len(cache) == 3
    counting.verified = 0
    assert verifier.verify_admitted(admitted[:2], NOW_MS, rules, MEMBERS.get) == admitted[:2]
    assert (counting.verified, len(cache)) == (0, 1)
    assert verifier.verify_admitted(admitted[:2], NOW_MS, rules, MEMBERS.get) == admitted[:2]
    assert (counting.verified, len(cache)) == (2, 1)  # verified again, not remembered
    # A peer's block with the third (found, taken) and a fourth (verified, not remembered).
    counting.verified = 0
    block = verifier.verify([third, signed(nonce=4)], NOW_MS, rules, MEMBERS.get, block=True)
    assert all(isinstance(outcome, DecodedTransaction) for outcome in block)
    assert (counting.verified, len(cache)) == (1, 0)


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


def with_key(member: types_pb2.Member, key: PrivateKey) -> types_pb2.Member:
    changed = types_pb2.Member()
    changed.CopyFrom(member)
    changed.public_key = key.public_key().raw
    return changed


def without_roles(member: types_pb2.Member) -> types_pb2.Member:
    changed = types_pb2.Member()
    changed.CopyFrom(member)
    del changed.roles[:]
    return changed


# What may change between a transaction's admission and the block that takes it, as (case, the
# block's time, the chain's size bound, the member records then, the reason of the refusal).
SINCE_ADMISSION = [
    ("nothing", NOW_MS, 4096, MEMBERS, None),
    ("expired", NOW_MS + 1001, 4096, MEMBERS, "expired"),
    ("expiring this millisecond", NOW_MS + 1000, 4096, MEMBERS, None),
    ("the clock went back past the skew", NOW_MS - 60_001, 4096, MEMBERS, "future_timestamp"),
    ("the size bound lowered", NOW_MS, 100, MEMBERS, "too_large"),
    ("the sender removed", NOW_MS, 4096, {}, "unknown_member"),
    (
        "the sender's roles taken away",
        NOW_MS,
        4096,
        {"org1/alice": without_roles(MEMBERS["org1/alice"])},
        "permission_denied",
    ),
]


@pytest.mark.parametrize(
    ("now_ms", "bytes_max", "members", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in SINCE_ADMISSION],
)
def test_an_admitted_transaction_is_judged_again_only_on_what_may_have_changed(
    batch_verifier: BatchVerifier,
    now_ms: int,
    bytes_max: int,
    members: dict[str, types_pb2.Member],
    reason: str | None,
) -> None:
    """verify_admitted, for the transactions of this node's mempool at block building, gives
    verify's outcome, same error and words, without verifying a signature again (the cache
    answers for the key that verified it at admission)."""
    counting = CountingVerifier(batch_verifier)
    cache = VerifiedTransactionCache()
    verifier = TransactionVerifier(CHAIN_ID, PROFILE, counting, cache)  # type: ignore[arg-type]
    admission_rules = TransactionRules(transaction_bytes_max=4096, expiry_max_ms=60_000)
    outcomes = verifier.verify(
        [signed(nonce=1), signed(nonce=2)], NOW_MS, admission_rules, MEMBERS.get
    )
    admitted = [o for o in outcomes if isinstance(o, DecodedTransaction)]
    assert len(admitted) == 2
    counting.verified = 0

    # Room for the clock going back more than the skew without the expiry running too far ahead.
    rules = TransactionRules(transaction_bytes_max=bytes_max, expiry_max_ms=120_000)
    fast = verifier.verify_admitted(admitted, now_ms, rules, members.get)
    assert counting.verified == 0
    full = TransactionVerifier(CHAIN_ID, PROFILE, batch_verifier).verify(
        admitted, now_ms, rules, members.get
    )
    if reason is None:
        assert fast == admitted
    else:
        assert [getattr(o, "reason", None) for o in fast] == [reason, reason]
    assert [(type(o), getattr(o, "message", o)) for o in fast] == [
        (type(o), getattr(o, "message", o)) for o in full
    ]


def test_an_admitted_transaction_is_judged_by_the_sender_key_of_the_block(
    batch_verifier: BatchVerifier,
) -> None:
    """A member's key changed (membership.update_certificate) after a transaction was admitted
    under the old one: at block building it is refused for its signature, as a validator that
    never saw it refuses it, not waved through by what admission verified. With the key
    unchanged but the cache's entry gone, the signature is verified again and passes."""
    counting = CountingVerifier(batch_verifier)
    cache = VerifiedTransactionCache()
    verifier = TransactionVerifier(CHAIN_ID, PROFILE, counting, cache)  # type: ignore[arg-type]
    rules = TransactionRules(transaction_bytes_max=4096, expiry_max_ms=60_000)
    admitted = [
        o
        for o in verifier.verify([signed(nonce=1), signed(nonce=2)], NOW_MS, rules, MEMBERS.get)
        if isinstance(o, DecodedTransaction)
    ]
    assert len(admitted) == 2
    rotated = dict(MEMBERS)
    rotated["org1/alice"] = with_key(MEMBERS["org1/alice"], PrivateKey.generate(KEY.algorithm))
    fast = verifier.verify_admitted(admitted, NOW_MS, rules, rotated.get)
    full = TransactionVerifier(CHAIN_ID, PROFILE, batch_verifier).verify(
        [t.transaction for t in admitted], NOW_MS, rules, rotated.get
    )
    assert [getattr(o, "reason", None) for o in fast] == ["bad_signature", "bad_signature"]
    assert [(type(o), getattr(o, "message", o)) for o in fast] == [
        (type(o), getattr(o, "message", o)) for o in full
    ]
    counting.verified = 0
    cache.clear()
    assert verifier.verify_admitted(admitted, NOW_MS, rules, MEMBERS.get) == admitted
    assert counting.verified == 2


def _change(message: types_pb2.Transaction, change: str) -> None:
    if change == "signature":
        message.signature = message.signature[:-1] + bytes([message.signature[-1] ^ 1])
    elif change == "endorsement added":
        message.endorsements.add(endorser="org1/alice", signature=b"s")
    elif change == "endorser":
        message.endorsements[0].endorser = "org1/reader"
    elif change == "endorsement signature":
        message.endorsements[0].signature = b"t"
    elif change == "endorsement dropped":
        del message.endorsements[:]
    elif change == "unknown field":
        message.MergeFromString(b"\xf8\x07\x01")  # field 127: unknown to Transaction
    elif change == "unknown field in an endorsement":
        message.endorsements[0].MergeFromString(b"\xf8\x07\x01")


# (change, what decoding the message on its own gives: its own transaction, or the refusal).
HELD_CHANGES = [
    ("signature", None),
    ("endorsement added", None),
    ("endorser", None),
    ("endorsement signature", None),
    ("endorsement dropped", None),
    ("unknown field", "Transaction is not canonically encoded"),
    ("unknown field in an endorsement", "Transaction is not canonically encoded"),
]


@pytest.mark.parametrize(
    ("change", "refusal"), [pytest.param(*case, id=case[0]) for case in HELD_CHANGES]
)
def test_only_a_message_with_the_held_bytes_stands_for_the_held_transaction(
    batch_verifier: BatchVerifier, change: str, refusal: str | None
) -> None:
    """A peer's transaction message with a held transaction's id is the held one only when it
    is that transaction in every field (unknown ones too); otherwise it is decoded on its own
    and judged by its own bytes."""
    with_endorsement = types_pb2.Transaction.FromString(signed())
    with_endorsement.endorsements.add(endorser="org1/alice", signature=b"e")
    data = encode(with_endorsement)
    held = decode_transaction(data, hash_function=PROFILE.hash, bytes_max=4096)
    verifier = TransactionVerifier(CHAIN_ID, PROFILE, batch_verifier, held={held.id: held}.get)
    assert verifier.decode(types_pb2.Transaction.FromString(data), 4096) is held

    message = types_pb2.Transaction.FromString(data)
    _change(message, change)
    assert message.body == held.transaction.body  # the same id: found among the held
    if refusal is None:
        decoded = verifier.decode(message, 4096)
        assert decoded is not held
        assert decoded.transaction == message
        assert decoded.encoded == encode(message) != held.encoded
    else:
        with pytest.raises(NotCanonicalError, match=refusal):
            verifier.decode(message, 4096)


def test_a_held_transaction_in_a_peers_block_is_judged_by_every_rule(
    batch_verifier: BatchVerifier,
) -> None:
    """The held transaction's signature was verified when this node admitted it: a message with
    its bytes is not verified again (the cache answers for the sender's key), but the rules of
    the block's time and the sender's record still apply, and a sender whose key changed since
    has it judged by the new key; a message this node does not hold is verified."""
    counting = CountingVerifier(batch_verifier)
    cache = VerifiedTransactionCache()
    rules = TransactionRules(transaction_bytes_max=4096, expiry_max_ms=60_000)
    data, other = signed(nonce=1), signed(nonce=2)
    held: dict[bytes, DecodedTransaction] = {}
    verifier = TransactionVerifier(
        CHAIN_ID,
        PROFILE,
        counting,  # type: ignore[arg-type]
        cache,
        held.get,
    )
    [admitted] = verifier.verify([data], NOW_MS, rules, MEMBERS.get)  # admission
    assert isinstance(admitted, DecodedTransaction)
    held[admitted.id] = admitted
    counting.verified = 0
    message = types_pb2.Transaction.FromString(data)
    assert verifier.verify([message], NOW_MS, rules, MEMBERS.get) == [admitted]
    assert counting.verified == 0
    [expired] = verifier.verify([message], NOW_MS + 1001, rules, MEMBERS.get)
    nobody: dict[str, types_pb2.Member] = {}
    [removed] = verifier.verify([message], NOW_MS, rules, nobody.get)
    rotated = dict(MEMBERS)
    rotated["org1/alice"] = with_key(MEMBERS["org1/alice"], PrivateKey.generate(KEY.algorithm))
    [other_key] = verifier.verify([message], NOW_MS, rules, rotated.get)
    assert [getattr(o, "reason", None) for o in (expired, removed, other_key)] == [
        "expired",
        "unknown_member",
        "bad_signature",
    ]
    assert counting.verified == 1  # the one with the new key
    [not_held] = verifier.verify(
        [types_pb2.Transaction.FromString(other)], NOW_MS, rules, MEMBERS.get
    )
    assert isinstance(not_held, DecodedTransaction)
    assert counting.verified == 2
