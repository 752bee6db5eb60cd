"""Every bound of admission and of the pool at its limit and one past it, refusals with their
reason: a transaction expiring exactly now is still admitted (and kept, and handed out), one that
expired a millisecond ago is not."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from mempool_chain import (
    CHAIN_ID,
    EXPIRY_MAX_MS,
    NOW_MS,
    PROFILE,
    TRANSACTION_BYTES_MAX,
    Members,
    decoded,
    make_admission,
)

from causeway.crypto import BatchVerifier, PublicKey
from causeway.errors import (
    DuplicateError,
    ExpiredError,
    InvariantError,
    LimitExceededError,
    MempoolFullError,
    PermissionDeniedError,
    RequestError,
    SignatureError,
    WrongChainError,
)
from causeway.mempool import TIMESTAMP_FUTURE_MAX_MS, Admission, Mempool, MempoolLimits
from causeway.types import DecodedTransaction, encode
from causeway.types.v1 import types_pb2

# Dated a little before now, so that only the bound under test decides.
EARLIER_MS = NOW_MS - 1_000


def check_one(
    members: Members, verifier: BatchVerifier, item: bytes, **options: object
) -> DecodedTransaction | RequestError:
    [outcome] = make_admission(members, verifier, **options).check([item], NOW_MS)  # type: ignore[arg-type]
    return outcome


def test_expiring_exactly_now_is_admitted(members: Members, verifier: BatchVerifier) -> None:
    data = members.signed(timestamp_ms=EARLIER_MS, expiry_ms=NOW_MS)
    outcome = check_one(members, verifier, data)
    assert isinstance(outcome, DecodedTransaction)
    assert outcome.encoded == data


def test_expired_a_millisecond_ago_is_refused_with_the_reason(
    members: Members, verifier: BatchVerifier
) -> None:
    outcome = check_one(
        members, verifier, members.signed(timestamp_ms=EARLIER_MS, expiry_ms=NOW_MS - 1)
    )
    assert isinstance(outcome, ExpiredError)
    assert outcome.reason == "expired"
    assert outcome.message == (f"transaction expired at {NOW_MS - 1} ms, now is {NOW_MS} ms")


def test_expiry_exactly_the_maximum_ahead_is_admitted_and_one_more_refused(
    members: Members, verifier: BatchVerifier
) -> None:
    at_limit = check_one(members, verifier, members.signed(expiry_ms=NOW_MS + EXPIRY_MAX_MS))
    assert isinstance(at_limit, DecodedTransaction)
    past = check_one(members, verifier, members.signed(expiry_ms=NOW_MS + EXPIRY_MAX_MS + 1))
    assert isinstance(past, ExpiredError)
    assert past.message == (
        f"transaction expiry {NOW_MS + EXPIRY_MAX_MS + 1} ms is more than {EXPIRY_MAX_MS} ms "
        f"ahead of now ({NOW_MS} ms)"
    )


def test_timestamp_exactly_the_maximum_ahead_is_admitted_and_one_more_refused(
    members: Members, verifier: BatchVerifier
) -> None:
    # Each expires when it is dated: an expiry before the timestamp is refused on its own.
    at_limit_ms = NOW_MS + TIMESTAMP_FUTURE_MAX_MS
    at_limit = check_one(
        members, verifier, members.signed(timestamp_ms=at_limit_ms, expiry_ms=at_limit_ms)
    )
    assert isinstance(at_limit, DecodedTransaction)
    past = check_one(
        members,
        verifier,
        members.signed(timestamp_ms=at_limit_ms + 1, expiry_ms=at_limit_ms + 1),
    )
    assert isinstance(past, RequestError)
    assert past.reason == "future_timestamp"
    assert f"more than {TIMESTAMP_FUTURE_MAX_MS} ms ahead of now" in past.message


def signed_of_size(members: Members, size: int) -> bytes:
    """A signed transaction of exactly `size` encoded bytes (P-256 signatures vary by a byte or
    two, so pad and retry until it fits)."""
    padding = size - len(members.signed())
    for _ in range(200):
        data = members.signed(arguments=b"x" * padding)
        if len(data) == size:
            return data
        padding += size - len(data)
        padding = max(padding, 0)
    raise AssertionError(f"no transaction of {size} bytes")


def test_transaction_of_exactly_the_byte_limit_is_admitted_and_one_more_refused(
    members: Members, verifier: BatchVerifier
) -> None:
    at_limit = check_one(members, verifier, signed_of_size(members, TRANSACTION_BYTES_MAX))
    assert isinstance(at_limit, DecodedTransaction)
    past = check_one(members, verifier, signed_of_size(members, TRANSACTION_BYTES_MAX + 1))
    assert isinstance(past, LimitExceededError)
    assert "above the limit" in past.message
    assert str(TRANSACTION_BYTES_MAX) in past.message


def test_endorsement_count_at_the_limit_and_one_past(
    members: Members, verifier: BatchVerifier
) -> None:
    at_limit = check_one(members, verifier, members.signed(endorsements=2), endorsements_max=2)
    assert isinstance(at_limit, DecodedTransaction)
    past = check_one(members, verifier, members.signed(endorsements=3), endorsements_max=2)
    assert isinstance(past, LimitExceededError)
    assert past.message == "3 endorsements, above the limit of 2"


def test_batch_of_exactly_the_item_limit_is_checked_and_one_more_refused(
    members: Members, verifier: BatchVerifier
) -> None:
    admission = make_admission(members, verifier, batch_items_max=3)
    items = [members.signed() for _ in range(4)]
    outcomes = admission.check(items[:3], NOW_MS)
    assert all(isinstance(outcome, DecodedTransaction) for outcome in outcomes)
    with pytest.raises(
        LimitExceededError, match="a batch of 4 transactions is above the limit of 3"
    ):
        admission.check(items, NOW_MS)


# --- the pool ---------------------------------------------------------------------------------


def pool() -> Mempool:
    return Mempool(MempoolLimits(transactions_max=10, bytes_max=1 << 20))


def test_pool_adds_a_transaction_expiring_now_and_refuses_one_expired(members: Members) -> None:
    mempool = pool()
    now = decoded(members.signed(timestamp_ms=EARLIER_MS, expiry_ms=NOW_MS))
    mempool.add(now, NOW_MS)
    assert now.id in mempool
    gone = decoded(members.signed(timestamp_ms=EARLIER_MS, expiry_ms=NOW_MS - 1))
    with pytest.raises(ExpiredError, match=f"expired at {NOW_MS - 1} ms, now is {NOW_MS} ms"):
        mempool.add(gone, NOW_MS)
    assert len(mempool) == 1


def test_pool_hands_out_a_transaction_until_its_expiry_and_drops_it_after(
    members: Members,
) -> None:
    mempool = pool()
    transaction = decoded(members.signed(timestamp_ms=EARLIER_MS, expiry_ms=NOW_MS))
    mempool.add(transaction, NOW_MS - 10)
    assert [t.id for t in mempool.take(10, 1 << 20, NOW_MS)] == [transaction.id]
    assert mempool.prune_expired(NOW_MS) == 0
    assert transaction.id in mempool
    assert mempool.take(10, 1 << 20, NOW_MS + 1) == []
    assert transaction.id not in mempool
    again = decoded(members.signed(timestamp_ms=EARLIER_MS, expiry_ms=NOW_MS))
    mempool.add(again, NOW_MS)
    assert mempool.prune_expired(NOW_MS + 1) == 1
    assert len(mempool) == 0


def test_pool_count_and_byte_limits_at_the_limit_and_one_past(members: Members) -> None:
    first, second, third = (decoded(members.signed()) for _ in range(3))
    by_count = Mempool(MempoolLimits(transactions_max=2, bytes_max=1 << 20))
    by_count.add(first, NOW_MS)
    by_count.add(second, NOW_MS)
    with pytest.raises(MempoolFullError, match="holds 2 transactions, its limit"):
        by_count.add(third, NOW_MS)
    exact = len(first.encoded) + len(second.encoded)
    by_bytes = Mempool(MempoolLimits(transactions_max=10, bytes_max=exact))
    by_bytes.add(first, NOW_MS)
    by_bytes.add(second, NOW_MS)
    assert by_bytes.bytes_total == exact
    with pytest.raises(MempoolFullError, match=f"would pass its limit of {exact}"):
        by_bytes.add(third, NOW_MS)
    one_short = Mempool(MempoolLimits(transactions_max=10, bytes_max=exact - 1))
    one_short.add(first, NOW_MS)
    with pytest.raises(MempoolFullError, match=f"would pass its limit of {exact - 1}"):
        one_short.add(second, NOW_MS)


def test_take_stops_at_the_byte_budget_exactly(members: Members) -> None:
    mempool = pool()
    first, second = decoded(members.signed()), decoded(members.signed())
    mempool.add(first, NOW_MS)
    mempool.add(second, NOW_MS)
    both = len(first.encoded) + len(second.encoded)
    assert len(mempool.take(10, both, NOW_MS)) == 2
    assert [t.id for t in mempool.take(10, both - 1, NOW_MS)] == [first.id]
    assert [t.id for t in mempool.take(1, both, NOW_MS)] == [first.id]


# --- what a cosmic-ray run over admission.py left alive (docs/testing.md) -----------------------


@pytest.mark.parametrize("position", [0, 1, 2])
def test_each_admission_limit_must_be_positive(
    members: Members, verifier: BatchVerifier, position: int
) -> None:
    """transaction_bytes_max, expiry_max_ms, batch_items_max: 1 is a limit, 0 and -1 are not."""

    def admission(*limits: int) -> Admission:
        transaction_bytes_max, expiry_max_ms, batch_items_max = limits
        return Admission(
            CHAIN_ID,
            PROFILE,
            verifier,
            members.lookup,
            members.committed,
            transaction_bytes_max,
            expiry_max_ms,
            batch_items_max=batch_items_max,
        )

    admission(1, 1, 1)
    for bad in (0, -1):
        limits = [1, 1, 1]
        limits[position] = bad
        with pytest.raises(InvariantError, match=r"^admission limits must be positive$"):
            admission(*limits)


def test_a_chain_id_sorting_after_ours_is_refused_too(
    members: Members, verifier: BatchVerifier
) -> None:
    outcome = check_one(members, verifier, members.signed(chain_id="zzz-chain"))
    assert isinstance(outcome, WrongChainError)
    assert outcome.message == f"transaction is for chain 'zzz-chain', this is {CHAIN_ID!r}"


def test_fewer_endorsements_than_the_limit_are_admitted(
    members: Members, verifier: BatchVerifier
) -> None:
    for count in (0, 1):
        outcome = check_one(
            members, verifier, members.signed(endorsements=count), endorsements_max=2
        )
        assert isinstance(outcome, DecodedTransaction)


def test_a_refused_item_does_not_end_the_batch(members: Members, verifier: BatchVerifier) -> None:
    unsigned = types_pb2.Transaction.FromString(members.signed())
    unsigned.signature = b""
    first_good, second_good = members.signed(), members.signed()
    denied = members.signed("org2/node")  # CONSENSUS may only send evidence.submit
    outcomes = make_admission(members, verifier).check(
        [denied, first_good, encode(unsigned), second_good], NOW_MS
    )
    assert [type(outcome) for outcome in outcomes] == [
        PermissionDeniedError,
        DecodedTransaction,
        SignatureError,
        DecodedTransaction,
    ]
    assert isinstance(outcomes[2], SignatureError)
    assert outcomes[2].message == "the transaction is not signed"


def test_a_committed_item_does_not_end_the_batch(members: Members, verifier: BatchVerifier) -> None:
    committed, fresh = members.signed(), members.signed()
    members.committed_ids.add(decoded(committed).id)
    outcomes = make_admission(members, verifier).check([committed, fresh], NOW_MS)
    assert isinstance(outcomes[0], DuplicateError)
    assert "is already committed" in outcomes[0].message
    assert isinstance(outcomes[1], DecodedTransaction)


@pytest.mark.parametrize("answers", [0, 1, 3])
def test_a_committed_lookup_answering_for_another_batch_is_an_invariant_error(
    members: Members, verifier: BatchVerifier, answers: int
) -> None:
    admission = Admission(
        CHAIN_ID,
        PROFILE,
        verifier,
        members.lookup,
        lambda ids: [False] * answers,
        TRANSACTION_BYTES_MAX,
        EXPIRY_MAX_MS,
    )
    with pytest.raises(InvariantError, match="the committed lookup answered for a different"):
        admission.check([members.signed(), members.signed()], NOW_MS)


class MiscountingVerifier:
    def __init__(self, answers: int) -> None:
        self.answers = answers

    def verify_signed(
        self,
        domain: str,
        chain_id: str,
        items: Sequence[tuple[PublicKey, bytes, bytes]],
        *,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[bool]:
        if meanwhile is not None:
            meanwhile()
        return [True] * self.answers


@pytest.mark.parametrize("answers", [0, 1, 3])
def test_a_verifier_answering_for_another_batch_is_an_invariant_error(
    members: Members, answers: int
) -> None:
    admission = make_admission(members, MiscountingVerifier(answers))  # type: ignore[arg-type]
    with pytest.raises(InvariantError, match="the batch verifier answered for a different"):
        admission.check([members.signed(), members.signed()], NOW_MS)


def test_a_member_key_that_cannot_be_loaded_refuses_with_the_reason(
    members: Members, verifier: BatchVerifier
) -> None:
    data = members.signed()
    members.records["org1/alice"].public_key = b"\x04" + b"\x00" * 10
    outcome = check_one(members, verifier, data)
    assert isinstance(outcome, SignatureError)
    assert outcome.message.startswith("the public key of org1/alice cannot be loaded: ")
