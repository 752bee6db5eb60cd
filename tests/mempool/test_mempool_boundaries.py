"""The pool's bounds and expiry at their edges, and a batch that goes on past a refused item:
the tests a cosmic-ray run over mempool/pool.py and mempool/shared.py showed missing
(docs/testing.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest
from mempool_chain import NOW_MS, Members, decoded
from test_mempool_shared import shared_pool

from causeway.crypto import BatchVerifier
from causeway.errors import DuplicateError, InvariantError, RequestError
from causeway.mempool import Mempool, MempoolLimits, SharedMempool
from causeway.mempool.shared import STORE_LOOKUPS_MAX
from causeway.types import DecodedTransaction

ROOMY = MempoolLimits(transactions_max=100, bytes_max=1 << 20)


def test_a_transaction_expiring_this_millisecond_is_admitted(members: Members) -> None:
    pool = Mempool(ROOMY)
    now = decoded(members.signed(expiry_ms=NOW_MS))
    pool.add(now, NOW_MS)
    assert now.id in pool


def test_pruning_keeps_what_expires_this_millisecond_or_later(members: Members) -> None:
    pool = Mempool(ROOMY)
    earlier, now, later = (
        decoded(members.signed(expiry_ms=NOW_MS + offset)) for offset in (10, 20, 30)
    )
    for transaction in (earlier, now, later):
        pool.add(transaction, NOW_MS)
    assert pool.prune_expired(NOW_MS + 20) == 1
    assert pool.take(10, 1 << 20, NOW_MS + 20) == [now, later]


@pytest.mark.parametrize(("transactions_max", "bytes_max"), [(0, 1), (-1, 1), (1, 0), (1, -1)])
def test_limits_below_one_are_refused(transactions_max: int, bytes_max: int) -> None:
    with pytest.raises(InvariantError, match="mempool limits must be positive"):
        MempoolLimits(transactions_max=transactions_max, bytes_max=bytes_max)


def test_limits_of_one_are_allowed_and_fixed() -> None:
    limits = MempoolLimits(transactions_max=1, bytes_max=1)
    assert Mempool(limits).limits is limits
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.transactions_max = 2  # type: ignore[misc]


def test_filling_the_bytes_bound_exactly_is_allowed(members: Members) -> None:
    first, second = decoded(members.signed()), decoded(members.signed())
    pool = Mempool(MempoolLimits(transactions_max=100, bytes_max=first.size + second.size))
    pool.add(first, NOW_MS)
    pool.add(second, NOW_MS)
    assert pool.bytes_total == first.size + second.size


def test_take_counts_bytes_from_zero_and_takes_nothing_for_no_room(members: Members) -> None:
    pool = Mempool(ROOMY)
    first = decoded(members.signed())
    pool.add(first, NOW_MS)
    assert pool.take(10, first.size - 1, NOW_MS) == []
    assert pool.take(10, first.size, NOW_MS) == [first]
    assert pool.take(-1, 1 << 20, NOW_MS) == []


def test_take_does_not_skip_a_transaction_that_does_not_fit(members: Members) -> None:
    """A large transaction is not overtaken by a later small one that would still fit."""
    pool = Mempool(ROOMY)
    small = decoded(members.signed())
    large = decoded(members.signed(arguments=b"x" * 1000))
    later = decoded(members.signed())
    for transaction in (small, large, later):
        pool.add(transaction, NOW_MS)
    assert pool.take(10, small.size + later.size, NOW_MS) == [small]


def test_a_batch_goes_on_past_each_kind_of_refusal(
    members: Members, verifier: BatchVerifier
) -> None:
    """Refused for its own content, already in flight, or already pending: each refusal is the
    item's own, and the items after it are still judged."""
    pool, _ = shared_pool(members, verifier)
    [pending] = pool.admit([members.signed()], NOW_MS)
    [flying] = pool.admit([members.signed()], NOW_MS)
    assert isinstance(pending, DecodedTransaction) and isinstance(flying, DecodedTransaction)
    pool.mark_in_flight([flying.id])
    outcomes = pool.admit(
        [
            b"not a transaction",
            members.signed(),
            flying.encoded,
            members.signed(),
            pending.encoded,
            members.signed(),
        ],
        NOW_MS,
    )
    kinds = [type(o).__name__ if isinstance(o, RequestError) else "admitted" for o in outcomes]
    assert kinds[1::2] == ["admitted"] * 3
    assert all(isinstance(o, RequestError) for o in outcomes[0::2])
    assert isinstance(outcomes[2], DuplicateError) and isinstance(outcomes[4], DuplicateError)


