from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from mempool_chain import (
    CHAIN_ID,
    EXPIRY_MAX_MS,
    NOW_MS,
    TRANSACTION_BYTES_MAX,
    Members,
    decoded,
    make_admission,
)

from causeway.crypto import BatchVerifier, PrivateKey, PublicKey, VerifiedTransactionCache
from causeway.errors import (
    DecodeError,
    DuplicateError,
    ExpiredError,
    LimitExceededError,
    PermissionDeniedError,
    RequestError,
    SignatureError,
    UnknownMemberError,
    WrongChainError,
)
from causeway.execution import may_send
from causeway.mempool import TIMESTAMP_FUTURE_MAX_MS, Mempool, MempoolLimits
from causeway.types import DOMAIN_TRANSACTION, DecodedTransaction, encode, sign_bytes
from causeway.types.v1 import types_pb2


class CountingVerifier:
    """A BatchVerifier that records how it was called."""

    def __init__(self, inner: BatchVerifier) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def verify_signed(
        self,
        domain: str,
        chain_id: str,
        items: Sequence[tuple[PublicKey, bytes, bytes]],
        *,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[bool]:
        self.calls.append(len(items))
        return self.inner.verify_signed(domain, chain_id, items, meanwhile=meanwhile)


def check_one(
    members: Members,
    verifier: BatchVerifier,
    item: bytes | types_pb2.Transaction,
    **options: object,
) -> DecodedTransaction | RequestError:
    [outcome] = make_admission(members, verifier, **options).check([item], NOW_MS)  # type: ignore[arg-type]
    return outcome


def test_a_good_transaction_is_admitted(members: Members, verifier: BatchVerifier) -> None:
    data = members.signed()
    outcome = check_one(members, verifier, data)
    assert isinstance(outcome, DecodedTransaction)
    assert outcome.encoded == data
    assert outcome.id == decoded(data).id
    as_message = check_one(members, verifier, types_pb2.Transaction.FromString(data))
    assert isinstance(as_message, DecodedTransaction)


def test_ed25519_senders(members: Members, verifier: BatchVerifier) -> None:
    assert isinstance(check_one(members, verifier, members.signed("org2/erin")), DecodedTransaction)


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (b"\xff\x00garbage", DecodeError, "Transaction"),
        (b"", DecodeError, ""),
        (b"\x0a" * (TRANSACTION_BYTES_MAX + 1), LimitExceededError, "above the limit"),
    ],
)
def test_malformed_input(
    members: Members, verifier: BatchVerifier, item: bytes, error: type, message: str
) -> None:
    outcome = check_one(members, verifier, item)
    assert isinstance(outcome, RequestError)
    assert isinstance(outcome, error)
    assert message in outcome.message


def test_unknown_fields_are_refused(members: Members, verifier: BatchVerifier) -> None:
    data = members.signed()
    # Field 15, varint: not a field of Transaction, and kept by the parser.
    outcome = check_one(members, verifier, data + b"\x78\x01")
    assert isinstance(outcome, DecodeError)
    assert "not canonically encoded" in outcome.message


