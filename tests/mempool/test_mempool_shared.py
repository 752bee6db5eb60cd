"""The node's mempool behind its lock: admission, the in-flight set and commit bookkeeping."""

from __future__ import annotations

import threading

import pytest
from mempool_chain import (
    CHAIN_ID,
    EXPIRY_MAX_MS,
    NOW_MS,
    PROFILE,
    TRANSACTION_BYTES_MAX,
    Members,
)

from causeway.crypto import BatchVerifier, VerifiedTransactionCache
from causeway.errors import DuplicateError, InvariantError, MempoolFullError
from causeway.mempool import Admission, MempoolLimits, SharedMempool
from causeway.types import DecodedTransaction


def shared_pool(
    members: Members, verifier: BatchVerifier, transactions_max: int = 100
) -> tuple[SharedMempool, VerifiedTransactionCache]:
    verified = VerifiedTransactionCache()
    pool = SharedMempool(
        MempoolLimits(transactions_max=transactions_max, bytes_max=1 << 20),
        committed=members.committed,
    )
    # Wired as the node wires it: admission's duplicate lookup includes the in-flight set.
    pool.admission = Admission(
        CHAIN_ID,
        PROFILE,
        verifier,
        members.lookup,
        pool.committed_or_in_flight,
        TRANSACTION_BYTES_MAX,
        EXPIRY_MAX_MS,
        verified=verified,
    )
    return pool, verified


def test_admitted_transactions_enter_the_pool_and_the_verified_cache(
    members: Members, verifier: BatchVerifier
) -> None:
    pool, verified = shared_pool(members, verifier)
    [outcome] = pool.admit([members.signed()], NOW_MS)
    assert isinstance(outcome, DecodedTransaction)
    assert len(pool) == 1
    assert pool.bytes_total == len(outcome.encoded)
    sender = members.keys[outcome.body.sender].public_key().raw
    assert verified.is_verified(outcome.id, outcome.transaction.signature, sender)
    [again] = pool.admit([outcome.encoded], NOW_MS)
    assert isinstance(again, DuplicateError)
    assert again.message == f"transaction {outcome.id.hex()} is already pending"


def test_a_transaction_in_flight_is_a_duplicate_until_committed(
    members: Members, verifier: BatchVerifier
) -> None:
    pool, _ = shared_pool(members, verifier)
    [first] = pool.admit([members.signed()], NOW_MS)
    assert isinstance(first, DecodedTransaction)
    assert pool.take(10, 1 << 20, NOW_MS, in_flight=True) == [first]
    assert len(pool) == 0  # out of the pool, in flight
    assert pool.committed_or_in_flight([first.id]) == [True]
    [resubmitted] = pool.admit([first.encoded], NOW_MS)
    assert isinstance(resubmitted, DuplicateError)
    assert resubmitted.message == f"transaction {first.id.hex()} is already committed"
    assert pool.admitted_at([first.id])[0] > 0
    assert pool.admitted_at([first.id]) == [0.0]  # forgotten once read
    pool.remove([first.id])
    assert pool.committed_or_in_flight([first.id]) == [False]


def test_transactions_of_a_block_being_written_are_in_flight_until_removed(
    members: Members, verifier: BatchVerifier
) -> None:
    """A replicated engine's committed block, written in the background: its transactions leave
    the pool (the next block does not take them) and are duplicates until written; an id the
    pool never held (a peer's transaction) counts as in flight too."""
    pool, _ = shared_pool(members, verifier)
    first, second = pool.admit([members.signed(), members.signed()], NOW_MS)
    assert isinstance(first, DecodedTransaction) and isinstance(second, DecodedTransaction)
    peers = b"\x07" * 32
    pool.mark_in_flight([first.id, peers])
    assert pool.take(10, 1 << 20, NOW_MS) == [second]
    assert len(pool) == 1
    assert pool.committed_or_in_flight([first.id, peers, second.id]) == [True, True, False]
    [resubmitted] = pool.admit([first.encoded], NOW_MS)
    assert isinstance(resubmitted, DuplicateError)
    pool.remove([first.id, peers])
    assert pool.committed_or_in_flight([first.id, peers]) == [False, False]


def test_take_without_in_flight_leaves_transactions_pending(
    members: Members, verifier: BatchVerifier
) -> None:
    pool, _ = shared_pool(members, verifier)
    outcomes = pool.admit([members.signed(), members.signed()], NOW_MS)
    assert pool.take(1, 1 << 20, NOW_MS) == outcomes[:1]
    assert pool.take_all(NOW_MS) == outcomes
    assert len(pool) == 2
    pool.remove([outcomes[0].id])  # type: ignore[union-attr]
    assert pool.take_all(NOW_MS) == outcomes[1:]


def test_the_pool_bound_holds_at_the_limit_and_one_past(
    members: Members, verifier: BatchVerifier
) -> None:
    pool, _ = shared_pool(members, verifier, transactions_max=2)
    outcomes = pool.admit([members.signed() for _ in range(3)], NOW_MS)
    assert [isinstance(o, DecodedTransaction) for o in outcomes[:2]] == [True, True]
    assert isinstance(outcomes[2], MempoolFullError)
    assert outcomes[2].message == "the mempool holds 2 transactions, its limit; retry later"


def test_admission_threads_and_the_loop_share_the_pool(
    members: Members, verifier: BatchVerifier
) -> None:
    pool, _ = shared_pool(members, verifier, transactions_max=1000)
    batches = [[members.signed() for _ in range(20)] for _ in range(4)]
    taken: list[DecodedTransaction] = []
    errors: list[BaseException] = []

    def admit(batch: list[bytes]) -> None:
        try:
            pool.admit(batch, NOW_MS)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=admit, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for _ in range(50):
        taken.extend(pool.take(5, 1 << 20, NOW_MS, in_flight=True))
    for thread in threads:
        thread.join(timeout=30)
    taken.extend(pool.take(1000, 1 << 20, NOW_MS, in_flight=True))
    assert errors == []
    assert len(taken) == 80
    assert len({t.id for t in taken}) == 80  # each taken once
    assert len(pool) == 0


def test_admitting_without_an_admission_is_a_wiring_error(
    members: Members, verifier: BatchVerifier
) -> None:
    pool, _ = shared_pool(members, verifier)
    pool.admission = None
    with pytest.raises(InvariantError, match="the shared mempool was given no admission"):
        pool.admit([members.signed()], NOW_MS)