def _watched_pool(
    members: Members, verifier: BatchVerifier, after_look: Callable[[SharedMempool, int], None]
) -> tuple[SharedMempool, list[list[bytes]]]:
    """A shared pool whose store lookups are recorded; after_look(pool, looks so far) runs after
    each, once the store has answered (what a block written meanwhile does)."""
    pool, _ = shared_pool(members, verifier)
    looked: list[list[bytes]] = []
    committed = members.committed

    def watched(ids: Sequence[bytes]) -> list[bool]:
        looked.append(list(ids))
        answer = committed(ids)
        after_look(pool, len(looked))
        return answer

    pool._committed = watched
    return pool, looked


def test_a_transaction_written_and_removed_while_it_was_verified_is_refused(
    members: Members, verifier: BatchVerifier
) -> None:
    """A block holding it was written, and removed from the pool, between admission's look at
    the store and the pool's lock (not in flight here): the pool looks again and refuses it."""
    data = members.signed()
    target = decoded(data)

    def written_and_removed(pool: SharedMempool, looks: int) -> None:
        if looks == 1:
            members.committed_ids.add(target.id)  # the block's store write ...
            pool.remove([target.id])  # ... and then its removal from the pool

    pool, looked = _watched_pool(members, verifier, written_and_removed)
    [outcome] = pool.admit([data], NOW_MS)
    assert isinstance(outcome, DuplicateError)
    assert outcome.message == "transaction was already committed"
    assert len(pool) == 0
    assert looked == [[target.id], [target.id]]


def test_a_transaction_written_while_it_was_verified_leaves_with_its_block_removal(
    members: Members, verifier: BatchVerifier
) -> None:
    """A block holding it was written but not yet removed from the pool when the batch took
    the lock: the store is not asked again, the copy enters, and the block's removal, which
    follows every write, takes it out."""
    data = members.signed()
    target = decoded(data)

    def written(pool: SharedMempool, looks: int) -> None:
        members.committed_ids.add(target.id)  # the block's store write; its removal to come

    pool, looked = _watched_pool(members, verifier, written)
    [outcome] = pool.admit([data], NOW_MS)
    assert outcome == target
    assert looked == [[target.id]]
    pool.remove([target.id])
    assert len(pool) == 0
    assert pool.get(target.id) is None


def test_blocks_written_through_every_look_at_the_store_leave_the_batch_as_the_last_found_it(
    members: Members, verifier: BatchVerifier
) -> None:
    """A block removed during each look: the store is asked STORE_LOOKUPS_MAX times after
    admission's own look, and what the last look found committed is refused."""
    first, second = members.signed(), members.signed()

    def a_block_removed_during_each_look(pool: SharedMempool, looks: int) -> None:
        if looks == STORE_LOOKUPS_MAX:
            members.committed_ids.add(decoded(second).id)
        pool.remove([])

    pool, looked = _watched_pool(members, verifier, a_block_removed_during_each_look)
    first_outcome, second_outcome = pool.admit([first, second], NOW_MS)
    assert first_outcome == decoded(first)
    assert isinstance(second_outcome, DuplicateError)
    assert len(looked) == 1 + STORE_LOOKUPS_MAX
    assert len(pool) == 1