def test_oversized_transaction(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(members, verifier, members.signed(arguments=b"x" * TRANSACTION_BYTES_MAX))
    assert isinstance(outcome, LimitExceededError)


def test_wrong_chain(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(members, verifier, members.signed(chain_id="elsewhere"))
    assert isinstance(outcome, WrongChainError)
    assert outcome.reason == "wrong_chain"
    assert "elsewhere" in outcome.message


def test_unsupported_version(members: Members, verifier: BatchVerifier) -> None:
    assert isinstance(check_one(members, verifier, members.signed(version=2)), DecodeError)


def test_expiry_from_both_sides(members: Members, verifier: BatchVerifier) -> None:
    issued = NOW_MS - 60_000
    expired = check_one(
        members, verifier, members.signed(timestamp_ms=issued, expiry_ms=NOW_MS - 1)
    )
    assert isinstance(expired, ExpiredError)
    assert expired.message == f"transaction expired at {NOW_MS - 1} ms, now is {NOW_MS} ms"
    # Good up to and including its expiry millisecond.
    at_expiry = check_one(members, verifier, members.signed(timestamp_ms=issued, expiry_ms=NOW_MS))
    assert isinstance(at_expiry, DecodedTransaction)
    too_far = check_one(members, verifier, members.signed(expiry_ms=NOW_MS + EXPIRY_MAX_MS + 1))
    assert isinstance(too_far, ExpiredError)
    assert too_far.message == (
        f"transaction expiry {NOW_MS + EXPIRY_MAX_MS + 1} ms is more than {EXPIRY_MAX_MS} ms "
        f"ahead of now ({NOW_MS} ms)"
    )
    edge = check_one(members, verifier, members.signed(expiry_ms=NOW_MS + EXPIRY_MAX_MS))
    assert isinstance(edge, DecodedTransaction)


def test_a_transaction_without_a_timestamp_is_refused(
    members: Members, verifier: BatchVerifier
) -> None:
    outcome = check_one(members, verifier, members.signed(timestamp_ms=0))
    assert isinstance(outcome, DecodeError)
    assert outcome.message == "transaction has no timestamp (timestamp_ms is 0)"
    assert isinstance(
        check_one(members, verifier, members.signed(timestamp_ms=1)), DecodedTransaction
    )


def test_an_expiry_before_the_timestamp_is_refused(
    members: Members, verifier: BatchVerifier
) -> None:
    before = check_one(members, verifier, members.signed(timestamp_ms=NOW_MS, expiry_ms=NOW_MS - 1))
    assert isinstance(before, DecodeError)
    assert before.message == (
        f"transaction expiry {NOW_MS - 1} ms is before its timestamp {NOW_MS} ms"
    )
    same = check_one(members, verifier, members.signed(timestamp_ms=NOW_MS, expiry_ms=NOW_MS))
    assert isinstance(same, DecodedTransaction)


def test_timestamp_from_the_future(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(
        members,
        verifier,
        members.signed(
            timestamp_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS + 1,
            expiry_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS + 1,
        ),
    )
    assert isinstance(outcome, RequestError)
    assert outcome.reason == "future_timestamp"
    at_limit = check_one(
        members,
        verifier,
        members.signed(
            timestamp_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS,
            expiry_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS,
        ),
    )
    assert isinstance(at_limit, DecodedTransaction)


def test_bad_signature(members: Members, verifier: BatchVerifier) -> None:
    forged = members.signed(key=PrivateKey.generate("ecdsa-p256"))
    outcome = check_one(members, verifier, forged)
    assert isinstance(outcome, SignatureError)
    assert "does not verify" in outcome.message
    # It names the chain whose key was used: two networks that share a chain id and member
    # names answered each other's transactions with a bare signature error (issue 12).
    assert f"the key that chain {CHAIN_ID!r} holds for org1/alice" in outcome.message
    assert "for another network with the same chain id" in outcome.message
    transaction = types_pb2.Transaction.FromString(members.signed())
    transaction.signature = b""
    assert isinstance(check_one(members, verifier, encode(transaction)), SignatureError)
    # A signature over another chain's sign bytes does not verify here.
    transaction = types_pb2.Transaction.FromString(members.signed())
    transaction.signature = members.keys["org1/alice"].sign(transaction.body)
    assert isinstance(check_one(members, verifier, encode(transaction)), SignatureError)


def test_unknown_member(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(
        members, verifier, members.signed("org1/ghost", key=PrivateKey.generate("ecdsa-p256"))
    )
    assert isinstance(outcome, UnknownMemberError)
    assert "org1/ghost" in outcome.message


def test_member_without_client_or_admin_role(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(members, verifier, members.signed("org1/watcher"))
    assert isinstance(outcome, PermissionDeniedError)
    assert isinstance(
        check_one(members, verifier, members.signed("org1/admin")), DecodedTransaction
    )


def test_a_consensus_member_may_send_evidence_only(
    members: Members, verifier: BatchVerifier
) -> None:
    evidence = members.signed("org2/node", contract="evidence", method="submit")
    other = members.signed("org2/node", contract="kv", method="put")
    query = members.signed("org2/node", contract="evidence", method="list")
    outcomes = make_admission(members, verifier).check([evidence, other, query], NOW_MS)
    assert isinstance(outcomes[0], DecodedTransaction)
    for refused in outcomes[1:]:
        assert isinstance(refused, PermissionDeniedError)
        assert "neither the CLIENT nor the ADMIN role" in refused.message
        assert "a CONSENSUS member may only send evidence.submit" in refused.message
    # The rule is the executor's.
    roles = [types_pb2.ROLE_CONSENSUS]
    assert may_send(roles, "evidence", "submit")
    assert not may_send(roles, "kv", "put")


def test_a_consensus_member_signature_is_still_checked(
    members: Members, verifier: BatchVerifier
) -> None:
    forged = members.signed(
        "org2/node", key=members.keys["org1/alice"], contract="evidence", method="submit"
    )
    assert isinstance(check_one(members, verifier, forged), SignatureError)


def test_a_light_member_may_not_send_evidence(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(
        members, verifier, members.signed("org1/watcher", contract="evidence", method="submit")
    )
    assert isinstance(outcome, PermissionDeniedError)
    assert outcome.message == "sender org1/watcher has neither the CLIENT nor the ADMIN role"


def test_clients_may_send_evidence(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(members, verifier, members.signed(contract="evidence", method="submit"))
    assert isinstance(outcome, DecodedTransaction)


def test_member_with_a_key_outside_the_profile(members: Members, verifier: BatchVerifier) -> None:
    members.records["org1/alice"].algorithm = "sm2"
    assert isinstance(check_one(members, verifier, members.signed()), SignatureError)


def test_replay_of_a_committed_transaction(members: Members, verifier: BatchVerifier) -> None:
    data = members.signed()
    members.committed_ids.add(decoded(data).id)
    outcome = check_one(members, verifier, data)
    assert isinstance(outcome, DuplicateError)
    assert "already committed" in outcome.message


def test_duplicate_of_a_pending_transaction(members: Members, verifier: BatchVerifier) -> None:
    pool = Mempool(MempoolLimits(transactions_max=10, bytes_max=1 << 20))
    data = members.signed()
    pool.add(decoded(data), NOW_MS)
    outcome = check_one(members, verifier, data, mempool=pool)
    assert isinstance(outcome, DuplicateError)
    assert "already pending" in outcome.message


def test_too_many_endorsements(members: Members, verifier: BatchVerifier) -> None:
    outcome = check_one(members, verifier, members.signed(endorsements=3), endorsements_max=2)
    assert isinstance(outcome, LimitExceededError)
    assert isinstance(
        check_one(members, verifier, members.signed(endorsements=2), endorsements_max=2),
        DecodedTransaction,
    )


def test_a_batch_is_checked_item_by_item_with_one_verification_call(
    members: Members, verifier: BatchVerifier
) -> None:
    good = members.signed()
    other_good = members.signed("org2/erin")
    forged = members.signed(key=PrivateKey.generate("ecdsa-p256"))
    committed = members.signed()
    members.committed_ids.add(decoded(committed).id)
    items = [
        good,
        b"junk",
        forged,
        members.signed(chain_id="elsewhere"),
        good,  # the same transaction twice in one batch
        committed,
        members.signed("org1/nobody", key=PrivateKey.generate("ecdsa-p256")),
        other_good,
    ]
    counting = CountingVerifier(verifier)
    outcomes = make_admission(members, counting).check(items, NOW_MS)  # type: ignore[arg-type]
    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds == [
        "DecodedTransaction",
        "DecodeError",
        "SignatureError",
        "WrongChainError",
        "DuplicateError",
        "DuplicateError",
        "UnknownMemberError",
        "DecodedTransaction",
    ]
    # good, forged, good again, committed (looked up while the others are verified), other_good
    assert counting.calls == [5]
    assert members.committed_calls == [
        [decoded(x).id for x in (good, forged, good, committed, other_good)]
    ]


def test_the_committed_lookup_runs_while_the_signatures_are_verified(
    members: Members, verifier: BatchVerifier
) -> None:
    """Admission's latency bounds a client's throughput: the store is read while the workers
    verify, and a committed transaction is refused as a duplicate whatever its signature."""
    seen: list[str] = []

    class Ordering:
        def verify_signed(
            self,
            domain: str,
            chain_id: str,
            items: Sequence[tuple[PublicKey, bytes, bytes]],
            *,
            meanwhile: Callable[[], None] | None = None,
        ) -> list[bool]:
            seen.append(f"sent, {len(members.committed_calls)} lookups")
            answers = verifier.verify_signed(domain, chain_id, items, meanwhile=meanwhile)
            seen.append(f"answered, {len(members.committed_calls)} lookups")
            return answers

    committed = members.signed()
    forged_committed = types_pb2.Transaction.FromString(members.signed())
    forged_committed.signature = bytes(len(forged_committed.signature))
    members.committed_ids.update(
        decoded(x).id for x in (committed, forged_committed.SerializeToString())
    )
    outcomes = make_admission(members, Ordering()).check(  # type: ignore[arg-type]
        [members.signed(), committed, forged_committed], NOW_MS
    )
    assert seen == ["sent, 0 lookups", "answered, 1 lookups"]
    assert isinstance(outcomes[0], DecodedTransaction)
    assert [type(o) for o in outcomes[1:]] == [DuplicateError, DuplicateError]
    assert all("is already committed" in o.message for o in outcomes[1:])  # type: ignore[union-attr]


def test_a_bad_copy_does_not_shadow_a_good_one(members: Members, verifier: BatchVerifier) -> None:
    good = types_pb2.Transaction.FromString(members.signed())
    bad = types_pb2.Transaction()
    bad.CopyFrom(good)
    bad.signature = b"\x30\x06\x02\x01\x01\x02\x01\x01"
    outcomes = make_admission(members, verifier).check([encode(bad), encode(good)], NOW_MS)
    assert isinstance(outcomes[0], SignatureError)
    assert isinstance(outcomes[1], DecodedTransaction)


def test_the_batch_size_is_bounded(members: Members, verifier: BatchVerifier) -> None:
    admission = make_admission(members, verifier, batch_items_max=2)
    with pytest.raises(LimitExceededError):
        admission.check([b"", b"", b""], NOW_MS)
    assert make_admission(members, verifier).check([], NOW_MS) == []


def test_one_lookup_per_sender(members: Members, verifier: BatchVerifier) -> None:
    looked_up: list[str] = []
    original = members.lookup

    def counting_lookup(member_id: str) -> types_pb2.Member | None:
        looked_up.append(member_id)
        return original(member_id)

    members.lookup = counting_lookup  # type: ignore[method-assign]
    outcomes = make_admission(members, verifier).check([members.signed() for _ in range(5)], NOW_MS)
    assert all(isinstance(outcome, DecodedTransaction) for outcome in outcomes)
    assert looked_up == ["org1/alice"]


def test_chain_id_is_the_admission_chain() -> None:
    assert CHAIN_ID == "mempool-chain"


def test_signatures_already_verified_are_not_verified_again(
    members: Members, verifier: BatchVerifier
) -> None:
    """A transaction seen again (gossip of one this node verified, a forward after a leader
    change) costs no second verification; another signature over the same body is verified."""
    counting = CountingVerifier(verifier)
    cache = VerifiedTransactionCache()
    admission = make_admission(members, counting, verified=cache)  # type: ignore[arg-type]
    data = members.signed()
    [first] = admission.check([data], NOW_MS)
    assert isinstance(first, DecodedTransaction)
    alice = members.keys["org1/alice"].public_key().raw
    assert cache.is_verified(first.id, first.transaction.signature, alice)
    [again] = admission.check([types_pb2.Transaction.FromString(data)], NOW_MS)
    assert isinstance(again, DecodedTransaction)
    assert counting.calls == [1]
    resigned = types_pb2.Transaction.FromString(data)
    resigned.signature = members.keys["org1/alice"].sign(
        sign_bytes(DOMAIN_TRANSACTION, CHAIN_ID, resigned.body)
    )
    [other] = admission.check([resigned], NOW_MS)
    assert isinstance(other, DecodedTransaction)
    assert counting.calls == [1, 1]
    forged = types_pb2.Transaction.FromString(data)
    forged.signature = PrivateKey.generate("ecdsa-p256").sign(b"other")
    [refused] = admission.check([forged], NOW_MS)
    assert isinstance(refused, SignatureError)
    assert not cache.is_verified(first.id, forged.signature, alice)
